//! What happens to a machine, as typed events, and what a handler can decide about each.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bson::oid::ObjectId;

use crate::io::QueueEvent;
use crate::{Failure, MachineState, SourcePolicy};

/// Something that happened to a machine. Every event goes to the machine's
/// [`Handler`](crate::Handler), which returns the [`Action`] to take.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Event {
    /// The machine started; `restart` if it had run before.
    Started {
        /// Whether this is a restart.
        restart: bool,
    },
    /// The machine stopped; `state` says how it ended.
    Stopped {
        /// The final state: stopped, completed or failed (with the reason).
        state: MachineState,
    },
    /// A stage returned an error or panicked. The failure holds the datum and the stage's
    /// arguments, and can replay the stage.
    StageFailed(Arc<Failure>),
    /// A value could not be serialized; its record entry is an `{"_exception": …}` object.
    SerializationFailed {
        /// The datum's oid.
        oid: ObjectId,
        /// The key whose value could not be serialized (`in_s`, `f2_s`…).
        key: String,
        /// Why.
        message: String,
    },
    /// [`try_put`](crate::Machine::try_put) found the queue full and handed the datum back.
    QueueFull {
        /// The queue's capacity.
        capacity: Option<usize>,
    },
    /// The source's drop policy discarded a datum.
    Dropped {
        /// The policy that dropped it.
        policy: SourcePolicy,
    },
    /// The source's iterator ended.
    SourceExhausted {
        /// How many data it produced.
        produced: u64,
    },
    /// The source's iterator yielded an error or panicked; it is finished.
    SourceFailed {
        /// Why.
        message: String,
    },
    /// The sink refused a record (the datum is still counted; the record is lost to that sink).
    SinkFailed {
        /// The datum's oid.
        oid: ObjectId,
        /// Why.
        message: String,
    },
    /// Nothing was queued, in flight, waiting for a retry or finished for `idle_for`.
    Idle {
        /// How long the machine has been idle.
        idle_for: Duration,
    },
    /// A handler's [`Action::Complete`] was carried out: the queue was drained and the machine
    /// stopped. Comes just before the matching `Stopped`.
    Completed {
        /// Data processed without failure, in all.
        processed: u64,
        /// Data with at least one failed stage, in all.
        failed: u64,
    },
    /// Something happened to the machine's queue itself (a shared queue's lost connection,
    /// a datum it gave up on…), as the queue reported it. Delivered by the machine's
    /// monitor within a tick of the queue's report (see [`QueueEvents`](crate::io::QueueEvents)).
    Queue(QueueEvent),
}

/// An [`Event`]'s kind, without its data: for filtering and counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum EventKind {
    /// [`Event::Started`]
    Started,
    /// [`Event::Stopped`]
    Stopped,
    /// [`Event::StageFailed`]
    StageFailed,
    /// [`Event::SerializationFailed`]
    SerializationFailed,
    /// [`Event::QueueFull`]
    QueueFull,
    /// [`Event::Dropped`]
    Dropped,
    /// [`Event::SourceExhausted`]
    SourceExhausted,
    /// [`Event::SourceFailed`]
    SourceFailed,
    /// [`Event::SinkFailed`]
    SinkFailed,
    /// [`Event::Idle`]
    Idle,
    /// [`Event::Completed`]
    Completed,
    /// [`Event::Queue`] with [`QueueEvent::Disconnected`]
    QueueDisconnected,
    /// [`Event::Queue`] with [`QueueEvent::Reconnected`]
    QueueReconnected,
    /// [`Event::Queue`] with [`QueueEvent::Refused`]
    QueueRefused,
    /// [`Event::Queue`] with [`QueueEvent::DeadLettered`]
    DeadLettered,
    /// [`Event::Queue`] with [`QueueEvent::Claimed`]
    Claimed,
}

impl EventKind {
    /// Every kind, in declaration order.
    pub const ALL: [EventKind; 16] = [
        EventKind::Started,
        EventKind::Stopped,
        EventKind::StageFailed,
        EventKind::SerializationFailed,
        EventKind::QueueFull,
        EventKind::Dropped,
        EventKind::SourceExhausted,
        EventKind::SourceFailed,
        EventKind::SinkFailed,
        EventKind::Idle,
        EventKind::Completed,
        EventKind::QueueDisconnected,
        EventKind::QueueReconnected,
        EventKind::QueueRefused,
        EventKind::DeadLettered,
        EventKind::Claimed,
    ];

    /// A short snake_case name: `started`, `stage_failed`, `queue_full`…
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Started => "started",
            EventKind::Stopped => "stopped",
            EventKind::StageFailed => "stage_failed",
            EventKind::SerializationFailed => "serialization_failed",
            EventKind::QueueFull => "queue_full",
            EventKind::Dropped => "dropped",
            EventKind::SourceExhausted => "source_exhausted",
            EventKind::SourceFailed => "source_failed",
            EventKind::SinkFailed => "sink_failed",
            EventKind::Idle => "idle",
            EventKind::Completed => "completed",
            EventKind::QueueDisconnected => "queue_disconnected",
            EventKind::QueueReconnected => "queue_reconnected",
            EventKind::QueueRefused => "queue_refused",
            EventKind::DeadLettered => "dead_lettered",
            EventKind::Claimed => "claimed",
        }
    }
}

impl Event {
    /// The event's kind.
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Started { .. } => EventKind::Started,
            Event::Stopped { .. } => EventKind::Stopped,
            Event::StageFailed(_) => EventKind::StageFailed,
            Event::SerializationFailed { .. } => EventKind::SerializationFailed,
            Event::QueueFull { .. } => EventKind::QueueFull,
            Event::Dropped { .. } => EventKind::Dropped,
            Event::SourceExhausted { .. } => EventKind::SourceExhausted,
            Event::SourceFailed { .. } => EventKind::SourceFailed,
            Event::SinkFailed { .. } => EventKind::SinkFailed,
            Event::Idle { .. } => EventKind::Idle,
            Event::Completed { .. } => EventKind::Completed,
            Event::Queue(QueueEvent::Disconnected { .. }) => EventKind::QueueDisconnected,
            Event::Queue(QueueEvent::Reconnected { .. }) => EventKind::QueueReconnected,
            Event::Queue(QueueEvent::Refused { .. }) => EventKind::QueueRefused,
            Event::Queue(QueueEvent::DeadLettered { .. }) => EventKind::DeadLettered,
            Event::Queue(QueueEvent::Claimed { .. }) => EventKind::Claimed,
        }
    }

    /// Whether the event is an error: a stage, serialization, source or sink failure, or a
    /// datum the queue gave up on (dead-lettered). (A full queue or a dropped datum is the
    /// backpressure policy at work, not an error; nor is a lost queue connection, which the
    /// queue retries without losing anything.)
    pub fn is_error(&self) -> bool {
        matches!(
            self.kind(),
            EventKind::StageFailed
                | EventKind::SerializationFailed
                | EventKind::SourceFailed
                | EventKind::SinkFailed
                | EventKind::DeadLettered
        )
    }

    /// The stage failure, for [`Event::StageFailed`].
    pub fn failure(&self) -> Option<&Arc<Failure>> {
        match self {
            Event::StageFailed(f) => Some(f),
            _ => None,
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Started { restart: false } => f.write_str("started"),
            Event::Started { restart: true } => f.write_str("restarted"),
            Event::Stopped { state } => write!(f, "stopped ({state})"),
            Event::StageFailed(failure) => fmt::Display::fmt(failure, f),
            Event::SerializationFailed { oid, key, message } => {
                write!(
                    f,
                    "could not serialize `{key}` of {}: {message}",
                    oid.to_hex()
                )
            }
            Event::QueueFull { capacity: Some(c) } => write!(f, "queue full ({c} data)"),
            Event::QueueFull { capacity: None } => f.write_str("queue full"),
            Event::Dropped { policy } => write!(f, "a datum was dropped ({policy:?})"),
            Event::SourceExhausted { produced } => {
                write!(f, "source exhausted after {produced} data")
            }
            Event::SourceFailed { message } => write!(f, "source failed: {message}"),
            Event::SinkFailed { oid, message } => {
                write!(f, "sink refused the record of {}: {message}", oid.to_hex())
            }
            Event::Idle { idle_for } => write!(f, "idle for {:.1}s", idle_for.as_secs_f64()),
            Event::Completed { processed, failed } => {
                write!(f, "completed: {processed} processed, {failed} failed")
            }
            Event::Queue(event) => fmt::Display::fmt(event, f),
        }
    }
}

/// What the machine does about an event, as its handler decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Go on.
    Continue,
    /// Drain the queue, then stop with state [`Completed`](MachineState::Completed) (and emit
    /// [`Event::Completed`]); if the event is an error (a failed source, say), the machine
    /// still drains but ends [`Failed`](MachineState::Failed) with the event's message.
    Complete,
    /// Stop now: data in flight finish, queued data stay queued. The machine ends
    /// [`Failed`](MachineState::Failed) if the event is an error, else
    /// [`Stopped`](MachineState::Stopped).
    Stop,
    /// As [`Stop`](Action::Stop), and keep the event (with the failing datum, for a stage
    /// failure) in [`Machine::kept`](crate::Machine::kept).
    StopAndKeep,
}

impl Action {
    /// The more drastic of two actions (`StopAndKeep` > `Stop` > `Complete` > `Continue`):
    /// how composed handlers agree.
    pub fn max(self, other: Action) -> Action {
        Ord::max(self, other)
    }
}
