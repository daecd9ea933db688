//! The consumer loop: take a datum, run it through the current wiring, deliver its record
//! (in input order if asked), count it and report what went wrong; the last consumer out
//! ends the machine's life.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::io::{Delivery, Taken};
use crate::machine::aside::{Look, Ready, Replay, Retry};
use crate::machine::life::{Exit, Mode, Settle};
use crate::machine::retrying::Attempt;
use crate::machine::shared::Shared;
use crate::machine::thread_role::mark_machine_thread;
use crate::{Datum, Event, MachineState, Record};

/// How long a draining consumer waits for a source's put in progress before it looks again.
const SOURCE_PUT_WAIT: Duration = Duration::from_millis(1);

#[derive(Default)]
pub(crate) struct Reorder {
    next: u64,
    pending: BTreeMap<u64, Record>,
}

/// What a consumer takes: a datum from the queue, a replay, or a retry that is due.
enum Work<T> {
    Fresh(Delivery<T>),
    Replay(Replay<T>),
    Retry(Box<Retry>),
}

/// The next sequence number, in ordered mode (the lock held); 0 otherwise.
fn next(seq: &mut Option<parking_lot::MutexGuard<'_, u64>>) -> u64 {
    match seq.as_mut() {
        Some(next) => {
            let n = **next;
            **next += 1;
            n
        }
        None => 0,
    }
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
        while let Some((seq, work)) = self.next_work(worker) {
            if self
                .wiring_version
                .load(std::sync::atomic::Ordering::Acquire)
                != version
            {
                (version, wiring) = self.current_wiring();
            }
            let (datum, id, replaces) = match work {
                Work::Fresh(Delivery { datum, id }) => (datum, id, None),
                Work::Replay(Replay { datum, replaces }) => (datum, None, Some(replaces)),
                Work::Retry(retry) => {
                    self.run_retry(*retry, worker);
                    continue;
                }
            };
            let (mut record, failed) = self.process(&wiring, datum, Some(worker));
            // The record carries its delivery's id: `send` acknowledges it once the sink has
            // the record, and readers downstream recognise a datum delivered twice.
            record.origin = id.map(|id| id.to_arc());
            match failed {
                None if replaces.is_none() => self.deliver(seq, record, worker),
                None => {
                    record.set_lineage(1, replaces);
                    self.deliver(seq, record, worker);
                }
                Some(outcomes) => {
                    let attempt = Attempt::first(seq, replaces);
                    self.after_issues(&wiring, record, outcomes, attempt, worker);
                }
            }
        }
    }

    /// The next work and its sequence number, or `None` when the consumer must stop. Data
    /// waiting aside (retries that are due, replays) come before the queue; a retry not due
    /// yet bounds the wait for the queue.
    fn next_work(&self, worker: usize) -> Option<(u64, Work<T>)> {
        let mut seq = self.ordered.then(|| self.next_seq.lock());
        loop {
            let mode = self.sup.life.mode();
            if mode == Mode::Return {
                return None;
            }
            let mut until = None;
            if !self.aside.is_empty() {
                match self.aside.take(Instant::now()) {
                    Look::Ready(Ready::Retry(retry)) => {
                        self.sup.counters.retry_resumed();
                        // It keeps the place in the output order it had.
                        return Some((retry.seq, Work::Retry(retry)));
                    }
                    Look::Ready(Ready::Replay(replay)) => {
                        self.sup.counters.lane(Some(worker)).take();
                        return Some((next(&mut seq), Work::Replay(replay)));
                    }
                    Look::Until(at) => until = Some(at),
                    Look::Empty => {}
                }
            }
            let datum = match mode {
                Mode::Drain => {
                    // Read before the queue (see `life`'s module docs): a source put that
                    // began after this read cannot land, one that began before is waited for.
                    let source_may_put = self.sup.life.source_may_put();
                    match self.queue.try_take_delivery() {
                        Some(d) => d,
                        None if !source_may_put && until.is_none() && self.aside.is_empty() => {
                            return None
                        }
                        // The put lands in a moment (or is dropped or refused): its datum
                        // wakes this take at once, the deadline only bounds the other cases.
                        // A retry waiting aside is waited for: a drain finishes it.
                        None => {
                            let soon = Instant::now() + SOURCE_PUT_WAIT;
                            let deadline = match until {
                                Some(at) if !source_may_put => at,
                                Some(at) => at.min(soon),
                                None => soon,
                            };
                            match self.queue.take_delivery(Some(deadline)) {
                                Taken::Datum(d) => d,
                                Taken::TimedOut | Taken::Woken => continue,
                            }
                        }
                    }
                }
                // Without a deadline only while nothing waits aside. A stop turns the mode
                // first, then wakes one take per consumer; a consumer that sees the stop
                // either leaves (and wakes the others: see `consumer_exited`) or waits with
                // a deadline, so whatever wake-ups it took, no take here sleeps through it.
                // A `get` waiting beside them hands back any it takes (see `take_within`).
                _ => match self.queue.take_delivery(until) {
                    Taken::Datum(d) => d,
                    Taken::TimedOut | Taken::Woken => continue,
                },
            };
            if self.queue.is_shared() {
                // Other processes put it: it enters this machine's accounts as it arrives.
                self.sup.counters.accept();
            }
            self.sup.counters.lane(Some(worker)).take();
            return Some((next(&mut seq), Work::Fresh(datum)));
        }
    }

    /// Sends `record` (in ordered mode, with every record it held back), counting under
    /// `worker`'s lane: this thread's.
    pub(crate) fn deliver(&self, seq: u64, record: Record, worker: usize) {
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
            // The stop's wake-ups were one per consumer, but a consumer that waited for a
            // retry due later may have taken several of them while others slept in a take
            // without a deadline: whoever leaves wakes the rest, so every one sees the stop.
            (self.sup.wake)(self.sup.workers);
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
