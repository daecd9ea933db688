//! The state a machine shares with its threads, and the consumer loop: take a datum, run it
//! through the current wiring, deliver its record (in input order if asked), count it.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

use bson::oid::ObjectId;
use parking_lot::{Mutex, RwLock};
use timbr_sched::Executor;

use crate::counters::Counters;
use crate::source::{SourcePolicy, SourceStatus};
use crate::wiring::Wiring;
use crate::{Queue, Record, Sink, Taken};

pub(crate) const RUN: u8 = 0;
pub(crate) const DRAIN: u8 = 1;
pub(crate) const RETURN: u8 = 2;

pub(crate) struct Shared<T> {
    pub(crate) queue: Arc<dyn Queue<T>>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) wiring: RwLock<Arc<Wiring>>,
    pub(crate) wiring_version: AtomicU64,
    pub(crate) executor: Arc<dyn Executor>,
    pub(crate) sink: Mutex<Box<dyn Sink>>,
    pub(crate) sink_errors: AtomicU64,
    pub(crate) last_sink_error: Mutex<Option<String>>,
    pub(crate) stop_mode: AtomicU8,
    pub(crate) source_stop: AtomicBool,
    pub(crate) source_status: SourceStatus,
    pub(crate) policy: SourcePolicy,
    pub(crate) workers: usize,
    pub(crate) ordered: bool,
    /// In ordered mode, taking a datum and numbering it happen under this lock.
    pub(crate) next_seq: Mutex<u64>,
    pub(crate) reorder: Mutex<Reorder>,
    /// Consumer threads alive: the truth behind `is_running`.
    pub(crate) live: AtomicUsize,
}

#[derive(Default)]
pub(crate) struct Reorder {
    next: u64,
    pending: BTreeMap<u64, Record>,
}

/// Decrements the live-consumer count when its thread ends, however it ends.
struct Alive<'a>(&'a AtomicUsize);

impl Drop for Alive<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<T: Send + Sync + 'static> Shared<T> {
    pub(crate) fn current_wiring(&self) -> (u64, Arc<Wiring>) {
        let version = self.wiring_version.load(Ordering::Acquire);
        (version, Arc::clone(&self.wiring.read()))
    }

    /// The consumer thread's body. `live` was incremented for it by the spawner.
    pub(crate) fn consume(&self) {
        let _alive = Alive(&self.live);
        let (mut version, mut wiring) = self.current_wiring();
        while let Some((seq, datum)) = self.next_datum() {
            if self.wiring_version.load(Ordering::Acquire) != version {
                (version, wiring) = self.current_wiring();
            }
            let record = self.process(&wiring, datum);
            self.deliver(seq, record);
        }
    }

    /// Runs one datum through the record plan.
    pub(crate) fn process(&self, wiring: &Wiring, datum: T) -> Record {
        let oid = ObjectId::new();
        let outcomes = wiring.run(&wiring.record_plan, datum, oid, &*self.executor, None);
        wiring.record(oid, &outcomes)
    }

    /// The next datum to process and its sequence number, or `None` when the consumer must
    /// stop.
    fn next_datum(&self) -> Option<(u64, T)> {
        let mut seq = self.ordered.then(|| self.next_seq.lock());
        loop {
            let datum = match self.stop_mode.load(Ordering::Acquire) {
                RUN => match self.queue.take(None) {
                    Taken::Datum(d) => d,
                    Taken::TimedOut | Taken::Woken => continue,
                },
                DRAIN => self.queue.try_take()?,
                _ => return None,
            };
            self.counters.take();
            let n = match seq.as_mut() {
                Some(next) => {
                    let n = **next;
                    **next += 1;
                    n
                }
                None => 0,
            };
            return Some((n, datum));
        }
    }

    fn deliver(&self, seq: u64, record: Record) {
        if !self.ordered {
            return self.send(record);
        }
        let mut reorder = self.reorder.lock();
        reorder.pending.insert(seq, record);
        loop {
            let next = reorder.next;
            let Some(record) = reorder.pending.remove(&next) else {
                break;
            };
            reorder.next += 1;
            self.send(record);
        }
    }

    /// Hands a record to the sink and counts its datum.
    pub(crate) fn send(&self, record: Record) {
        let ok = record.is_ok();
        let sent = catch_unwind(AssertUnwindSafe(|| self.sink.lock().send(record)));
        match sent {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.sink_error(e.to_string()),
            Err(payload) => {
                self.sink_error(timbr_sched::TaskError::from_panic(payload).to_string())
            }
        }
        self.count(ok);
    }

    pub(crate) fn count(&self, ok: bool) {
        if ok {
            self.counters.process();
        } else {
            self.counters.fail();
        }
    }

    pub(crate) fn sink_error(&self, message: String) {
        self.sink_errors.fetch_add(1, Ordering::AcqRel);
        *self.last_sink_error.lock() = Some(message);
    }
}
