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

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::streams::StreamPendingCountReply;
use redis::{Connection, RedisResult, Value};
use serde::de::DeserializeOwned;
use timbr_core::io::catch_panic;

use crate::entry::{self, dead_fields, Entry};
use crate::health::{GroupInfo, Health, RedisEvent};
use crate::link::{group_gone, Link};
use crate::options::RedisOptions;
use crate::pack::{self, Packs, ORIGIN_FIELD, PACK_FIELD};
use crate::unread;
use crate::{Delivery, DeliveryId};

/// Splits a packed entry (`ARGV[2]`) into one entry per datum (`ARGV[3..]`), each with its
/// origin, if it is still pending in the group (`ARGV[1]`), then acknowledges it and counts
/// it as acknowledged (`KEYS[2]`; its data count as their own entries are). A script runs
/// alone, so this happens at most once; the pieces go first because a script is not undone
/// when a command fails midway (an `XADD` refused for want of memory, say): the pack then
/// stays pending — some pieces added twice later, none lost. Returns the pieces added.
const SPLIT_SCRIPT: &str =
    "if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1) == 0 then return 0 end \
    for i = 3, #ARGV do \
      redis.call('XADD', KEYS[1], '*', 'd', ARGV[i], 'o', ARGV[2] .. '#' .. (i - 3)) end \
    redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) \
    redis.call('INCRBY', KEYS[2], 1) \
    return #ARGV - 2";

pub(crate) struct Reader<T> {
    pub(crate) link: Link,
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

/// One entry to deliver again, as `XPENDING` shows it.
struct Stale {
    id: String,
    consumer: String,
    deliveries: u64,
    /// Milliseconds since its last delivery, when `XPENDING` showed it.
    idle_ms: u64,
}

impl<T: DeserializeOwned> Reader<T> {
    pub(crate) fn new(link: Link, packs: Arc<Packs>) -> Self {
        let now = Instant::now();
        Reader {
            link,
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
        false
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
                if self.dead_letter(o, health, &entry, deliveries, reason, give_up) {
                    Health::add(&health.undecodable, 1);
                }
            }
        }
        1
    }

    /// The oldest pending entry in the id `range` matching: this `consumer`'s, or idle for
    /// `idle_ms` and not this consumer's, or any.
    fn pending_one(
        &mut self,
        o: &RedisOptions,
        (start, end): (&str, &str),
        consumer: Option<&str>,
        idle_ms: Option<u64>,
        give_up: &dyn Fn() -> bool,
    ) -> Option<Stale> {
        // Another consumer's stale entries may hide behind ours (still in our buffer).
        let count = if idle_ms.is_some() { 64 } else { 1 };
        let reply: StreamPendingCountReply = self.link.run(give_up, |con| {
            let mut cmd = redis::cmd("XPENDING");
            cmd.arg(&o.stream).arg(&o.group);
            if let Some(ms) = idle_ms {
                cmd.arg("IDLE").arg(ms);
            }
            cmd.arg(start).arg(end).arg(count);
            if let Some(c) = consumer {
                cmd.arg(c);
            }
            cmd.query(con)
                .or_else(|e| recreate_group(con, o, e).map(|()| StreamPendingCountReply::default()))
        })?;
        reply
            .ids
            .into_iter()
            .find(|p| idle_ms.is_none() || p.consumer != o.consumer)
            .map(|p| Stale {
                id: p.id,
                consumer: p.consumer,
                deliveries: p.times_delivered as u64,
                idle_ms: p.last_delivered_ms as u64,
            })
    }

    /// Delivers a stale entry again (claiming it), or dead-letters it if it was delivered
    /// `max_deliveries` times already.
    fn redeliver(
        &mut self,
        o: &RedisOptions,
        health: &Health,
        stale: Stale,
        min_idle: u64,
        give_up: &dyn Fn() -> bool,
        out: &mut VecDeque<Delivery<T>>,
    ) {
        if stale.deliveries >= o.max_deliveries {
            let entry = self.read_one(o, &stale.id, give_up);
            if entry.get(PACK_FIELD).is_some() {
                // A pack never reaches a stage after its first delivery: its count grew
                // through splits that did not happen (a consumer killed before its split's
                // transaction), not through poison. Its data get their own entries.
                self.split(o, health, &entry, give_up);
                return;
            }
            let reason = format!(
                "delivered {} times without an acknowledgement (max_deliveries {})",
                stale.deliveries, o.max_deliveries
            );
            self.dead_letter(o, health, &entry, stale.deliveries, reason, give_up);
            return;
        }
        // Only if nobody touched it since `XPENDING` showed it: a claim or a delivery by
        // another consumer meanwhile resets its idle time below what was seen. (Without
        // this, a restarted consumer re-reading its own entry could take it back from one
        // that had just claimed it, and both would process it.)
        let min_idle = min_idle.max(stale.idle_ms);
        let mut sent = false;
        let claimed: Vec<Entry> = self
            .link
            .run(give_up, |con| {
                let mut idle = min_idle;
                if sent {
                    // The last try may have been applied with its reply lost (Redis
                    // restarted from its AOF): the entry is then this consumer's already,
                    // its idle time reset, and must be claimed whatever that is.
                    let now: StreamPendingCountReply = redis::cmd("XPENDING")
                        .arg(&o.stream)
                        .arg(&o.group)
                        .arg(&stale.id)
                        .arg(&stale.id)
                        .arg(1)
                        .query(con)?;
                    if now.ids.first().is_some_and(|p| p.consumer == o.consumer) {
                        idle = 0;
                    }
                }
                sent = true;
                let v: Value = redis::cmd("XCLAIM")
                    .arg(&o.stream)
                    .arg(&o.group)
                    .arg(&o.consumer)
                    .arg(idle)
                    .arg(&stale.id)
                    .query(con)?;
                entry::entries(v)
            })
            .unwrap_or_default();
        for entry in claimed {
            Health::add(&health.redeliveries, 1);
            if stale.consumer != o.consumer {
                Health::add(&health.claimed, 1);
                health.emit(RedisEvent::Claimed {
                    id: entry.id.clone(),
                    from: stale.consumer.clone(),
                });
            }
            self.accept(o, health, entry, stale.deliveries + 1, give_up, out);
        }
    }

    /// Replaces packed `entry` with one entry per datum, each naming its origin, and
    /// acknowledges it, in one step that does nothing if it is no longer pending (split by
    /// another consumer, or acknowledged by the one it was claimed from, or a retry of a
    /// split whose reply was lost); an entry whose field is not a JSON array, or is an empty
    /// one (so holds no data to split), is dead-lettered as undecodable instead. Returns false if it gave up (the queue is
    /// dropped): the entry stays pending. Returns the data it held (0 if it held none).
    fn split(
        &mut self,
        o: &RedisOptions,
        health: &Health,
        entry: &Entry,
        give_up: &dyn Fn() -> bool,
    ) -> usize {
        let items = match entry.get(PACK_FIELD) {
            Some(Value::BulkString(packed)) => {
                serde_json::from_slice::<Vec<serde_json::Value>>(packed).map_err(|e| e.to_string())
            }
            _ => Err("no bytes".to_owned()),
        };
        let items = match items {
            Ok(items) if !items.is_empty() => items,
            problem => {
                let reason = match problem {
                    Err(e) => format!("undecodable: field `{PACK_FIELD}` is not a JSON array: {e}"),
                    Ok(_) => format!("undecodable: field `{PACK_FIELD}` is an empty pack"),
                };
                if self.dead_letter(o, health, entry, 1, reason, give_up) {
                    Health::add(&health.undecodable, 1);
                }
                return 0;
            }
        };
        let split: Option<i64> = self.link.run(give_up, |con| {
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(SPLIT_SCRIPT)
                .arg(2)
                .arg(&o.stream)
                .arg(o.acked_key())
                .arg(&o.group)
                .arg(&entry.id);
            for item in &items {
                cmd.arg(item.to_string());
            }
            cmd.query(con)
                .or_else(|e| if group_gone(&e) { Ok(0) } else { Err(e) })
        });
        if split.is_some_and(|n| n > 0) {
            Health::add(&health.split, 1);
        }
        items.len()
    }

    /// The entry `id` as it is in the stream (empty fields if it was deleted meanwhile).
    fn read_one(&mut self, o: &RedisOptions, id: &str, give_up: &dyn Fn() -> bool) -> Entry {
        let found: Option<Entry> = self
            .link
            .run(give_up, |con| {
                let v: Value = redis::cmd("XRANGE")
                    .arg(&o.stream)
                    .arg(id)
                    .arg(id)
                    .query(con)?;
                Ok(entry::entries(v)?.into_iter().next())
            })
            .flatten();
        found.unwrap_or_else(|| Entry::empty(id))
    }

    /// Moves an entry to the dead-letter stream and acknowledges it, in one transaction.
    /// Returns false if it gave up (the queue is dropped): the entry stays pending.
    fn dead_letter(
        &mut self,
        o: &RedisOptions,
        health: &Health,
        entry: &Entry,
        deliveries: u64,
        reason: String,
        give_up: &dyn Fn() -> bool,
    ) -> bool {
        let reason = bounded(reason);
        let dead = o.dead_stream();
        let done: Option<()> = self.link.run(give_up, |con| {
            let mut pipe = redis::pipe();
            pipe.atomic();
            let add = pipe
                .cmd("XADD")
                .arg(&dead)
                .arg("*")
                .arg(dead_fields::ID)
                .arg(&entry.id)
                .arg(dead_fields::REASON)
                .arg(&reason)
                .arg(dead_fields::CONSUMER)
                .arg(&o.consumer)
                .arg(dead_fields::DELIVERIES)
                .arg(deliveries);
            match entry.get(entry::DATUM_FIELD) {
                Some(Value::BulkString(raw)) => add.arg(dead_fields::DATUM).arg(raw.as_slice()),
                _ => add.arg(dead_fields::FIELDS).arg(entry.fields_json()),
            };
            if let Some(origin) = entry.get(ORIGIN_FIELD).map(entry::text) {
                if pack::is_origin(&origin) {
                    add.arg(dead_fields::ORIGIN).arg(origin);
                }
            }
            add.ignore();
            pipe.cmd("XACK")
                .arg(&o.stream)
                .arg(&o.group)
                .arg(&entry.id)
                .ignore();
            pipe.query(con)
                .or_else(|e| if group_gone(&e) { Ok(()) } else { Err(e) })
        });
        if done.is_none() {
            return false;
        }
        Health::add(&health.dead_lettered, 1);
        health.emit(RedisEvent::DeadLettered {
            id: entry.id.clone(),
            reason,
        });
        true
    }

    /// Looks at the group (for status and the capacity) and trims what every group has
    /// acknowledged.
    fn refresh(&mut self, o: &RedisOptions, health: &Health) {
        let give_up = || true; // a status refresh is never worth waiting for
        if let Some(info) = self.link.run(&give_up, |con| group_info(con, o)) {
            *health.group_info.lock() = info;
        }
        let _: Option<()> = self.link.run(&give_up, |con| trim(con, o));
    }
}

/// The datum of `entry`, decoded by the user's `Deserialize` with a panic caught and
/// counted: the entry is then undecodable, and the panic's message is the reason.
fn decode<T: DeserializeOwned>(health: &Health, entry: &Entry) -> Result<T, String> {
    catch_panic(|| entry.decode::<T>()).unwrap_or_else(|panic| {
        Health::add(&health.panicked, 1);
        Err(format!(
            "undecodable: the datum's `Deserialize` panicked: {panic}"
        ))
    })
}

/// The most bytes of a dead letter's reason kept (its event and every log line of it carry
/// it too): a decoder's message may quote the whole entry, megabytes of it.
const MAX_REASON: usize = 256;

/// `reason`, cut to its first [`MAX_REASON`] bytes (at a character boundary) with its full
/// length said, if it is longer.
fn bounded(reason: String) -> String {
    if reason.len() <= MAX_REASON {
        return reason;
    }
    let mut end = MAX_REASON;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &reason[..end], reason.len())
}

/// When the group (or the whole stream) is gone — a Redis restarted without its data, a
/// user's `DEL` — creates it again, so that the fleet goes on with what is there.
fn recreate_group(con: &mut Connection, o: &RedisOptions, e: redis::RedisError) -> RedisResult<()> {
    if e.code() != Some("NOGROUP") {
        return Err(e);
    }
    create_group(con, o)
}

/// Creates the group, reading the stream from its start, and the stream if need be.
pub(crate) fn create_group(con: &mut Connection, o: &RedisOptions) -> RedisResult<()> {
    let created: RedisResult<()> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&o.stream)
        .arg(&o.group)
        .arg("0")
        .arg("MKSTREAM")
        .query(con);
    match created {
        Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
        other => other,
    }
}

/// The group's state, from `XINFO GROUPS` and `XLEN`.
pub(crate) fn group_info(con: &mut Connection, o: &RedisOptions) -> RedisResult<GroupInfo> {
    group_state(con, o).map(|(info, _)| info)
}

/// The group's state and every group of the stream, in one round trip (more where Redis's
/// lag cannot be trusted: see `unread.rs`); each group's `lag` is then what it has not
/// read.
pub(crate) fn group_state(
    con: &mut Connection,
    o: &RedisOptions,
) -> RedisResult<(GroupInfo, Vec<Group>)> {
    let looked: RedisResult<(u64, u64, u64, Value)> = redis::pipe()
        .cmd("XLEN")
        .arg(&o.stream)
        .cmd("XLEN")
        .arg(o.dead_stream())
        .cmd("XLEN")
        .arg(o.failure_stream())
        .cmd("XINFO")
        .arg("GROUPS")
        .arg(&o.stream)
        .query(con);
    let (length, dead, failures, mut all) = match looked {
        Ok((length, dead, failures, rows)) => (length, dead, failures, parse_groups(rows)?),
        // No stream yet (deleted by someone): no groups.
        Err(e) if e.to_string().contains("no such key") => {
            let (dead, failures): (u64, u64) = redis::pipe()
                .cmd("XLEN")
                .arg(o.dead_stream())
                .cmd("XLEN")
                .arg(o.failure_stream())
                .query(con)?;
            (0, dead, failures, Vec::new())
        }
        Err(e) => return Err(e),
    };
    let mut info = GroupInfo {
        stream_length: length,
        dead_letters: dead,
        failures,
        lag: Some(length),
        ..GroupInfo::default()
    };
    // Each group's lag as far as Redis vouches for it, counted where it does not.
    for group in &mut all {
        if !unread::lag_is_reliable(group, length) {
            group.lag = Some(unread::unread(con, &o.stream, group, length)?);
        }
    }
    for group in &all {
        if group.name == o.group {
            info.pending = group.pending;
            info.consumers = group.consumers;
            info.lag = group.lag;
        }
    }
    Ok((info, all))
}

/// One group of `XINFO GROUPS`.
pub(crate) struct Group {
    pub(crate) name: String,
    pub(crate) consumers: u64,
    pub(crate) pending: u64,
    pub(crate) last_delivered: String,
    /// Entries the group has read, as Redis counts them (nil after some restarts).
    pub(crate) entries_read: Option<u64>,
    /// Redis's lag: trust it only as [`unread`](crate::unread) says.
    pub(crate) lag: Option<u64>,
}

pub(crate) fn groups(con: &mut Connection, stream: &str) -> RedisResult<Vec<Group>> {
    let reply: RedisResult<Value> = redis::cmd("XINFO").arg("GROUPS").arg(stream).query(con);
    match reply {
        Ok(rows) => parse_groups(rows),
        // No stream yet: no groups.
        Err(e) if e.to_string().contains("no such key") => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// The groups of an `XINFO GROUPS` reply.
pub(crate) fn parse_groups(reply: Value) -> RedisResult<Vec<Group>> {
    let rows: Vec<Vec<Value>> = redis::from_redis_value(&reply)?;
    let mut out = Vec::new();
    for row in rows {
        let mut g = Group {
            name: String::new(),
            consumers: 0,
            pending: 0,
            last_delivered: "0-0".to_owned(),
            entries_read: None,
            lag: None,
        };
        for pair in row.chunks(2) {
            let [k, v] = pair else { continue };
            let key = entry::text(k);
            match key.as_str() {
                "name" => g.name = entry::text(v),
                "consumers" => g.consumers = redis::from_redis_value(v).unwrap_or(0),
                "pending" => g.pending = redis::from_redis_value(v).unwrap_or(0),
                "last-delivered-id" => g.last_delivered = entry::text(v),
                "lag" => g.lag = redis::from_redis_value(v).ok(),
                "entries-read" => g.entries_read = redis::from_redis_value(v).ok(),
                _ => {}
            }
        }
        out.push(g);
    }
    Ok(out)
}

/// Trims the stream up to the first entry some group still needs: its oldest pending
/// entry, or the first it has not read.
fn trim(con: &mut Connection, o: &RedisOptions) -> RedisResult<()> {
    let mut keep: Option<(u64, u64)> = None;
    for group in groups(con, &o.stream)? {
        let summary: Value = redis::cmd("XPENDING")
            .arg(&o.stream)
            .arg(&group.name)
            .query(con)?;
        let oldest_pending = match &summary {
            Value::Array(v) if v.len() >= 2 && !matches!(v[1], Value::Nil) => {
                Some(entry::text(&v[1]))
            }
            _ => None,
        };
        let needed = oldest_pending.unwrap_or(group.last_delivered);
        let Some(id) = parse_id(&needed) else {
            return Ok(());
        };
        keep = Some(keep.map_or(id, |k| k.min(id)));
    }
    if let Some((ms, seq)) = keep {
        redis::cmd("XTRIM")
            .arg(&o.stream)
            .arg("MINID")
            .arg(format!("{ms}-{seq}"))
            .query::<()>(con)?;
    }
    Ok(())
}

fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::{bounded, MAX_REASON};
    use crate::entry::DATUM_FIELD;
    use crate::pack::ORIGIN_FIELD;

    #[test]
    fn a_long_reason_is_cut_and_says_its_length() {
        assert_eq!(bounded("short".to_owned()), "short");
        let long = format!("undecodable: {}", "é".repeat(3 << 20));
        let cut = bounded(long.clone());
        assert!(cut.len() < MAX_REASON + 40, "{}", cut.len());
        assert!(cut.starts_with("undecodable: éé"), "{cut}");
        assert!(
            cut.ends_with(&format!("… ({} bytes in all)", long.len())),
            "{cut}"
        );
    }

    #[test]
    fn the_split_script_writes_the_fields_a_reader_looks_for() {
        let script = super::SPLIT_SCRIPT;
        assert!(
            script.contains(&format!("'{DATUM_FIELD}', ARGV[i]")),
            "{script}"
        );
        assert!(
            script.contains(&format!("'{ORIGIN_FIELD}', ARGV[2] .. '#'")),
            "{script}"
        );
    }
}
