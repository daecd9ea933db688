//! Observation: the counts that always balance, per-stage statistics, events and the
//! handlers that decide what they do, status plugins, the status snapshot and its displays.
//!
//! | file | what |
//! |---|---|
//! | `counters.rs` | [`Counts`]: monotonic counters whose snapshots always balance |
//! | `stats.rs`, `histogram.rs` | per-stage calls, errors, skips and latency; [`Timing`] |
//! | `errors.rs`, `rates.rs` | error counts and the last error; the recent rate |
//! | `event_counts.rs` | events counted by kind |
//! | `event.rs` | [`Event`] and the [`Action`] a handler decides |
//! | `failures.rs` | data that failed for good: [`FailureReport`], the [`FailureStore`] trait and [`MemoryFailureStore`], [`FailureFilter`] |
//! | `retries.rs` | [`RetryCounts`]: what each stage's retry policy did |
//! | `handler.rs` | [`Handler`] and the ready-made ones |
//! | `plugin.rs`, `progress/` | [`StatusPlugin`] and [`Progress`] |
//! | `status.rs` | [`Status`]: one serializable snapshot of everything |
//! | `render/` | the status as a text table, HTML, and for the evcxr notebook kernel |

pub(crate) mod counters;
pub(crate) mod errors;
pub(crate) mod event;
pub(crate) mod event_counts;
pub(crate) mod failures;
pub(crate) mod handler;
pub(crate) mod histogram;
pub(crate) mod plugin;
pub(crate) mod progress;
pub(crate) mod rates;
pub(crate) mod render;
pub(crate) mod retries;
pub(crate) mod stats;
pub(crate) mod status;

pub use self::{
    counters::Counts,
    event::{Action, Event, EventKind},
    failures::{
        FailureFilter, FailureReport, FailureStore, FailureStoreError, FailureSummary,
        MemoryFailureStore, StoredFailure, DEFAULT_FAILURE_CAPACITY, RECENT_FAILURES,
    },
    handler::{
        Both, Debugger, ErrorLog, Handler, LogAndContinue, Logged, StageDebugger, StopWhenDone,
        DEFAULT_KEPT_ERRORS,
    },
    plugin::StatusPlugin,
    progress::{Progress, ProgressFields},
    render::human_count,
    retries::RetryCounts,
    stats::Timing,
    status::{
        DisplayPart, ErrorCounts, ErrorKind, ErrorReport, InFlight, Latency, LatencyBucket,
        LatencyBuckets, MachineState, QueueStatus, Rates, SinkReport, SourceReport, StageStatus,
        Status, Timestamp,
    },
};
