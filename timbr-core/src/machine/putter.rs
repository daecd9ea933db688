//! A cheap, cloneable handle for putting data on a machine's queue from any thread.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::machine::machine_queue::MachineQueue;
use crate::machine::Supervisor;
use crate::{Event, PutError, PutTimeoutError, TryPutError};

/// Puts data on a machine's queue; clone it into as many threads as you like.
///
/// Obtained from [`Machine::putter`](crate::Machine::putter). It stays valid while the
/// machine is stopped and restarted: data put while it is stopped wait in the queue. Once
/// the machine is dropped, every put hands its datum back (a put blocked on a full queue at
/// that moment included), counted as rejected: no datum is accepted that nobody would take.
pub struct Putter<T> {
    pub(crate) queue: MachineQueue<T>,
    pub(crate) sup: Arc<Supervisor>,
}

impl<T> Clone for Putter<T> {
    fn clone(&self) -> Self {
        Putter {
            queue: self.queue.clone(),
            sup: Arc::clone(&self.sup),
        }
    }
}

impl<T: Send + 'static> Putter<T> {
    /// Puts `datum` if the queue has room; never blocks.
    ///
    /// # Errors
    ///
    /// [`TryPutError::Full`] holding `datum` when the queue is full: nothing is lost, and the
    /// machine's handler gets an [`Event::QueueFull`]. [`TryPutError::Closed`] when the
    /// machine was dropped: no machine will ever take the datum, so it is handed back.
    /// [`TryPutError::Rejected`] when the queue refused this datum itself (a durable queue
    /// that cannot encode it).
    pub fn try_put(&self, datum: T) -> Result<(), TryPutError<T>> {
        let Some(_put) = self.sup.life.enter_put() else {
            self.refuse();
            return Err(TryPutError::Closed(datum));
        };
        // The guard counts the put as in progress until the end of this function, so the
        // accounts never miss a datum a consumer took before `accepted` counted it.
        let result = self.queue.try_put(datum);
        self.count(result.is_ok());
        result.inspect_err(|e| {
            if e.is_full() {
                self.queue_full();
            }
        })
    }

    /// Puts `datum`, waiting as long as the queue is full (backpressure).
    ///
    /// # Errors
    ///
    /// [`PutError::Closed`] holding `datum` when the machine was dropped (before or while
    /// this put waited), [`PutError::Rejected`] when the queue refused this datum itself: a
    /// put that cannot complete hands the datum back.
    pub fn put(&self, datum: T) -> Result<(), PutError<T>> {
        let Some(_put) = self.sup.life.enter_put() else {
            self.refuse();
            return Err(PutError::Closed(datum));
        };
        let result = self.queue.put_until(datum, None);
        self.count(result.is_ok());
        result.map_err(PutError::from)
    }

    /// Puts `datum`, waiting at most `timeout` for room.
    ///
    /// # Errors
    ///
    /// [`PutTimeoutError::Timeout`] holding `datum` if the queue stayed full (the handler
    /// gets an [`Event::QueueFull`], as for a full `try_put`); [`PutTimeoutError::Closed`]
    /// when the machine was dropped, before or while this put waited;
    /// [`PutTimeoutError::Rejected`] when the queue refused this datum itself.
    pub fn put_timeout(&self, datum: T, timeout: Duration) -> Result<(), PutTimeoutError<T>> {
        let Some(_put) = self.sup.life.enter_put() else {
            self.refuse();
            return Err(PutTimeoutError::Closed(datum));
        };
        let deadline = Instant::now().checked_add(timeout);
        let result = self.queue.put_until(datum, deadline);
        self.count(result.is_ok());
        result.inspect_err(|e| {
            if e.is_timeout() {
                self.queue_full();
            }
        })
    }

    /// Counts a put as it ends, while it is still in progress: what goes on a shared queue
    /// (one other processes take from too) is counted by the machine that takes it, not here.
    fn count(&self, accepted: bool) {
        if !accepted {
            self.sup.counters.reject();
        } else if !self.queue.is_shared() {
            self.sup.counters.accept();
        }
    }

    /// Counts a put refused before it reached the queue.
    fn refuse(&self) {
        self.sup.counters.reject();
    }

    fn queue_full(&self) {
        self.sup.emit(Event::QueueFull {
            capacity: self.queue.capacity(),
        });
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
