//! The state a machine shares with its threads, and the consumer loop: take a datum, run it
//! through the current wiring, deliver its record (in input order if asked), count it, and
//! report what went wrong.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bson::oid::ObjectId;
use parking_lot::{Mutex, RwLock};
use timbr_sched::{Executor, Hooks, Outcomes};

use crate::source::SourcePolicy;
use crate::source::SourceStatus;
use crate::status::{ErrorKind, ErrorReport, Timestamp};
use crate::supervisor::{Supervisor, DRAIN, RUN};
use crate::wiring::Wiring;
use crate::{Event, Failure, FailureKind, MachineState, Queue, Record, Sink, Taken};

pub(crate) struct Shared<T> {
    pub(crate) queue: Arc<dyn Queue<T>>,
    pub(crate) sup: Arc<Supervisor>,
    pub(crate) wiring: RwLock<Arc<Wiring>>,
    pub(crate) wiring_version: AtomicU64,
    pub(crate) executor: Arc<dyn Executor>,
    pub(crate) sink: Mutex<Box<dyn Sink>>,
    /// What the sink said of itself when the machine was built.
    pub(crate) sink_description: String,
    pub(crate) source_status: SourceStatus,
    pub(crate) policy: SourcePolicy,
    pub(crate) ordered: bool,
    /// In ordered mode, taking a datum and numbering it happen under this lock.
    pub(crate) next_seq: Mutex<u64>,
    pub(crate) reorder: Mutex<Reorder>,
}

#[derive(Default)]
pub(crate) struct Reorder {
    next: u64,
    pending: BTreeMap<u64, Record>,
}

/// Marks the machine settled (see `Life::settled`) when the closing work is done, however
/// it ends.
struct Settle<'a>(&'a Supervisor);

impl Drop for Settle<'_> {
    fn drop(&mut self) {
        self.0.life().settled = true;
        self.0.life_changed.notify_all();
    }
}

/// Ends a consumer's life however its thread ends: the last one out settles the machine's
/// final state.
struct Exit<'a, T: serde::Serialize + Send + Sync + 'static>(&'a Shared<T>);

impl<T: serde::Serialize + Send + Sync + 'static> Drop for Exit<'_, T> {
    fn drop(&mut self) {
        self.0.consumer_exited();
    }
}

impl<T: serde::Serialize + Send + Sync + 'static> Shared<T> {
    pub(crate) fn current_wiring(&self) -> (u64, Arc<Wiring>) {
        let version = self.wiring_version.load(Ordering::Acquire);
        (version, Arc::clone(&self.wiring.read()))
    }

    /// The consumer thread's body. `live` was incremented for it by the spawner.
    pub(crate) fn consume(&self, worker: usize) {
        crate::supervisor::mark_machine_thread();
        let _exit = Exit(self);
        let (mut version, mut wiring) = self.current_wiring();
        while let Some((seq, datum)) = self.next_datum() {
            if self.wiring_version.load(Ordering::Acquire) != version {
                (version, wiring) = self.current_wiring();
            }
            let (record, failed) = self.process(&wiring, datum, Some(worker));
            let report = failed.map(|outcomes| (outcomes, record.clone()));
            self.deliver(seq, record);
            if let Some((outcomes, record)) = report {
                self.report(&wiring, &record, outcomes);
            }
        }
    }

    /// Runs one datum through the record plan, counting and timing its stages under the
    /// shard of `worker` (`None`: a caller's thread). Returns the record, and the run's
    /// outcomes if something must be reported.
    pub(crate) fn process(
        &self,
        wiring: &Wiring,
        datum: T,
        worker: Option<usize>,
    ) -> (Record, Option<Outcomes>) {
        let oid = ObjectId::new();
        let tracking = self.sup.stats.begin(worker, oid);
        let timer = tracking.timer(wiring);
        let hooks = timer.as_ref().map(|t| t as &dyn Hooks);
        let outcomes = wiring.run(&wiring.record_plan, datum, oid, &*self.executor, hooks);
        let record = wiring.record(oid, &outcomes);
        tracking.finish(wiring, oid, &outcomes);
        let report = !record.is_ok() || !record.unserializable.is_empty();
        (record, report.then_some(outcomes))
    }

    /// Records and emits the failures of a datum's run (rare: only runs that failed).
    pub(crate) fn report(&self, wiring: &Wiring, record: &Record, outcomes: Outcomes) {
        let oid = record.oid;
        let outcomes = Arc::new(outcomes);
        let at = Timestamp::now();
        for failure in record.failures() {
            let FailureKind::Failed(error) = &failure.kind else {
                continue;
            };
            let Some(node) = wiring
                .stage_nodes()
                .find(|&(slot, _)| slot == failure.slot)
                .map(|(_, node)| node)
            else {
                continue;
            };
            self.sup.errors.record(ErrorReport {
                kind: ErrorKind::Stage,
                stage: Some(failure.stage.to_string()),
                slot: Some(failure.slot),
                message: error.to_string(),
                oid: Some(oid.to_hex()),
                at,
            });
            self.sup.emit(Event::StageFailed(Arc::new(Failure {
                oid,
                slot: failure.slot,
                stage: Arc::clone(&failure.stage),
                error: error.clone(),
                at,
                node,
                outcomes: Arc::clone(&outcomes),
            })));
        }
        for u in record.unserializable() {
            let message = serde_json::from_str::<serde_json::Value>(&u.text)
                .ok()
                .and_then(|v| v.get("_exception")?.as_str().map(str::to_owned))
                .unwrap_or_else(|| u.text.clone());
            self.sup.errors.record(ErrorReport {
                kind: ErrorKind::Serialization,
                stage: Some(u.key.clone()),
                slot: None,
                message: message.clone(),
                oid: Some(oid.to_hex()),
                at,
            });
            self.sup.emit(Event::SerializationFailed {
                oid,
                key: u.key.clone(),
                message,
            });
        }
    }

    /// The next datum to process and its sequence number, or `None` when the consumer must
    /// stop.
    fn next_datum(&self) -> Option<(u64, T)> {
        let mut seq = self.ordered.then(|| self.next_seq.lock());
        loop {
            let datum = match self.sup.stop_mode.load(Ordering::Acquire) {
                RUN => match self.queue.take(None) {
                    Taken::Datum(d) => d,
                    Taken::TimedOut | Taken::Woken => continue,
                },
                DRAIN => self.queue.try_take()?,
                _ => return None,
            };
            self.sup.counters.take();
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
        let oid = record.oid;
        let sent = catch_unwind(AssertUnwindSafe(|| self.sink.lock().send(record)));
        self.count(ok);
        let message = match sent {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e.to_string(),
            Err(payload) => timbr_sched::TaskError::from_panic(payload).to_string(),
        };
        self.sink_error(Some(oid), message);
    }

    pub(crate) fn count(&self, ok: bool) {
        if ok {
            self.sup.counters.process();
        } else {
            self.sup.counters.fail();
        }
    }

    pub(crate) fn sink_error(&self, oid: Option<ObjectId>, message: String) {
        self.sup.errors.record(ErrorReport {
            oid: oid.map(|o| o.to_hex()),
            ..ErrorReport::new(ErrorKind::Sink, message.clone())
        });
        if let Some(oid) = oid {
            self.sup.emit(Event::SinkFailed { oid, message });
        }
    }

    pub(crate) fn flush_sink(&self) {
        let flushed = catch_unwind(AssertUnwindSafe(|| self.sink.lock().flush()));
        let message = match flushed {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e.to_string(),
            Err(payload) => timbr_sched::TaskError::from_panic(payload).to_string(),
        };
        self.sink_error(None, message);
    }

    /// A consumer ends. The last one flushes the sink, settles the final state, emits the
    /// closing events and runs the shutdown hooks.
    fn consumer_exited(&self) {
        let mut life = self.sup.life();
        let live = life.live().saturating_sub(1);
        self.sup.set_live(&mut life, live);
        if live > 0 {
            return;
        }
        // Still counted as running while the sink flushes: records are not out yet.
        self.sup.set_live(&mut life, 1);
        drop(life);
        self.flush_sink();
        let mut life = self.sup.life();
        self.sup.set_live(&mut life, 0);
        let end = life.ending.take().unwrap_or_else(|| {
            MachineState::Failed("the consumer threads ended unexpectedly".to_owned())
        });
        life.state = end.clone();
        life.stopped = Some(Instant::now());
        drop(life);
        let _settle = Settle(&self.sup);
        self.sup.life_changed.notify_all();
        if end == MachineState::Completed {
            let counts = self.sup.counters.snapshot();
            let _ = self.sup.decide(&Event::Completed {
                processed: counts.processed,
                failed: counts.failed,
            });
        }
        let _ = self.sup.decide(&Event::Stopped { state: end });
        let status = self.status();
        for plugin in &self.sup.plugins {
            let _ = catch_unwind(AssertUnwindSafe(|| plugin.stopped(&status)));
        }
        for hook in &self.sup.on_shutdown {
            self.sup.run_hook("shutdown", hook, &status);
        }
    }
}
