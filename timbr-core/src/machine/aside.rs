//! Where data wait that are not in the queue and not on a worker: retries until their backoff
//! is over (a delay queue, earliest first), and replays of stored failures until a worker
//! takes them. The consumers look here before the queue, but only when something waits: the
//! hot path reads one counter.

use std::cmp::Ordering as CmpOrdering;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bson::oid::ObjectId;
use parking_lot::Mutex;
use timbr_sched::Outcomes;

use crate::datum::wiring::Wiring;

/// A datum waiting for another attempt: its run so far (the values of the stages that
/// succeeded are kept), and what its record will need.
pub(crate) struct Retry {
    /// When it may run again.
    pub(crate) due: Instant,
    /// The failed run, resumed from its failed stages.
    pub(crate) outcomes: Outcomes<'static>,
    /// The wiring it started with: a retry runs the stages its datum started with, as an
    /// in-flight datum does when the stages change.
    pub(crate) wiring: Arc<Wiring>,
    pub(crate) oid: ObjectId,
    /// Runs of the datum so far.
    pub(crate) attempts: u32,
    /// Per slot, how many runs of that stage failed for this datum.
    pub(crate) failed_runs: Box<[u32]>,
    /// Its delivery's id: acknowledged only once the datum finished for good.
    pub(crate) origin: Option<Arc<str>>,
    /// The failure it replays, if it is a replay.
    pub(crate) replaces: Option<Arc<str>>,
    /// Its place in the output order (ordered machines).
    pub(crate) seq: u64,
}

/// A stored failure's datum, made again, waiting for a worker.
pub(crate) struct Replay<T> {
    pub(crate) datum: T,
    pub(crate) replaces: Arc<str>,
}

/// What a consumer takes from aside.
pub(crate) enum Ready<T> {
    Retry(Box<Retry>),
    Replay(Replay<T>),
}

/// A retry in the delay queue: ordered by due time, earliest first, then by arrival.
struct Due {
    at: Instant,
    n: u64,
    retry: Box<Retry>,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == CmpOrdering::Equal
    }
}

impl Eq for Due {}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl Ord for Due {
    /// Reversed: `BinaryHeap` is a max-heap, the earliest must come out first.
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (other.at, other.n).cmp(&(self.at, self.n))
    }
}

struct Inner<T> {
    retries: BinaryHeap<Due>,
    replays: VecDeque<Replay<T>>,
    arrivals: u64,
}

/// The data waiting aside (see the module docs).
pub(crate) struct Aside<T> {
    inner: Mutex<Inner<T>>,
    /// Retries plus replays: what the hot path reads.
    waiting: AtomicUsize,
}

impl<T> Default for Aside<T> {
    fn default() -> Self {
        Aside {
            inner: Mutex::new(Inner {
                retries: BinaryHeap::new(),
                replays: VecDeque::new(),
                arrivals: 0,
            }),
            waiting: AtomicUsize::new(0),
        }
    }
}

/// What [`Aside::take`] found.
pub(crate) enum Look<T> {
    /// Something to run now.
    Ready(Ready<T>),
    /// Nothing ready; the earliest retry is due then.
    Until(Instant),
    /// Nothing waits.
    Empty,
}

impl<T> Aside<T> {
    /// Whether anything waits (a hint: exact once nothing is being added or taken).
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.waiting.load(Ordering::Acquire) == 0
    }

    /// Sets `retry` aside until it is due.
    pub(crate) fn push_retry(&self, retry: Box<Retry>) {
        let mut inner = self.inner.lock();
        let n = inner.arrivals;
        inner.arrivals += 1;
        inner.retries.push(Due {
            at: retry.due,
            n,
            retry,
        });
        self.waiting.fetch_add(1, Ordering::AcqRel);
    }

    /// Sets replays aside, in order.
    pub(crate) fn push_replays(&self, replays: impl IntoIterator<Item = Replay<T>>) {
        let mut inner = self.inner.lock();
        let before = inner.replays.len();
        inner.replays.extend(replays);
        let added = inner.replays.len() - before;
        self.waiting.fetch_add(added, Ordering::AcqRel);
    }

    /// A retry that is due at `now`, else a replay, else when the next retry is due.
    pub(crate) fn take(&self, now: Instant) -> Look<T> {
        let mut inner = self.inner.lock();
        let due = inner.retries.peek().map(|d| d.at);
        let ready = match due {
            Some(at) if at <= now => inner.retries.pop().map(|d| Ready::Retry(d.retry)),
            _ => inner.replays.pop_front().map(Ready::Replay),
        };
        match ready {
            Some(ready) => {
                self.waiting.fetch_sub(1, Ordering::AcqRel);
                Look::Ready(ready)
            }
            None => due.map_or(Look::Empty, Look::Until),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn retries_come_out_when_due_earliest_first_and_replays_meanwhile() {
        let aside: Aside<u8> = Aside::default();
        assert!(matches!(aside.take(Instant::now()), Look::Empty));
        let now = Instant::now();
        let wiring = Arc::new(Wiring::build::<u8>(vec![None]).unwrap());
        let retry = |ms: u64, seq: u64| {
            let mut run = wiring.record_plan.run();
            run.set_input(wiring.input, 1_u8).unwrap();
            let outcomes =
                timbr_sched::Executor::execute(&timbr_sched::Sequential, run, None).into_owned();
            Box::new(Retry {
                due: now + Duration::from_millis(ms),
                outcomes,
                wiring: Arc::clone(&wiring),
                oid: ObjectId::new(),
                attempts: 1,
                failed_runs: Box::new([]),
                origin: None,
                replaces: None,
                seq,
            })
        };
        aside.push_retry(retry(20, 2));
        aside.push_retry(retry(10, 1));
        aside.push_replays([Replay {
            datum: 9,
            replaces: "x".into(),
        }]);
        assert_eq!(aside.waiting.load(Ordering::Acquire), 3);
        assert!(matches!(aside.take(now), Look::Ready(Ready::Replay(r)) if r.datum == 9));
        assert!(
            matches!(aside.take(now), Look::Until(at) if at == now + Duration::from_millis(10))
        );
        let later = now + Duration::from_millis(30);
        let seqs: Vec<u64> = (0..2)
            .map(|_| match aside.take(later) {
                Look::Ready(Ready::Retry(r)) => r.seq,
                _ => panic!("a retry is due"),
            })
            .collect();
        assert_eq!(seqs, [1, 2]);
        assert!(aside.is_empty());
    }
}
