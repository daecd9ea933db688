//! Edges a new user hit: putters that outlive their machine, a custom queue that refuses a
//! put, a failed source under `StopWhenDone`, a `put_timeout` that times out. Each test is
//! named after what broke.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use timbr_core::io::Taken;
use timbr_core::{
    ChannelSink, Event, LogAndContinue, Machine, MachineState, MemoryQueue, PutError,
    PutTimeoutError, Queue, StopWhenDone, TryPutError,
};

#[test]
fn a_putter_that_outlives_its_machine_hands_every_datum_back() {
    let machine = Machine::<u64>::builder().capacity(4).build().unwrap();
    let putter = machine.putter();
    putter.try_put(1).unwrap();
    drop(machine);
    assert_eq!(putter.try_put(2), Err(TryPutError::Closed(2)));
    assert_eq!(putter.put(3), Err(PutError::Closed(3)));
    assert_eq!(
        putter.put_timeout(4, Duration::from_secs(1)),
        Err(PutTimeoutError::Closed(4))
    );
}

#[test]
fn a_put_blocked_on_a_full_queue_is_handed_back_when_the_machine_is_dropped() {
    // Many rounds: the drop can come before, during or after each put begins to wait.
    for round in 0..200_u64 {
        let machine = Machine::<u64>::builder().capacity(1).build().unwrap();
        machine.try_put(0).unwrap();
        let putter = machine.putter();
        let blocked = thread::spawn(move || putter.put(round));
        if round % 2 == 0 {
            thread::yield_now();
        }
        drop(machine);
        let outcome = blocked.join().expect("the put returned");
        assert_eq!(outcome, Err(PutError::Closed(round)), "round {round}");
    }
}

#[test]
fn no_datum_accepted_by_a_dying_machine_is_lost() {
    // Producers race the drop: every put either is processed or hands its datum back.
    for _ in 0..50 {
        let (sink, records) = ChannelSink::unbounded();
        let machine = Machine::<u64>::builder()
            .capacity(8)
            .sink(sink)
            .build()
            .unwrap();
        machine.start().unwrap();
        let handed_back = Arc::new(AtomicUsize::new(0));
        let producers: Vec<_> = (0..3_u64)
            .map(|p| {
                let putter = machine.putter();
                let handed_back = Arc::clone(&handed_back);
                thread::spawn(move || {
                    let mut accepted = 0_usize;
                    for i in 0..200 {
                        let datum = p * 1000 + i;
                        let refused = match i % 3 {
                            0 => putter.put(datum).is_err(),
                            1 => putter.try_put(datum).is_err(),
                            _ => putter.put_timeout(datum, Duration::from_millis(5)).is_err(),
                        };
                        if refused {
                            handed_back.fetch_add(1, Ordering::Relaxed);
                        } else {
                            accepted += 1;
                        }
                    }
                    accepted
                })
            })
            .collect();
        thread::yield_now();
        drop(machine);
        let accepted: usize = producers.into_iter().map(|p| p.join().unwrap()).sum();
        let delivered = records.try_iter().count();
        assert_eq!(delivered, accepted, "every accepted datum was processed");
        assert_eq!(accepted + handed_back.load(Ordering::Relaxed), 600);
    }
}

/// A queue that refuses every blocking put (as a remote queue that lost its broker might).
struct Refusing(MemoryQueue<u64>);

impl Queue<u64> for Refusing {
    fn try_put(&self, datum: u64) -> Result<(), TryPutError<u64>> {
        self.0.try_put(datum)
    }
    fn put_until(&self, datum: u64, _: Option<Instant>) -> Result<(), PutTimeoutError<u64>> {
        Err(PutTimeoutError::Closed(datum))
    }
    fn close(&self) {
        self.0.close();
    }
    fn take(&self, deadline: Option<Instant>) -> Taken<u64> {
        self.0.take(deadline)
    }
    fn try_take(&self) -> Option<u64> {
        self.0.try_take()
    }
    fn wake_takers(&self, n: usize) {
        self.0.wake_takers(n)
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn capacity(&self) -> Option<usize> {
        self.0.capacity()
    }
}

#[test]
fn a_put_that_a_custom_queue_refuses_hands_the_datum_back() {
    let machine = Machine::<u64>::builder()
        .queue(Refusing(MemoryQueue::new(4)))
        .build()
        .unwrap();
    assert_eq!(machine.put(7), Err(PutError::Closed(7)));
    let counts = machine.counts();
    assert_eq!((counts.accepted, counts.rejected), (0, 1));
    assert!(counts.is_balanced());
}

/// A queue that cannot take odd data at all (as a durable queue that cannot encode one).
struct OddRefusing(MemoryQueue<u64>);

impl OddRefusing {
    fn reason(datum: u64) -> String {
        format!("{datum} is odd")
    }
}

impl Queue<u64> for OddRefusing {
    fn try_put(&self, datum: u64) -> Result<(), TryPutError<u64>> {
        if datum % 2 == 1 {
            let reason = Self::reason(datum);
            return Err(TryPutError::Rejected { datum, reason });
        }
        self.0.try_put(datum)
    }
    fn put_until(&self, datum: u64, deadline: Option<Instant>) -> Result<(), PutTimeoutError<u64>> {
        if datum % 2 == 1 {
            let reason = Self::reason(datum);
            return Err(PutTimeoutError::Rejected { datum, reason });
        }
        self.0.put_until(datum, deadline)
    }
    fn close(&self) {
        self.0.close();
    }
    fn take(&self, deadline: Option<Instant>) -> Taken<u64> {
        self.0.take(deadline)
    }
    fn try_take(&self) -> Option<u64> {
        self.0.try_take()
    }
    fn wake_takers(&self, n: usize) {
        self.0.wake_takers(n)
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn capacity(&self) -> Option<usize> {
        self.0.capacity()
    }
}

#[test]
fn a_datum_the_queue_rejects_is_handed_back_as_rejected_with_the_reason_not_as_closed() {
    let (sink, records) = ChannelSink::unbounded();
    let machine = Machine::<u64>::builder()
        .queue(OddRefusing(MemoryQueue::new(64)))
        .sink(sink)
        .build()
        .unwrap();
    let rejected = machine.try_put(1).unwrap_err();
    assert!(rejected.is_rejected() && !rejected.is_closed() && !rejected.is_full());
    assert_eq!(
        rejected.to_string(),
        "the queue refused the datum: 1 is odd"
    );
    assert_eq!(rejected.into_inner(), 1, "handed back");
    assert_eq!(
        machine.put(3),
        Err(PutError::Rejected {
            datum: 3,
            reason: "3 is odd".into()
        })
    );
    let timed = machine.put_timeout(5, Duration::from_secs(1)).unwrap_err();
    assert!(timed.is_rejected() && !timed.is_timeout(), "{timed:?}");
    let counts = machine.counts();
    assert_eq!((counts.accepted, counts.rejected), (0, 3));

    // A source's rejected data are skipped, counted and reported; the others are processed.
    machine.set_source(0..10_u64);
    machine.start().unwrap();
    let got: Vec<String> = (0..5)
        .map(|_| {
            records
                .recv_timeout(Duration::from_secs(60))
                .unwrap()
                .json()
                .to_owned()
        })
        .collect();
    assert_eq!(got.len(), 5);
    machine.stop(timbr_core::StopMode::Drain);
    let status = machine.status();
    assert_eq!(status.errors.source, 5, "one report per rejected datum");
    let last = status.last_error.expect("reported");
    assert!(
        last.message.contains("the queue refused a datum: 9 is odd"),
        "{last:?}"
    );
    assert_eq!((status.counts.processed, status.counts.rejected), (5, 8));
    assert!(status.counts.is_balanced(), "{:?}", status.counts);
}

#[test]
fn stop_when_done_ends_a_machine_whose_source_failed() {
    let (sink, records) = ChannelSink::unbounded();
    let machine = Machine::<u64>::builder()
        .handler(StopWhenDone::new().and(LogAndContinue::default()))
        .sink(sink)
        .build()
        .unwrap();
    machine.set_try_source((0..10_u64).map(|n| if n < 5 { Ok(n) } else { Err("feed lost") }));
    machine.start().unwrap();
    let state = machine.wait();
    assert_eq!(
        state,
        MachineState::Failed("source failed: feed lost".into())
    );
    assert_eq!(records.try_iter().count(), 5, "the queue was drained first");
    assert!(machine.counts().is_balanced());
}

#[test]
fn a_put_timeout_that_times_out_raises_queue_full() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let machine = Machine::<u64>::builder()
        .capacity(1)
        .handler(move |e: &Event| {
            log.lock().unwrap().push(e.kind());
            timbr_core::Action::Continue
        })
        .build()
        .unwrap();
    machine.try_put(1).unwrap();
    let timed_out = machine.put_timeout(2, Duration::from_millis(1));
    assert_eq!(timed_out, Err(PutTimeoutError::Timeout(2)));
    assert_eq!(
        *seen.lock().unwrap(),
        [timbr_core::observe::EventKind::QueueFull]
    );
}
