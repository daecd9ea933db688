//! Per-stage retry counts: retries scheduled, data that recovered, data that ran out of
//! attempts. Written only on the retry path (rare), so plain shared atomics do.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// What a stage's [`RetryPolicy`](crate::RetryPolicy) did, counted since the machine was built
/// (in [`StageStatus::retries`](crate::observe::StageStatus::retries)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RetryCounts {
    /// Retries scheduled: each time a datum failed at this stage with a transient error and
    /// was set aside for another attempt.
    pub retried: u64,
    /// Data for which this stage succeeded after at least one retry of it.
    pub recovered: u64,
    /// Data this stage gave up on after its last attempt (the error was still transient).
    pub exhausted: u64,
}

impl RetryCounts {
    /// `retried` retries, `recovered` recoveries, `exhausted` data given up on.
    pub fn new(retried: u64, recovered: u64, exhausted: u64) -> Self {
        RetryCounts {
            retried,
            recovered,
            exhausted,
        }
    }
}

/// One counter set per slot.
pub(crate) struct RetryStats {
    slots: Box<[Cells]>,
}

#[derive(Default)]
struct Cells {
    retried: AtomicU64,
    recovered: AtomicU64,
    exhausted: AtomicU64,
}

/// What happened to a stage on a datum's attempt, for [`RetryStats::count`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RetryStep {
    Retried,
    Recovered,
    Exhausted,
}

impl RetryStats {
    pub(crate) fn new(slots: usize) -> Self {
        RetryStats {
            slots: (0..slots).map(|_| Cells::default()).collect(),
        }
    }

    pub(crate) fn count(&self, slot: usize, step: RetryStep) {
        let Some(cells) = self.slots.get(slot) else {
            return;
        };
        let cell = match step {
            RetryStep::Retried => &cells.retried,
            RetryStep::Recovered => &cells.recovered,
            RetryStep::Exhausted => &cells.exhausted,
        };
        cell.fetch_add(1, Ordering::AcqRel);
    }

    /// The counts of `slot` (zero for a slot past the last).
    pub(crate) fn of(&self, slot: usize) -> RetryCounts {
        self.slots
            .get(slot)
            .map_or_else(RetryCounts::default, |c| RetryCounts {
                retried: c.retried.load(Ordering::Acquire),
                recovered: c.recovered.load(Ordering::Acquire),
                exhausted: c.exhausted.load(Ordering::Acquire),
            })
    }
}
