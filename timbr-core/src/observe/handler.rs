//! Handlers: what a machine does about each event. Ready-made ones for the usual policies,
//! closures for the rest, and composition.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::datum::Timestamp;
use crate::{observe::EventKind, Action, Event};

/// Decides what each [`Event`] does to the machine.
///
/// Called on the thread where the event happened (a worker, the source, a caller of
/// `try_put`, the machine's monitor), one event at a time. Keep it quick. To stop the
/// machine, return an [`Action`]: that is what handlers are for. Calling the machine from a
/// handler (say, through an `Arc` captured by a closure) does not deadlock, but does not
/// block either: [`Machine::stop`](crate::Machine::stop) called from one of the machine's
/// threads only asks the machine to stop and returns at once (with nothing), and
/// [`Machine::wait`](crate::Machine::wait) returns the current state instead of waiting
/// for the machine to wait for itself.
/// A panic in a handler is caught, counted in [`ErrorCounts::handler`](crate::observe::ErrorCounts),
/// and the event is treated as [`Action::Continue`].
///
/// Closures `FnMut(&Event) -> Action` are handlers; [`and`](Handler::and) composes two.
/// The ready-made handlers also have `and` as a method of their own, so that
/// `Debugger.and(LogAndContinue::default())` needs no `use timbr_core::Handler`.
pub trait Handler: Send + 'static {
    /// What to do about `event`.
    fn handle(&mut self, event: &Event) -> Action;

    /// After how long without activity this handler wants an [`Event::Idle`] (`None`: it
    /// does not care). The machine uses the shortest of its handler's and its own
    /// ([`MachineBuilder::idle_after`](crate::MachineBuilder::idle_after)).
    fn idle_after(&self) -> Option<Duration> {
        None
    }

    /// Both handlers see every event; the more drastic action wins (see [`Action::max`]).
    fn and<H: Handler>(self, other: H) -> Both<Self, H>
    where
        Self: Sized,
    {
        Both(self, other)
    }
}

impl<F: FnMut(&Event) -> Action + Send + 'static> Handler for F {
    fn handle(&mut self, event: &Event) -> Action {
        self(event)
    }
}

impl Handler for Box<dyn Handler> {
    fn handle(&mut self, event: &Event) -> Action {
        (**self).handle(event)
    }

    fn idle_after(&self) -> Option<Duration> {
        (**self).idle_after()
    }
}

/// Two handlers composed with [`Handler::and`].
#[derive(Debug)]
pub struct Both<A, B>(pub A, pub B);

impl<A: Handler, B: Handler> Handler for Both<A, B> {
    fn handle(&mut self, event: &Event) -> Action {
        let a = self.0.handle(event);
        let b = self.1.handle(event);
        a.max(b)
    }

    fn idle_after(&self) -> Option<Duration> {
        match (self.0.idle_after(), self.1.idle_after()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// An error event as [`LogAndContinue`] keeps it.
#[derive(Clone, Debug)]
pub struct Logged {
    /// When it was handled.
    pub at: Timestamp,
    /// The event.
    pub event: Event,
}

#[derive(Debug, Default)]
struct Log {
    errors: VecDeque<Logged>,
    seen: u64,
    by_kind: std::collections::BTreeMap<EventKind, u64>,
}

/// A shared view of a [`LogAndContinue`]'s log, readable while the machine runs.
#[derive(Clone, Debug)]
pub struct ErrorLog(Arc<Mutex<Log>>, usize);

impl ErrorLog {
    /// The last errors (at most the handler's capacity), oldest first.
    pub fn recent(&self) -> Vec<Logged> {
        self.0.lock().errors.iter().cloned().collect()
    }

    /// How many error events were seen in all.
    pub fn errors(&self) -> u64 {
        self.0.lock().seen
    }

    /// How many events of `kind` were seen (errors or not).
    pub fn count(&self, kind: EventKind) -> u64 {
        self.0.lock().by_kind.get(&kind).copied().unwrap_or(0)
    }

    /// How many errors the ring keeps.
    pub fn capacity(&self) -> usize {
        self.1
    }
}

/// The default handler: counts every event, keeps the last errors in a ring, and always
/// continues. Every event is also a `tracing` event (see the crate docs), whatever the
/// handler; [`print`](Self::print) is for programs with no subscriber.
///
/// ```
/// use timbr_core::{observe::EventKind, LogAndContinue, Machine, Stage};
///
/// let log = LogAndContinue::new(10);
/// let errors = log.log();
/// let fails = Stage::try_new(0, "fails", ["input"], |_: &u32| Err::<u32, _>("no"))?;
/// let machine = Machine::<u32>::builder().stage(fails).handler(log).build()?;
/// machine.try_put(1)?;
/// machine.start()?;
/// machine.stop_drain();
/// assert_eq!(errors.count(EventKind::StageFailed), 1);
/// assert!(errors.recent()[0].event.to_string().contains("stage `fails` (f0) failed"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct LogAndContinue {
    log: ErrorLog,
    print: bool,
}

/// How many errors [`LogAndContinue::default`] keeps.
pub const DEFAULT_KEPT_ERRORS: usize = 100;

impl Default for LogAndContinue {
    fn default() -> Self {
        LogAndContinue::new(DEFAULT_KEPT_ERRORS)
    }
}

impl LogAndContinue {
    /// Keeps the last `capacity` errors.
    pub fn new(capacity: usize) -> Self {
        LogAndContinue {
            log: ErrorLog(Arc::new(Mutex::new(Log::default())), capacity),
            print: false,
        }
    }

    /// Also writes each error on stderr when the program installed no `tracing` subscriber
    /// (default: no). With a subscriber, the error goes to it as a `tracing` event (it
    /// always does), and is not written twice. For programs that route no logs (a script,
    /// Python's `LogAndContinue(print=True)`): the one place timbr-core writes to stderr,
    /// and only when asked.
    pub fn print(mut self, print: bool) -> Self {
        self.print = print;
        self
    }

    /// The log, to read while the machine runs.
    pub fn log(&self) -> ErrorLog {
        self.log.clone()
    }
}

impl Handler for LogAndContinue {
    fn handle(&mut self, event: &Event) -> Action {
        let mut log = self.log.0.lock();
        *log.by_kind.entry(event.kind()).or_default() += 1;
        if event.is_error() {
            log.seen += 1;
            if self.print && !tracing::dispatcher::has_been_set() {
                use std::io::Write;
                // Nothing to do if stderr is gone.
                let _ = writeln!(std::io::stderr().lock(), "timbr: {event}");
            }
            if self.log.1 > 0 {
                if log.errors.len() == self.log.1 {
                    log.errors.pop_front();
                }
                log.errors.push_back(Logged {
                    at: Timestamp::now(),
                    event: event.clone(),
                });
            }
        }
        Action::Continue
    }
}

/// Stops the machine at the first error of any kind (stage, serialization, source, sink),
/// keeping the event, the failing datum and a backtrace in
/// [`Machine::kept`](crate::Machine::kept): the notebook's `RawEventDebugger`.
///
/// ```
/// use timbr_core::{Debugger, Machine, MachineState, Stage};
///
/// let halve = Stage::try_new(0, "halve", ["input"], |n: &u32| {
///     if n % 2 == 0 { Ok(n / 2) } else { Err(format!("{n} is odd")) }
/// })?;
/// let machine = Machine::<u32>::builder().stage(halve).handler(Debugger).build()?;
/// for n in [2, 4, 5, 6] {
///     machine.try_put(n)?;
/// }
/// machine.start()?;
/// let state = machine.wait();
/// assert!(matches!(state, MachineState::Failed(_)));
/// let kept = machine.kept().unwrap();
/// let failure = kept.failure().unwrap();
/// assert_eq!(failure.datum::<u32>(), Some(&5));
/// assert_eq!(failure.replay().unwrap_err().to_string(), "5 is odd");
/// assert_eq!(machine.stop(timbr_core::StopMode::Return), vec![6]); // nothing lost
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Debugger;

impl Handler for Debugger {
    fn handle(&mut self, event: &Event) -> Action {
        if event.is_error() {
            Action::StopAndKeep
        } else {
            Action::Continue
        }
    }
}

/// Stops the machine at the first stage failure only, keeping it (the notebook's
/// `DaskEventDebugger`); other errors go on.
#[derive(Clone, Copy, Debug, Default)]
pub struct StageDebugger;

impl Handler for StageDebugger {
    fn handle(&mut self, event: &Event) -> Action {
        if event.kind() == EventKind::StageFailed {
            Action::StopAndKeep
        } else {
            Action::Continue
        }
    }
}

/// Completes the machine when its work is done: when the source is exhausted (the queue is
/// then drained before it stops), or, if set, after an idle period. The machine ends in
/// [`Completed`](crate::MachineState::Completed) and emits [`Event::Completed`].
///
/// A source that fails is done too: the queue is drained, and the machine ends
/// [`Failed`](crate::MachineState::Failed) with the source's message (it never waits for
/// data that cannot come).
///
/// Compose it with a handler for errors: `StopWhenDone::new().and(LogAndContinue::default())`.
#[derive(Clone, Copy, Debug, Default)]
pub struct StopWhenDone {
    idle: Option<Duration>,
}

impl StopWhenDone {
    /// Completes when the source is exhausted.
    pub fn new() -> Self {
        StopWhenDone::default()
    }

    /// Also completes after `idle` without any activity (for machines fed by `put`).
    pub fn or_idle(mut self, idle: Duration) -> Self {
        self.idle = Some(idle);
        self
    }
}

impl Handler for StopWhenDone {
    fn handle(&mut self, event: &Event) -> Action {
        match event {
            Event::SourceExhausted { .. } | Event::SourceFailed { .. } => Action::Complete,
            Event::Idle { idle_for } if self.idle.is_some_and(|d| *idle_for >= d) => {
                Action::Complete
            }
            _ => Action::Continue,
        }
    }

    fn idle_after(&self) -> Option<Duration> {
        self.idle
    }
}

// `and` on the ready-made handlers themselves: a trait method needs its trait in scope, and a
// fresh file composing handlers should not fail with E0599 for want of `use …::Handler`.
// Each forwards to `Handler::and`.
macro_rules! inherent_and {
    ($($ty:ident $(<$($g:ident),+>)?),* $(,)?) => {$(
        impl$(<$($g: Handler),+>)? $ty$(<$($g),+>)? {
            /// Both handlers see every event; the more drastic action wins (see
            /// [`Handler::and`], which this is, callable without importing [`Handler`]).
            pub fn and<H: Handler>(self, other: H) -> Both<Self, H> {
                Handler::and(self, other)
            }
        }
    )*};
}

inherent_and!(LogAndContinue, Debugger, StageDebugger, StopWhenDone, Both<A, B>);
