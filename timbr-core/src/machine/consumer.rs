//! The consumer loop: take a datum, run it through the current wiring, deliver its record
//! (in input order if asked), count it and report what went wrong; the last consumer out
//! ends the machine's life.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::machine::life::{Exit, Mode, Settle};
use crate::machine::shared::Shared;
use crate::machine::thread_role::mark_machine_thread;
use crate::{Datum, Delivery, Event, MachineState, Record, Taken};

/// How long a draining consumer waits for a source's put in progress before it looks again.
const SOURCE_PUT_WAIT: Duration = Duration::from_millis(1);

#[derive(Default)]
pub(crate) struct Reorder {
    next: u64,
    pending: BTreeMap<u64, Record>,
}

/// Ends a consumer's life however its thread ends: the last one out settles the machine's
/// final state.
struct Exiting<'a, T: Datum>(&'a Shared<T>);

impl<T: Datum> Drop for Exiting<'_, T> {
    fn drop(&mut self) {
        self.0.consumer_exited();
    }
}

impl<T: Datum> Shared<T> {
    /// The consumer thread's body. `live` was incremented for it by the spawner.
    pub(crate) fn consume(&self, worker: usize) {
        mark_machine_thread();
        let _exiting = Exiting(self);
        let (mut version, mut wiring) = self.current_wiring();
        while let Some((seq, Delivery { datum, id })) = self.next_datum(worker) {
            if self
                .wiring_version
                .load(std::sync::atomic::Ordering::Acquire)
                != version
            {
                (version, wiring) = self.current_wiring();
            }
            let (mut record, failed) = self.process(&wiring, datum, Some(worker));
            // The record carries its delivery's id: `send` acknowledges it once the sink has
            // the record, and readers downstream recognise a datum delivered twice.
            record.origin = id.map(|id| id.to_arc());
            let report = failed.map(|outcomes| (outcomes, record.clone()));
            self.deliver(seq, record, worker);
            if let Some((outcomes, record)) = report {
                self.report(&wiring, &record, outcomes);
            }
        }
    }

    /// The next datum to process and its sequence number, or `None` when the consumer must
    /// stop.
    fn next_datum(&self, worker: usize) -> Option<(u64, Delivery<T>)> {
        let mut seq = self.ordered.then(|| self.next_seq.lock());
        loop {
            let datum = match self.sup.life.mode() {
                Mode::Run => match self.queue.take_delivery(None) {
                    Taken::Datum(d) => d,
                    Taken::TimedOut | Taken::Woken => continue,
                },
                Mode::Drain => {
                    // Read before the queue (see `life`'s module docs): a source put that
                    // began after this read cannot land, one that began before is waited for.
                    let source_may_put = self.sup.life.source_may_put();
                    match self.queue.try_take_delivery() {
                        Some(d) => d,
                        None if !source_may_put => return None,
                        // The put lands in a moment (or is dropped or refused): its datum
                        // wakes this take at once, the deadline only bounds the other cases.
                        None => match self
                            .queue
                            .take_delivery(Some(Instant::now() + SOURCE_PUT_WAIT))
                        {
                            Taken::Datum(d) => d,
                            Taken::TimedOut | Taken::Woken => continue,
                        },
                    }
                }
                Mode::Return => return None,
            };
            if self.queue.is_shared() {
                // Other processes put it: it enters this machine's accounts as it arrives.
                self.sup.counters.accept();
            }
            self.sup.counters.lane(Some(worker)).take();
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

    /// Sends `record` (in ordered mode, with every record it held back), counting under
    /// `worker`'s lane: this thread's.
    fn deliver(&self, seq: u64, record: Record, worker: usize) {
        if !self.ordered {
            return self.send(record, worker);
        }
        let mut reorder = self.reorder.lock();
        reorder.pending.insert(seq, record);
        loop {
            let next = reorder.next;
            let Some(record) = reorder.pending.remove(&next) else {
                break;
            };
            reorder.next += 1;
            self.send(record, worker);
        }
    }

    /// A consumer ends. The last one flushes the sink, settles the final state, emits the
    /// closing events and runs the shutdown hooks.
    fn consumer_exited(&self) {
        let life = &self.sup.life;
        if life.consumer_exited() == Exit::Others {
            return;
        }
        // Still counted as running while the sink flushes: records are not out yet.
        self.flush_sink();
        // What the queue reported until now (the flush included) comes before `Stopped`.
        self.sup.deliver_queue_events();
        let end = life.end();
        let _settle = Settle(life);
        if end == MachineState::Completed {
            let counts = self.sup.counts();
            let _ = self.sup.decide(&Event::Completed {
                processed: counts.processed,
                failed: counts.failed,
            });
        }
        let _ = self.sup.decide(&Event::Stopped { state: end });
        let status = self.status();
        self.sup.each_plugin("stopped", |p| p.stopped(&status));
        self.sup
            .run_hooks("shutdown", &self.sup.on_shutdown, &status);
    }
}
