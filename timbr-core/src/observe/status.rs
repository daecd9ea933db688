//! A machine's status: one consistent, serializable snapshot of everything it can say about
//! itself.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::datum::Timestamp;
use crate::io::SourceState;
use crate::observe::stage_status::StageStatus;
use crate::observe::FailureSummary;
use crate::Counts;

/// Where a machine is in its life.
///
/// `Idle → Running → Stopping → Stopped | Completed | Failed`, and from any of the last three
/// back to `Running` on [`start`](crate::Machine::start).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", content = "reason", rename_all = "snake_case")]
pub enum MachineState {
    /// Built, never started.
    Idle,
    /// Consumer threads are processing.
    Running,
    /// Asked to stop; its threads are finishing.
    Stopping,
    /// Stopped by [`stop`](crate::Machine::stop), or by a handler on an event that is not an error.
    Stopped,
    /// A handler found the work done (e.g. [`StopWhenDone`](crate::StopWhenDone)) and the
    /// queue was drained.
    Completed,
    /// A handler stopped the machine on an error; the reason says which.
    Failed(String),
}

impl MachineState {
    /// Whether the state is `Running` or `Stopping` (threads are alive).
    pub fn is_active(&self) -> bool {
        matches!(self, MachineState::Running | MachineState::Stopping)
    }

    /// A short lowercase name: `idle`, `running`, `stopping`, `stopped`, `completed`, `failed`.
    pub fn name(&self) -> &'static str {
        match self {
            MachineState::Idle => "idle",
            MachineState::Running => "running",
            MachineState::Stopping => "stopping",
            MachineState::Stopped => "stopped",
            MachineState::Completed => "completed",
            MachineState::Failed(_) => "failed",
        }
    }
}

impl fmt::Display for MachineState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MachineState::Failed(reason) => write!(f, "failed: {reason}"),
            other => f.write_str(other.name()),
        }
    }
}

/// Durations serialize as seconds (a float).
pub(crate) mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

/// A snapshot of a machine, from [`Machine::status`](crate::Machine::status).
///
/// Taken from any thread without stalling processing. Its [`counts`](Status::counts) are one
/// balanced snapshot; the other figures (stage statistics, errors, the data in flight) are
/// read just after them, so each is at least as recent as the counts (a stage's `calls`, for
/// instance, is never below the data counted finished). The state and `running` are read
/// together and always agree. It serializes with serde (durations as seconds, times as RFC 3339), displays as a
/// terminal table (`{}`), and renders as HTML ([`to_html`](Status::to_html)).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Status {
    /// The machine's name (see [`MachineBuilder::name`](crate::MachineBuilder::name)).
    pub name: String,
    /// Where the machine is in its life. In JSON, two flat fields: `"state": "failed"` and,
    /// for a failed machine, `"reason": "…"`.
    #[serde(flatten)]
    pub state: MachineState,
    /// Whether consumer threads are alive (agrees with `state`: true exactly when it is
    /// running or stopping).
    pub running: bool,
    /// When the snapshot was taken.
    pub taken_at: Timestamp,
    /// When the machine last started.
    pub started_at: Option<Timestamp>,
    /// How long it has run since it last started (until it stopped, if it has).
    #[serde(with = "secs")]
    pub uptime: Duration,
    /// Where every accepted datum is.
    pub counts: Counts,
    /// The queue's depth and capacity.
    pub queue: QueueStatus,
    /// Data finished (processed or failed) per second.
    pub rate: Rates,
    /// The data being processed now, one per busy worker.
    pub current: Vec<InFlight>,
    /// How many workers the machine has (busy or not): `current.len()` of them are busy.
    #[serde(default)]
    pub workers: usize,
    /// The oid of the datum finished last.
    pub last_oid: Option<String>,
    /// One entry per stage, in slot order.
    pub stages: Vec<StageStatus>,
    /// The source, if one was set.
    pub source: Option<SourceReport>,
    /// Where records go, and how many the sink refused.
    pub sink: SinkReport,
    /// Errors of every kind, counted.
    pub errors: ErrorCounts,
    /// The most recent error.
    pub last_error: Option<ErrorReport>,
    /// The data that failed for good: how many the failure store keeps, has dropped and
    /// were replayed, and the newest ones.
    #[serde(default)]
    pub failures: FailureSummary,
    /// Events handed to the handler, counted by kind
    /// ([`EventKind::name`](crate::observe::EventKind::name)).
    #[serde(default)]
    pub events: BTreeMap<String, u64>,
    /// Fields the status plugins added, by plugin name.
    pub plugins: BTreeMap<String, serde_json::Value>,
    /// For each plugin that has some, which of its fields are counters
    /// ([`StatusPlugin::counters`](crate::StatusPlugin::counters)); its other numbers are gauges.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub plugin_counters: BTreeMap<String, Vec<String>>,
    /// What the status plugins show in the text and HTML displays.
    pub parts: Vec<DisplayPart>,
}

impl Status {
    /// The status of a machine named `name` in `state`, taken now, with nothing counted,
    /// queued, timed or reported yet: for status plugins' tests and for tools that build a
    /// status of their own. Set the fields that matter afterwards (they are public).
    pub fn new(name: impl Into<String>, state: MachineState) -> Self {
        Status {
            name: name.into(),
            running: state.is_active(),
            state,
            taken_at: Timestamp::now(),
            started_at: None,
            uptime: Duration::ZERO,
            counts: Counts::default(),
            queue: QueueStatus::new(0, None),
            rate: Rates::new(0.0, 0.0, Duration::ZERO),
            current: Vec::new(),
            workers: 0,
            last_oid: None,
            stages: Vec::new(),
            source: None,
            sink: SinkReport::new(String::new(), 0),
            errors: ErrorCounts::default(),
            last_error: None,
            failures: FailureSummary::default(),
            events: BTreeMap::new(),
            plugins: BTreeMap::new(),
            plugin_counters: BTreeMap::new(),
            parts: Vec::new(),
        }
    }
}

/// The queue's depth and capacity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct QueueStatus {
    /// Data in the queue now (`counts.queued` also counts puts still waiting for room).
    pub depth: u64,
    /// Its capacity, if bounded.
    pub capacity: Option<usize>,
    /// The name of a queue other processes share ([`Queue::shared_name`](crate::Queue::shared_name)):
    /// machines on one shared queue all report its depth, which a fleet's totals count once.
    /// `None` for a queue of this process.
    #[serde(default)]
    pub shared: Option<String>,
}

impl QueueStatus {
    /// A queue `depth` deep, of `capacity` (`None`: unbounded), of this process only.
    pub fn new(depth: u64, capacity: Option<usize>) -> Self {
        QueueStatus {
            depth,
            capacity,
            shared: None,
        }
    }

    /// The same, for the queue other processes share under `name`.
    pub fn shared_as(mut self, name: impl Into<String>) -> Self {
        self.shared = Some(name.into());
        self
    }

    /// How full the queue is, from 0 to 1 (`None` if unbounded).
    pub fn fill(&self) -> Option<f64> {
        self.capacity
            .filter(|&c| c > 0)
            .map(|c| self.depth as f64 / c as f64)
    }
}

/// Throughput: data finished (processed or failed) per second.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Rates {
    /// Over the last [`window`](Rates::window).
    pub recent: f64,
    /// Since the machine last started.
    pub overall: f64,
    /// How far back `recent` looks.
    #[serde(with = "secs")]
    pub window: Duration,
}

impl Rates {
    /// `recent` data a second over the last `window`, `overall` since the start.
    pub fn new(recent: f64, overall: f64, window: Duration) -> Self {
        Rates {
            recent,
            overall,
            window,
        }
    }
}

/// A datum being processed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InFlight {
    /// The worker processing it.
    pub worker: usize,
    /// Its oid (24 hex characters).
    pub oid: String,
    /// When processing started, to within the monitor's tick (see
    /// [`MachineBuilder::tick`](crate::MachineBuilder::tick)): the hot path reads a clock the
    /// monitor keeps, not the system's.
    pub started_at: Timestamp,
    /// For how long it has been processed (to within a tick).
    #[serde(with = "secs")]
    pub elapsed: Duration,
}

impl InFlight {
    /// The datum `oid`, on `worker` since `started_at`, for `elapsed`.
    pub fn new(
        worker: usize,
        oid: impl Into<String>,
        started_at: Timestamp,
        elapsed: Duration,
    ) -> Self {
        InFlight {
            worker,
            oid: oid.into(),
            started_at,
            elapsed,
        }
    }
}

/// The source, as the status shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SourceReport {
    /// Running, exhausted, failed…
    pub state: SourceState,
    /// How many data it produced.
    pub produced: u64,
}

impl SourceReport {
    /// A source in `state` that produced `produced` data.
    pub fn new(state: SourceState, produced: u64) -> Self {
        SourceReport { state, produced }
    }
}

/// The sink, as the status shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SinkReport {
    /// Where records go ([`Sink::describe`](crate::Sink::describe): for ZeroMQ, the endpoint).
    pub description: String,
    /// Records the sink refused.
    pub errors: u64,
}

impl SinkReport {
    /// A sink described as `description` that refused `errors` records.
    pub fn new(description: impl Into<String>, errors: u64) -> Self {
        SinkReport {
            description: description.into(),
            errors,
        }
    }
}

/// Errors counted by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErrorCounts {
    /// Stage failures (errors and panics).
    pub stage: u64,
    /// Values that could not be serialized.
    pub serialization: u64,
    /// Records the sink refused.
    pub sink: u64,
    /// Source failures.
    pub source: u64,
    /// Handlers that panicked (each panic is caught; the event then counts as handled with
    /// "continue").
    pub handler: u64,
}

/// What kind of error an [`ErrorReport`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// A stage failed.
    Stage,
    /// A value could not be serialized.
    Serialization,
    /// The sink refused a record.
    Sink,
    /// The source failed.
    Source,
    /// A handler panicked.
    Handler,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Stage => "stage",
            ErrorKind::Serialization => "serialization",
            ErrorKind::Sink => "sink",
            ErrorKind::Source => "source",
            ErrorKind::Handler => "handler",
        })
    }
}

/// An error, as the status reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErrorReport {
    /// What kind of error.
    pub kind: ErrorKind,
    /// The stage's name, for stage errors (for serialization errors, the key).
    pub stage: Option<String>,
    /// The stage's slot, for stage errors.
    pub slot: Option<usize>,
    /// What went wrong.
    pub message: String,
    /// The datum's oid, when the error is about a datum.
    pub oid: Option<String>,
    /// When it happened.
    pub at: Timestamp,
}

impl ErrorReport {
    /// A report of `kind` with `message`, now, about no stage or datum in particular (set
    /// `stage`, `slot`, `oid` or `at` afterwards).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ErrorReport {
            kind,
            stage: None,
            slot: None,
            message: message.into(),
            oid: None,
            at: Timestamp::now(),
        }
    }
}

/// What a status plugin shows in the displays.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DisplayPart {
    /// The plugin's name.
    pub plugin: String,
    /// One or more lines for the terminal table.
    pub text: String,
    /// An HTML fragment for notebooks (the plugin escapes what it puts in).
    pub html: String,
}

impl DisplayPart {
    /// What plugin `plugin` shows: `text` for the terminal table, `html` for notebooks (an
    /// HTML fragment in which the plugin escaped what it put in).
    pub fn new(
        plugin: impl Into<String>,
        text: impl Into<String>,
        html: impl Into<String>,
    ) -> Self {
        DisplayPart {
            plugin: plugin.into(),
            text: text.into(),
            html: html.into(),
        }
    }
}
