//! The families about each machine as a whole (freshness, state, life) and its data counts.

use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::registry::Unit;
use timbr_core::{Counts, Status};

use super::{family, with, Snapshot, Value, STATES};

type Fmt = Result<(), std::fmt::Error>;
/// How a gauge is read from a status.
type GaugeOf = fn(&Status) -> f64;
/// How a counter is read from a status's counts.
type CountOf = fn(&Counts) -> u64;

impl Snapshot {
    /// `timbr_up`, `timbr_status_age_seconds`, `timbr_running`, `timbr_workers_busy`,
    /// `timbr_uptime_seconds`, `timbr_state`.
    pub(super) fn machine(&self, e: &mut DescriptorEncoder<'_>) -> Fmt {
        let up = self
            .observed
            .iter()
            .map(|o| {
                let fresh = o.status.is_some() && !o.stale;
                (self.base(o), Value::Gauge(f64::from(u8::from(fresh))))
            })
            .collect();
        family(
            e,
            "timbr_up",
            "Whether the machine's status is fresh (1) or missing or stale (0).",
            None,
            up,
        )?;
        let age = self
            .observed
            .iter()
            .filter(|o| o.status.is_some())
            .map(|o| (self.base(o), Value::Gauge(o.age.as_secs_f64())))
            .collect();
        family(
            e,
            "timbr_status_age",
            "How long ago the status arrived (0 in-process).",
            Some(Unit::Seconds),
            age,
        )?;
        let gauges: [(&str, &str, Option<Unit>, GaugeOf); 3] = [
            (
                "timbr_running",
                "Whether consumer threads are alive (1) or not (0).",
                None,
                |s| f64::from(u8::from(s.running)),
            ),
            (
                "timbr_workers_busy",
                "Workers processing a datum now.",
                None,
                |s| s.current.len() as f64,
            ),
            (
                "timbr_uptime",
                "How long the machine has run since it last started.",
                Some(Unit::Seconds),
                |s| s.uptime.as_secs_f64(),
            ),
        ];
        for (name, help, unit, get) in gauges {
            let rows = self
                .with_status()
                .map(|(s, l)| (l, Value::Gauge(get(s))))
                .collect();
            family(e, name, help, unit, rows)?;
        }
        let state = self
            .with_status()
            .flat_map(|(s, l)| {
                STATES.iter().map(move |&name| {
                    let on = s.state.name() == name;
                    (
                        with(l.clone(), &[("state", name.to_owned())]),
                        Value::Gauge(f64::from(u8::from(on))),
                    )
                })
            })
            .collect();
        family(
            e,
            "timbr_state",
            "The machine's state: 1 for the current one, 0 for the others.",
            None,
            state,
        )
    }

    /// The `timbr_data_*` counters and gauges, and `timbr_source_produced_total`.
    pub(super) fn data(&self, e: &mut DescriptorEncoder<'_>) -> Fmt {
        let counters: [(&str, &str, CountOf); 7] = [
            (
                "timbr_data_accepted",
                "Data put on the queue, counted once their put returned or they were taken (never a put the queue then refuses).",
                |c| c.accepted_settled,
            ),
            (
                "timbr_data_processed",
                "Data whose every stage produced a value.",
                |c| c.processed,
            ),
            (
                "timbr_data_failed",
                "Data with at least one failed stage.",
                |c| c.failed,
            ),
            (
                "timbr_data_dropped",
                "Data a source's drop policy discarded.",
                |c| c.dropped,
            ),
            (
                "timbr_data_rejected",
                "Puts refused on a full queue (handed back to the caller).",
                |c| c.rejected,
            ),
            (
                "timbr_data_returned",
                "Data handed back unprocessed by a stop.",
                |c| c.returned,
            ),
            (
                "timbr_data_replayed",
                "Stored failures put back for another run (replay_failures).",
                |c| c.replayed,
            ),
        ];
        for (name, help, get) in counters {
            let rows = self
                .with_status()
                .map(|(s, l)| (l, Value::Counter(get(&s.counts))))
                .collect();
            family(e, name, help, None, rows)?;
        }
        let gauges: [(&str, &str, GaugeOf); 3] = [
            (
                "timbr_data_queued",
                "Data waiting in the queue, and puts waiting for room.",
                |s| s.counts.queued as f64,
            ),
            (
                "timbr_data_in_flight",
                "Data taken from the queue whose record is not delivered yet.",
                |s| s.counts.in_flight as f64,
            ),
            (
                "timbr_data_retrying",
                "Data waiting aside for another attempt at a stage that failed with a transient error.",
                |s| s.counts.retrying as f64,
            ),
        ];
        for (name, help, get) in gauges {
            let rows = self
                .with_status()
                .map(|(s, l)| (l, Value::Gauge(get(s))))
                .collect();
            family(e, name, help, None, rows)?;
        }
        let produced = self
            .with_status()
            .filter_map(|(s, l)| Some((l, Value::Counter(s.source.as_ref()?.produced))))
            .collect();
        family(
            e,
            "timbr_source_produced",
            "Data the machine's current source produced (from zero again when a new source is set).",
            None,
            produced,
        )
    }

    /// `timbr_queue_depth`, `timbr_queue_capacity`, `timbr_oldest_in_flight_seconds`.
    pub(super) fn queue(&self, e: &mut DescriptorEncoder<'_>) -> Fmt {
        let depth = self
            .with_status()
            .map(|(s, l)| (l, Value::Gauge(s.queue.depth as f64)))
            .collect();
        family(
            e,
            "timbr_queue_depth",
            "Data in the queue now.",
            None,
            depth,
        )?;
        let capacity = self
            .with_status()
            .filter_map(|(s, l)| Some((l, Value::Gauge(s.queue.capacity? as f64))))
            .collect();
        family(
            e,
            "timbr_queue_capacity",
            "The queue's capacity (absent if unbounded).",
            None,
            capacity,
        )?;
        let oldest = self
            .with_status()
            .map(|(s, l)| {
                let oldest = s
                    .current
                    .iter()
                    .map(|c| c.elapsed)
                    .max()
                    .unwrap_or_default();
                (l, Value::Gauge(oldest.as_secs_f64()))
            })
            .collect();
        family(
            e,
            "timbr_oldest_in_flight",
            "How long the oldest datum in flight has been processed (0 when none).",
            Some(Unit::Seconds),
            oldest,
        )
    }
}
