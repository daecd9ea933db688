//! The state a machine shares with its threads, and what every path a datum takes (the
//! consumers, `get`) does with it: run it through the current wiring, hand its record to the
//! sink, count it, and report what went wrong.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bson::oid::ObjectId;
use parking_lot::{Mutex, RwLock};
use timbr_sched::{Executor, Hooks, Outcomes};

use crate::datum::entry;
use crate::datum::wiring::Wiring;
use crate::io::source::SourceStatus;
use crate::io::DeliveryId;
use crate::machine::aside::Aside;
use crate::machine::consumer::Reorder;
use crate::machine::machine_queue::MachineQueue;
use crate::machine::retrying::RetryTable;
use crate::machine::supervisor::Supervisor;
use crate::observe::retries::RetryStats;
use crate::unwind;
use crate::{
    datum::{FailureKind, Timestamp},
    observe::{ErrorKind, ErrorReport, FailureStore},
    Datum, Event, Failure, Record, Sink, SourcePolicy,
};

pub(crate) struct Shared<T> {
    pub(crate) queue: MachineQueue<T>,
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
    /// Serializes callers of [`Machine::get`](crate::Machine::get) (they share the
    /// statistics' last shard), and keeps the wiring the last one used with its version: while
    /// the stages stay as they are, a `get` takes neither the wiring's lock nor a reference
    /// to it (four atomic read-modify-writes a datum).
    pub(crate) caller: Mutex<Option<(u64, Arc<Wiring>)>>,
    /// What each datum's processing runs inside, if anything (see
    /// [`MachineBuilder::datum_scope`](crate::MachineBuilder::datum_scope)).
    pub(crate) datum_scope: Option<DatumScope>,
    /// The retry policies the builder gave (the stages carry their own).
    pub(crate) retry: RetryTable,
    /// What each slot's retry policy did.
    pub(crate) retry_stats: RetryStats,
    /// Where data that failed for good are kept.
    pub(crate) failures: Arc<dyn FailureStore>,
    /// Data waiting for a retry, and replays waiting for a worker.
    pub(crate) aside: Aside<T>,
    /// Whether each datum is processed in a `tracing` span (see
    /// [`MachineBuilder::datum_spans`](crate::MachineBuilder::datum_spans)).
    pub(crate) datum_spans: bool,
}

/// A [`MachineBuilder::datum_scope`](crate::MachineBuilder::datum_scope).
pub(crate) type DatumScope = Arc<dyn Fn(&mut dyn FnMut()) + Send + Sync>;

impl<T: Datum> Shared<T> {
    pub(crate) fn current_wiring(&self) -> (u64, Arc<Wiring>) {
        let version = self.wiring_version.load(Ordering::Acquire);
        (version, Arc::clone(&self.wiring.read()))
    }

    /// The wiring for a caller of `get` holding `caller` (the lock above): the one it kept,
    /// unless the stages changed since.
    pub(crate) fn caller_wiring<'c>(
        &self,
        caller: &'c mut Option<(u64, Arc<Wiring>)>,
    ) -> &'c Arc<Wiring> {
        let version = self.wiring_version.load(Ordering::Acquire);
        if !matches!(caller, Some((kept, _)) if *kept == version) {
            *caller = Some(self.current_wiring());
        }
        let (_, wiring) = caller.get_or_insert_with(|| self.current_wiring());
        wiring
    }

    /// Runs one datum through the record plan, counting and timing its stages under the
    /// shard of `worker` (`None`: a caller's thread). Returns the record, and the run's
    /// outcomes if something must be reported.
    pub(crate) fn process<'w>(
        &self,
        wiring: &'w Wiring,
        datum: T,
        worker: Option<usize>,
    ) -> (Record, Option<Outcomes<'w>>) {
        let Some(scope) = &self.datum_scope else {
            return self.process_now(wiring, datum, worker);
        };
        let mut datum = Some(datum);
        let mut done = None;
        scope(&mut || {
            if let Some(datum) = datum.take() {
                done = Some(self.process_now(wiring, datum, worker));
            }
        });
        match (done, datum) {
            (Some(done), _) => done,
            // The scope never called its body: the datum is still here.
            (None, Some(datum)) => self.process_now(wiring, datum, worker),
            // A body that took the datum sets the result unless it panicked: only a scope
            // that caught that panic and returned gets here. The panic goes on.
            (None, None) => panic!("the datum scope caught a panic of the datum's processing"),
        }
    }

    fn process_now<'w>(
        &self,
        wiring: &'w Wiring,
        datum: T,
        worker: Option<usize>,
    ) -> (Record, Option<Outcomes<'w>>) {
        let oid = ObjectId::new();
        if self.datum_spans {
            return self.process_in_span(wiring, datum, worker, oid);
        }
        self.process_as(wiring, datum, worker, oid)
    }

    /// [`process_now`](Self::process_now) inside the datum's `tracing` span: apart, so that
    /// the path without spans stays as it was.
    #[cold]
    #[inline(never)]
    fn process_in_span<'w>(
        &self,
        wiring: &'w Wiring,
        datum: T,
        worker: Option<usize>,
        oid: ObjectId,
    ) -> (Record, Option<Outcomes<'w>>) {
        let span =
            tracing::info_span!(target: "timbr::datum", "datum", machine = %self.sup.name, %oid);
        let _inside = span.enter();
        self.process_as(wiring, datum, worker, oid)
    }

    /// Runs `datum` as `oid`.
    fn process_as<'w>(
        &self,
        wiring: &'w Wiring,
        datum: T,
        worker: Option<usize>,
        oid: ObjectId,
    ) -> (Record, Option<Outcomes<'w>>) {
        let tracking = self.sup.stats.begin(worker, oid);
        let timer = tracking.timer(wiring);
        let hooks = timer.as_ref().map(|t| t as &dyn Hooks);
        let outcomes = wiring.run(&wiring.record_plan, datum, oid, &*self.executor, hooks);
        let record = Record::assemble(wiring, oid, &outcomes);
        // The record plan runs every stage: no failure means every stage gave a value.
        tracking.finish(wiring, oid, &outcomes, record.is_ok());
        let report = record.has_issues();
        (record, report.then_some(outcomes))
    }

    /// Records and emits the failures of a datum's run (rare: only runs that failed).
    pub(crate) fn report(&self, wiring: &Wiring, record: &Record, outcomes: Outcomes<'_>) {
        let oid = record.oid;
        let texts: Arc<[_]> = if record.is_ok() {
            Arc::new([])
        } else {
            entry::uncomputed_texts(wiring, &outcomes).into()
        };
        // Failure events may outlive this wiring's borrow: they hold a share of the plan.
        let outcomes = Arc::new(outcomes.into_owned());
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
                texts: Arc::clone(&texts),
            })));
        }
        for u in record.unserializable() {
            let message = u.message.clone();
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

    /// Hands a record to the sink and counts its datum (in the lane of `worker`, the thread
    /// sending); then acknowledges the datum's delivery if the sink took the record, or
    /// releases it for a later delivery if not.
    pub(crate) fn send(&self, record: Record, worker: usize) {
        let ok = record.is_ok();
        let oid = record.oid;
        // `None` for the in-memory queue: acknowledging costs nothing there.
        let origin = record.origin.clone().map(DeliveryId::from);
        // A panicking sink is a sink error: the datum is counted, its record lost to it.
        let sent = unwind::catch(|| self.sink.lock().send(record));
        self.sup.counters.lane(Some(worker)).count(ok);
        let accepted = matches!(sent, Ok(Ok(())));
        if let Some(id) = origin {
            if accepted {
                self.queue.ack(&id);
            } else {
                self.queue.release(&id);
            }
        }
        let message = match sent {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e.to_string(),
            Err(panic) => format!("the sink panicked: {panic}"),
        };
        self.sink_error(Some(oid), message);
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
        let flushed = unwind::catch(|| self.sink.lock().flush());
        let message = match flushed {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e.to_string(),
            Err(panic) => format!("the sink panicked while flushing: {panic}"),
        };
        self.sink_error(None, message);
    }
}
