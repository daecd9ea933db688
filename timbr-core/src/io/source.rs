//! A source: an iterator that feeds the queue (on its own thread, see the machine's feeder)
//! with backpressure or a drop policy; what it is and what the status shows of it.

use std::fmt;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

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
