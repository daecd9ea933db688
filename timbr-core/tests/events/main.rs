//! Every event, every ready-made handler, composition, closures, panicking handlers, kept
//! failures and their replay, and the shutdown and restart hooks.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, Weak};
use std::time::Duration;

use timbr_core::{
    observe::{ErrorKind, EventKind},
    Action, Debugger, Event, Handler, LogAndContinue, Machine, MachineState, Record, Sink,
    SinkError, SourcePolicy, Stage, StageDebugger, StopMode, StopWhenDone,
};

/// A handler that remembers every event and answers with `action` for `on`.
fn recorder(on: Option<EventKind>, action: Action) -> (impl Handler, Arc<Mutex<Vec<Event>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let handler = move |e: &Event| {
        log.lock().unwrap().push(e.clone());
        if Some(e.kind()) == on {
            action
        } else {
            Action::Continue
        }
    };
    (handler, seen)
}

fn kinds(seen: &Mutex<Vec<Event>>) -> Vec<EventKind> {
    seen.lock().unwrap().iter().map(Event::kind).collect()
}

fn odd_fails() -> Stage {
    Stage::try_new(0, "halve", ["input"], |n: &u64| {
        if n % 2 == 0 {
            Ok(n / 2)
        } else {
            Err(std::io::Error::other(format!("{n} is odd")))
        }
    })
    .unwrap()
}

mod debuggers;
/// A stage that holds its datum until released, to fill the queue behind it.
fn gate() -> (Stage, Arc<Barrier>, Arc<Barrier>) {
    let entered = Arc::new(Barrier::new(2));
    let release = Arc::new(Barrier::new(2));
    let (e, r) = (Arc::clone(&entered), Arc::clone(&release));
    let first = Arc::new(AtomicUsize::new(0));
    let stage = Stage::new(0, "gate", ["input"], move |n: &u64| {
        if first.fetch_add(1, Ordering::AcqRel) == 0 {
            e.wait();
            r.wait();
        }
        *n
    })
    .unwrap();
    (stage, entered, release)
}

/// A sink that refuses every record.
struct Refusing;

impl Sink for Refusing {
    fn send(&mut self, record: Record) -> Result<(), SinkError> {
        Err(SinkError::msg(format!("no room for {}", record.oid_hex())))
    }
}

mod emitted;
mod handlers;
