//! Data in: the queue (through the machine's own [`Putter`]), and processing one datum on
//! the caller's thread (`call`, `get`).

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::oid::ObjectId;

use crate::io::{Delivery, Taken};
use crate::machine::thread_role::Raised;
use crate::machine::Machine;
use crate::machine::Putter;
use crate::{Called, Datum, GetError, PutError, PutTimeoutError, Record, TryPutError};

impl<T: Datum> Machine<T> {
    /// Puts a datum if the queue has room; never blocks.
    ///
    /// # Errors
    ///
    /// [`TryPutError::Full`] holding the datum when the queue is full; the other variants
    /// as for [`Putter::try_put`].
    pub fn try_put(&self, datum: T) -> Result<(), TryPutError<T>> {
        self.putter.try_put(datum)
    }

    /// Puts a datum, waiting while the queue is full.
    ///
    /// # Errors
    ///
    /// [`PutError`] holding the datum if the put cannot complete (see [`Putter::put`]).
    pub fn put(&self, datum: T) -> Result<(), PutError<T>> {
        self.putter.put(datum)
    }

    /// Puts a datum, waiting at most `timeout` for room.
    ///
    /// # Errors
    ///
    /// [`PutTimeoutError`] holding the datum if the queue stayed full (see
    /// [`Putter::put_timeout`]).
    pub fn put_timeout(&self, datum: T, timeout: Duration) -> Result<(), PutTimeoutError<T>> {
        self.putter.put_timeout(datum, timeout)
    }

    /// A cloneable handle for putting data from other threads.
    pub fn putter(&self) -> Putter<T> {
        self.putter.clone()
    }

    /// How many data wait in the queue.
    pub fn len(&self) -> usize {
        self.shared.queue.len()
    }

    /// Whether no data wait in the queue.
    pub fn is_empty(&self) -> bool {
        self.shared.queue.is_empty()
    }

    /// Whether the queue is full.
    pub fn is_full(&self) -> bool {
        self.putter.is_full()
    }

    /// The queue's capacity, if bounded.
    pub fn capacity(&self) -> Option<usize> {
        self.shared.queue.capacity()
    }

    /// Processes `datum` now, on the caller's thread, without the queue: every raw key is
    /// computed, serialized forms on request.
    pub fn call(&self, datum: T) -> Called {
        let (_, wiring) = self.shared.current_wiring();
        let oid = ObjectId::new();
        // Kept with the wiring in `Called`: the outcomes hold their own share of the plan.
        let outcomes = wiring
            .run(&wiring.call_plan, datum, oid, &*self.shared.executor, None)
            .into_owned();
        Called {
            wiring,
            oid,
            outcomes,
        }
    }

    /// Takes one datum from the queue (waiting at most `timeout`), processes it on the
    /// caller's thread and returns its record (not sent to the sink).
    ///
    /// The datum runs once: retry policies apply to the data the workers process, so a
    /// failure here is final and goes to the failure store. Retries and replays waiting
    /// aside are left for the workers.
    ///
    /// # Errors
    ///
    /// [`GetError::Timeout`] if nothing arrived in time; [`GetError::Running`] while the
    /// machine runs (its consumers own the queue then). A `get` already waiting when the
    /// machine starts waits on beside its consumers until a datum comes, or a wake-up meant
    /// for them (a stop's, say): it hands that back and returns [`GetError::Running`].
    pub fn get(&self, timeout: Duration) -> Result<Record, GetError> {
        if self.shared.sup.life.live_hint() > 0 {
            return Err(GetError::Running);
        }
        if IN_GET.with(Cell::get) {
            return Err(GetError::Nested);
        }
        // A queued datum needs no deadline (and no clock read).
        let Delivery { datum, id } = match self.shared.queue.try_take_delivery() {
            Some(d) => d,
            None => self.take_within(timeout)?,
        };
        if self.shared.queue.is_shared() {
            self.shared.sup.counters.accept();
        }
        let (mut record, failed) = {
            let mut caller = self.shared.caller.lock();
            // The callers' lane is written under this lock alone (see `Lane`).
            let lane = self.shared.sup.counters.lane(None);
            lane.take();
            let wiring = self.shared.caller_wiring(&mut caller);
            let (record, failed) = {
                let _inside = Raised::set(&IN_GET);
                self.shared.process(wiring, datum, None)
            };
            lane.count(record.is_ok());
            // A failed run's outcomes outlive the lock (rare): they get their own share of
            // the plan.
            (
                record,
                failed.map(|outcomes| (outcomes.into_owned(), Arc::clone(wiring))),
            )
        };
        if let Some((outcomes, wiring)) = failed {
            if !record.is_ok() {
                // `get` runs each datum once (retries are the workers'): a failure is final.
                self.shared.keep_failure(&wiring, &record, &outcomes, &[]);
            }
            self.shared.report(&wiring, &record, outcomes);
        }
        // The caller takes the record: the delivery is done with.
        if let Some(id) = id {
            self.shared.queue.ack(&id);
            record.origin = Some(id.to_arc());
        }
        Ok(record)
    }

    /// Waits for a datum. The queue's wake-ups are the consumers' (a stop wakes one take
    /// per consumer), but they are counted, and any take on the queue may take one: this one
    /// too, when the machine started while it waited. Kept, that wake-up would be lost to a
    /// consumer asleep in a take without a deadline, and the stop would wait for it for
    /// ever. So a wake-up taken while consumers live is handed back, and this take leaves
    /// for good (the machine runs: [`GetError::Running`]): it cannot take the same one again.
    /// A wake-up taken while none lives was meant for nobody (a run that ended; consumers
    /// that left woke each other): it is dropped.
    fn take_within(&self, timeout: Duration) -> Result<Delivery<T>, GetError> {
        let deadline = Instant::now().checked_add(timeout);
        loop {
            match self.shared.queue.take_delivery(deadline) {
                Taken::Datum(d) => return Ok(d),
                Taken::TimedOut => return Err(GetError::Timeout),
                // The wake-up's sender counted the consumers live before it sent it, and the
                // count drops to 0 only once every consumer has left: read after the take,
                // it is not 0 while a consumer may still wait for this wake-up.
                Taken::Woken if self.shared.sup.life.live_hint() > 0 => {
                    (self.shared.sup.wake)(1);
                    return Err(GetError::Running);
                }
                Taken::Woken => continue,
            }
        }
    }
}

thread_local! {
    /// Set while this thread processes a datum for `get` (holding the callers' lock).
    static IN_GET: Cell<bool> = const { Cell::new(false) };
}
