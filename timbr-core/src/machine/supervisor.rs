//! The part of a machine that does not depend on its datum type, shared by the machine, its
//! threads and its putters: its life, counters, statistics and errors, and the handler that
//! decides what each event does.

use std::backtrace::Backtrace;
use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::io::queue_event::QueueEventInbox;
use crate::machine::life::{Lifecycle, Mode};
use crate::machine::thread_role::{as_machine_thread, Raised};
use crate::observe::counters::{Counters, Counts};
use crate::observe::errors::ErrorBook;
use crate::observe::event_counts::EventCounts;
use crate::observe::rates::RateWindow;
use crate::observe::stats::Stats;
use crate::unwind;
use crate::{
    observe::{ErrorKind, ErrorReport},
    Action, Event, Handler, Kept, MachineState, Status, StatusPlugin,
};

/// A callback run with the machine's status.
pub(crate) type StatusHook = Box<dyn Fn(&Status) + Send + Sync>;

/// User code the machine runs besides stages, and what a panic in it means: each is caught,
/// recorded as a handler error, and the machine goes on.
pub(crate) enum Guarded<'a> {
    /// The handler deciding on an event (a panic decides `Continue`).
    Handler(&'a Event),
    /// A shutdown or restart hook.
    Hook(&'static str),
    /// A status plugin's method.
    Plugin { name: &'a str, call: &'static str },
}

pub(crate) struct Supervisor {
    pub(crate) name: String,
    pub(crate) counters: Counters,
    pub(crate) life: Lifecycle,
    /// Wakes consumers blocked on an empty queue.
    pub(crate) wake: Box<dyn Fn(usize) + Send + Sync>,
    pub(crate) workers: usize,
    handler: Mutex<Box<dyn Handler>>,
    /// A handler set while the current one was busy: installed after its event.
    next_handler: Mutex<Option<Box<dyn Handler>>>,
    pub(crate) errors: ErrorBook,
    /// Every event handed to the handler, by kind.
    pub(crate) events: EventCounts,
    pub(crate) kept: Mutex<Option<Kept>>,
    pub(crate) stats: Stats,
    pub(crate) idle_after: Option<Duration>,
    pub(crate) tick: Duration,
    pub(crate) rates: Mutex<RateWindow>,
    pub(crate) plugins: Vec<Arc<dyn StatusPlugin>>,
    pub(crate) on_shutdown: Vec<StatusHook>,
    pub(crate) on_restart: Vec<StatusHook>,
    /// What the queue reported about itself, waiting for the monitor to deliver it.
    queue_events: QueueEventInbox,
}

/// The settings a supervisor is built from.
pub(crate) struct SupervisorParts {
    pub(crate) name: String,
    pub(crate) wake: Box<dyn Fn(usize) + Send + Sync>,
    pub(crate) workers: usize,
    pub(crate) handler: Box<dyn Handler>,
    pub(crate) stats: Stats,
    pub(crate) idle_after: Option<Duration>,
    pub(crate) tick: Duration,
    pub(crate) rate_window: Duration,
    pub(crate) plugins: Vec<Arc<dyn StatusPlugin>>,
    pub(crate) on_shutdown: Vec<StatusHook>,
    pub(crate) on_restart: Vec<StatusHook>,
    pub(crate) queue_events: QueueEventInbox,
}

impl Supervisor {
    pub(crate) fn new(p: SupervisorParts) -> Self {
        Supervisor {
            life: Lifecycle::named(&p.name),
            name: p.name,
            counters: Counters::new(p.workers),
            wake: p.wake,
            workers: p.workers,
            handler: Mutex::new(p.handler),
            next_handler: Mutex::new(None),
            errors: ErrorBook::default(),
            events: EventCounts::default(),
            kept: Mutex::new(None),
            stats: p.stats,
            idle_after: p.idle_after,
            tick: p.tick,
            rates: Mutex::new(RateWindow::new(p.rate_window)),
            plugins: p.plugins,
            on_shutdown: p.on_shutdown,
            on_restart: p.on_restart,
            queue_events: p.queue_events,
        }
    }

    /// Where every accepted datum is: the counters, with the puts in progress read where
    /// the snapshot needs them.
    pub(crate) fn counts(&self) -> Counts {
        self.counters.snapshot(|| self.life.puts_in_progress())
    }

    /// Runs user code marked as a machine thread (so that a `stop` it calls only asks); a
    /// panic is recorded as a handler error naming what panicked, and gives `None`.
    pub(crate) fn guard<R>(&self, what: Guarded<'_>, f: impl FnOnce() -> R) -> Option<R> {
        let message = match as_machine_thread(|| unwind::catch(f)) {
            Ok(r) => return Some(r),
            Err(message) => message,
        };
        let message = match what {
            Guarded::Handler(event) => format!("the handler panicked on `{event}`: {message}"),
            Guarded::Hook(which) => format!("a {which} hook panicked: {message}"),
            Guarded::Plugin { name, call } => {
                format!("status plugin `{name}` panicked in `{call}`: {message}")
            }
        };
        crate::observe::trace::handler_error(&self.name, &message);
        self.errors
            .record(ErrorReport::new(ErrorKind::Handler, message));
        None
    }

    /// Runs every plugin's `call` (guarded).
    pub(crate) fn each_plugin(&self, call: &'static str, f: impl Fn(&dyn StatusPlugin)) {
        for plugin in &self.plugins {
            let name = plugin.name();
            self.guard(Guarded::Plugin { name, call }, || f(&**plugin));
        }
    }

    /// Runs the shutdown or restart hooks (guarded).
    pub(crate) fn run_hooks(&self, which: &'static str, hooks: &[StatusHook], status: &Status) {
        for hook in hooks {
            self.guard(Guarded::Hook(which), || hook(status));
        }
    }

    /// Replaces the handler: now if it is free, else (a handler replacing itself, or one busy
    /// on another thread) right after the current event.
    pub(crate) fn set_handler(&self, handler: Box<dyn Handler>) {
        *self.next_handler.lock() = Some(handler);
        if let Some(mut current) = self.handler.try_lock() {
            if let Some(next) = self.next_handler.lock().take() {
                *current = next;
            }
        }
    }

    /// The idle period after which an [`Event::Idle`] is due, if any; it recurs every period
    /// while the machine stays idle.
    pub(crate) fn idle_threshold(&self) -> Option<Duration> {
        let handler = self.handler.lock().idle_after();
        match (handler, self.idle_after) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Hands `event` to the handler and carries out its decision.
    pub(crate) fn emit(&self, event: Event) {
        let action = self.decide(&event);
        self.apply(action, event);
    }

    /// Delivers what the queue reported about itself since the last call, as
    /// [`Event::Queue`]s (called by the monitor once per tick, and by the last consumer
    /// before the machine settles). Events the queue could not send because too many were
    /// waiting are recorded as one handler error: the handler did not see them.
    pub(crate) fn deliver_queue_events(&self) {
        let missed = self.queue_events.drain(|e| self.emit(Event::Queue(e)));
        if missed > 0 {
            let message = format!(
                "{missed} queue events were not delivered: more than {} waited while the \
                 machine was not running",
                crate::io::QUEUE_EVENT_BACKLOG
            );
            crate::observe::trace::handler_error(&self.name, &message);
            self.errors
                .record(ErrorReport::new(ErrorKind::Handler, message));
        }
    }

    /// The handler's decision; a panicking handler counts as an error and decides
    /// `Continue`. The status plugins see the event first.
    pub(crate) fn decide(&self, event: &Event) -> Action {
        crate::observe::trace::event(&self.name, event);
        self.events.count(event.kind());
        if !self.plugins.is_empty() {
            self.each_plugin("event", |p| p.event(event));
        }
        // An event the handler itself causes (a put on a full queue from inside it) is
        // counted, but not handed to the handler again: it would wait for itself.
        if IN_HANDLER.with(Cell::get) {
            return Action::Continue;
        }
        let mut handler = self.handler.lock();
        let _inside = Raised::set(&IN_HANDLER);
        let decided = self.guard(Guarded::Handler(event), || handler.handle(event));
        if let Some(next) = self.next_handler.lock().take() {
            *handler = next;
        }
        decided.unwrap_or(Action::Continue)
    }

    fn apply(&self, action: Action, event: Event) {
        let (ending, mode) = match action {
            Action::Continue => return,
            Action::Complete if event.is_error() => {
                (MachineState::Failed(event.to_string()), Mode::Drain)
            }
            Action::Complete => (MachineState::Completed, Mode::Drain),
            Action::Stop | Action::StopAndKeep if event.is_error() => {
                (MachineState::Failed(event.to_string()), Mode::Return)
            }
            Action::Stop | Action::StopAndKeep => (MachineState::Stopped, Mode::Return),
        };
        // Kept before the state can change, so whoever waits for the stop finds it; kept
        // also when not running (an error met by `get`).
        if action == Action::StopAndKeep && self.life.would_change(&ending, mode) {
            *self.kept.lock() = Some(Kept {
                event,
                backtrace: Arc::new(Backtrace::force_capture()),
            });
        }
        self.request_stop(ending, mode);
    }

    /// Asks the machine's threads to stop (see [`Lifecycle::request_stop`]) and wakes the
    /// consumers waiting for data.
    pub(crate) fn request_stop(&self, ending: MachineState, mode: Mode) -> bool {
        let changed = self.life.request_stop(ending, mode);
        if changed {
            (self.wake)(self.workers);
        }
        changed
    }
}

thread_local! {
    /// Set while this thread runs a machine's handler.
    static IN_HANDLER: Cell<bool> = const { Cell::new(false) };
}
