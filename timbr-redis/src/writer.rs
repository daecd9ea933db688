//! The putting side of a fleet queue: `XADD`s held to the queue's capacity.
//!
//! The capacity bounds the group's unread + pending entries. Measuring it takes a round trip
//! (`XINFO GROUPS`), so a producer keeps an estimate instead — the last measurement plus its
//! own puts since — and measures again every `check_every` puts and whenever the estimate
//! reaches the capacity. Consumers only ever lower the true size, so one producer is held to
//! the capacity exactly; with P producers, each blind to the others' puts between its
//! measurements, the queue can exceed it by at most (P − 1) × `check_every`.
//!
//! # Two writers per queue
//!
//! A put that waits (`put`, `put_all`, `put_until` with a deadline) retries through an
//! outage on the queue's writer, holding it until Redis is back or its deadline passes.
//! `try_put` must not wait behind it ("never blocks", "hands the datum back when Redis is
//! unreachable", on any handle of a shared queue): it makes its one attempt on a writer of
//! its own, with a connection of its own opened at its first use. The two share the size
//! estimate (one producer as far as the capacity goes) but not the round-trip numbers:
//! each is a producer of its own, with its own key, as exactly-once requires (a round
//! trip in doubt must be checked before any other round trip of its producer is sent).
//!
//! # A retried round trip adds nothing twice
//!
//! (What [`RedisQueue`](crate::RedisQueue)'s docs promise.) Each writer is a producer with
//! a name of its own and numbers its round trips; a round trip is one `MULTI`/`EXEC` of its
//! `XADD`s and a `SET` of `<stream>:producer:<name>` to its number, applied whole or not at
//! all, in Redis and in its AOF. After a failed try, the writer reads the key (`GET`) before
//! sending again: if it holds the round trip's number, nothing is sent.
//!
//! Why not entry ids chosen by the producer, with Redis refusing an id not above the
//! stream's last? With several producers on one stream, each one's ids fall behind the
//! others' all the time (clocks differ, batches interleave): a refusal would no longer tell
//! "mine, already added" from "another producer went ahead", and the stream's order would
//! be the producers' clocks'. A key per producer keeps `*` ids (Redis's order of arrival),
//! costs one `SET` per round trip and one `GET` per failure, and holds for any number of
//! producers. A Lua script checking a sequence number would close the last gap (a request
//! delayed in the network past the retry) but runs every `XADD` through Lua.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use redis::RedisResult;

use crate::group::group_state;
use crate::health::Health;
use crate::link::Link;
use crate::options::RedisOptions;

pub(crate) struct Writer {
    pub(crate) link: Link,
    /// The queue's size as this handle's writers estimate it (shared by them).
    size: Arc<Mutex<Size>>,
    /// The key holding the number of this producer's last applied round trip.
    producer_key: String,
    /// The number of the last round trip sent.
    round: u64,
}

/// The size estimate a queue's writers share: the last measurement plus their puts since.
#[derive(Default)]
pub(crate) struct Size {
    estimate: u64,
    since_check: usize,
    measured: bool,
}

/// How long Redis keeps a producer's round-trip number after its last round trip: a
/// round trip retried later than that (after an outage of a day) may add its entries twice.
pub const PRODUCER_KEY_TTL: Duration = Duration::from_secs(24 * 3600);

/// The longest a blocked put waits between two looks at the queue.
pub(crate) const ROOM_POLL_MAX: Duration = Duration::from_millis(50);

impl Writer {
    /// A writer on `link`, a producer of its own (its own round-trip key), sharing the
    /// size estimate `size` with the queue's other writer.
    pub(crate) fn new(link: Link, o: &RedisOptions, size: Arc<Mutex<Size>>) -> Self {
        Writer {
            link,
            size,
            producer_key: format!("{}:producer:{}", o.stream, producer_name(&o.consumer)),
            round: 0,
        }
    }

    /// Whether `n` more entries fit. `Err` when Redis could not be asked (only with
    /// `once`: otherwise it retries until `give_up`).
    pub(crate) fn room(
        &mut self,
        o: &RedisOptions,
        health: &Health,
        n: usize,
        give_up: &dyn Fn() -> bool,
    ) -> Option<bool> {
        let (cap, n) = (o.capacity as u64, n as u64);
        let stale = {
            let s = self.size.lock();
            !s.measured || s.since_check >= o.check_every || s.estimate + n > cap
        };
        // Measured without holding the estimate: the other writer goes on meanwhile.
        if stale {
            let measured = self.link.run(give_up, |con| measure(con, o, health))?;
            let mut s = self.size.lock();
            s.estimate = measured;
            s.since_check = 0;
            s.measured = true;
        }
        Some(self.size.lock().estimate + n <= cap)
    }

    /// Counts `n` puts into the estimate.
    pub(crate) fn added(&mut self, n: usize) {
        let mut s = self.size.lock();
        s.estimate += n as u64;
        s.since_check += n;
    }

    /// Appends entries of one field `field` each in one round trip, exactly once however often it must be sent
    /// (see the module's docs). `None` if it gave up: then whether Redis applied it is
    /// unknown only if a try failed after sending.
    pub(crate) fn xadd(
        &mut self,
        o: &RedisOptions,
        field: &str,
        data: &[Vec<u8>],
        give_up: &dyn Fn() -> bool,
    ) -> Option<()> {
        self.xadd_at(o, field, data, None, give_up)
    }

    /// As [`xadd`](Writer::xadd), also setting `position.0` to `position.1` in the same
    /// transaction: a [`Producer`](crate::Producer)'s place in its data, exact whatever
    /// becomes of the process.
    pub(crate) fn xadd_at(
        &mut self,
        o: &RedisOptions,
        field: &str,
        data: &[Vec<u8>],
        position: Option<(&str, u64)>,
        give_up: &dyn Fn() -> bool,
    ) -> Option<()> {
        self.round += 1;
        let round = self.round;
        let key = &self.producer_key;
        let ttl = PRODUCER_KEY_TTL.as_secs();
        let mut sent = false;
        self.link.run(give_up, |con| {
            if sent {
                // The last try may have been applied with its reply lost: Redis knows.
                let applied: Option<u64> = redis::cmd("GET").arg(key).query(con)?;
                if applied.is_some_and(|a| a >= round) {
                    return Ok(());
                }
            }
            sent = true;
            let mut pipe = redis::pipe();
            pipe.atomic();
            for d in data {
                pipe.cmd("XADD")
                    .arg(&o.stream)
                    .arg("*")
                    .arg(field)
                    .arg(d.as_slice())
                    .ignore();
            }
            pipe.cmd("SET")
                .arg(key)
                .arg(round)
                .arg("EX")
                .arg(ttl)
                .ignore();
            if let Some((key, at)) = position {
                let ttl = crate::producer::POSITION_TTL.as_secs();
                pipe.cmd("SET").arg(key).arg(at).arg("EX").arg(ttl).ignore();
            }
            pipe.query::<()>(con)
        })
    }
}

/// A name no other producer has: the consumer's name (host and process by default), the
/// process, the time and a count of the queues this process connected.
fn producer_name(consumer: &str) -> String {
    static CONNECTED: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{consumer}:{}:{nanos:x}:{}",
        std::process::id(),
        CONNECTED.fetch_add(1, Ordering::Relaxed)
    )
}

/// Unread + pending entries of the fullest group (the stream's length if it has none).
fn measure(con: &mut redis::Connection, o: &RedisOptions, health: &Health) -> RedisResult<u64> {
    // One round trip: the producer measures often (every `check_every` puts).
    let (info, groups) = group_state(con, o)?;
    let mut size = None::<u64>;
    for g in groups {
        let s = g.lag.map_or(info.stream_length, |lag| lag as u64) + g.pending as u64;
        size = Some(size.map_or(s, |m| m.max(s)));
    }
    let length = info.stream_length;
    health.group_seen(info);
    Ok(size.unwrap_or(length))
}

/// Waits before looking at a full queue again: short at first, then up to
/// [`ROOM_POLL_MAX`], never past `deadline`. Returns false if the deadline passed.
pub(crate) fn wait_for_room(wait: &mut Duration, deadline: Option<Instant>) -> bool {
    let now = Instant::now();
    let mut nap = *wait;
    if let Some(d) = deadline {
        if now >= d {
            return false;
        }
        nap = nap.min(d - now);
    }
    std::thread::sleep(nap);
    *wait = (*wait * 2).min(ROOM_POLL_MAX);
    true
}
