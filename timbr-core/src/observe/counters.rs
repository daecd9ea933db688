//! The accounting of every datum the machine accepted, as monotonic counters whose
//! snapshots always balance.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// Monotonic counters. Each datum moves forward through them: accepted (once the queue
/// holds it) → dropped | taken → [set aside for a retry → resumed]* → processed | failed, or
/// returned from the queue. A replay of a stored failure enters again as `replayed` (rather
/// than `accepted`), then is taken like any datum. A refused put only counts as `rejected`,
/// which is outside the balance.
///
/// A snapshot reads them from the last step back to the first, and reads the puts in
/// progress just before `accepted`: a datum in motion is always counted at a step it has
/// reached (a put whose datum a consumer already took is still in progress, or already
/// accepted), so derived counts are never negative and always add up. A put in progress is
/// counted as accepted and queued; one that completes between the two reads is counted twice,
/// so `accepted` and `queued` exceed the truth by at most the puts in progress at one moment.
///
/// What a consumer counts for every datum (`taken`, then `processed` or `failed`) is kept in
/// one [`Lane`] per worker plus one for the callers of `get`, each written by one thread at a
/// time: a plain load and store where a counter shared by every worker needs an atomic
/// read-modify-write (a locked instruction, several nanoseconds, per count).
pub(crate) struct Counters {
    /// Data the queue took (or, for a shared queue, that this machine took from it).
    accepted: AtomicU64,
    /// Puts handed back to the caller (full queue, timeout, closed, refused datum).
    rejected: AtomicU64,
    dropped_new: AtomicU64,
    dropped_old: AtomicU64,
    returned: AtomicU64,
    /// Data set aside for a retry, and data resumed from there (rare: shared atomics).
    retries_set: AtomicU64,
    retries_resumed: AtomicU64,
    /// Stored failures put back for another run.
    replayed: AtomicU64,
    /// One per worker, then one for the callers of `get`.
    lanes: Box<[Lane]>,
}

/// One consumer's counts. Its own cache line: workers count side by side without sharing one.
///
/// Single writer: worker `i` writes lane `i` from its own thread (a restarted worker `i`
/// starts after the old one ended), and callers of `get` write the last lane under the lock
/// that takes their turns. Each count is a `Release` store that a snapshot reads with
/// `Acquire`, so a snapshot that sees a datum processed also sees it taken.
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct Lane {
    taken: AtomicU64,
    processed: AtomicU64,
    failed: AtomicU64,
}

impl Lane {
    /// Counts one datum taken from the queue.
    #[inline]
    pub(crate) fn take(&self) {
        bump(&self.taken);
    }

    /// Counts one datum whose record was delivered: processed if `ok`, failed if not.
    #[inline]
    pub(crate) fn count(&self, ok: bool) {
        bump(if ok { &self.processed } else { &self.failed });
    }
}

/// Adds one to a counter only this thread writes.
#[inline]
fn bump(cell: &AtomicU64) {
    cell.store(cell.load(Ordering::Relaxed) + 1, Ordering::Release);
}

macro_rules! bump {
    ($($name:ident => $field:ident),* $(,)?) => {
        $(
            pub(crate) fn $name(&self) {
                self.$field.fetch_add(1, Ordering::AcqRel);
            }
        )*
    };
}

impl Counters {
    /// Counters for `workers` workers and the callers of `get`.
    pub(crate) fn new(workers: usize) -> Self {
        Counters {
            accepted: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            dropped_new: AtomicU64::new(0),
            dropped_old: AtomicU64::new(0),
            returned: AtomicU64::new(0),
            retries_set: AtomicU64::new(0),
            retries_resumed: AtomicU64::new(0),
            replayed: AtomicU64::new(0),
            lanes: (0..=workers).map(|_| Lane::default()).collect(),
        }
    }

    bump! {
        accept => accepted,
        reject => rejected,
        drop_new => dropped_new,
        drop_old => dropped_old,
        retry_set => retries_set,
        retry_resumed => retries_resumed,
    }

    /// Counts `n` stored failures put back for another run (before any of them can be taken).
    pub(crate) fn replay_n(&self, n: u64) {
        self.replayed.fetch_add(n, Ordering::AcqRel);
    }

    /// The lane of worker `i`, or of the callers of `get` for `None` (whose turns a lock
    /// takes: see [`Lane`]).
    #[inline]
    pub(crate) fn lane(&self, worker: Option<usize>) -> &Lane {
        let last = self.lanes.len() - 1;
        // A worker past the last would share the callers' lane: two writers of one lane.
        debug_assert!(
            worker.is_none_or(|w| w < last),
            "worker {worker:?} has no lane"
        );
        &self.lanes[worker.unwrap_or(last).min(last)]
    }

    /// Counts `n` data accepted at once.
    pub(crate) fn accept_n(&self, n: u64) {
        self.accepted.fetch_add(n, Ordering::AcqRel);
    }

    pub(crate) fn returned(&self, n: u64) {
        self.returned.fetch_add(n, Ordering::AcqRel);
    }

    /// A balanced snapshot. `puts_in_progress` reads how many puts have begun and not ended
    /// (each begins before its datum reaches the queue and ends after it is counted here);
    /// it is read after every later step and before `accepted`.
    pub(crate) fn snapshot(&self, puts_in_progress: impl FnOnce() -> u64) -> Counts {
        let load = |c: &AtomicU64| c.load(Ordering::Acquire);
        let sum = |f: fn(&Lane) -> &AtomicU64| self.lanes.iter().map(|l| load(f(l))).sum::<u64>();
        // Last steps first, every lane's before any lane's earlier step: see the type's docs.
        let processed = sum(|l| &l.processed);
        let failed = sum(|l| &l.failed);
        let resumed = load(&self.retries_resumed);
        let set_aside = load(&self.retries_set);
        let taken = sum(|l| &l.taken);
        let returned = load(&self.returned);
        let dropped_old = load(&self.dropped_old);
        let dropped_new = load(&self.dropped_new);
        let rejected = load(&self.rejected);
        // After `taken`: a replay is counted before it can be taken.
        let replayed = load(&self.replayed);
        let in_progress = puts_in_progress();
        let done = load(&self.accepted);
        let accepted = done + in_progress;
        let dropped = dropped_new + dropped_old;
        let retrying = set_aside - resumed;
        Counts {
            accepted,
            // Both terms only grow, so their maximum does: see `Counts::accepted_settled`.
            // Replays are taken too, without being accepted again.
            accepted_settled: done.max((taken + dropped + returned).saturating_sub(replayed)),
            processed,
            failed,
            queued: accepted + replayed - taken - dropped - returned,
            in_flight: taken - processed - failed - retrying,
            retrying,
            dropped,
            returned,
            rejected,
            replayed,
        }
    }
}

/// Where every datum the machine accepted is, at one moment.
///
/// Always balanced: `accepted + replayed == processed + failed + queued + in_flight +
/// retrying + dropped + returned`.
///
/// Taken while data move, a snapshot counts a put **from the moment it is called**: a put in
/// progress is already `accepted` and `queued` (one that completes while the snapshot is
/// read may be counted twice), and a put the queue then refuses (full, timed out, closed)
/// leaves them for `rejected`. So, by at most the number of puts in progress at one moment
/// of the snapshot, `queued` may exceed the queue's capacity and `accepted` may be lower in
/// a later snapshot than in an earlier one ([`accepted_settled`](Counts::accepted_settled)
/// never is). Every other count only grows, and the balance always holds. [`QueueStatus::depth`](crate::observe::QueueStatus) is the
/// queue's own length, never above its capacity.
///
/// Built by the machine; `Counts::default()` (all zero) is where a test of one's own starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Counts {
    /// Data put on the queue (including those a drop policy then dropped).
    pub accepted: u64,
    /// `accepted` without the puts in progress: the data known to have entered the queue
    /// when the snapshot was taken (those whose put returned, and those already taken,
    /// dropped or returned, whose put may not have returned yet). Never lower in a later
    /// snapshot, never counting a put the queue then refuses, and never below
    /// `processed + failed + dropped + returned`: what a monotonic counter exports
    /// (`timbr_data_accepted_total`). At most `accepted`; equal to it when no put is in
    /// progress.
    #[serde(default)]
    pub accepted_settled: u64,
    /// Data whose every stage produced a value, record delivered.
    pub processed: u64,
    /// Data with at least one failed stage, record delivered.
    pub failed: u64,
    /// Data waiting in the queue, and puts waiting for room in it (a blocking `put` counts
    /// from the moment it is called).
    pub queued: u64,
    /// Data taken from the queue whose record is not delivered yet (and not waiting for a
    /// retry).
    pub in_flight: u64,
    /// Data waiting aside for another attempt at a stage that failed with a transient error
    /// (see [`RetryPolicy`](crate::RetryPolicy)): not finished, not in the queue, not holding
    /// a worker. A drain waits for them; a stop that returns the queue leaves them waiting
    /// until the next start.
    #[serde(default)]
    pub retrying: u64,
    /// Data a source's drop policy discarded.
    pub dropped: u64,
    /// Data handed back by [`stop`](crate::Machine::stop) without being processed.
    pub returned: u64,
    /// Puts refused because the queue was full (the datum went back to the caller; not part
    /// of `accepted`).
    pub rejected: u64,
    /// Stored failures put back for another run by
    /// [`replay_failures`](crate::Machine::replay_failures). A replay is not accepted again:
    /// its datum was, once. Its run ends in `processed` or `failed` like any other, so a
    /// failure replayed with success is in both (`failed - replayed` failed and were not
    /// run again; the failure store says which).
    #[serde(default)]
    pub replayed: u64,
}

impl Counts {
    /// Whether the accounting adds up (it always should).
    pub fn is_balanced(&self) -> bool {
        self.accepted + self.replayed
            == self.processed
                + self.failed
                + self.queued
                + self.in_flight
                + self.retrying
                + self.dropped
                + self.returned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_put_in_progress_never_lowers_the_settled_count() {
        let c = Counters::new(1);
        c.accept();
        // A put in progress is counted as accepted, then the queue refuses it.
        let during = c.snapshot(|| 1);
        c.reject();
        let after = c.snapshot(|| 0);
        assert_eq!(
            (during.accepted, after.accepted),
            (2, 1),
            "accepted may dip"
        );
        assert_eq!((during.accepted_settled, after.accepted_settled), (1, 1));
        assert!(during.is_balanced() && after.is_balanced());
    }

    #[test]
    fn a_datum_taken_before_its_put_returned_is_settled() {
        let c = Counters::new(1);
        // The queue holds the datum and a worker took and processed it; the put has not
        // counted it yet.
        let lane = c.lane(Some(0));
        lane.take();
        lane.count(true);
        let s = c.snapshot(|| 1);
        assert_eq!(s.accepted_settled, 1);
        assert!(s.accepted_settled >= s.processed + s.failed + s.dropped + s.returned);
        c.accept();
        assert_eq!(c.snapshot(|| 0).accepted_settled, 1);
    }
}
