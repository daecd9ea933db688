//! The machines' statuses as Prometheus metrics, encoded by `prometheus-client` (the
//! Prometheus project's own Rust library) in the classic text format or OpenMetrics.
//!
//! Every family is labelled `machine` (the machine's name); per-stage families add `stage`
//! and `slot`. A fleet member's endpoint is no label: the default one (`Remote::serve`'s)
//! is a path named after its process id, so every restart would make new series. Only
//! where the name does not tell machines apart — two members of one name, or a member with
//! no status yet — is `source` (`in-process`, or the member's endpoint) added. Counters end
//! in `_total`, durations are in seconds.
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

mod events;
mod machine;
mod stages;

use std::collections::HashSet;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
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
    registry.register_collector(Box::new(Snapshot::new(observed)));
    let mut out = String::new();
    match format {
        Format::Text => prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)?,
        Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &registry)?,
    }
    Ok(out)
}

/// The statuses of one scrape.
#[derive(Debug)]
struct Snapshot {
    observed: Vec<Observed>,
    /// Names that more than one machine reports: their series add `source`.
    ambiguous: HashSet<String>,
}

type Labels = Vec<(&'static str, String)>;

/// One value of a family, for one label set.
enum Value {
    Counter(u64),
    Gauge(f64),
}

impl Snapshot {
    fn new(observed: Vec<Observed>) -> Self {
        let mut seen = HashSet::new();
        let ambiguous = observed
            .iter()
            .filter_map(|o| o.status.as_ref())
            .filter(|s| !seen.insert(s.name.as_str()))
            .map(|s| s.name.clone())
            .collect();
        Snapshot {
            observed,
            ambiguous,
        }
    }

    /// The machines that have a status, with their base labels.
    fn with_status(&self) -> impl Iterator<Item = (&Status, Labels)> {
        self.observed.iter().filter_map(|o| {
            let s = o.status.as_ref()?;
            Some((s, self.base(o)))
        })
    }

    /// `machine`, and `source` only where the name does not tell the machine apart.
    fn base(&self, o: &Observed) -> Labels {
        let name = o.status.as_ref().map_or("", |s| s.name.as_str());
        let mut labels = vec![("machine", name.to_owned())];
        if name.is_empty() || self.ambiguous.contains(name) {
            labels.push(("source", o.source.clone()));
        }
        labels
    }
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
        self.machine(&mut e)?;
        self.data(&mut e)?;
        self.queue(&mut e)?;
        self.stages(&mut e)?;
        self.errors(&mut e)?;
        self.failures(&mut e)?;
        self.plugins(&mut e)
    }
}

fn stage_labels(base: &Labels, st: &timbr_core::observe::StageStatus) -> Labels {
    with(
        base.clone(),
        &[("stage", st.name.clone()), ("slot", st.slot.to_string())],
    )
}
