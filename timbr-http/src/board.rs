//! What the dashboard shows: every machine's status with its health, and the fleet's
//! totals, as one JSON document (`/api/status`, and each message of `/api/events`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use timbr_core::Status;

use crate::feed::Observed;
use crate::health::{HealthCheck, Verdict};
use crate::kept::KeptDatum;

/// One machine on the board.
#[derive(Serialize)]
pub(crate) struct Entry {
    pub(crate) source: String,
    /// Seconds since the status arrived.
    pub(crate) age: f64,
    pub(crate) stale: bool,
    /// The state's short name, read through the typed API (`running`, `failed`…), so the page
    /// does not depend on how `Status` nests it.
    pub(crate) state: Option<&'static str>,
    /// The state with its reason (`failed: …`).
    pub(crate) state_text: Option<String>,
    pub(crate) live: Verdict,
    pub(crate) ready: Verdict,
    pub(crate) status: Option<Status>,
    /// What a handler kept when it stopped the machine (in process only).
    pub(crate) kept: Option<KeptDatum>,
}

/// Sums over the machines that have a status. The depth and capacity of a queue that
/// machines share ([`QueueStatus::shared`](timbr_core::observe::QueueStatus::shared)) count
/// once, as its freshest status has them; the rates are those of the machines running now (a
/// stopped or silent member's last rate is not a rate any more).
#[derive(Default, Serialize)]
pub(crate) struct Totals {
    pub(crate) machines: usize,
    pub(crate) running: usize,
    pub(crate) accepted: u64,
    pub(crate) processed: u64,
    pub(crate) failed: u64,
    pub(crate) dropped: u64,
    pub(crate) rejected: u64,
    pub(crate) returned: u64,
    pub(crate) queued: u64,
    pub(crate) in_flight: u64,
    pub(crate) queue_depth: u64,
    /// Of the bounded queues.
    pub(crate) queue_capacity: u64,
    pub(crate) rate_recent: f64,
    pub(crate) rate_overall: f64,
    pub(crate) errors: u64,
}

/// The whole board.
#[derive(Serialize)]
pub(crate) struct Board {
    pub(crate) machines: Vec<Entry>,
    pub(crate) totals: Totals,
    /// Whether every machine is live / ready.
    pub(crate) live: bool,
    pub(crate) ready: bool,
    /// What the fleet's registry says (see [`StatusFeed::registry`](crate::StatusFeed::registry)).
    pub(crate) registry: Option<serde_json::Value>,
    /// Whether this is the last board the server sends: it is stopping (its process is
    /// ending), so the page shows these states as final instead of waiting to reconnect.
    pub(crate) ended: bool,
}

pub(crate) fn board(
    observed: Vec<Observed>,
    health: &HealthCheck,
    registry: Option<serde_json::Value>,
) -> Board {
    let live = health.liveness(&observed);
    let ready = health.readiness(&observed);
    let mut totals = Totals {
        machines: observed.len(),
        ..Totals::default()
    };
    // Per shared queue: the age, depth and capacity of its freshest report.
    let mut shared: BTreeMap<&str, (Duration, u64, u64)> = BTreeMap::new();
    for (o, s) in observed
        .iter()
        .filter_map(|o| Some((o, o.status.as_ref()?)))
    {
        let c = &s.counts;
        totals.running += usize::from(s.running);
        totals.accepted += c.accepted;
        totals.processed += c.processed;
        totals.failed += c.failed;
        totals.dropped += c.dropped;
        totals.rejected += c.rejected;
        totals.returned += c.returned;
        totals.queued += c.queued;
        totals.in_flight += c.in_flight;
        let capacity = s.queue.capacity.unwrap_or(0) as u64;
        match &s.queue.shared {
            Some(name) => {
                let report = (o.age, s.queue.depth, capacity);
                shared
                    .entry(name)
                    .and_modify(|r| {
                        if report.0 < r.0 {
                            *r = report;
                        }
                    })
                    .or_insert(report);
            }
            None => {
                totals.queue_depth += s.queue.depth;
                totals.queue_capacity += capacity;
            }
        }
        if s.running && !o.stale {
            totals.rate_recent += s.rate.recent;
            totals.rate_overall += s.rate.overall;
        }
        let e = &s.errors;
        totals.errors += e.stage + e.serialization + e.sink + e.source + e.handler;
    }
    for (_, depth, capacity) in shared.into_values() {
        totals.queue_depth += depth;
        totals.queue_capacity += capacity;
    }
    let (all_live, all_ready) = (
        !live.is_empty() && live.iter().all(|v| v.ok),
        !ready.is_empty() && ready.iter().all(|v| v.ok),
    );
    let machines = observed
        .into_iter()
        .zip(live.into_iter().zip(ready))
        .map(|(o, (live, ready))| Entry {
            source: o.source,
            age: o.age.as_secs_f64(),
            stale: o.stale,
            state: o.status.as_ref().map(|s| s.state.name()),
            state_text: o.status.as_ref().map(|s| s.state.to_string()),
            live,
            ready,
            status: o.status,
            kept: None,
        })
        .collect();
    Board {
        machines,
        totals,
        live: all_live,
        ready: all_ready,
        registry,
        ended: false,
    }
}
