//! [`RedisFailureStore`]: the fleet's failure stream as a machine's
//! [`FailureStore`](timbr_core::observe::FailureStore), so that `Machine::failures`, the status's
//! failure summary and `Machine::replay_failures` of a fleet worker see the whole fleet's
//! failures, not only its own.

use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use timbr_core::datum::Timestamp;
use timbr_core::observe::{
    FailureReport, FailureStore, FailureStoreError, FailureSummary, StoredFailure,
};
use timbr_core::FailureFilter;

use crate::{Failure, Fleet, RedisError, RedisOptions};

/// The fleet's failure stream (`<stream>:failures`) as a machine's failure store.
///
/// - [`put`](FailureStore::put) writes nothing: a machine whose sink is its queue's
///   ([`RedisQueue::sink`](crate::RedisQueue::sink)) has its failures written with their
///   entries' acknowledgements, once however the worker ends (`failed.rs`); writing them
///   here too would write them twice.
/// - [`list`](FailureStore::list) reads the stream (every worker's failures).
/// - [`take`](FailureStore::take) replays the failures picked **onto the queue's stream**
///   ([`Fleet::replay`]), keeping their origins, and returns none: the fleet's workers take
///   them (this one among them), durably — a replay run in this process alone would be lost
///   with it. So `Machine::replay_failures` returns 0 for a machine with this store; the
///   failures replayed show in the queue.
/// - [`summary`](FailureStore::summary): the stream's length and its newest failures.
///
/// # Examples
///
/// ```no_run
/// use timbr_core::Machine;
/// use timbr_redis::{RedisFailureStore, RedisOptions, RedisQueue};
///
/// let options = RedisOptions::new("redis://127.0.0.1:6379", "texts");
/// let queue = RedisQueue::<String>::connect(options.clone())?;
/// let machine = Machine::<String>::builder()
///     .queue(queue.clone())
///     .sink(queue.sink("texts:results"))
///     .failure_store(RedisFailureStore::connect(options)?)
///     .build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RedisFailureStore {
    fleet: Mutex<Fleet>,
}

impl RedisFailureStore {
    /// A store on the failure stream of the fleet `options` name.
    ///
    /// # Errors
    ///
    /// [`RedisError`] for a bad URL, an unreachable server or refused credentials.
    pub fn connect(options: RedisOptions) -> Result<Self, RedisError> {
        Ok(RedisFailureStore {
            fleet: Mutex::new(Fleet::connect(options)?),
        })
    }
}

/// A failure as the machine's store shows it.
fn stored(f: &Failure) -> StoredFailure {
    // When it failed: its entry's id in the failure stream is its time in ms.
    let ms = f
        .failure_id
        .split_once('-')
        .and_then(|(ms, _)| ms.parse().ok())
        .unwrap_or(0);
    let mut report = FailureReport::new(
        f.oid.clone(),
        f.slot as usize,
        f.stage.clone(),
        f.error.clone(),
        f.attempts.min(u64::from(u32::MAX)) as u32,
    );
    report.at = Timestamp(SystemTime::UNIX_EPOCH + Duration::from_millis(ms));
    let report = if f.origin.is_empty() {
        report
    } else {
        report.with_origin(f.origin.clone())
    };
    StoredFailure::new(report, f.datum.clone())
}

fn unavailable(e: RedisError) -> FailureStoreError {
    FailureStoreError::Unavailable {
        reason: timbr_core::error_chain(&e),
    }
}

impl FailureStore for RedisFailureStore {
    fn put(&self, _failure: StoredFailure) -> Result<(), FailureStoreError> {
        Ok(())
    }

    fn list(&self, filter: &FailureFilter) -> Result<Vec<StoredFailure>, FailureStoreError> {
        let all = self
            .fleet
            .lock()
            .failures(usize::MAX >> 1)
            .map_err(unavailable)?;
        Ok(all
            .iter()
            .map(stored)
            .filter(|f| filter.matches(&f.report))
            .collect())
    }

    fn take(&self, filter: &FailureFilter) -> Result<Vec<StoredFailure>, FailureStoreError> {
        self.fleet
            .lock()
            .replay_all(|f| filter.matches(&stored(f).report), |_, _| {})
            .map_err(unavailable)?;
        Ok(Vec::new())
    }

    fn summary(&self, recent: usize) -> FailureSummary {
        let mut fleet = self.fleet.lock();
        let stored_now = fleet.failure_count().unwrap_or(0);
        let newest = fleet.newest_failures(recent).unwrap_or_default();
        let mut summary = FailureSummary::default();
        summary.stored = stored_now;
        summary.capacity = usize::MAX;
        summary.recent = newest.iter().map(|f| stored(f).report).collect();
        summary
    }
}
