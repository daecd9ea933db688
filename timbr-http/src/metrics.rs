//! The machines' statuses as Prometheus metrics, encoded by `prometheus-client` (the
//! Prometheus project's own Rust library) in the classic text format or OpenMetrics.
//!
//! Every family is labelled `machine` (the machine's name) and `source` (where its status
//! comes from: `in-process`, or a fleet member's endpoint); per-stage families add `stage`
//! and `slot`. Counters end in `_total`, durations are in seconds.
//!
//! Every counter only grows while its machine lives (a restart of the process starts it
//! again from zero, which Prometheus reads as a reset): `timbr_data_accepted_total` is
//! [`Counts::accepted_settled`](timbr_core::Counts::accepted_settled), not `accepted`, which
//! counts puts in progress and drops back when the queue refuses one. The exception is
//! `timbr_source_produced_total`, which counts the current source's data and starts again
//! from zero when a new source is set.
//!
//! Stage latency is a sample: the histogram is named `timbr_stage_sampled_latency_seconds`,
//! and its `_count` is the number of timed calls. Calls per second are
//! `rate(timbr_stage_calls_total[…])`.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use timbr_core::Status;

use crate::feed::Observed;

/// The exposition formats a scrape can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format, version 0.0.4 (what `promtool check metrics` reads).
    Text,
    /// OpenMetrics 1.0 text (what Prometheus asks for first).
    OpenMetrics,
}

impl Format {
    /// The format an `Accept` header asks for: OpenMetrics if it names it, else text.
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Text,
        }
    }

    /// The `Content-Type` of the format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The metrics of `observed`, in `format`.
///
/// # Errors
///
/// Only if formatting fails, which writing to a `String` does not.
pub fn encode(observed: Vec<Observed>, format: Format) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Snapshot(observed)));
    let mut out = String::new();
    match format {
        Format::Text => prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)?,
        Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &registry)?,
    }
    Ok(out)
}

/// The statuses of one scrape.
#[derive(Debug)]
struct Snapshot(Vec<Observed>);

type Labels = Vec<(&'static str, String)>;
/// How a gauge is read from a status.
type GaugeOf = fn(&Status) -> f64;

/// One value of a family, for one label set.
enum Value {
    Counter(u64),
    Gauge(f64),
}

impl Snapshot {
    /// The machines that have a status, with their base labels.
    fn with_status(&self) -> impl Iterator<Item = (&Status, Labels)> {
        self.0.iter().filter_map(|o| {
            let s = o.status.as_ref()?;
            Some((s, base(&s.name, &o.source)))
        })
    }
}

fn base(machine: &str, source: &str) -> Labels {
    vec![
        ("machine", machine.to_owned()),
        ("source", source.to_owned()),
    ]
}

/// Encodes one family whose samples are `rows`; a family without samples is left out.
fn family(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<Unit>,
    rows: Vec<(Labels, Value)>,
) -> Result<(), std::fmt::Error> {
    let Some((_, first)) = rows.first() else {
        return Ok(());
    };
    let kind = match first {
        Value::Counter(_) => MetricType::Counter,
        Value::Gauge(_) => MetricType::Gauge,
    };
    let mut metric = encoder.encode_descriptor(name, help, unit.as_ref(), kind)?;
    for (labels, value) in &rows {
        let e = metric.encode_family(labels)?;
        match value {
            Value::Counter(n) => ConstCounter::new(*n).encode(e)?,
            Value::Gauge(x) => ConstGauge::new(*x).encode(e)?,
        }
    }
    Ok(())
}

fn with(mut labels: Labels, more: &[(&'static str, String)]) -> Labels {
    labels.extend(more.iter().cloned());
    labels
}

const STATES: [&str; 6] = [
    "idle",
    "running",
    "stopping",
    "stopped",
    "completed",
    "failed",
];

impl Collector for Snapshot {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let up = self
            .0
            .iter()
            .map(|o| {
                let name = o.status.as_ref().map_or("", |s| s.name.as_str());
                let fresh = o.status.is_some() && !o.stale;
                (
                    base(name, &o.source),
                    Value::Gauge(f64::from(u8::from(fresh))),
                )
            })
            .collect();
        family(
            &mut e,
            "timbr_up",
            "Whether the machine's status is fresh (1) or missing or stale (0).",
            None,
            up,
        )?;
        let age = self
            .0
            .iter()
            .filter_map(|o| {
                let s = o.status.as_ref()?;
                Some((base(&s.name, &o.source), Value::Gauge(o.age.as_secs_f64())))
            })
            .collect();
        family(
            &mut e,
            "timbr_status_age",
            "How long ago the status arrived (0 in-process).",
            Some(Unit::Seconds),
            age,
        )?;

        type CountOf = fn(&timbr_core::Counts) -> u64;
        let counters: [(&str, &str, CountOf); 6] = [
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
        ];
        for (name, help, get) in counters {
            let rows = self
                .with_status()
                .map(|(s, l)| (l, Value::Counter(get(&s.counts))))
                .collect();
            family(&mut e, name, help, None, rows)?;
        }
        let gauges: [(&str, &str, GaugeOf); 5] = [
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
            ("timbr_queue_depth", "Data in the queue now.", |s| {
                s.queue.depth as f64
            }),
            (
                "timbr_running",
                "Whether consumer threads are alive (1) or not (0).",
                |s| f64::from(u8::from(s.running)),
            ),
            (
                "timbr_workers_busy",
                "Workers processing a datum now.",
                |s| s.current.len() as f64,
            ),
        ];
        for (name, help, get) in gauges {
            let rows = self
                .with_status()
                .map(|(s, l)| (l, Value::Gauge(get(s))))
                .collect();
            family(&mut e, name, help, None, rows)?;
        }
        let capacity = self
            .with_status()
            .filter_map(|(s, l)| Some((l, Value::Gauge(s.queue.capacity? as f64))))
            .collect();
        family(
            &mut e,
            "timbr_queue_capacity",
            "The queue's capacity (absent if unbounded).",
            None,
            capacity,
        )?;
        let uptime = self
            .with_status()
            .map(|(s, l)| (l, Value::Gauge(s.uptime.as_secs_f64())))
            .collect();
        family(
            &mut e,
            "timbr_uptime",
            "How long the machine has run since it last started.",
            Some(Unit::Seconds),
            uptime,
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
            &mut e,
            "timbr_oldest_in_flight",
            "How long the oldest datum in flight has been processed (0 when none).",
            Some(Unit::Seconds),
            oldest,
        )?;
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
            &mut e,
            "timbr_state",
            "The machine's state: 1 for the current one, 0 for the others.",
            None,
            state,
        )?;

        self.stages(&mut e)?;

        let errors = self
            .with_status()
            .flat_map(|(s, l)| {
                let c = s.errors;
                [
                    ("stage", c.stage),
                    ("serialization", c.serialization),
                    ("sink", c.sink),
                    ("source", c.source),
                    ("handler", c.handler),
                ]
                .map(|(kind, n)| {
                    (
                        with(l.clone(), &[("kind", kind.to_owned())]),
                        Value::Counter(n),
                    )
                })
            })
            .collect();
        family(&mut e, "timbr_errors", "Errors by kind: stage failures, values that could not be serialized, records the sink refused, source failures, handler panics.", None, errors)?;
        let events = self
            .with_status()
            .flat_map(|(s, l)| {
                s.events.iter().map(move |(kind, n)| {
                    (
                        with(l.clone(), &[("kind", kind.clone())]),
                        Value::Counter(*n),
                    )
                })
            })
            .collect();
        family(
            &mut e,
            "timbr_events",
            "Events handed to the machine's handler, by kind.",
            None,
            events,
        )?;
        let produced = self
            .with_status()
            .filter_map(|(s, l)| Some((l, Value::Counter(s.source.as_ref()?.produced))))
            .collect();
        family(
            &mut e,
            "timbr_source_produced",
            "Data the machine's current source produced (from zero again when a new source is set).",
            None,
            produced,
        )?;
        let plugins = self
            .with_status()
            .flat_map(|(s, l)| {
                s.plugins.iter().flat_map(move |(plugin, fields)| {
                    let l = l.clone();
                    fields
                        .as_object()
                        .into_iter()
                        .flatten()
                        .filter_map(move |(field, v)| {
                            let x = v.as_f64().filter(|x| x.is_finite())?;
                            Some((
                                with(
                                    l.clone(),
                                    &[("plugin", plugin.clone()), ("field", field.clone())],
                                ),
                                Value::Gauge(x),
                            ))
                        })
                })
            })
            .collect();
        family(
            &mut e,
            "timbr_plugin_value",
            "The numeric fields status plugins add (progress: done, total, percent, eta…).",
            None,
            plugins,
        )?;
        Ok(())
    }
}

impl Snapshot {
    fn stages(&self, e: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let per_stage =
            |get: fn(&timbr_core::observe::StageStatus) -> u64| -> Vec<(Labels, Value)> {
                self.with_status()
                    .flat_map(|(s, l)| {
                        s.stages
                            .iter()
                            .map(move |st| (stage_labels(&l, st), Value::Counter(get(st))))
                    })
                    .collect()
            };
        family(
            e,
            "timbr_stage_calls",
            "How often each stage ran (errors included).",
            None,
            per_stage(|s| s.calls),
        )?;
        family(
            e,
            "timbr_stage_errors",
            "How often each stage failed (returned an error or panicked).",
            None,
            per_stage(|s| s.errors),
        )?;
        family(
            e,
            "timbr_stage_skipped",
            "How often each stage did not run because something it reads had failed.",
            None,
            per_stage(|s| s.skipped),
        )?;

        let mut rows = Vec::new();
        for (s, l) in self.with_status() {
            for st in &s.stages {
                rows.push((stage_labels(&l, st), st));
            }
        }
        if rows.is_empty() {
            return Ok(());
        }
        let mut metric = e.encode_descriptor(
            "timbr_stage_sampled_latency",
            "How long each stage takes, over the timed calls only (Timing::Adaptive, the default, times one datum in 64): _count is the number of timed calls, not of calls, so rate() of it is not calls/s (that is timbr_stage_calls_total).",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        for (labels, st) in &rows {
            // The encoder wants each bucket's own count; the status has them cumulative.
            let mut buckets = Vec::with_capacity(st.buckets.counts.len() + 1);
            let mut below = 0;
            for b in &st.buckets.counts {
                buckets.push((b.le.as_secs_f64(), b.count.saturating_sub(below)));
                below = b.count;
            }
            let samples = st.latency.samples.max(below);
            buckets.push((f64::INFINITY, samples - below));
            metric
                .encode_family(labels)?
                .encode_histogram::<NoLabelSet>(
                    st.buckets.sum.as_secs_f64(),
                    samples,
                    &buckets,
                    None,
                )?;
        }
        Ok(())
    }
}

fn stage_labels(base: &Labels, st: &timbr_core::observe::StageStatus) -> Labels {
    with(
        base.clone(),
        &[("stage", st.name.clone()), ("slot", st.slot.to_string())],
    )
}
