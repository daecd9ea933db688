//! The queue a machine reads from: a trait, so that a distributed queue can replace the
//! embedded one, and [`MemoryQueue`], the bounded in-memory default.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crossbeam_channel::{bounded, unbounded, Receiver, Select, Sender, TrySendError};
use parking_lot::Mutex;

use crate::io::QueueEvents;
use crate::io::{Delivery, DeliveryId};
use crate::{PutTimeoutError, TryPutError};

/// What a blocking [`Queue::take`] came back with.
#[derive(Debug, PartialEq, Eq)]
pub enum Taken<T> {
    /// A datum.
    Datum(T),
    /// Nothing arrived before the deadline.
    TimedOut,
    /// [`Queue::wake_takers`] was called: the taker should check why it is running.
    Woken,
}

impl<T> Taken<T> {
    /// The same answer with the datum, if any, passed through `f` (how a taken datum becomes
    /// a [`Delivery`]); `f` is not called for [`TimedOut`](Taken::TimedOut) or
    /// [`Woken`](Taken::Woken).
    ///
    /// ```
    /// use timbr_core::io::Taken;
    ///
    /// assert_eq!(Taken::Datum(20_u8).map(|d| u32::from(d) * 2), Taken::Datum(40_u32));
    /// assert_eq!(Taken::<u8>::TimedOut.map(|_| -> u32 { unreachable!() }), Taken::TimedOut);
    /// assert_eq!(Taken::<u8>::Woken.map(|_| -> u32 { unreachable!() }), Taken::Woken);
    /// ```
    #[inline]
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Taken<U> {
        match self {
            Taken::Datum(d) => Taken::Datum(f(d)),
            Taken::TimedOut => Taken::TimedOut,
            Taken::Woken => Taken::Woken,
        }
    }
}

/// A bounded FIFO of data shared by the producers and the machine's consumers.
///
/// Every method takes `&self`: any number of threads put and take at once. Implementations
/// never lose a datum: a put that cannot complete hands the datum back in its error.
///
/// A queue is closed when its machine is dropped ([`close`](Queue::close)): from then on
/// puts hand their data back ([`TryPutError::Closed`]), **blocked puts included**, and
/// takes still empty what is left.
pub trait Queue<T>: Send + Sync + 'static {
    /// Puts `datum` if there is room right now.
    ///
    /// # Errors
    ///
    /// [`TryPutError::Full`] with the datum when the queue is full,
    /// [`TryPutError::Closed`] when it is closed, [`TryPutError::Rejected`] when it refuses
    /// this datum whatever its room (one it cannot encode, say; [`MemoryQueue`] never does).
    fn try_put(&self, datum: T) -> Result<(), TryPutError<T>>;

    /// Puts `datum`, waiting for room until `deadline` (for ever if `None`).
    ///
    /// # Errors
    ///
    /// [`PutTimeoutError::Timeout`] with the datum when the deadline passed first,
    /// [`PutTimeoutError::Closed`] when the queue is closed (before or while waiting),
    /// [`PutTimeoutError::Rejected`] when it refuses this datum whatever its room.
    fn put_until(&self, datum: T, deadline: Option<Instant>) -> Result<(), PutTimeoutError<T>>;

    /// Refuses every later put, and wakes the puts waiting for room, which hand their data
    /// back. Idempotent. A machine closes its queue when it is dropped, before it drains it:
    /// an implementation must make sure that no put waiting at that moment stays blocked.
    fn close(&self);

    /// Takes the oldest datum, waiting until `deadline` (for ever if `None`) or until woken.
    fn take(&self, deadline: Option<Instant>) -> Taken<T>;

    /// Takes the oldest datum if there is one right now.
    fn try_take(&self) -> Option<T>;

    /// Wakes `n` blocked (or future) [`take`](Queue::take) calls, which return
    /// [`Taken::Woken`]. A wake nobody waits for may wake a later `take` instead, so takers
    /// treat `Woken` as "check your flags", never as "stop".
    fn wake_takers(&self, n: usize);

    /// How many data wait in the queue.
    fn len(&self) -> usize;

    /// Whether no data wait in the queue.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most data the queue holds, if bounded.
    fn capacity(&self) -> Option<usize>;

    // ---- acknowledgement (see `delivery.rs`); the defaults acknowledge nothing ------------

    /// Takes the oldest datum like [`take`](Queue::take), with the id to acknowledge it by.
    /// The machine's consumers take through this, and call [`ack`](Queue::ack) once the
    /// datum's record was accepted by the sink.
    fn take_delivery(&self, deadline: Option<Instant>) -> Taken<Delivery<T>> {
        self.take(deadline).map(Delivery::unacked)
    }

    /// Takes a datum that is ready right now, with the id to acknowledge it by. A shared
    /// queue may answer from what this process already fetched only.
    fn try_take_delivery(&self) -> Option<Delivery<T>> {
        self.try_take().map(Delivery::unacked)
    }

    /// The record of the delivery `id` was accepted by the sink: the queue may forget it.
    fn ack(&self, id: &DeliveryId) {
        let _ = id;
    }

    /// The record of the delivery `id` could not be delivered: the queue keeps the datum
    /// for a later delivery (its own policy says when, and how often).
    fn release(&self, id: &DeliveryId) {
        let _ = id;
    }

    /// Whether other processes put on and take from this queue too. A machine then counts
    /// what it takes as accepted when it takes it (its producers put through the queue
    /// itself, not through the machine).
    fn is_shared(&self) -> bool {
        false
    }

    /// For a queue other processes share, a name that is the same in every process on it
    /// (e.g. its server and stream, never a password), shown as
    /// [`QueueStatus::shared`](crate::observe::QueueStatus::shared): a view of a fleet counts
    /// the depth of the queue its machines share once, not once per machine. The default:
    /// `None`, a queue of this process.
    fn shared_name(&self) -> Option<String> {
        None
    }

    /// Called by the machine once, when it is built with this queue: what happens to the
    /// queue itself (a lost connection, a datum given up on…) goes to the machine through
    /// `events`, whose [`send`](QueueEvents::send) never blocks, and the machine hands each
    /// to its handler as an [`Event::Queue`](crate::Event::Queue). A queue given to several
    /// machines gets one sender from each. The default ignores it: nothing to report.
    fn set_events(&self, events: QueueEvents) {
        let _ = events;
    }
}

/// The embedded queue: a bounded multi-producer multi-consumer channel (crossbeam).
///
/// # Examples
///
/// ```
/// use timbr_core::{MemoryQueue, Queue};
/// use timbr_core::io::Taken;
///
/// let q = MemoryQueue::new(1);
/// q.try_put("a")?;
/// let full = q.try_put("b").unwrap_err();
/// assert_eq!(full.into_inner(), "b"); // handed back, not lost
/// assert_eq!(q.take(None), Taken::Datum("a"));
/// # Ok::<(), timbr_core::TryPutError<&str>>(())
/// ```
pub struct MemoryQueue<T> {
    tx: Sender<T>,
    rx: Receiver<T>,
    wake_tx: Sender<()>,
    wake_rx: Receiver<()>,
    /// Dropped by `close`: the disconnection wakes every put blocked on `closed_rx`.
    closed_tx: Mutex<Option<Sender<()>>>,
    closed_rx: Receiver<()>,
    closed: AtomicBool,
    capacity: usize,
}

impl<T: Send + 'static> MemoryQueue<T> {
    /// A queue holding at most `capacity` data (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let (tx, rx) = bounded(capacity);
        let (wake_tx, wake_rx) = unbounded();
        let (closed_tx, closed_rx) = bounded(0);
        MemoryQueue {
            tx,
            rx,
            wake_tx,
            wake_rx,
            closed_tx: Mutex::new(Some(closed_tx)),
            closed_rx,
            closed: AtomicBool::new(false),
            capacity,
        }
    }
}

impl<T: Send + 'static> Queue<T> for MemoryQueue<T> {
    fn try_put(&self, datum: T) -> Result<(), TryPutError<T>> {
        if self.closed.load(Ordering::Acquire) {
            return Err(TryPutError::Closed(datum));
        }
        self.tx.try_send(datum).map_err(|e| match e {
            // Both ends live in `self`, so the channel cannot be disconnected.
            TrySendError::Full(d) | TrySendError::Disconnected(d) => TryPutError::Full(d),
        })
    }

    fn put_until(&self, datum: T, deadline: Option<Instant>) -> Result<(), PutTimeoutError<T>> {
        let datum = match self.try_put(datum) {
            Ok(()) => return Ok(()),
            Err(TryPutError::Closed(d)) => return Err(PutTimeoutError::Closed(d)),
            Err(TryPutError::Full(d)) => d,
            // Never: this queue refuses no datum for itself. Passed on as it came.
            Err(TryPutError::Rejected { datum, reason }) => {
                return Err(PutTimeoutError::Rejected { datum, reason })
            }
        };
        // Wait for room or for the close, whichever comes first.
        let mut sel = Select::new();
        let send = sel.send(&self.tx);
        let closed = sel.recv(&self.closed_rx);
        let op = match deadline {
            None => sel.select(),
            Some(deadline) => match sel.select_deadline(deadline) {
                Ok(op) => op,
                Err(_) => return Err(PutTimeoutError::Timeout(datum)),
            },
        };
        match op.index() {
            i if i == send => op
                .send(&self.tx, datum)
                // Both ends live in `self`: the channel cannot be disconnected.
                .map_err(|e| PutTimeoutError::Closed(e.into_inner())),
            i => {
                debug_assert_eq!(i, closed);
                let _ = op.recv(&self.closed_rx);
                Err(PutTimeoutError::Closed(datum))
            }
        }
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        // Disconnecting wakes every put blocked in `put_until`.
        drop(self.closed_tx.lock().take());
    }

    fn take(&self, deadline: Option<Instant>) -> Taken<T> {
        // Data first: a wake-up must not hide a datum that is already there.
        if let Ok(d) = self.rx.try_recv() {
            return Taken::Datum(d);
        }
        let mut sel = crossbeam_channel::Select::new();
        let data = sel.recv(&self.rx);
        let wake = sel.recv(&self.wake_rx);
        let op = match deadline {
            None => sel.select(),
            Some(deadline) => match sel.select_deadline(deadline) {
                Ok(op) => op,
                Err(_) => return Taken::TimedOut,
            },
        };
        match op.index() {
            i if i == data => match op.recv(&self.rx) {
                Ok(d) => Taken::Datum(d),
                Err(_) => Taken::Woken,
            },
            i => {
                debug_assert_eq!(i, wake);
                let _ = op.recv(&self.wake_rx);
                Taken::Woken
            }
        }
    }

    fn try_take(&self) -> Option<T> {
        self.rx.try_recv().ok()
    }

    fn wake_takers(&self, n: usize) {
        for _ in 0..n {
            // Cannot fail: the receiver lives in `self`.
            let _ = self.wake_tx.send(());
        }
    }

    fn len(&self) -> usize {
        self.rx.len()
    }

    fn capacity(&self) -> Option<usize> {
        Some(self.capacity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn full_queue_hands_the_datum_back() {
        let q = MemoryQueue::new(2);
        q.try_put(1).unwrap();
        q.try_put(2).unwrap();
        assert_eq!(q.try_put(3).unwrap_err().into_inner(), 3);
        let deadline = Instant::now() + Duration::from_millis(1);
        assert_eq!(q.put_until(4, Some(deadline)).unwrap_err().into_inner(), 4);
        assert_eq!(q.len(), 2);
        assert_eq!(q.capacity(), Some(2));
    }

    #[test]
    fn take_is_fifo_and_wakes_on_request() {
        let q = MemoryQueue::new(4);
        q.try_put(1).unwrap();
        q.try_put(2).unwrap();
        assert_eq!(q.take(None), Taken::Datum(1));
        assert_eq!(q.try_take(), Some(2));
        assert_eq!(q.take(Some(Instant::now())), Taken::TimedOut);
        q.wake_takers(1);
        assert_eq!(q.take(None), Taken::Woken);
    }

    #[test]
    fn a_wake_never_hides_a_waiting_datum() {
        let q = MemoryQueue::new(4);
        q.wake_takers(1);
        q.try_put(7).unwrap();
        assert_eq!(q.take(None), Taken::Datum(7));
    }

    #[test]
    fn close_wakes_a_blocked_put_and_refuses_later_ones() {
        let q = std::sync::Arc::new(MemoryQueue::new(1));
        q.try_put(1).unwrap();
        let blocked = std::thread::spawn({
            let q = std::sync::Arc::clone(&q);
            move || q.put_until(2, None)
        });
        q.close();
        assert_eq!(blocked.join().unwrap(), Err(PutTimeoutError::Closed(2)));
        assert_eq!(q.try_put(3), Err(TryPutError::Closed(3)));
        assert_eq!(q.try_take(), Some(1), "takes still empty the queue");
    }

    #[test]
    fn zero_capacity_means_one() {
        let q = MemoryQueue::new(0);
        q.try_put(()).unwrap();
        assert!(q.try_put(()).is_err());
    }
}
