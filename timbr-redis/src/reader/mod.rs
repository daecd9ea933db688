//! The taking side of a fleet queue: what this consumer left pending first, then entries
//! other consumers left pending too long, then new entries in batches; poison and
//! undecodable entries to the dead-letter stream.
//!
//! Entries that were delivered before (re-read after a restart, claimed from a dead
//! consumer, released after a sink error) come **one at a time**, with their delivery count
//! read from `XPENDING` first: an entry that kills its worker is then the only one whose
//! count grows with each crash, and once it reaches `max_deliveries` it is dead-lettered
//! instead of delivered. Other entries fetched together with it are delivered at most twice.
//!
//! That rests on two rules for redeliveries, kept by the fetching thread
//! ([`Prefetch`](crate::prefetch::Prefetch)): before a fetch that may redeliver
//! ([`Reader::may_redeliver`]), every acknowledgement buffered so far is applied (the outbox
//! is flushed and waited for), so entries processed before the poisonous one are not
//! delivered again; and while redelivering, nothing is fetched ahead, so no entry is
//! claimed (its count raised) while the one before it may still kill the worker.
//!
//! Entries this consumer holds (a datum waiting for its retry, a long pack) are touched so
//! that no other consumer claims them while it lives (`touch.rs`).

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::Value;
use serde::de::DeserializeOwned;
use timbr_core::io::catch_panic;

use crate::entry::{self, Entry};
use crate::group::{self, recreate_group, trim};
use crate::health::{Dead, Health};
use crate::link::Link;
use crate::options::RedisOptions;
use crate::pack::{self, Packs, ORIGIN_FIELD, PACK_FIELD};
use crate::{Delivery, DeliveryId};

mod redeliver;
mod set_aside;
mod touch;

pub(crate) struct Reader<T> {
    pub(crate) link: Link,
    /// When to touch this consumer's idle pending entries next (`None` before its first
    /// fetch: a queue only put to holds nothing). See `touch.rs`.
    next_touch: Option<Instant>,
    /// Re-reading what this consumer left pending (at start).
    recovering: bool,
    /// Where re-reading continues: after the last own pending entry re-read (each is
    /// re-read once, even while another consumer thread of this machine still processes
    /// it).
    recover_from: String,
    /// Where re-reading ends: `+` at start; the first entry of a read whose connection
    /// broke before it (see [`Reader::fetch`]).
    recover_to: String,
    /// The last entry a read of new entries gave (`None` before any).
    last_read: Option<String>,
    /// The last look for stale entries found one: look again before reading new ones.
    claiming: bool,
    next_claim_check: Instant,
    next_info: Instant,
    /// Packed entries handed out, for their acknowledgement once all their data are done.
    packs: Arc<Packs>,
    /// Data per entry, as the last reads showed (more than 1 when entries are packed;
    /// `None` before any read): a read asks for about `batch` data, whatever pack size the
    /// producers chose. See [`Reader::learn`].
    per_entry: Option<usize>,
    _datum: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Reader<T> {
    pub(crate) fn new(link: Link, packs: Arc<Packs>) -> Self {
        let now = Instant::now();
        Reader {
            link,
            next_touch: None,
            recovering: true,
            recover_from: "-".to_owned(),
            recover_to: "+".to_owned(),
            last_read: None,
            claiming: false,
            next_claim_check: now,
            next_info: now,
            packs,
            per_entry: None,
            _datum: PhantomData,
        }
    }

    /// Whether the next fetch may deliver entries again (`released` ones, this consumer's
    /// own pending ones after a restart, or claims): the caller then has every
    /// acknowledgement buffered so far applied first, and fetches nothing ahead while
    /// [`fetch`](Reader::fetch) says it redelivers (see the module's docs).
    pub(crate) fn may_redeliver(&self, released: bool) -> bool {
        released || self.recovering || self.claiming || Instant::now() >= self.next_claim_check
    }

    /// Fetches what comes next into `out`, waiting at most `block` on the server for new
    /// entries. `released` are entries whose records the sink refused, to deliver again.
    /// Returns whether these (or the next) are redeliveries, to be taken one at a time.
    pub(crate) fn fetch(
        &mut self,
        o: &RedisOptions,
        health: &Health,
        released: Vec<String>,
        block: Duration,
        give_up: &dyn Fn() -> bool,
        out: &mut VecDeque<Delivery<T>>,
    ) -> bool {
        let now = Instant::now();
        if now >= self.next_info {
            self.next_info = now + o.info_every;
            self.refresh(o, health);
        }
        self.touch_if_due(o, give_up);
        for id in released {
            if let Some(stale) = self.pending_one(o, (&id, &id), None, None, give_up) {
                self.redeliver(o, health, stale, 0, give_up, out);
            }
        }
        if !out.is_empty() {
            return true;
        }
        if self.recovering {
            let (from, to) = (self.recover_from.clone(), self.recover_to.clone());
            match self.pending_one(o, (&from, &to), Some(&o.consumer), None, give_up) {
                Some(stale) => {
                    self.recover_from = format!("({}", stale.id);
                    self.redeliver(o, health, stale, 0, give_up, out);
                    return true;
                }
                None => self.recovering = false,
            }
        }
        if self.claiming || now >= self.next_claim_check {
            let idle = o.claim_after.as_millis() as u64;
            match self.pending_one(o, ("-", "+"), None, Some(idle), give_up) {
                Some(stale) => {
                    self.claiming = true;
                    self.redeliver(o, health, stale, idle, give_up, out);
                    return true;
                }
                None => {
                    self.claiming = false;
                    self.next_claim_check = now + o.claim_after / 2;
                }
            }
        }
        self.read_new(o, health, block, give_up, out);
        false
    }

    /// Reads new entries (`XREADGROUP >`) into `out`, about `batch` data, waiting at most
    /// `block` on the server.
    fn read_new(
        &mut self,
        o: &RedisOptions,
        health: &Health,
        block: Duration,
        give_up: &dyn Fn() -> bool,
        out: &mut VecDeque<Delivery<T>>,
    ) {
        let count = self.count(o.batch);
        self.link.take_broken();
        let read: Vec<Entry> = self
            .link
            .run(give_up, |con| {
                let reply: Value = redis::cmd("XREADGROUP")
                    .arg("GROUP")
                    .arg(&o.group)
                    .arg(&o.consumer)
                    .arg("COUNT")
                    .arg(count)
                    .arg("BLOCK")
                    .arg(block.as_millis().max(1) as u64)
                    .arg("STREAMS")
                    .arg(&o.stream)
                    .arg(">")
                    .query(con)
                    .or_else(|e| recreate_group(con, o, e).map(|()| Value::Nil))?;
                entry::read_reply(reply)
            })
            .unwrap_or_default();
        if self.link.take_broken() {
            // A try of this read may have been applied with its reply lost (Redis killed
            // and restarted from its AOF, a connection cut): its entries are pending under
            // this consumer, which never got them — and no other consumer claims them from
            // a live one. They lie between the last entry read before and the first this
            // read gave: re-read them as at start, before reading on.
            self.recovering = true;
            self.recover_from = self
                .last_read
                .as_ref()
                .map_or_else(|| "-".to_owned(), |id| format!("({id}"));
            self.recover_to = read
                .first()
                .map_or_else(|| "+".to_owned(), |e| format!("({}", e.id));
        }
        if let Some(last) = read.last() {
            self.last_read = Some(last.id.clone());
        }
        let mut largest = None;
        for entry in read {
            let data = self.accept(o, health, entry, 1, give_up, out);
            largest = largest.max(Some(data));
        }
        if let Some(largest) = largest {
            self.learn(largest);
        }
    }

    /// How many entries the next read asks for to get about `batch` data: one while the
    /// pack size is unknown (the first read: the producers' packs may be of any size, and
    /// a consumer reading `batch` packs of 1000 would hold up to a thousand batches,
    /// pending, that other consumers wait for and a crash delivers again), then `batch`
    /// over the data per entry seen.
    fn count(&self, batch: usize) -> usize {
        self.per_entry
            .map_or(1, |per_entry| (batch / per_entry).max(1))
    }

    /// Takes in the largest entry of a read (in data): the data per entry of the next read
    /// is assumed to be that, or half the last assumption if that is more, so that a
    /// read of small entries among large ones (a stream with producers of different pack
    /// sizes) grows the next read's count at most twofold.
    fn learn(&mut self, largest: usize) {
        let halved = self.per_entry.map_or(1, |p| p / 2);
        self.per_entry = Some(largest.max(halved).clamp(1, pack::MAX_PACK));
    }

    /// Decodes `entry` into `out`, or dead-letters it if it cannot be decoded. A packed
    /// entry delivered for the first time gives each of its data; delivered again, or with
    /// a datum that cannot be decoded, it is split instead (see `pack.rs`). Returns the
    /// data the entry holds (what it gave, or its pack's size if it was split).
    fn accept(
        &mut self,
        o: &RedisOptions,
        health: &Health,
        entry: Entry,
        deliveries: u64,
        give_up: &dyn Fn() -> bool,
        out: &mut VecDeque<Delivery<T>>,
    ) -> usize {
        if let Some(Value::BulkString(packed)) = entry.get(PACK_FIELD) {
            // The user's `Deserialize` runs here, on the fetching thread: a panic in it is
            // caught (as timbr-core catches a stage's) and the pack split, so that the datum
            // that panics is found alone in its entry and dead-lettered.
            let data = match catch_panic(|| serde_json::from_slice::<Vec<T>>(packed)) {
                Ok(Ok(data)) if deliveries == 1 && !data.is_empty() => data,
                _ => return self.split(o, health, &entry, give_up),
            };
            let n = data.len();
            self.packs.opened(&entry.id, n);
            for (i, datum) in data.into_iter().enumerate() {
                let id = pack::packed_id(&entry.id, i);
                out.push_back(Delivery::with_id(datum, DeliveryId::new(id)));
            }
            return n;
        }
        // An entry split out of a pack is delivered under its origin, `E#i`; an `o` field
        // no split wrote is refused rather than trusted.
        let origin = entry.get(ORIGIN_FIELD).map(entry::text);
        let decoded = match &origin {
            Some(origin) => {
                pack::check_origin(origin, &entry.id).and_then(|()| decode(health, &entry))
            }
            None => decode(health, &entry),
        };
        match decoded {
            Ok(datum) => {
                let id = match origin {
                    Some(origin) => {
                        self.packs.piece(&origin, &entry.id);
                        origin
                    }
                    None => entry.id,
                };
                out.push_back(Delivery::with_id(datum, DeliveryId::new(id)));
            }
            Err(reason) => {
                let why = (Dead::Undecodable, reason);
                self.dead_letter(o, health, &entry, deliveries, why, give_up);
            }
        }
        1
    }

    /// Looks at the group (for status and the capacity) and trims what every group has
    /// acknowledged.
    fn refresh(&mut self, o: &RedisOptions, health: &Health) {
        let give_up = || true; // a status refresh is never worth waiting for
        if let Some(info) = self.link.run(&give_up, |con| group::group_info(con, o)) {
            health.group_seen(info);
        }
        let _: Option<()> = self.link.run(&give_up, |con| trim(con, o));
    }
}

/// The datum of `entry`, decoded by the user's `Deserialize` with a panic caught and
/// counted: the entry is then undecodable, and the panic's message is the reason.
fn decode<T: DeserializeOwned>(health: &Health, entry: &Entry) -> Result<T, String> {
    catch_panic(|| entry.decode::<T>()).unwrap_or_else(|panic| {
        health.deserialize_panicked();
        Err(format!(
            "undecodable: the datum's `Deserialize` panicked: {panic}"
        ))
    })
}
