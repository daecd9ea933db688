//! The part of a machine that does not depend on its datum type: its life (state and live
//! threads, under one lock so they always agree), its handler and the errors it has seen.
//! Shared by the machine, its threads and its putters.

use std::backtrace::Backtrace;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::counters::Counters;
use crate::stats::Stats;
use crate::status::{ErrorCounts, ErrorKind, ErrorReport, Timestamp};
use crate::{Action, Event, Handler, Kept, MachineState, Status, StatusPlugin};

thread_local! {
    /// Set on the machine's own threads and while a handler, hook or plugin runs: there,
    /// `stop` only asks (it must not wait for its own thread), and `start` and `wait` refuse.
    static MACHINE_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks the current thread as one of the machine's for its whole life.
pub(crate) fn mark_machine_thread() {
    MACHINE_THREAD.with(|t| t.set(true));
}

/// Whether the current thread is one of a machine's, or runs a handler, hook, plugin or a
/// stage on a rayon pool (where joining the machine's threads could wait for itself).
pub(crate) fn on_machine_thread() -> bool {
    MACHINE_THREAD.with(|t| t.get()) || rayon::current_thread_index().is_some()
}

/// Runs `f` marked as a machine thread (restoring the mark after).
pub(crate) fn as_machine_thread<R>(f: impl FnOnce() -> R) -> R {
    let was = MACHINE_THREAD.with(|t| t.replace(true));
    let r = f();
    MACHINE_THREAD.with(|t| t.set(was));
    r
}

pub(crate) const RUN: u8 = 0;
pub(crate) const DRAIN: u8 = 1;
pub(crate) const RETURN: u8 = 2;

/// A callback run with the machine's status.
pub(crate) type StatusHook = Box<dyn Fn(&Status) + Send + Sync>;

pub(crate) struct Life {
    pub(crate) state: MachineState,
    /// Consumer threads alive: the truth behind `is_running`. Change it with `set_live`.
    live: usize,
    /// The state to end in once the consumers are gone.
    pub(crate) ending: Option<MachineState>,
    pub(crate) started: Option<(Instant, Timestamp)>,
    pub(crate) stopped: Option<Instant>,
    pub(crate) starts: u64,
    /// Data finished (processed + failed) when the machine last started.
    pub(crate) done_at_start: u64,
    /// False from a start until the closing events and shutdown hooks of the stop after it
    /// have run: what `wait` waits for.
    pub(crate) settled: bool,
}

impl Life {
    /// Consumer threads alive.
    pub(crate) fn live(&self) -> usize {
        self.live
    }
}

#[derive(Default)]
pub(crate) struct ErrorBook {
    stage: AtomicU64,
    serialization: AtomicU64,
    sink: AtomicU64,
    source: AtomicU64,
    handler: AtomicU64,
    last: Mutex<Option<ErrorReport>>,
    last_sink: Mutex<Option<String>>,
}

impl ErrorBook {
    pub(crate) fn record(&self, report: ErrorReport) {
        let counter = match report.kind {
            ErrorKind::Stage => &self.stage,
            ErrorKind::Serialization => &self.serialization,
            ErrorKind::Sink => {
                *self.last_sink.lock() = Some(report.message.clone());
                &self.sink
            }
            ErrorKind::Source => &self.source,
            ErrorKind::Handler => &self.handler,
        };
        counter.fetch_add(1, Ordering::AcqRel);
        *self.last.lock() = Some(report);
    }

    pub(crate) fn counts(&self) -> ErrorCounts {
        let load = |c: &AtomicU64| c.load(Ordering::Acquire);
        ErrorCounts {
            stage: load(&self.stage),
            serialization: load(&self.serialization),
            sink: load(&self.sink),
            source: load(&self.source),
            handler: load(&self.handler),
        }
    }

    pub(crate) fn last(&self) -> Option<ErrorReport> {
        self.last.lock().clone()
    }

    pub(crate) fn last_sink(&self) -> Option<String> {
        self.last_sink.lock().clone()
    }
}

/// Recent (time, data finished) samples, for the recent rate.
pub(crate) struct RateWindow {
    samples: VecDeque<(Instant, u64)>,
    window: Duration,
}

impl RateWindow {
    pub(crate) fn new(window: Duration) -> Self {
        RateWindow {
            samples: VecDeque::new(),
            window,
        }
    }

    pub(crate) fn window(&self) -> Duration {
        self.window
    }

    pub(crate) fn clear(&mut self) {
        self.samples.clear();
    }

    pub(crate) fn push(&mut self, at: Instant, done: u64) {
        self.samples.push_back((at, done));
        while self
            .samples
            .front()
            .is_some_and(|&(t, _)| at.duration_since(t) > self.window)
        {
            self.samples.pop_front();
        }
    }

    /// Data per second between the oldest sample and (`now`, `done`).
    pub(crate) fn rate(&self, now: Instant, done: u64) -> f64 {
        match self.samples.front() {
            Some(&(t, d)) if now > t => {
                done.saturating_sub(d) as f64 / now.duration_since(t).as_secs_f64()
            }
            _ => 0.0,
        }
    }
}

pub(crate) struct Supervisor {
    pub(crate) name: String,
    pub(crate) counters: Counters,
    pub(crate) life: Mutex<Life>,
    pub(crate) life_changed: Condvar,
    live_hint: std::sync::atomic::AtomicUsize,
    pub(crate) stop_mode: AtomicU8,
    pub(crate) source_stop: AtomicBool,
    /// Wakes consumers blocked on an empty queue.
    pub(crate) wake: Box<dyn Fn(usize) + Send + Sync>,
    pub(crate) workers: usize,
    handler: Mutex<Box<dyn Handler>>,
    /// A handler set while the current one was busy: installed after its event.
    next_handler: Mutex<Option<Box<dyn Handler>>>,
    pub(crate) errors: ErrorBook,
    pub(crate) kept: Mutex<Option<Kept>>,
    pub(crate) stats: Stats,
    pub(crate) idle_after: Option<Duration>,
    pub(crate) tick: Duration,
    pub(crate) rates: Mutex<RateWindow>,
    pub(crate) plugins: Vec<Arc<dyn StatusPlugin>>,
    pub(crate) on_shutdown: Vec<StatusHook>,
    pub(crate) on_restart: Vec<StatusHook>,
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
}

impl Supervisor {
    pub(crate) fn new(p: SupervisorParts) -> Self {
        Supervisor {
            name: p.name,
            counters: Counters::default(),
            life: Mutex::new(Life {
                state: MachineState::Idle,
                live: 0,
                ending: None,
                started: None,
                stopped: None,
                starts: 0,
                done_at_start: 0,
                settled: true,
            }),
            life_changed: Condvar::new(),
            live_hint: std::sync::atomic::AtomicUsize::new(0),
            stop_mode: AtomicU8::new(RUN),
            source_stop: AtomicBool::new(false),
            wake: p.wake,
            workers: p.workers,
            handler: Mutex::new(p.handler),
            next_handler: Mutex::new(None),
            errors: ErrorBook::default(),
            kept: Mutex::new(None),
            stats: p.stats,
            idle_after: p.idle_after,
            tick: p.tick,
            rates: Mutex::new(RateWindow::new(p.rate_window)),
            plugins: p.plugins,
            on_shutdown: p.on_shutdown,
            on_restart: p.on_restart,
        }
    }

    pub(crate) fn life(&self) -> MutexGuard<'_, Life> {
        self.life.lock()
    }

    /// Sets the live consumer count (under the life lock) and its lock-free copy.
    pub(crate) fn set_live(&self, life: &mut Life, live: usize) {
        life.live = live;
        self.live_hint.store(live, Ordering::Release);
    }

    /// The live consumer count without the lock, for the hot path: it may lag the locked
    /// count by an instant, never by a whole change of state.
    pub(crate) fn live_hint(&self) -> usize {
        self.live_hint.load(Ordering::Acquire)
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

    /// The handler's decision; a panicking handler counts as an error and decides
    /// `Continue`. The handler runs as a machine thread (see `MACHINE_THREAD`), so that a
    /// `stop` it calls only asks.
    pub(crate) fn decide(&self, event: &Event) -> Action {
        let mut handler = self.handler.lock();
        let decided =
            as_machine_thread(|| catch_unwind(AssertUnwindSafe(|| handler.handle(event))));
        if let Some(next) = self.next_handler.lock().take() {
            *handler = next;
        }
        drop(handler);
        match decided {
            Ok(action) => action,
            Err(payload) => {
                let message = timbr_sched::TaskError::from_panic(payload).to_string();
                self.errors.record(ErrorReport::new(
                    ErrorKind::Handler,
                    format!("the handler panicked on `{event}`: {message}"),
                ));
                Action::Continue
            }
        }
    }

    pub(crate) fn apply(&self, action: Action, event: Event) {
        let (ending, mode) = match action {
            Action::Continue => return,
            Action::Complete => (MachineState::Completed, DRAIN),
            Action::Stop | Action::StopAndKeep if event.is_error() => {
                (MachineState::Failed(event.to_string()), RETURN)
            }
            Action::Stop | Action::StopAndKeep => (MachineState::Stopped, RETURN),
        };
        let keep = || {
            *self.kept.lock() = Some(Kept {
                event: event.clone(),
                backtrace: Arc::new(Backtrace::force_capture()),
            });
        };
        if action == Action::StopAndKeep {
            // Kept before the state can change, so whoever waits for the stop finds it; kept
            // also when not running (an error met by `get`).
            let life = self.life();
            if !life.state.is_active() || self.stronger(&life, &ending, mode) {
                keep();
            }
            drop(life);
            self.request_stop(ending, mode);
        } else {
            self.request_stop(ending, mode);
        }
    }

    /// Whether a stop request for `ending` and `mode` would change what a stopping machine
    /// does: an error turns any other ending into `Failed`, and a request to return the queue
    /// ends a drain (a completion becomes a plain stop then).
    fn stronger(&self, life: &Life, ending: &MachineState, mode: u8) -> bool {
        match life.state {
            MachineState::Running => true,
            MachineState::Stopping => {
                let failing = matches!(ending, MachineState::Failed(_))
                    && !matches!(life.ending, Some(MachineState::Failed(_)));
                let returning = mode == RETURN && self.stop_mode.load(Ordering::Acquire) == DRAIN;
                failing || returning
            }
            _ => false,
        }
    }

    /// Asks the threads of a running machine to stop, to end in `ending`. Returns whether
    /// this request changed anything: it stops a running machine, or makes a stopping one
    /// stop harder (see `stronger`); otherwise the first reason stands.
    pub(crate) fn request_stop(&self, ending: MachineState, mode: u8) -> bool {
        let mut life = self.life();
        if !self.stronger(&life, &ending, mode) {
            return false;
        }
        if life.state == MachineState::Stopping {
            if mode == RETURN {
                self.stop_mode.store(RETURN, Ordering::Release);
                if life.ending == Some(MachineState::Completed) {
                    life.ending = Some(MachineState::Stopped);
                }
            }
            if matches!(ending, MachineState::Failed(_)) {
                life.ending = Some(ending);
            }
            return true;
        }
        life.state = MachineState::Stopping;
        life.ending = Some(ending);
        self.stop_mode.store(mode, Ordering::Release);
        self.source_stop.store(true, Ordering::Release);
        drop(life);
        self.life_changed.notify_all();
        (self.wake)(self.workers);
        true
    }

    /// Runs a shutdown or restart hook; a panic in it is caught and counted as a handler error.
    pub(crate) fn run_hook(&self, which: &str, hook: &StatusHook, status: &Status) {
        if catch_unwind(AssertUnwindSafe(|| hook(status))).is_err() {
            self.errors.record(ErrorReport::new(
                ErrorKind::Handler,
                format!("a {which} hook panicked"),
            ));
        }
    }

    /// Blocks until the machine is neither running nor stopping and its closing events and
    /// hooks have run, or `timeout` passes; returns the state then.
    pub(crate) fn wait(&self, timeout: Option<Duration>) -> MachineState {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut life = self.life();
        while life.state.is_active() || !life.settled {
            match deadline {
                Some(d) => {
                    if self.life_changed.wait_until(&mut life, d).timed_out() {
                        break;
                    }
                }
                None => self.life_changed.wait(&mut life),
            }
        }
        life.state.clone()
    }
}
