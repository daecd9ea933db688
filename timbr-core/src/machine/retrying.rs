//! Retries and failures for good. After a run whose record has a failed stage (the cold
//! path: a run that succeeded never comes here), the stages' retry policies decide: every
//! failed stage transient with attempts left → the datum waits aside (`aside.rs`) and later
//! resumes from its failed stages; otherwise it has failed for good → the failure store keeps
//! it, its record goes out, and the failure is reported.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::oid::ObjectId;
use timbr_sched::{Hooks, Outcome, Outcomes};

use crate::datum::record;
use crate::datum::wiring::Wiring;
use crate::datum::{FailureKind, Timestamp};
use crate::machine::aside::Retry;
use crate::machine::shared::Shared;
use crate::observe::retries::RetryStep;
use crate::observe::{ErrorKind, ErrorReport, FailureReport, StoredFailure};
use crate::{Datum, Record, RetryPolicy, Stage};

/// The retry policies given to the builder: by stage name, and for every other stage.
#[derive(Clone, Debug, Default)]
pub(crate) struct RetryTable {
    pub(crate) by_name: HashMap<String, RetryPolicy>,
    pub(crate) default: Option<RetryPolicy>,
}

impl RetryTable {
    /// The policy for `stage`: the builder's for its name, else its own, else the default.
    pub(crate) fn policy<'a>(&'a self, stage: &'a Stage) -> Option<&'a RetryPolicy> {
        self.by_name
            .get(stage.name())
            .or(stage.retry.as_ref())
            .or(self.default.as_ref())
    }
}

/// Which run of a datum this was, and what its record carries.
pub(crate) struct Attempt {
    /// Its place in the output order (ordered machines).
    pub(crate) seq: u64,
    /// Runs so far, this one included.
    pub(crate) attempts: u32,
    /// Per slot, the failed runs of that stage before this one (none yet: a first run).
    pub(crate) failed_runs: Option<Box<[u32]>>,
    pub(crate) replaces: Option<Arc<str>>,
}

impl Attempt {
    pub(crate) fn first(seq: u64, replaces: Option<Arc<str>>) -> Self {
        Attempt {
            seq,
            attempts: 1,
            failed_runs: None,
            replaces,
        }
    }
}

/// What the policies decided for a failed run.
enum Verdict {
    Retry(Duration),
    Final,
}

impl<T: Datum> Shared<T> {
    /// A run's record has issues: retry it, or finish it (deliver, keep, report).
    #[cold]
    #[inline(never)]
    pub(crate) fn after_issues(
        &self,
        wiring: &Arc<Wiring>,
        mut record: Record,
        outcomes: Outcomes<'_>,
        attempt: Attempt,
        worker: usize,
    ) {
        let Attempt {
            seq,
            attempts,
            failed_runs,
            replaces,
        } = attempt;
        let mut failed_runs = failed_runs.unwrap_or_else(|| vec![0; wiring.slots()].into());
        let verdict = if record.is_ok() {
            // Only a value that would not serialize: nothing to retry.
            Verdict::Final
        } else {
            self.verdict(wiring, &outcomes, &mut failed_runs, record.oid, attempts)
        };
        match verdict {
            Verdict::Retry(wait) => {
                // Counted before it can be resumed (see `Counters`).
                self.sup.counters.retry_set();
                self.aside.push_retry(Box::new(Retry {
                    due: Instant::now() + wait,
                    outcomes: outcomes.into_owned(),
                    wiring: Arc::clone(wiring),
                    oid: record.oid,
                    attempts,
                    failed_runs,
                    origin: record.origin.take(),
                    replaces,
                    seq,
                }));
            }
            Verdict::Final => {
                record.set_lineage(attempts, replaces);
                if !record.is_ok() {
                    // Kept before the record goes out: whoever sees the failure record finds
                    // the failure stored.
                    self.keep_failure(wiring, &record, &outcomes, &failed_runs);
                }
                let report = record.clone();
                self.deliver(seq, record, worker);
                self.report(wiring, &report, outcomes);
            }
        }
    }

    /// Counts this run's failures against each failed stage and decides: a retry if every
    /// failed stage has a policy that finds its error transient and has attempts left.
    fn verdict(
        &self,
        wiring: &Wiring,
        outcomes: &Outcomes<'_>,
        failed_runs: &mut [u32],
        oid: ObjectId,
        attempts: u32,
    ) -> Verdict {
        let mut wait: Option<Duration> = None;
        let mut last_tries = Vec::new();
        let mut retryable = Vec::new();
        let mut fatal = false;
        for (slot, node) in wiring.stage_nodes() {
            let Some(Outcome::Failed(error)) = outcomes.outcome(node) else {
                continue;
            };
            let Some(runs) = failed_runs.get_mut(slot) else {
                continue;
            };
            *runs += 1;
            let runs = *runs;
            let policy = wiring
                .stages
                .get(slot)
                .and_then(Option::as_ref)
                .and_then(|stage| self.retry.policy(stage));
            // Asked once: the predicate may be the user's (a Python callable, a lookup).
            match policy.filter(|p| p.is_transient(error)) {
                Some(p) if runs < p.attempts() => {
                    let seed = jitter_seed(oid, attempts);
                    let delay = p.backoff_of().delay(runs, seed);
                    wait = Some(wait.map_or(delay, |w| w.max(delay)));
                    retryable.push(slot);
                }
                Some(_) => {
                    last_tries.push(slot);
                    fatal = true;
                }
                None => fatal = true,
            }
        }
        let stats = &self.retry_stats;
        match wait {
            Some(wait) if !fatal => {
                for slot in retryable {
                    stats.count(slot, RetryStep::Retried);
                }
                Verdict::Retry(wait)
            }
            _ => {
                for slot in last_tries {
                    stats.count(slot, RetryStep::Exhausted);
                }
                Verdict::Final
            }
        }
    }

    /// Runs a retry that is due: its failed stages and those after them, on this worker.
    pub(crate) fn run_retry(&self, retry: Retry, worker: usize) {
        let Retry {
            outcomes,
            wiring,
            oid,
            attempts,
            failed_runs,
            origin,
            replaces,
            seq,
            ..
        } = retry;
        let (mut record, outcomes) = self.resume(&wiring, outcomes, oid, worker, &failed_runs);
        record.origin = origin;
        let attempt = Attempt {
            seq,
            attempts: attempts + 1,
            failed_runs: Some(failed_runs),
            replaces,
        };
        match outcomes {
            None => {
                record.set_lineage(attempt.attempts, attempt.replaces);
                self.deliver(seq, record, worker);
            }
            Some(outcomes) => self.after_issues(&wiring, record, outcomes, attempt, worker),
        }
    }

    /// Resumes a failed run (inside the datum scope, if any), counting the stages that ran
    /// again and those that recovered. Returns the record, and the outcomes if it has issues.
    fn resume(
        &self,
        wiring: &Wiring,
        outcomes: Outcomes<'static>,
        oid: ObjectId,
        worker: usize,
        failed_runs: &[u32],
    ) -> (Record, Option<Outcomes<'static>>) {
        let Some(scope) = &self.datum_scope else {
            return self.resume_now(wiring, outcomes, oid, worker, failed_runs);
        };
        let mut run = Some(outcomes);
        let mut done = None;
        scope(&mut || {
            if let Some(outcomes) = run.take() {
                done = Some(self.resume_now(wiring, outcomes, oid, worker, failed_runs));
            }
        });
        match (done, run) {
            (Some(done), _) => done,
            (None, Some(outcomes)) => self.resume_now(wiring, outcomes, oid, worker, failed_runs),
            (None, None) => panic!("the datum scope caught a panic of the datum's processing"),
        }
    }

    fn resume_now(
        &self,
        wiring: &Wiring,
        outcomes: Outcomes<'static>,
        oid: ObjectId,
        worker: usize,
        failed_runs: &[u32],
    ) -> (Record, Option<Outcomes<'static>>) {
        let again: Vec<(usize, timbr_sched::NodeId)> = wiring
            .stage_nodes()
            .filter(|&(_, node)| !matches!(outcomes.outcome(node), Some(Outcome::Value(_))))
            .collect();
        let tracking = self.sup.stats.begin(Some(worker), oid);
        let timer = tracking.timer(wiring);
        let outcomes = outcomes.resume(timer.as_ref().map(|t| t as &dyn Hooks));
        tracking.finish_slots(oid, &outcomes, again.iter().copied());
        for &(slot, node) in &again {
            let recovered = failed_runs.get(slot).is_some_and(|&n| n > 0)
                && matches!(outcomes.outcome(node), Some(Outcome::Value(_)));
            if recovered {
                self.retry_stats.count(slot, RetryStep::Recovered);
            }
        }
        let record = Record::assemble(wiring, oid, &outcomes);
        let issues = record.has_issues();
        (record, issues.then_some(outcomes))
    }

    /// Keeps a datum that failed for good in the failure store: its first failed stage, the
    /// error, the stage's runs, and its input.
    pub(crate) fn keep_failure(
        &self,
        wiring: &Wiring,
        record: &Record,
        outcomes: &Outcomes<'_>,
        failed_runs: &[u32],
    ) {
        let Some((slot, stage, error)) = record.failures().iter().find_map(|f| match &f.kind {
            FailureKind::Failed(e) => Some((f.slot, &f.stage, e)),
            FailureKind::Skipped { .. } => None,
        }) else {
            return;
        };
        let Some(input) = wiring.entries.first() else {
            return;
        };
        let input = record::entry_text(wiring, input, outcomes).into_owned();
        let oid = record.oid.to_hex();
        let origin = record.replaces().or(record.origin()).map(str::to_owned);
        let report = FailureReport {
            oid,
            slot,
            stage: stage.to_string(),
            error: error.to_string(),
            attempts: failed_runs.get(slot).copied().unwrap_or(1).max(1),
            at: Timestamp::now(),
            origin,
        };
        let oid = report.oid.clone();
        if let Err(e) = self.failures.put(StoredFailure::new(report, input)) {
            self.sup.errors.record(ErrorReport::new(
                ErrorKind::Sink,
                format!("the failure store did not keep the failure of {oid}: {e}"),
            ));
        }
    }
}

/// A number for a retry's jitter: the oid's random and counter bytes, and the attempt.
fn jitter_seed(oid: ObjectId, attempts: u32) -> u64 {
    let b = oid.bytes();
    let mut tail = [0_u8; 8];
    tail.copy_from_slice(&b[4..12]);
    u64::from_be_bytes(tail) ^ (u64::from(attempts) << 56)
}
