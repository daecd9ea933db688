//! The putting side of a fleet queue: `XADD`s held to the queue's capacity.
//!
//! The capacity bounds the group's unread + pending entries. Measuring it takes a round trip
//! (`XINFO GROUPS`), so a producer keeps an estimate instead — the last measurement plus its
//! own puts since — and measures again every `check_every` puts and whenever the estimate
//! reaches the capacity. Consumers only ever lower the true size, so one producer is held to
//! the capacity exactly; with P producers, each blind to the others' puts between its
//! measurements, the queue can exceed it by at most (P − 1) × `check_every`.

use std::time::{Duration, Instant};

use redis::RedisResult;

use crate::health::Health;
use crate::link::Link;
use crate::options::RedisOptions;
use crate::reader::{group_info, groups};

pub(crate) struct Writer {
    pub(crate) link: Link,
    estimate: u64,
    since_check: usize,
    measured: bool,
}

/// The longest a blocked put waits between two looks at the queue.
pub(crate) const ROOM_POLL_MAX: Duration = Duration::from_millis(50);

impl Writer {
    pub(crate) fn new(link: Link) -> Self {
        Writer {
            link,
            estimate: 0,
            since_check: 0,
            measured: false,
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
        let cap = o.capacity as u64;
        if !self.measured || self.since_check >= o.check_every || self.estimate + n as u64 > cap {
            let size = self.link.run(give_up, |con| measure(con, o, health))?;
            self.estimate = size;
            self.since_check = 0;
            self.measured = true;
        }
        Some(self.estimate + n as u64 <= cap)
    }

    /// Counts `n` puts into the estimate.
    pub(crate) fn added(&mut self, n: usize) {
        self.estimate += n as u64;
        self.since_check += n;
    }

    /// Appends encoded data, in one round trip.
    pub(crate) fn xadd(
        &mut self,
        o: &RedisOptions,
        data: &[Vec<u8>],
        give_up: &dyn Fn() -> bool,
    ) -> Option<()> {
        self.link.run(give_up, |con| {
            let mut pipe = redis::pipe();
            for d in data {
                pipe.cmd("XADD")
                    .arg(&o.stream)
                    .arg("*")
                    .arg(crate::entry::DATUM_FIELD)
                    .arg(d.as_slice())
                    .ignore();
            }
            pipe.query::<()>(con)
        })
    }
}

/// Unread + pending entries of the fullest group (the stream's length if it has none).
fn measure(con: &mut redis::Connection, o: &RedisOptions, health: &Health) -> RedisResult<u64> {
    let info = group_info(con, o)?;
    let mut size = None::<u64>;
    for g in groups(con, &o.stream)? {
        let s = g.lag.unwrap_or(info.stream_length) + g.pending;
        size = Some(size.map_or(s, |m| m.max(s)));
    }
    *health.group_info.lock() = info.clone();
    Ok(size.unwrap_or(info.stream_length))
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
