//! The failure store seen from the machine: listing what failed for good, and replaying it
//! after a fix.

use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::machine::aside::Replay;
use crate::machine::Machine;
use crate::observe::failures::RECENT_FAILURES;
use crate::observe::{FailureStoreError, FailureSummary, StoredFailure};
use crate::{Datum, FailureFilter};

/// Why [`replay_failures`](crate::Machine::replay_failures) did not replay every failure its
/// filter picked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The failure store could not be read; nothing was replayed.
    #[error("could not take the failures from the store")]
    Store(#[source] crate::observe::FailureStoreError),
    /// Some stored inputs did not decode as the machine's datum type: they stay in the store,
    /// the others were replayed.
    #[error(
        "{kept} stored inputs did not decode as the datum type and stay stored ({replayed} \
         replayed): {reason}"
    )]
    Undecodable {
        /// How many failures were replayed.
        replayed: usize,
        /// How many stay in the store.
        kept: usize,
        /// Why the first of them did not decode.
        reason: String,
    },
    /// The machine is being dropped: it takes no more data.
    #[error("the machine is closed; it takes no replays")]
    Closed,
}

impl<T: Datum> Machine<T> {
    /// The data that failed for good and are kept in the failure store (those `filter`
    /// picks, oldest first): what failed, where, after how many attempts, and their input.
    ///
    /// # Errors
    ///
    /// [`FailureStoreError`] if the store could not be read.
    pub fn failures(
        &self,
        filter: &FailureFilter,
    ) -> Result<Vec<StoredFailure>, FailureStoreError> {
        self.shared.failures.list(filter)
    }

    /// What the status shows of the failure store.
    pub fn failure_summary(&self) -> FailureSummary {
        self.shared.failure_summary()
    }
}

impl<T: Datum + DeserializeOwned> Machine<T> {
    /// Takes the failures `filter` picks out of the failure store and runs their inputs again,
    /// on the machine's workers (before the queue's data), with the stages as they are now:
    /// after a fix ([`set_stage`](Machine::set_stage)), they go through the fixed stage.
    /// Returns how many were replayed. A machine that is not running keeps them until it
    /// starts (they are counted `queued` meanwhile).
    ///
    /// Each replay is a new run with its own oid and record, whose
    /// [`replaces`](crate::Record::replaces) names the failure it stands in for (that
    /// failure's origin, or its oid); if it fails again, it is stored again with that origin.
    /// The counts do not count it accepted twice: it is [`replayed`](crate::Counts::replayed).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use timbr_core::{ChannelSink, FailureFilter, Machine, Stage, StopMode};
    ///
    /// let fixed = Arc::new(AtomicBool::new(false));
    /// let f = Arc::clone(&fixed);
    /// let half = Stage::try_new(0, "half", ["input"], move |n: &u32| {
    ///     if n % 2 == 1 && !f.load(Ordering::SeqCst) { Err("odd") } else { Ok(n / 2) }
    /// })?;
    /// let (sink, records) = ChannelSink::unbounded();
    /// let machine = Machine::<u32>::builder().stage(half).sink(sink).build()?;
    /// machine.start()?;
    /// for n in 0..4 {
    ///     machine.put(n)?;
    /// }
    /// let failed: Vec<_> = records.iter().take(4).filter(|r| !r.is_ok()).collect();
    /// assert_eq!(machine.failures(&FailureFilter::all())?.len(), 2);
    ///
    /// fixed.store(true, Ordering::SeqCst);
    /// assert_eq!(machine.replay_failures(&FailureFilter::all().stage("half"))?, 2);
    /// let replays: Vec<_> = records.iter().take(2).collect();
    /// assert!(replays.iter().all(|r| r.is_ok()));
    /// for r in &replays {
    ///     assert!(failed.iter().any(|f| Some(f.oid_hex().as_str()) == r.replaces()));
    /// }
    /// machine.stop(StopMode::Drain);
    /// assert!(machine.failures(&FailureFilter::all())?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ReplayError::Store`] if the store could not be read (nothing replayed);
    /// [`ReplayError::Undecodable`] if some inputs did not decode as a `T` (they stay
    /// stored; the others were replayed); [`ReplayError::Closed`] while the machine is being
    /// dropped.
    pub fn replay_failures(&self, filter: &FailureFilter) -> Result<usize, ReplayError> {
        let shared = &self.shared;
        let Some(_put) = shared.sup.life.enter_put() else {
            return Err(ReplayError::Closed);
        };
        let taken = shared.failures.take(filter).map_err(ReplayError::Store)?;
        let mut replays = Vec::with_capacity(taken.len());
        let mut kept = Vec::new();
        let mut reason = None;
        for failure in taken {
            match serde_json::from_str::<T>(&failure.input) {
                Ok(datum) => replays.push(Replay {
                    datum,
                    replaces: Arc::from(failure.report.replay_origin()),
                }),
                Err(e) => {
                    reason.get_or_insert_with(|| format!("failure {}: {e}", failure.report.oid));
                    kept.push(failure);
                }
            }
        }
        let (replayed, undecodable) = (replays.len(), kept.len());
        for failure in kept {
            // Back where it was; should the store refuse it now, it is lost to it, counted.
            if let Err(e) = shared.failures.put(failure) {
                shared.sup.errors.record(crate::observe::ErrorReport::new(
                    crate::observe::ErrorKind::Sink,
                    format!("the failure store did not take back an undecodable failure: {e}"),
                ));
            }
        }
        // Counted before any can be taken (see `Counters`).
        shared.sup.counters.replay_n(replayed as u64);
        shared.aside.push_replays(replays);
        (shared.sup.wake)(shared.sup.workers);
        match reason {
            None => Ok(replayed),
            Some(reason) => Err(ReplayError::Undecodable {
                replayed,
                kept: undecodable,
                reason,
            }),
        }
    }
}

impl<T: Datum> crate::machine::Shared<T> {
    /// The store's summary, with the replays this machine counted.
    pub(crate) fn failure_summary(&self) -> FailureSummary {
        self.failure_summary_with(self.sup.counts().replayed)
    }

    /// The store's summary, with `replayed` (read with the status's counts).
    pub(crate) fn failure_summary_with(&self, replayed: u64) -> FailureSummary {
        let mut summary = self.failures.summary(RECENT_FAILURES);
        summary.replayed = replayed;
        summary
    }
}
