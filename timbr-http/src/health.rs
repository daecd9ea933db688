//! Liveness and readiness, as an orchestrator probes them.
//!
//! - **Ready**: the machine is running (its consumers take data) and its status is fresh.
//!   Idle, stopping, stopped, completed, failed, dropped or unheard-of machines are not.
//! - **Live**: the machine is not wedged and not failed. Wedged means a datum in flight
//!   for [`stall_after`](crate::HttpOptions::stall_after), or data waiting while none
//!   finished for that long (progress is followed across probes, scrapes and dashboard
//!   pushes). A machine that was stopped or completed on purpose is live: restarting the
//!   process would not help it. So is a fleet member whose last status said it stopped or
//!   completed and which then went quiet (its process ended after a clean stop): its verdict
//!   passes with a note saying so. Any other fleet member whose status went stale is not
//!   live: it went away without a word (killed, crashed, cut off).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Serialize;
use timbr_core::MachineState;

use crate::feed::Observed;

/// One machine's health.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Where its status comes from ([`Observed::source`]).
    pub source: String,
    /// Whether the check passed.
    pub ok: bool,
    /// Why not (empty when it passed).
    pub reason: String,
    /// What a passing verdict means when the machine is not simply running: e.g. that it
    /// stopped on purpose, so it is live though not ready (empty otherwise).
    pub note: String,
}

/// Follows each machine's progress between looks, to tell a slow machine from a wedged one.
pub(crate) struct HealthCheck {
    stall_after: Duration,
    /// Per source: data finished, and since when that number has not changed.
    progress: Mutex<HashMap<String, (u64, Instant)>>,
}

impl HealthCheck {
    pub(crate) fn new(stall_after: Duration) -> Self {
        HealthCheck {
            stall_after,
            progress: Mutex::new(HashMap::new()),
        }
    }

    /// Takes note of the machines' progress; every look at the feed should pass through here.
    pub(crate) fn note(&self, observed: &[Observed]) {
        let now = Instant::now();
        let mut progress = self.progress.lock();
        for o in observed {
            let Some(s) = &o.status else { continue };
            let done = s.counts.processed + s.counts.failed;
            let entry = progress.entry(o.source.clone()).or_insert((done, now));
            if entry.0 != done {
                *entry = (done, now);
            }
        }
    }

    /// How long each source has gone without finishing a datum (as far as seen).
    fn stalled_for(&self, source: &str) -> Duration {
        self.progress
            .lock()
            .get(source)
            .map_or(Duration::ZERO, |(_, since)| since.elapsed())
    }

    /// Whether each machine is ready.
    pub(crate) fn readiness(&self, observed: &[Observed]) -> Vec<Verdict> {
        observed
            .iter()
            .map(|o| {
                let reason = match &o.status {
                    None => "no status".to_owned(),
                    Some(_) if o.stale => format!("status is {:.1}s old", o.age.as_secs_f64()),
                    Some(s) if s.state == MachineState::Running => String::new(),
                    Some(s) => format!("state is {}", s.state),
                };
                verdict(o, reason, String::new())
            })
            .collect()
    }

    /// Whether each machine is live.
    pub(crate) fn liveness(&self, observed: &[Observed]) -> Vec<Verdict> {
        self.note(observed);
        let limit = self.stall_after;
        observed
            .iter()
            .map(|o| {
                let ended = o.status.as_ref().filter(|s| {
                    matches!(s.state, MachineState::Stopped | MachineState::Completed)
                });
                if let Some(s) = ended {
                    let note = if o.stale {
                        format!(
                            "{} on purpose; no status since, {:.1}s ago (its process ended): live, not ready",
                            s.state,
                            o.age.as_secs_f64()
                        )
                    } else {
                        format!("{} on purpose: live, not ready", s.state)
                    };
                    return verdict(o, String::new(), note);
                }
                let reason = match &o.status {
                    None => "no status".to_owned(),
                    Some(_) if o.stale => format!(
                        "status is {:.1}s old and did not say the machine ended",
                        o.age.as_secs_f64()
                    ),
                    Some(s) => {
                        if let MachineState::Failed(why) = &s.state {
                            format!("failed: {why}")
                        } else if let Some(stuck) = s
                            .current
                            .iter()
                            .filter(|c| c.elapsed >= limit)
                            .max_by_key(|c| c.elapsed)
                        {
                            format!(
                                "datum {} in flight on worker {} for {:.1}s",
                                stuck.oid,
                                stuck.worker,
                                stuck.elapsed.as_secs_f64()
                            )
                        } else {
                            let waiting = s.counts.queued + s.counts.in_flight;
                            let stalled = self.stalled_for(&o.source);
                            if s.running && waiting > 0 && stalled >= limit {
                                format!(
                                    "{waiting} data waiting and none finished for {:.1}s",
                                    stalled.as_secs_f64()
                                )
                            } else {
                                String::new()
                            }
                        }
                    }
                };
                verdict(o, reason, String::new())
            })
            .collect()
    }
}

fn verdict(o: &Observed, reason: String, note: String) -> Verdict {
    Verdict {
        source: o.source.clone(),
        ok: reason.is_empty(),
        reason,
        note,
    }
}
