//! A machine's life: its [`MachineState`], the mode its consumers run in, how many consumer
//! threads are alive, the source's stop flag, and whether the closing work of the last stop
//! is done ("settled"). This module is the only writer of all of them; everything else asks.
//!
//! ```text
//!            start                 request_stop              last consumer out
//!   idle ───────────▶ running ─────────────────▶ stopping ─────────────────────▶ stopped
//!   stopped ────────▶ (mode Run)   (mode Drain                 (live 1 while      completed
//!   completed                       or Return)                 the sink flushes)  failed(reason)
//!   failed                                                            │
//!                                                                     ▼ closing events, hooks
//!                                                                  settled
//! ```
//!
//! Once the machine is dropped its life is *closed*: puts hand their data back. Puts in
//! progress are counted ([`Lifecycle::enter_put`]), so that the drop can wait for them
//! before its last drain, and no datum lands in a queue nobody will read.
//!
//! A draining stop ends only once the source cannot put any more: the source enters each
//! put ([`Lifecycle::enter_source_put`]) by counting itself *then* reading its stop flag,
//! and a draining consumer reads that count *before* it finds the queue empty. Either the
//! source sees the flag (and keeps its datum for the next start), or the consumer sees the
//! put in progress and waits for it: nothing lands in the queue after the drain ended,
//! whatever thread asked for the stop (a handler does not join the source).
//!
//! The state and the live count change together under one lock, so `is_running` (live > 0)
//! and the state always agree. The mode and the live count also have lock-free copies for
//! the hot path (a consumer reads the mode per datum; `get` reads the live count).

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::observe::trace;
use crate::{datum::Timestamp, MachineState, StartError, StopMode};

/// What the consumers do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Take data, waiting for them.
    Run,
    /// Take what is queued without waiting, then end.
    Drain,
    /// End after the datum in hand.
    Return,
}

impl From<StopMode> for Mode {
    fn from(mode: StopMode) -> Self {
        match mode {
            StopMode::Drain => Mode::Drain,
            StopMode::Return => Mode::Return,
        }
    }
}

impl Mode {
    fn from_u8(v: u8) -> Mode {
        match v {
            0 => Mode::Run,
            1 => Mode::Drain,
            _ => Mode::Return,
        }
    }
}

/// What the status shows of a machine's life, read at one moment.
#[derive(Clone, Debug)]
pub(crate) struct LifeView {
    pub(crate) state: MachineState,
    pub(crate) running: bool,
    /// When the machine last started: for durations, and for people.
    pub(crate) started: Option<(Instant, Timestamp)>,
    pub(crate) stopped: Option<Instant>,
    /// Data finished (processed + failed) when the machine last started.
    pub(crate) done_at_start: u64,
}

/// The fields under the life lock.
struct Life {
    state: MachineState,
    /// Consumer threads alive: the truth behind `is_running`.
    live: usize,
    /// The state to end in once the consumers are gone.
    ending: Option<MachineState>,
    started: Option<(Instant, Timestamp)>,
    stopped: Option<Instant>,
    starts: u64,
    done_at_start: u64,
    /// False from a start until the closing events and hooks of the stop after it have run:
    /// what `wait` waits for.
    settled: bool,
}

/// A machine's life (see the module docs).
pub(crate) struct Lifecycle {
    /// The machine's name, for the trace of its state changes.
    name: String,
    life: Mutex<Life>,
    changed: Condvar,
    live_hint: AtomicUsize,
    mode: AtomicU8,
    source_stop: AtomicBool,
    /// Set when the machine is dropped: no put may succeed after.
    closed: AtomicBool,
    /// Puts between their `closed` check and their end.
    puts: AtomicUsize,
    /// Source puts between their stop-flag check and their end (see the module docs).
    source_puts: AtomicUsize,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            name: String::new(),
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
            changed: Condvar::new(),
            live_hint: AtomicUsize::new(0),
            mode: AtomicU8::new(Mode::Run as u8),
            source_stop: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            puts: AtomicUsize::new(0),
            source_puts: AtomicUsize::new(0),
        }
    }
}

/// What a consumer's exit left: others still running, or it was the last one.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    Others,
    /// The last consumer: the caller flushes the sink, then calls [`Lifecycle::end`].
    Last,
}

impl Lifecycle {
    /// The life of the machine named `name`.
    pub(crate) fn named(name: &str) -> Self {
        Lifecycle {
            name: name.to_owned(),
            ..Lifecycle::default()
        }
    }

    /// Writes the state (the only place that does), tracing the change. Traced under the
    /// life lock, so that two threads' changes are traced in the order they happened.
    fn set_state(&self, life: &mut Life, state: MachineState) {
        trace::state_changed(&self.name, &life.state, &state);
        life.state = state;
    }

    // ---- reading ------------------------------------------------------------------------

    pub(crate) fn state(&self) -> MachineState {
        self.life.lock().state.clone()
    }

    /// Whether consumer threads are alive, read with the state.
    pub(crate) fn is_running(&self) -> bool {
        self.life.lock().live > 0
    }

    /// The live consumer count without the lock, for the hot path: it may lag the locked
    /// count by an instant, never by a whole change of state.
    pub(crate) fn live_hint(&self) -> usize {
        self.live_hint.load(Ordering::Acquire)
    }

    /// What the consumers do next.
    pub(crate) fn mode(&self) -> Mode {
        Mode::from_u8(self.mode.load(Ordering::Acquire))
    }

    /// Whether the source must stop feeding (the machine is stopping, or a new source
    /// replaces it).
    pub(crate) fn source_must_stop(&self) -> bool {
        self.source_stop.load(Ordering::Acquire)
    }

    pub(crate) fn view(&self) -> LifeView {
        let life = self.life.lock();
        LifeView {
            state: life.state.clone(),
            running: life.live > 0,
            started: life.started,
            stopped: life.stopped,
            done_at_start: life.done_at_start,
        }
    }

    // ---- starting -----------------------------------------------------------------------

    /// Moves to running with `workers` consumers counted live before they exist (a thread
    /// that fails to spawn is counted out with [`spawn_failed`](Self::spawn_failed)).
    /// `done` is the data finished so far. Returns whether this is a restart.
    pub(crate) fn begin_start(&self, workers: usize, done: u64) -> Result<bool, StartError> {
        let mut life = self.life.lock();
        if life.state == MachineState::Running {
            return Err(StartError::AlreadyRunning);
        }
        self.set_live(&mut life, workers);
        self.set_state(&mut life, MachineState::Running);
        life.settled = false;
        life.ending = None;
        life.starts += 1;
        life.started = Some((Instant::now(), Timestamp::now()));
        life.stopped = None;
        life.done_at_start = done;
        self.mode.store(Mode::Run as u8, Ordering::Release);
        self.source_stop.store(false, Ordering::Release);
        Ok(life.starts > 1)
    }

    /// How many runs have begun: a start tells by it whether another start overtook it
    /// while it did not hold the machine's control lock.
    pub(crate) fn starts(&self) -> u64 {
        self.life.lock().starts
    }

    /// `missing` consumers counted live by `begin_start` were never spawned. If none is
    /// left, the machine has failed with `reason` and is settled.
    pub(crate) fn spawn_failed(&self, missing: usize, reason: &str) {
        let mut life = self.life.lock();
        let live = life.live.saturating_sub(missing);
        self.set_live(&mut life, live);
        if live == 0 {
            self.fail_now(&mut life, reason);
        }
    }

    /// A start that could not spawn all its threads ends failed with `reason` once its
    /// threads are gone (they were asked to stop and joined by the caller).
    pub(crate) fn start_failed(&self, reason: &str) {
        let mut life = self.life.lock();
        if life.live == 0 {
            self.fail_now(&mut life, reason);
        }
    }

    fn fail_now(&self, life: &mut Life, reason: &str) {
        self.set_state(life, MachineState::Failed(reason.to_owned()));
        life.ending = None;
        life.settled = true;
        self.changed.notify_all();
    }

    // ---- stopping -----------------------------------------------------------------------

    /// Asks the threads of a running machine to stop, to end in `ending`. Returns whether
    /// this request changed anything: it stops a running machine, or makes a stopping one
    /// stop harder (see `stronger`); otherwise the first reason stands. Wakes whoever waits.
    pub(crate) fn request_stop(&self, ending: MachineState, mode: Mode) -> bool {
        let mut life = self.life.lock();
        if !self.stronger(&life, &ending, mode) {
            return false;
        }
        if life.state == MachineState::Stopping {
            if mode == Mode::Return {
                self.mode.store(Mode::Return as u8, Ordering::Release);
                if life.ending == Some(MachineState::Completed) {
                    life.ending = Some(MachineState::Stopped);
                }
            }
            if matches!(ending, MachineState::Failed(_)) {
                life.ending = Some(ending);
            }
            return true;
        }
        self.set_state(&mut life, MachineState::Stopping);
        life.ending = Some(ending);
        // The flag before the mode: a consumer that sees the drain also sees (through the
        // mode's release) that no source put can begin any more.
        self.source_stop.store(true, Ordering::SeqCst);
        self.mode.store(mode as u8, Ordering::Release);
        drop(life);
        self.changed.notify_all();
        true
    }

    /// Whether a stop request for `ending` in `mode` would change what the machine does
    /// (see [`request_stop`](Self::request_stop)); read by a handler's `StopAndKeep` to
    /// decide whether its event is worth keeping.
    pub(crate) fn would_change(&self, ending: &MachineState, mode: Mode) -> bool {
        let life = self.life.lock();
        !life.state.is_active() || self.stronger(&life, ending, mode)
    }

    /// An error turns any other ending into `Failed`, and a request to return the queue
    /// ends a drain (a completion becomes a plain stop then).
    fn stronger(&self, life: &Life, ending: &MachineState, mode: Mode) -> bool {
        match life.state {
            MachineState::Running => true,
            MachineState::Stopping => {
                let failing = matches!(ending, MachineState::Failed(_))
                    && !matches!(life.ending, Some(MachineState::Failed(_)));
                let returning = mode == Mode::Return && self.mode() == Mode::Drain;
                failing || returning
            }
            _ => false,
        }
    }

    /// Tells the source to stop (before its thread is joined).
    pub(crate) fn stop_source(&self) {
        self.source_stop.store(true, Ordering::SeqCst);
    }

    /// Lets a newly set source feed.
    pub(crate) fn allow_source(&self) {
        self.source_stop.store(false, Ordering::Release);
    }

    /// A consumer ends. The last one stays counted live (records are not out until the
    /// sink flushed) until [`end`](Self::end).
    pub(crate) fn consumer_exited(&self) -> Exit {
        let mut life = self.life.lock();
        let live = life.live.saturating_sub(1);
        if live > 0 {
            self.set_live(&mut life, live);
            Exit::Others
        } else {
            Exit::Last
        }
    }

    /// After the last consumer's sink flush: the machine reaches its final state (not yet
    /// settled: see [`Settle`]). Returns that state.
    pub(crate) fn end(&self) -> MachineState {
        let mut life = self.life.lock();
        self.set_live(&mut life, 0);
        let end = life.ending.take().unwrap_or_else(|| {
            MachineState::Failed("the consumer threads ended unexpectedly".to_owned())
        });
        self.set_state(&mut life, end.clone());
        life.stopped = Some(Instant::now());
        drop(life);
        self.changed.notify_all();
        end
    }

    fn set_live(&self, life: &mut Life, live: usize) {
        life.live = live;
        self.live_hint.store(live, Ordering::Release);
    }

    // ---- closing ------------------------------------------------------------------------

    // ---- waiting ------------------------------------------------------------------------

    /// Blocks until the machine is neither running nor stopping and its closing events and
    /// hooks have run, or `timeout` passes; returns the state then.
    pub(crate) fn wait(&self, timeout: Option<Duration>) -> MachineState {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut life = self.life.lock();
        while life.state.is_active() || !life.settled {
            match deadline {
                Some(d) => {
                    if self.changed.wait_until(&mut life, d).timed_out() {
                        break;
                    }
                }
                None => self.changed.wait(&mut life),
            }
        }
        life.state.clone()
    }

    /// Waits up to `tick`, returning early when the life changes; returns whether the
    /// machine is still running or stopping (the monitor's heartbeat).
    pub(crate) fn tick(&self, tick: Duration) -> bool {
        let mut life = self.life.lock();
        if !life.state.is_active() {
            return false;
        }
        self.changed.wait_for(&mut life, tick);
        life.state.is_active()
    }

    /// Wakes the threads waiting on the life (the monitor, before it is joined).
    pub(crate) fn notify(&self) {
        self.changed.notify_all();
    }
}

/// Marks the machine settled when the closing work after [`Lifecycle::end`] is done, however
/// it ends (a panicking hook included).
pub(crate) struct Settle<'a>(pub(crate) &'a Lifecycle);

impl Drop for Settle<'_> {
    fn drop(&mut self) {
        self.0.life.lock().settled = true;
        self.0.changed.notify_all();
    }
}

mod puts;
#[cfg(test)]
mod tests;
