//! Failures as data: what is kept of a datum that failed for good, the store that keeps it
//! (a trait: bounded in memory by default, a Redis stream in a fleet), how to pick some for a
//! replay, and what the status shows of them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::datum::Timestamp;

/// How many failures the default store keeps (see [`MachineBuilder::failure_capacity`](crate::MachineBuilder::failure_capacity)).
pub const DEFAULT_FAILURE_CAPACITY: usize = 1000;

/// How many failures [`FailureSummary::recent`] shows.
pub const RECENT_FAILURES: usize = 20;

/// A datum that failed for good: what the status lists, and what a [`StoredFailure`] adds
/// its input to.
///
/// "For good": its stage's error was not transient, or its [`RetryPolicy`](crate::RetryPolicy)
/// ran out of attempts. Its record went to the sink as a failure record as well.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FailureReport {
    /// The failed datum's oid (24 hex characters): the oid of its failure record.
    pub oid: String,
    /// The slot of the first stage that failed.
    pub slot: usize,
    /// That stage's name.
    pub stage: String,
    /// Its error's text (the error alone, without the stage's name).
    pub error: String,
    /// How many times the stage ran for this datum (1: it was not retried).
    pub attempts: u32,
    /// When the datum failed for good.
    pub at: Timestamp,
    /// What the failed datum stood for, if anything but itself: for a datum that was itself
    /// a replay, the origin it kept ([`Record::replaces`](crate::Record::replaces)); else the
    /// id its queue delivered it under ([`Record::origin`](crate::Record::origin)); `None` for
    /// a first run from the in-memory queue. A replay of this failure carries
    /// `origin.unwrap_or(oid)` as its [`Record::replaces`](crate::Record::replaces), so a
    /// chain of replays keeps the first failure's identity.
    pub origin: Option<String>,
}

impl FailureReport {
    /// A failure of datum `oid` at stage `stage` (slot `slot`) with `error`, after
    /// `attempts` runs, now, with no origin: for stores' and exporters' tests.
    pub fn new(
        oid: impl Into<String>,
        slot: usize,
        stage: impl Into<String>,
        error: impl Into<String>,
        attempts: u32,
    ) -> Self {
        FailureReport {
            oid: oid.into(),
            slot,
            stage: stage.into(),
            error: error.into(),
            attempts,
            at: Timestamp::now(),
            origin: None,
        }
    }

    /// The same failure with this origin.
    pub fn with_origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// What a replay of this failure carries as [`Record::replaces`](crate::Record::replaces):
    /// its origin if it has one, else its oid.
    pub fn replay_origin(&self) -> &str {
        self.origin.as_deref().unwrap_or(&self.oid)
    }
}

/// A failure as a [`FailureStore`] keeps it: the report and the datum's input, as JSON (the
/// record's `in_s` entry), from which a replay makes the datum again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StoredFailure {
    /// What failed, where, how often, when.
    #[serde(flatten)]
    pub report: FailureReport,
    /// The datum, serialized as JSON (an `{"_exception": …}` object if it could not be).
    pub input: String,
}

impl StoredFailure {
    /// `report`, with the datum's `input` as JSON.
    pub fn new(report: FailureReport, input: impl Into<String>) -> Self {
        StoredFailure {
            report,
            input: input.into(),
        }
    }
}

/// Which stored failures to list or replay: every condition given must hold.
///
/// ```
/// use timbr_core::FailureFilter;
/// use timbr_core::observe::FailureReport;
///
/// let f = FailureReport::new("65a0", 3, "f3", "division by zero", 1);
/// assert!(FailureFilter::all().matches(&f));
/// assert!(FailureFilter::all().stage("f3").error_contains("zero").matches(&f));
/// assert!(!FailureFilter::all().slot(2).matches(&f));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FailureFilter {
    /// The failed stage's name.
    pub stage: Option<String>,
    /// The failed stage's slot.
    pub slot: Option<usize>,
    /// Text the error contains.
    pub error_contains: Option<String>,
    /// Failed at or after this time.
    pub since: Option<Timestamp>,
    /// Failed before this time.
    pub until: Option<Timestamp>,
}

impl FailureFilter {
    /// Every failure.
    pub fn all() -> Self {
        FailureFilter::default()
    }

    /// Only failures of the stage named `name`.
    pub fn stage(mut self, name: impl Into<String>) -> Self {
        self.stage = Some(name.into());
        self
    }

    /// Only failures of the stage at `slot`.
    pub fn slot(mut self, slot: usize) -> Self {
        self.slot = Some(slot);
        self
    }

    /// Only failures whose error contains `text`.
    pub fn error_contains(mut self, text: impl Into<String>) -> Self {
        self.error_contains = Some(text.into());
        self
    }

    /// Only failures at or after `at`.
    pub fn since(mut self, at: Timestamp) -> Self {
        self.since = Some(at);
        self
    }

    /// Only failures before `at`.
    pub fn until(mut self, at: Timestamp) -> Self {
        self.until = Some(at);
        self
    }

    /// Whether `failure` passes.
    pub fn matches(&self, failure: &FailureReport) -> bool {
        self.stage.as_ref().is_none_or(|s| *s == failure.stage)
            && self.slot.is_none_or(|s| s == failure.slot)
            && self
                .error_contains
                .as_ref()
                .is_none_or(|t| failure.error.contains(t.as_str()))
            && self.since.is_none_or(|t| failure.at >= t)
            && self.until.is_none_or(|t| failure.at < t)
    }
}

/// Why a [`FailureStore`] could not do what it was asked.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureStoreError {
    /// The store's backend is out of reach (a Redis server, say); the failure stays counted.
    #[error("the failure store is unavailable: {reason}")]
    Unavailable {
        /// Why, in the backend's words.
        reason: String,
    },
}

/// Where a machine keeps the data that failed for good, for a look and a replay.
///
/// The machine [`put`](FailureStore::put)s every such datum (after its failure record went
/// to the sink); [`Machine::failures`](crate::Machine::failures) lists them,
/// [`Machine::replay_failures`](crate::Machine::replay_failures) [`take`](FailureStore::take)s
/// them out and runs their inputs again. [`MemoryFailureStore`] is the default; a fleet keeps
/// them in a Redis stream instead.
///
/// Methods take `&self` and are called from the machine's workers: an implementation that
/// blocks (on the network) slows the failing data down, not the others.
pub trait FailureStore: Send + Sync + 'static {
    /// Keeps `failure`. A bounded store drops its oldest to make room, and counts them.
    ///
    /// # Errors
    ///
    /// [`FailureStoreError`] if it could not keep it; the machine records a sink-like error
    /// and goes on (the failure record went out regardless).
    fn put(&self, failure: StoredFailure) -> Result<(), FailureStoreError>;

    /// The failures `filter` picks, oldest first, left in the store.
    ///
    /// # Errors
    ///
    /// [`FailureStoreError`] if the store could not be read.
    fn list(&self, filter: &FailureFilter) -> Result<Vec<StoredFailure>, FailureStoreError>;

    /// Removes the failures `filter` picks and returns them, oldest first (a replay takes them).
    ///
    /// # Errors
    ///
    /// [`FailureStoreError`] if the store could not be read or changed.
    fn take(&self, filter: &FailureFilter) -> Result<Vec<StoredFailure>, FailureStoreError>;

    /// What the status shows: counts and the newest reports (at most `recent`, newest first).
    /// `replayed` is left 0: the machine counts its replays itself. Called for every
    /// [`Machine::status`](crate::Machine::status), which must stay cheap: a store behind a
    /// network answers from what it last learned rather than asking its server each time.
    fn summary(&self, recent: usize) -> FailureSummary;
}

/// What a machine's status shows of its failure store.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FailureSummary {
    /// Failures kept now.
    pub stored: u64,
    /// The most the store keeps.
    pub capacity: usize,
    /// Failures the store dropped to make room for newer ones (they cannot be replayed).
    pub dropped: u64,
    /// Failures the machine took out of the store and ran again.
    pub replayed: u64,
    /// The newest failures kept, newest first (at most [`RECENT_FAILURES`]).
    pub recent: Vec<FailureReport>,
}

/// The default [`FailureStore`]: the newest `capacity` failures, in memory.
#[derive(Debug)]
pub struct MemoryFailureStore {
    kept: Mutex<VecDeque<StoredFailure>>,
    capacity: usize,
    dropped: AtomicU64,
}

impl MemoryFailureStore {
    /// A store keeping at most `capacity` failures (0: none, each one counted dropped).
    pub fn new(capacity: usize) -> Self {
        MemoryFailureStore {
            kept: Mutex::new(VecDeque::new()),
            capacity,
            dropped: AtomicU64::new(0),
        }
    }
}

impl Default for MemoryFailureStore {
    fn default() -> Self {
        MemoryFailureStore::new(DEFAULT_FAILURE_CAPACITY)
    }
}

impl FailureStore for MemoryFailureStore {
    fn put(&self, failure: StoredFailure) -> Result<(), FailureStoreError> {
        let mut kept = self.kept.lock();
        if self.capacity == 0 {
            self.dropped.fetch_add(1, Ordering::AcqRel);
            return Ok(());
        }
        while kept.len() >= self.capacity {
            kept.pop_front();
            self.dropped.fetch_add(1, Ordering::AcqRel);
        }
        kept.push_back(failure);
        Ok(())
    }

    fn list(&self, filter: &FailureFilter) -> Result<Vec<StoredFailure>, FailureStoreError> {
        let kept = self.kept.lock();
        Ok(kept
            .iter()
            .filter(|f| filter.matches(&f.report))
            .cloned()
            .collect())
    }

    fn take(&self, filter: &FailureFilter) -> Result<Vec<StoredFailure>, FailureStoreError> {
        let mut kept = self.kept.lock();
        let (taken, left): (VecDeque<_>, VecDeque<_>) =
            kept.drain(..).partition(|f| filter.matches(&f.report));
        *kept = left;
        Ok(taken.into())
    }

    fn summary(&self, recent: usize) -> FailureSummary {
        let kept = self.kept.lock();
        FailureSummary {
            stored: kept.len() as u64,
            capacity: self.capacity,
            dropped: self.dropped.load(Ordering::Acquire),
            replayed: 0,
            recent: kept
                .iter()
                .rev()
                .take(recent)
                .map(|f| f.report.clone())
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(n: usize, stage: &str) -> StoredFailure {
        StoredFailure::new(
            FailureReport::new(format!("{n:024x}"), 1, stage, format!("error {n}"), 1),
            n.to_string(),
        )
    }

    #[test]
    fn a_full_store_drops_its_oldest_and_counts_them() {
        let store = MemoryFailureStore::new(3);
        for n in 0..5 {
            store.put(failure(n, "a")).unwrap();
        }
        let s = store.summary(2);
        assert_eq!((s.stored, s.capacity, s.dropped), (3, 3, 2));
        let newest: Vec<_> = s.recent.iter().map(|r| r.error.as_str()).collect();
        assert_eq!(newest, ["error 4", "error 3"], "newest first");
        let zero = MemoryFailureStore::new(0);
        zero.put(failure(0, "a")).unwrap();
        assert_eq!((zero.summary(5).stored, zero.summary(5).dropped), (0, 1));
    }

    #[test]
    fn take_removes_what_the_filter_picks_and_leaves_the_rest() {
        let store = MemoryFailureStore::new(10);
        for n in 0..6 {
            store
                .put(failure(n, if n % 2 == 0 { "even" } else { "odd" }))
                .unwrap();
        }
        let even = FailureFilter::all().stage("even");
        assert_eq!(store.list(&even).unwrap().len(), 3);
        let taken: Vec<_> = store
            .take(&even)
            .unwrap()
            .into_iter()
            .map(|f| f.input)
            .collect();
        assert_eq!(taken, ["0", "2", "4"], "oldest first");
        assert_eq!(store.summary(0).stored, 3);
        assert!(store.take(&even).unwrap().is_empty());
    }
}
