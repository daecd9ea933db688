//! [`RedisSink`]: records to a Redis Stream, each with the entry id it came from.

use std::sync::Arc;
use std::time::{Duration, Instant};

use timbr_core::{Record, Sink, SinkError};

use crate::failed::{Failed, Parked};
use crate::health::Health;
use crate::link::Link;
use crate::outbox::Outbox;
use crate::RedisError;

/// How long a stopping machine's flush waits for an unreachable Redis before it gives up
/// (losing nothing: the entries whose records were not written stay pending).
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// Writes each record to a Redis Stream as an entry with fields `oid`, `origin` (the queue
/// entry the datum came from: duplicates share it), `record` (the JSON array) and
/// `consumer` — or, [`packed`](RedisSink::packed), the records of one input pack as one
/// entry.
///
/// Made by [`RedisQueue::sink`](crate::RedisQueue::sink), a record whose stage failed for
/// good (a failure record; never packed) also puts its datum in the fleet's failure stream,
/// with the acknowledgement of its entry ([`Fleet::failures`](crate::Fleet::failures)).
///
/// Made by [`RedisQueue::sink`](crate::RedisQueue::sink), records are batched with the
/// queue's acknowledgements (at-least-once, fast). Made by [`RedisSink::connect`], each
/// record is written before `send` returns.
pub struct RedisSink {
    outbox: Arc<Outbox>,
    stream: Arc<str>,
    consumer: String,
    /// Write each record at once (a sink of its own, not batched with acknowledgements).
    each: bool,
    /// Write the records of one input pack as one entry ([`RedisSink::packed`]).
    packed: bool,
    /// Where the failures of a queue's sink wait for their acknowledgement (`failed.rs`).
    parked: Option<Arc<Parked>>,
}

impl RedisSink {
    /// A sink of its own on `url`, writing each record to `stream` before `send` returns.
    ///
    /// # Errors
    ///
    /// [`RedisError`] for a bad URL, an unreachable server or refused credentials.
    pub fn connect(url: &str, stream: impl Into<String>) -> Result<Self, RedisError> {
        let health = Health::new();
        let link = Link::open(url, Arc::clone(&health), "sink", Duration::from_secs(2))?;
        let outbox = Outbox::new(link, health, None, 1);
        Ok(RedisSink::on_outbox(
            Arc::new(outbox),
            stream.into(),
            String::new(),
            true,
            None,
        ))
    }

    pub(crate) fn on_outbox(
        outbox: Arc<Outbox>,
        stream: String,
        consumer: String,
        each: bool,
        parked: Option<Arc<Parked>>,
    ) -> Self {
        RedisSink {
            outbox,
            stream: stream.into(),
            consumer,
            each,
            packed: false,
            parked,
        }
    }

    /// Writes the records of the data that came in one packed entry
    /// ([`RedisOptions::pack`](crate::RedisOptions::pack)) as one entry of the results
    /// stream — fields `oids`, `origins`, `records`, one line per record, and `consumer` —
    /// rather than an entry each: one `XADD` per input pack instead of one per datum, the
    /// largest part of Redis's time per datum in a packed fleet. Every record keeps its own
    /// origin (`E#i`). Readers that know the layout unpack it:
    /// [`Fleet::result_records`](crate::Fleet::result_records),
    /// [`Fleet::results`](crate::Fleet::results), `timbr-fleet records` and `results`.
    ///
    /// The records of one pack share an entry when they went to Redis in the same batch
    /// (a pack whose records straddle two batches gives two entries); records of data
    /// that did not come packed, and a record with a raw line break in its JSON (which
    /// timbr never writes), stay one to an entry.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use timbr_redis::{RedisOptions, RedisQueue};
    ///
    /// let queue = RedisQueue::<String>::connect(
    ///     RedisOptions::new("redis://127.0.0.1:6379", "texts").pack(32),
    /// )?;
    /// let sink = queue.sink("texts:results").packed(true);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn packed(mut self, packed: bool) -> Self {
        self.packed = packed;
        self
    }
}

impl Sink for RedisSink {
    fn send(&mut self, record: Record) -> Result<(), SinkError> {
        let origin = record.origin().unwrap_or_default().to_owned();
        if let Some(parked) = &self.parked {
            if !record.is_ok() && !origin.is_empty() {
                // Failed for good (a datum waiting for a retry has no record yet): written
                // to the failure stream with its entry's acknowledgement.
                if let Some(failed) = Failed::of(&record, &origin, &self.consumer) {
                    parked.park(&origin, failed);
                }
            }
        }
        // A failure record says so (field `failed`: the first stage that failed), alone in
        // its entry.
        let failed = record
            .failures()
            .iter()
            .find(|f| f.is_failure())
            .map(|f| f.stage.to_string())
            .unwrap_or_default();
        let packed = self.packed && failed.is_empty();
        let (oid, json) = record.into_frames();
        // In the order of `record_fields`: OID, ORIGIN, RECORD, CONSUMER, FAILED.
        let values = [oid, origin, json, self.consumer.clone(), failed];
        self.outbox.add(&self.stream, values, self.each, packed);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        if self.outbox.flush(Some(Instant::now() + FLUSH_TIMEOUT)) {
            Ok(())
        } else {
            Err(SinkError::msg(
                "Redis unreachable: buffered records not written (their entries stay pending)",
            ))
        }
    }

    fn describe(&self) -> String {
        format!("redis stream {}", self.stream)
    }
}
