//! A source: an iterator run on its own thread, feeding the queue with backpressure or a
//! drop policy, and stoppable and resumable without losing the datum in hand.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::status::{ErrorKind, ErrorReport};
use crate::supervisor::Supervisor;
use crate::{Event, Queue};

/// What a source does when the queue is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SourcePolicy {
    /// Wait for room (backpressure): nothing is dropped. The default.
    #[default]
    Block,
    /// Drop the datum the source just produced (counted in `dropped`).
    DropNewest,
    /// Drop the oldest queued datum to make room (counted in `dropped`).
    DropOldest,
}

/// Where a source is in its life.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SourceState {
    /// No source was set.
    None,
    /// Set, and waiting for the machine to start (or stopped with the machine; it resumes
    /// where it was on the next start).
    Ready,
    /// Its thread is feeding the queue.
    Running,
    /// The iterator ended.
    Exhausted,
    /// The iterator panicked or yielded an error; the message says which.
    Failed(String),
}

impl fmt::Display for SourceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceState::None => f.write_str("none"),
            SourceState::Ready => f.write_str("ready"),
            SourceState::Running => f.write_str("running"),
            SourceState::Exhausted => f.write_str("exhausted"),
            SourceState::Failed(m) => write!(f, "failed: {m}"),
        }
    }
}

/// A source's items: data, or an error that ends the source.
pub(crate) type SourceIter<T> = Box<dyn Iterator<Item = Result<T, String>> + Send>;

/// The source's iterator and the datum it holds but could not put yet.
pub(crate) struct SourceParts<T> {
    pub(crate) iter: Option<SourceIter<T>>,
    pub(crate) pending: Option<T>,
}

/// What the status shows of the source, shared with its thread.
#[derive(Default)]
pub(crate) struct SourceStatus {
    pub(crate) state: Mutex<Option<SourceState>>,
    pub(crate) produced: std::sync::atomic::AtomicU64,
}

impl SourceStatus {
    pub(crate) fn set(&self, state: SourceState) {
        *self.state.lock() = Some(state);
    }

    pub(crate) fn state(&self) -> SourceState {
        self.state.lock().clone().unwrap_or(SourceState::None)
    }
}

/// How long a source blocked on a full queue waits before checking whether it should stop.
const STOP_CHECK: Duration = Duration::from_millis(20);

pub(crate) struct Feeder<'a, T> {
    pub(crate) queue: &'a dyn Queue<T>,
    pub(crate) sup: &'a Supervisor,
    pub(crate) policy: SourcePolicy,
    pub(crate) status: &'a SourceStatus,
}

impl<T: Send + 'static> Feeder<'_, T> {
    /// Feeds the queue until the iterator ends or fails, or `stop` is raised; returns what
    /// is left so a later start resumes there.
    pub(crate) fn run(&self, mut parts: SourceParts<T>) -> SourceParts<T> {
        self.status.set(SourceState::Running);
        loop {
            if self.sup.source_stop.load(Ordering::Acquire) {
                self.status.set(SourceState::Ready);
                return parts;
            }
            let datum = match parts.pending.take() {
                Some(d) => d,
                None => match self.next(&mut parts) {
                    Some(d) => d,
                    None => return parts,
                },
            };
            if let Some(d) = self.offer(datum) {
                parts.pending = Some(d);
                self.status.set(SourceState::Ready);
                return parts;
            }
        }
    }

    fn next(&self, parts: &mut SourceParts<T>) -> Option<T> {
        let iter = parts.iter.as_mut()?;
        let end = match catch_unwind(AssertUnwindSafe(|| iter.next())) {
            Ok(Some(Ok(d))) => {
                self.status.produced.fetch_add(1, Ordering::AcqRel);
                return Some(d);
            }
            Ok(Some(Err(e))) => SourceState::Failed(e),
            Ok(None) => SourceState::Exhausted,
            Err(payload) => {
                SourceState::Failed(timbr_sched::TaskError::from_panic(payload).to_string())
            }
        };
        parts.iter = None;
        let event = match &end {
            SourceState::Failed(message) => {
                self.sup
                    .errors
                    .record(ErrorReport::new(ErrorKind::Source, message.clone()));
                Event::SourceFailed {
                    message: message.clone(),
                }
            }
            _ => Event::SourceExhausted {
                produced: self.status.produced.load(Ordering::Acquire),
            },
        };
        self.status.set(end);
        self.sup.emit(event);
        None
    }

    /// Puts `datum` by the policy; hands it back if the source must stop first.
    fn offer(&self, datum: T) -> Option<T> {
        self.sup.counters.offer();
        let mut datum = match self.queue.try_put(datum) {
            Ok(()) => return None,
            Err(full) => full.into_inner(),
        };
        match self.policy {
            // The datum stays the source's while it waits: only a blocked put in progress
            // counts it as offered, so the queue never looks fuller than it is.
            SourcePolicy::Block => loop {
                self.sup.counters.withdraw();
                if self.sup.source_stop.load(Ordering::Acquire) {
                    return Some(datum);
                }
                self.sup.counters.offer();
                match self
                    .queue
                    .put_until(datum, Some(Instant::now() + STOP_CHECK))
                {
                    Ok(()) => return None,
                    Err(e) => datum = e.into_inner(),
                }
            },
            SourcePolicy::DropNewest => {
                self.sup.counters.drop_new();
                drop(datum);
                self.sup.emit(Event::Dropped {
                    policy: self.policy,
                });
                None
            }
            SourcePolicy::DropOldest => loop {
                if self.queue.try_take().is_some() {
                    self.sup.counters.drop_old();
                    self.sup.emit(Event::Dropped {
                        policy: self.policy,
                    });
                }
                match self.queue.try_put(datum) {
                    Ok(()) => return None,
                    Err(full) => datum = full.into_inner(),
                }
            },
        }
    }
}
