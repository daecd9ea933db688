//! What a machine does, as [`tracing`] events, so that the application chooses where it
//! goes (a terminal, JSON logs, journald, OpenTelemetry) by installing a subscriber.
//! timbr-core itself never prints.
//!
//! Every [`Event`] the handler sees is also a tracing event, with the fields `machine`,
//! and `stage`, `slot`, `oid` where the event is about a datum: errors at `WARN`, a queue's
//! outage at `WARN` and its end at `INFO`, what only a close look needs (a full queue, a
//! dropped datum, idleness, start and stop) at `DEBUG` or `TRACE`. Each change of the
//! machine's state is one `INFO` event (`machine`, `from`, `to`), written by the one module
//! that changes it; a panic in a handler, hook or status plugin is a `WARN`.
//!
//! Targets: `timbr::datum` (one event per failed datum), `timbr::machine`, `timbr::queue`;
//! `RUST_LOG=timbr=info` or `RUST_LOG=timbr::queue=warn` picks among them.
//!
//! With no subscriber, each call costs one check of a global level (tracing's callsite
//! cache): no field is evaluated and nothing is formatted.

use tracing::{debug, info, trace, warn};

use crate::io::QueueEvent;
use crate::{Event, MachineState};

/// The target of what happens to one datum (a stage, its serialization, the sink failed):
/// as many events as data, when things go wrong.
pub(crate) const DATUM: &str = "timbr::datum";
/// The target of the machine's life: state changes, its source, handler errors.
pub(crate) const MACHINE: &str = "timbr::machine";
/// The target of what the machine's queue reports about itself (outages, dead letters).
pub(crate) const QUEUE: &str = "timbr::queue";

/// `event` of the machine named `machine`, as a tracing event.
pub(crate) fn event(machine: &str, event: &Event) {
    match event {
        Event::StageFailed(failure) => warn!(target: DATUM,
            machine,
            stage = failure.stage(),
            slot = failure.slot(),
            oid = %failure.oid(),
            error = %failure.error(),
            "stage failed"
        ),
        Event::SerializationFailed { oid, key, message } => warn!(target: DATUM,
            machine, %oid, key = key.as_str(), error = message.as_str(), "serialization failed"
        ),
        Event::SourceFailed { message } => {
            warn!(target: MACHINE, machine, error = message.as_str(), "source failed")
        }
        Event::SinkFailed { oid, message } => {
            warn!(target: DATUM, machine, %oid, error = message.as_str(), "sink failed")
        }
        Event::SourceExhausted { produced } => {
            info!(target: MACHINE, machine, produced, "source exhausted")
        }
        Event::Completed { processed, failed } => {
            info!(target: MACHINE, machine, processed, failed, "completed")
        }
        Event::Started { restart } => debug!(target: MACHINE, machine, restart, "started"),
        Event::Stopped { state } => debug!(target: MACHINE, machine, state = %state, "stopped"),
        Event::Idle { idle_for } => debug!(target: MACHINE, machine, ?idle_for, "idle"),
        Event::QueueFull { capacity } => trace!(target: QUEUE, machine, ?capacity, "queue full"),
        Event::Dropped { policy } => trace!(target: MACHINE, machine, ?policy, "datum dropped"),
        Event::Queue(queue) => queue_event(machine, queue),
    }
}

/// What a machine's queue reported about itself.
fn queue_event(machine: &str, event: &QueueEvent) {
    match event {
        QueueEvent::Disconnected { link, error } => warn!(target: QUEUE,
            machine, link = link.as_str(), error = error.as_str(), "queue disconnected"
        ),
        QueueEvent::Reconnected { link, after } => {
            info!(target: QUEUE, machine, link = link.as_str(), ?after, "queue reconnected")
        }
        QueueEvent::Refused { link, error } => warn!(target: QUEUE,
            machine, link = link.as_str(), error = error.as_str(), "queue refused a command"
        ),
        QueueEvent::DeadLettered { id, reason } => warn!(target: QUEUE,
            machine, id = id.as_str(), reason = reason.as_str(), "datum dead-lettered"
        ),
        QueueEvent::Claimed { id, from } => {
            info!(target: QUEUE, machine, id = id.as_str(), from = from.as_str(), "datum claimed")
        }
    }
}

/// The machine's state changed from `from` to `to`.
pub(crate) fn state_changed(machine: &str, from: &MachineState, to: &MachineState) {
    info!(target: MACHINE, machine, from = %from, to = %to, "machine state changed");
}

/// User code the machine runs besides stages (a handler, a hook, a status plugin) failed;
/// `message` says which and why.
pub(crate) fn handler_error(machine: &str, message: &str) {
    warn!(target: MACHINE, machine, error = message, "handler error");
}
