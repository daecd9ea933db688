//! Failures as work, in a fleet: every datum whose stage said no for good (its error was not
//! transient, or its retries ran out) goes to the **failure stream** (`<stream>:failures`,
//! beside the dead letters: dead letters are data that crashed workers, failures are data
//! whose stage said no), with its input, stage, error, attempts and origin.
//!
//! It is written **with the acknowledgement of its entry, in one script**, which does
//! nothing if the entry is no longer pending: a worker killed before the script leaves the
//! entry pending (delivered again: the failure is found again), and a script repeated after
//! a lost reply, or run by two consumers of a claimed entry, writes it once. A packed entry
//! carries the failures of all its data to its one acknowledgement. The sink
//! ([`RedisQueue::sink`](crate::RedisQueue::sink)) sees the failure record and leaves the
//! failure here, keyed by the delivery's id; the acknowledgement takes it.
//!
//! The fleet's [`Balance`](crate::Balance) counts failures: every failure written counts as
//! produced (`<stream>:failed`), and sits in the failure stream until it is replayed (added
//! back to the queue's stream, keeping its origin, counted in `<stream>:replayed`) or
//! purged; so `produced = acked + pending + unread + dead + failed (+ purged)` stays exact
//! through a replay.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;
use timbr_core::{datum::FailureKind, Record};

/// Fields of an entry of the failure stream.
pub mod failure_fields {
    /// The datum's JSON (the record's `in_s`): what a replay puts back on the queue. It is
    /// the datum as the worker serializes it, not the entry's text as it came: a replay
    /// gives back the datum that failed only if the datum type's `Deserialize` reads all
    /// that its `Serialize` writes and its `Serialize` leaves out nothing the stages read
    /// (a field marked `skip_serializing` comes back as its default).
    pub const DATUM: &str = crate::entry::DATUM_FIELD;
    /// The origin the datum was delivered under (`E`, or `E#i` if it came packed): a
    /// replay keeps it, so its record has the same origin as the failure record.
    pub const ORIGIN: &str = crate::pack::ORIGIN_FIELD;
    /// The queue entry acknowledged with it.
    pub const ID: &str = "id";
    /// The datum's oid in the run that failed (its failure record's).
    pub const OID: &str = "oid";
    /// The name of the first stage that failed.
    pub const STAGE: &str = "stage";
    /// Its slot.
    pub const SLOT: &str = "slot";
    /// Its error's text.
    pub const ERROR: &str = "error";
    /// How many times the datum ran (1 + its retries).
    pub const ATTEMPTS: &str = "attempts";
    /// The consumer that gave up on it.
    pub const CONSUMER: &str = "consumer";
}

/// Writes the failures of entry `ARGV[2]` to the failure stream (`KEYS[4]`, counted in
/// `KEYS[5]`) and acknowledges the entry, counting it (`KEYS[2]`) and its data that did not
/// fail (`KEYS[3]`) — only if it is still pending in group `ARGV[1]` of stream `KEYS[1]`
/// (a script runs alone: written once, whoever runs it and however often). `ARGV[3]` is its
/// data, `ARGV[4]` its failures, each then as a count of arguments and its field-value
/// pairs. The failures go first: a script is not undone when a command fails midway, and a
/// failure written twice is better than one lost (the entry then stays pending).
pub(crate) const FAIL_ACK_SCRIPT: &str = "#!lua flags=allow-oom\n\
    if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1) == 0 then return 0 end \
    local n, i = tonumber(ARGV[4]), 5 \
    for f = 1, n do \
      local c = tonumber(ARGV[i]) \
      redis.call('XADD', KEYS[4], '*', unpack(ARGV, i + 1, i + c)) \
      i = i + c + 1 end \
    redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) \
    redis.call('INCRBY', KEYS[2], 1) \
    redis.call('INCRBY', KEYS[3], tonumber(ARGV[3]) - n) \
    redis.call('INCRBY', KEYS[5], n) \
    return 1";

/// One datum that failed for good: the fields of its failure-stream entry but the id of
/// the entry acknowledged with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Failed {
    pub(crate) fields: Vec<(&'static str, String)>,
}

impl Failed {
    /// The failure of `record` (which has failed stages) delivered as `origin` to
    /// `consumer`; `None` if no stage failed (only a value that would not serialize).
    pub(crate) fn of(record: &Record, origin: &str, consumer: &str) -> Option<Failed> {
        let (slot, stage, error) = record.failures().iter().find_map(|f| match &f.kind {
            FailureKind::Failed(e) => Some((f.slot, &f.stage, e.to_string())),
            FailureKind::Skipped { .. } => None,
        })?;
        // The record's first entry is its input (`in_s`). A machine writes every entry
        // with serde_json or as an `_exception` object, so the text always splits; `null`
        // would only stand for a record that is not a machine's.
        let entries = record.entries().unwrap_or_default();
        let input = entries.first().copied().unwrap_or("null");
        use failure_fields as F;
        Some(Failed {
            fields: vec![
                (F::DATUM, input.to_owned()),
                (F::ORIGIN, origin.to_owned()),
                (F::OID, record.oid_hex()),
                (F::STAGE, stage.to_string()),
                (F::SLOT, slot.to_string()),
                (F::ERROR, error),
                (F::ATTEMPTS, record.attempts().to_string()),
                (F::CONSUMER, consumer.to_owned()),
            ],
        })
    }

    /// The script's arguments for this failure of entry `id`: their count, then the
    /// field-value pairs.
    pub(crate) fn args<'a>(&'a self, id: &'a str) -> impl Iterator<Item = String> + 'a {
        let pairs = 2 * (self.fields.len() + 1);
        std::iter::once(pairs.to_string()).chain(
            [(failure_fields::ID, id)]
                .into_iter()
                .chain(self.fields.iter().map(|(k, v)| (*k, v.as_str())))
                .flat_map(|(k, v)| [k.to_owned(), v.to_owned()]),
        )
    }
}

/// Failures the sink saw, by delivery id, until the acknowledgement of their delivery takes
/// them (the same thread, right after: the machine sends a record, then acknowledges).
#[derive(Default)]
pub(crate) struct Parked {
    by_id: Mutex<HashMap<String, Failed>>,
    /// How many are parked: while none, an acknowledgement takes no lock.
    count: AtomicUsize,
}

impl Parked {
    /// Keeps the failure of delivery `id`.
    pub(crate) fn park(&self, id: &str, failed: Failed) {
        if self.by_id.lock().insert(id.to_owned(), failed).is_none() {
            self.count.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// The failure of delivery `id`, if its record was a failure.
    pub(crate) fn take(&self, id: &str) -> Option<Failed> {
        if self.count.load(Ordering::Acquire) == 0 {
            return None;
        }
        let failed = self.by_id.lock().remove(id)?;
        self.count.fetch_sub(1, Ordering::AcqRel);
        Some(failed)
    }
}
