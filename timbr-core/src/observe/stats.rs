//! Per-stage statistics and what each worker is doing, kept in one shard per worker so the hot
//! path never contends: calls, errors and skips of every datum, and the latency of a sample.

use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bson::oid::ObjectId;
use serde::{Deserialize, Serialize};
use timbr_sched::{Hooks, NodeId, NodeRef, Outcome, Outcomes};

use crate::datum::wiring::Wiring;
use crate::observe::histogram::{bump, Histogram, Merged};
use crate::observe::status::{InFlight, Timestamp};

/// Which stage calls are timed for the latency statistics. Calls, errors and skips are
/// always counted exactly.
///
/// Two clock reads per stage cost about as much as an empty stage, so timing every datum
/// would slow cheap pipelines noticeably, while a sample gives the same percentiles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Timing {
    /// No timing: the latency statistics stay empty.
    Off,
    /// Time every stage call of one datum in `n` (per worker).
    Sampled(u32),
    /// The default: time one datum in 64 (per worker), and also the first
    /// datum of every second (by its oid's time) in which that worker timed none yet.
    ///
    /// A quick pipeline pays for about one timed datum in 64 (a million data a second still
    /// give thousands of samples a second), and a slow one, which a fixed sample would leave
    /// without latencies for minutes, is timed at least once a second per worker.
    #[default]
    Adaptive,
    /// Time every call.
    All,
}

/// How many data per worker [`Timing::Adaptive`] times one of, at the least.
const ADAPTIVE_EVERY: u64 = 64;

impl Timing {
    /// Whether the datum numbered `n` (per worker) is timed, for a datum made in `second`
    /// (its oid's) on a worker that last timed one in `last_timed`.
    #[inline]
    pub(crate) fn times(self, n: u64, second: u32, last_timed: u32) -> bool {
        match self {
            Timing::Off => false,
            Timing::All => true,
            Timing::Sampled(every) => n % u64::from(every.max(1)) == 0,
            Timing::Adaptive => n % ADAPTIVE_EVERY == 0 || second != last_timed,
        }
    }
}

#[derive(Default)]
pub(crate) struct StageCells {
    calls: AtomicU64,
    errors: AtomicU64,
    skipped: AtomicU64,
    latency: Histogram,
}

/// What one worker is doing, as a seqlock: the worker writes, readers retry on a torn read.
#[derive(Default)]
struct NowCell {
    seq: AtomicU64,
    current: [AtomicU64; 2],
    /// Nanoseconds since the board's epoch, plus one; zero when idle.
    current_since: AtomicU64,
    last: [AtomicU64; 2],
    /// Whether `last` holds an oid.
    has_last: AtomicU64,
}

fn split(oid: ObjectId) -> [u64; 2] {
    let b = oid.bytes();
    let mut hi = [0; 8];
    hi.copy_from_slice(&b[..8]);
    let mut lo = [0; 8];
    lo[..4].copy_from_slice(&b[8..]);
    [u64::from_le_bytes(hi), u64::from_le_bytes(lo)]
}

/// The second an oid was made in (its first four bytes, big-endian).
#[inline]
fn oid_second(oid: ObjectId) -> u32 {
    let b = oid.bytes();
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn join(parts: [u64; 2]) -> ObjectId {
    let mut b = [0; 12];
    b[..8].copy_from_slice(&parts[0].to_le_bytes());
    b[8..].copy_from_slice(&parts[1].to_le_bytes()[..4]);
    ObjectId::from_bytes(b)
}

impl NowCell {
    fn write(&self, f: impl FnOnce()) {
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        f();
        self.seq.store(seq.wrapping_add(2), Ordering::Release);
    }

    fn read<R>(&self, f: impl Fn() -> R) -> R {
        let mut spins = 0_u32;
        loop {
            let before = self.seq.load(Ordering::Acquire);
            if before % 2 == 1 {
                // A writer pre-empted mid-write: give it the core rather than spin it away.
                spins += 1;
                if spins % 64 == 0 {
                    std::thread::yield_now();
                } else {
                    std::hint::spin_loop();
                }
                continue;
            }
            let r = f();
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == before {
                return r;
            }
        }
    }
}

/// One worker's statistics.
pub(crate) struct Shard {
    now: NowCell,
    stages: Box<[StageCells]>,
    /// Data this shard started: drives sampling.
    started: AtomicU64,
    /// The second (of an oid's time) of the last datum timed, for [`Timing::Adaptive`].
    timed_second: AtomicU32,
}

impl Shard {
    fn new(slots: usize) -> Self {
        Shard {
            now: NowCell::default(),
            stages: (0..slots).map(|_| StageCells::default()).collect(),
            started: AtomicU64::new(0),
            timed_second: AtomicU32::new(0),
        }
    }
}

/// Every shard, and the clock they share.
pub(crate) struct Stats {
    epoch: Instant,
    /// A clock for the hot path: nanoseconds since `epoch` plus one, refreshed by the
    /// monitor every tick and by every status. Reading the real clock costs about 40 ns here
    /// (5 % of a datum's whole path); a datum's start time does not need better than a tick.
    coarse: AtomicU64,
    epoch_wall: SystemTime,
    timing: Timing,
    /// One per worker, then one for [`Machine::get`](crate::Machine::get) on callers' threads
    /// (who take turns: see `Shared::caller`).
    shards: Box<[Shard]>,
}

/// Timing for one datum's stage nodes, into one shard.
pub(crate) struct StageTimer<'a> {
    shard: &'a Shard,
    wiring: &'a Wiring,
}

impl Hooks for StageTimer<'_> {
    fn observes(&self, node: NodeRef<'_>) -> bool {
        self.wiring.slot_of(node.id).is_some()
    }

    fn posttask(&self, node: NodeRef<'_>, elapsed: Duration, _: &Outcome) {
        if let Some(cells) = self
            .wiring
            .slot_of(node.id)
            .and_then(|s| self.shard.stages.get(s))
        {
            cells.latency.record(elapsed);
        }
    }
}

/// The shard a datum is processed under, and whether it is timed.
pub(crate) struct Tracking<'a> {
    shard: &'a Shard,
    timed: bool,
}

impl Stats {
    pub(crate) fn new(workers: usize, slots: usize, timing: Timing) -> Self {
        Stats {
            coarse: AtomicU64::new(1),
            epoch: Instant::now(),
            epoch_wall: SystemTime::now(),
            timing,
            shards: (0..=workers).map(|_| Shard::new(slots)).collect(),
        }
    }

    /// The shard of worker `i`, or of the callers for `None`.
    fn shard(&self, worker: Option<usize>) -> &Shard {
        let last = self.shards.len() - 1;
        &self.shards[worker.unwrap_or(last).min(last)]
    }

    fn since_epoch(&self, at: Instant) -> u64 {
        u64::try_from(at.duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX - 1) + 1
    }

    fn wall(&self, since: u64) -> Timestamp {
        Timestamp(self.epoch_wall + Duration::from_nanos(since.saturating_sub(1)))
    }

    /// Sets the coarse clock to now.
    pub(crate) fn refresh_clock(&self) {
        let now = self.since_epoch(Instant::now());
        self.coarse.fetch_max(now, Ordering::AcqRel);
    }

    /// Marks `oid` as the datum `worker` is processing now.
    pub(crate) fn begin(&self, worker: Option<usize>, oid: ObjectId) -> Tracking<'_> {
        let shard = self.shard(worker);
        let n = shard.started.load(Ordering::Relaxed);
        shard.started.store(n + 1, Ordering::Relaxed);
        let since = self.coarse.load(Ordering::Acquire);
        let parts = split(oid);
        shard.now.write(|| {
            shard.now.current[0].store(parts[0], Ordering::Relaxed);
            shard.now.current[1].store(parts[1], Ordering::Relaxed);
            shard.now.current_since.store(since, Ordering::Relaxed);
        });
        // The shard has one writer at a time (its worker, or a caller of `get` under the
        // callers' lock): plain loads and stores.
        let second = oid_second(oid);
        let timed = self
            .timing
            .times(n, second, shard.timed_second.load(Ordering::Relaxed));
        if timed {
            shard.timed_second.store(second, Ordering::Relaxed);
        }
        Tracking { shard, timed }
    }

    /// Each stage's statistics, merged over the shards, in slot order.
    pub(crate) fn stages(
        &self,
        slots: usize,
    ) -> Vec<(
        u64,
        u64,
        u64,
        crate::Latency,
        crate::observe::LatencyBuckets,
    )> {
        (0..slots)
            .map(|slot| {
                let (mut calls, mut errors, mut skipped) = (0, 0, 0);
                let mut merged = Merged::default();
                for shard in self.shards.iter() {
                    let Some(cells) = shard.stages.get(slot) else {
                        continue;
                    };
                    calls += cells.calls.load(Ordering::Relaxed);
                    errors += cells.errors.load(Ordering::Relaxed);
                    skipped += cells.skipped.load(Ordering::Relaxed);
                    merged.add(&cells.latency);
                }
                (calls, errors, skipped, merged.latency(), merged.buckets())
            })
            .collect()
    }

    /// The data being processed now, and the oid of the one finished last.
    pub(crate) fn activity(&self) -> (Vec<InFlight>, Option<ObjectId>) {
        let now = self.since_epoch(Instant::now());
        self.coarse.fetch_max(now, Ordering::AcqRel);
        let mut current = Vec::new();
        let mut last: Option<ObjectId> = None;
        for (worker, shard) in self.shards.iter().enumerate() {
            let cell = &shard.now;
            let (cur, since, done, has_last) = cell.read(|| {
                (
                    [
                        cell.current[0].load(Ordering::Relaxed),
                        cell.current[1].load(Ordering::Relaxed),
                    ],
                    cell.current_since.load(Ordering::Relaxed),
                    [
                        cell.last[0].load(Ordering::Relaxed),
                        cell.last[1].load(Ordering::Relaxed),
                    ],
                    cell.has_last.load(Ordering::Relaxed),
                )
            });
            if since != 0 {
                current.push(InFlight {
                    worker,
                    oid: join(cur).to_hex(),
                    started_at: self.wall(since),
                    elapsed: Duration::from_nanos(now.saturating_sub(since)),
                });
            }
            // Oids are time-ordered: the greatest is the latest datum.
            if has_last != 0 {
                last = last.max(Some(join(done)));
            }
        }
        (current, last)
    }
}

impl Tracking<'_> {
    /// The hooks to run the datum with: the stage timer if this datum is sampled.
    pub(crate) fn timer<'w>(&'w self, wiring: &'w Wiring) -> Option<StageTimer<'w>> {
        self.timed.then_some(StageTimer {
            shard: self.shard,
            wiring,
        })
    }

    /// Counts each stage's outcome and marks the datum finished. `all_values`: the caller
    /// knows that every stage produced a value (a record with no failures, whose plan runs
    /// every stage), so that each stage counts one call without its outcome being looked up.
    pub(crate) fn finish(
        self,
        wiring: &Wiring,
        oid: ObjectId,
        outcomes: &Outcomes,
        all_values: bool,
    ) {
        if all_values {
            for (slot, _) in wiring.stage_nodes() {
                if let Some(cells) = self.shard.stages.get(slot) {
                    bump(&cells.calls, 1);
                }
            }
        } else {
            self.count_outcomes(wiring.stage_nodes(), outcomes);
        }
        self.finished(oid);
    }

    /// Counts the outcomes of the stages `stages` alone (a resumed run's: the others kept
    /// the values of an earlier attempt, whose calls were counted then) and marks the datum
    /// finished.
    pub(crate) fn finish_slots(
        self,
        oid: ObjectId,
        outcomes: &Outcomes,
        stages: impl Iterator<Item = (usize, NodeId)>,
    ) {
        self.count_outcomes(stages, outcomes);
        self.finished(oid);
    }

    #[inline]
    fn finished(&self, oid: ObjectId) {
        let parts = split(oid);
        let now = &self.shard.now;
        now.write(|| {
            now.current_since.store(0, Ordering::Relaxed);
            now.last[0].store(parts[0], Ordering::Relaxed);
            now.last[1].store(parts[1], Ordering::Relaxed);
            now.has_last.store(1, Ordering::Relaxed);
        });
    }

    /// Counts each stage's call, error or skip from the run's outcomes.
    #[inline(never)]
    fn count_outcomes(&self, stages: impl Iterator<Item = (usize, NodeId)>, outcomes: &Outcomes) {
        for (slot, node) in stages {
            let Some(cells) = self.shard.stages.get(slot) else {
                continue;
            };
            match outcomes.outcome(node) {
                Some(Outcome::Value(_)) => bump(&cells.calls, 1),
                Some(Outcome::Failed(_)) => {
                    bump(&cells.calls, 1);
                    bump(&cells.errors, 1);
                }
                Some(Outcome::Skipped(_)) => bump(&cells.skipped, 1),
                None => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids_survive_the_split() {
        for _ in 0..100 {
            let oid = ObjectId::new();
            assert_eq!(join(split(oid)), oid);
        }
    }

    #[test]
    fn sampling() {
        let same = |t: Timing, n| t.times(n, 7, 7);
        assert!((0..32).filter(|&n| same(Timing::Sampled(16), n)).count() == 2);
        assert!((0..32).all(|n| same(Timing::All, n)));
        assert!((0..32).all(|n| !same(Timing::Off, n)));
        assert!((0..3).all(|n| same(Timing::Sampled(0), n)));
        // Within one second, one in 64; the first datum of a new second, whatever its number.
        assert_eq!((0..640).filter(|&n| same(Timing::Adaptive, n)).count(), 10);
        assert!(Timing::Adaptive.times(5, 8, 7));
        assert!(
            !Timing::Sampled(16).times(5, 8, 7),
            "a fixed sample ignores the clock"
        );
    }

    #[test]
    fn an_oid_tells_its_second() {
        let oid = ObjectId::new();
        let second = oid.timestamp().timestamp_millis() / 1000;
        assert_eq!(i64::from(oid_second(oid)), second);
    }
}
