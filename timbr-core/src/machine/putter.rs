//! A cheap, cloneable handle for putting data on a machine's queue from any thread.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::machine::Supervisor;
use crate::{Event, PutTimeoutError, Queue, TryPutError};

/// Puts data on a machine's queue; clone it into as many threads as you like.
///
/// Obtained from [`Machine::putter`](crate::Machine::putter). It stays valid while the
/// machine is stopped and restarted: data put while it is stopped wait in the queue.
pub struct Putter<T> {
    pub(crate) queue: Arc<dyn Queue<T>>,
    pub(crate) sup: Arc<Supervisor>,
}

impl<T> Clone for Putter<T> {
    fn clone(&self) -> Self {
        Putter {
            queue: Arc::clone(&self.queue),
            sup: Arc::clone(&self.sup),
        }
    }
}

impl<T: Send + 'static> Putter<T> {
    /// Puts `datum` if the queue has room; never blocks.
    ///
    /// # Errors
    ///
    /// [`TryPutError`] holding `datum` when the queue is full: nothing is lost. The machine's
    /// handler gets an [`Event::QueueFull`].
    pub fn try_put(&self, datum: T) -> Result<(), TryPutError<T>> {
        self.sup.counters.offer();
        self.queue.try_put(datum).inspect_err(|_| {
            self.sup.counters.reject();
            self.sup.emit(Event::QueueFull {
                capacity: self.queue.capacity(),
            });
        })
    }

    /// Puts `datum`, waiting as long as the queue is full (backpressure).
    pub fn put(&self, datum: T) {
        self.sup.counters.offer();
        if let Err(e) = self.queue.put_until(datum, None) {
            // Only a queue whose consumers are gone can refuse a blocking put.
            self.sup.counters.reject();
            drop(e);
        }
    }

    /// Puts `datum`, waiting at most `timeout` for room.
    ///
    /// # Errors
    ///
    /// [`PutTimeoutError`] holding `datum` if the queue stayed full.
    pub fn put_timeout(&self, datum: T, timeout: Duration) -> Result<(), PutTimeoutError<T>> {
        self.sup.counters.offer();
        let deadline = Instant::now().checked_add(timeout);
        self.queue
            .put_until(datum, deadline)
            .inspect_err(|_| self.sup.counters.reject())
    }

    /// How many data wait in the queue.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether no data wait in the queue.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Whether the queue is full right now.
    pub fn is_full(&self) -> bool {
        self.queue.capacity().is_some_and(|c| self.queue.len() >= c)
    }

    /// The queue's capacity, if bounded.
    pub fn capacity(&self) -> Option<usize> {
        self.queue.capacity()
    }
}
