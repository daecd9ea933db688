//! Acknowledgement: a queue that hands out deliveries with ids gets each id back exactly
//! once, as an ack only after the sink accepted the record (as a release when the sink
//! refused it); records carry their delivery's id; `get` acknowledges too; a shared queue's
//! arrivals keep every machine's accounts balanced.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use timbr_core::io::{Delivery, DeliveryId, Taken};
use timbr_core::{
    Machine, MemoryQueue, PutTimeoutError, Queue, Record, Sink, SinkError, Stage, StopMode,
    TryPutError,
};

/// What the sink accepted and what the queue was told, shared by both.
#[derive(Default)]
struct Ledger {
    accepted: HashSet<String>,
    acked: Vec<String>,
    released: Vec<String>,
    /// Acks that came before the sink had the record (must stay empty).
    early: Vec<String>,
}

/// A memory queue that numbers its deliveries and reports every ack and release.
struct Numbering {
    inner: Arc<MemoryQueue<u64>>,
    next: AtomicU64,
    ledger: Arc<Mutex<Ledger>>,
    shared: bool,
}

impl Numbering {
    fn deliver(&self, datum: u64) -> Delivery<u64> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        Delivery::with_id(datum, DeliveryId::new(format!("{n}-{datum}")))
    }
}

impl Queue<u64> for Numbering {
    fn try_put(&self, datum: u64) -> Result<(), TryPutError<u64>> {
        self.inner.try_put(datum)
    }
    fn put_until(&self, d: u64, deadline: Option<Instant>) -> Result<(), PutTimeoutError<u64>> {
        self.inner.put_until(d, deadline)
    }
    fn close(&self) {
        self.inner.close()
    }
    fn take(&self, deadline: Option<Instant>) -> Taken<u64> {
        self.inner.take(deadline)
    }
    fn try_take(&self) -> Option<u64> {
        self.inner.try_take()
    }
    fn wake_takers(&self, n: usize) {
        self.inner.wake_takers(n)
    }
    fn len(&self) -> usize {
        self.inner.len()
    }
    fn capacity(&self) -> Option<usize> {
        self.inner.capacity()
    }
    fn take_delivery(&self, deadline: Option<Instant>) -> Taken<Delivery<u64>> {
        match self.inner.take(deadline) {
            Taken::Datum(d) => Taken::Datum(self.deliver(d)),
            Taken::TimedOut => Taken::TimedOut,
            Taken::Woken => Taken::Woken,
        }
    }
    fn try_take_delivery(&self) -> Option<Delivery<u64>> {
        self.inner.try_take().map(|d| self.deliver(d))
    }
    fn ack(&self, id: &DeliveryId) {
        let mut ledger = self.ledger.lock().unwrap();
        if !ledger.accepted.contains(id.as_str()) {
            ledger.early.push(id.to_string());
        }
        ledger.acked.push(id.to_string());
    }
    fn release(&self, id: &DeliveryId) {
        self.ledger.lock().unwrap().released.push(id.to_string());
    }
    fn is_shared(&self) -> bool {
        self.shared
    }
}

/// Accepts every record except those of data divisible by 7; notes what it accepted.
struct Picky(Arc<Mutex<Ledger>>);

impl Sink for Picky {
    fn send(&mut self, record: Record) -> Result<(), SinkError> {
        let origin = record.origin().expect("every record names its delivery");
        let datum: u64 = origin.rsplit('-').next().unwrap().parse().unwrap();
        if datum % 7 == 0 {
            return Err(SinkError::msg("no multiples of 7"));
        }
        self.0.lock().unwrap().accepted.insert(origin.to_owned());
        Ok(())
    }
}

type Parts = (Machine<u64>, Arc<Mutex<Ledger>>, Arc<MemoryQueue<u64>>);

fn machine(workers: usize, ordered: bool, shared: bool) -> Parts {
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let inner = Arc::new(MemoryQueue::new(8));
    let queue = Numbering {
        inner: Arc::clone(&inner),
        next: AtomicU64::new(0),
        ledger: Arc::clone(&ledger),
        shared,
    };
    let machine = Machine::<u64>::builder()
        .queue(queue)
        .workers(workers)
        .ordered(ordered)
        .sink(Picky(Arc::clone(&ledger)))
        .stage(Stage::new(0, "double", ["input"], |x: &u64| x * 2).unwrap())
        .build()
        .unwrap();
    (machine, ledger, inner)
}

#[test]
fn every_delivery_is_acked_after_the_sink_or_released() {
    for round in 0..40_u64 {
        let workers = 1 + (round % 4) as usize;
        let (machine, ledger, _) = machine(workers, round % 2 == 0, false);
        machine.start().unwrap();
        let n = 500;
        for i in 0..n {
            machine.put(i).unwrap();
        }
        machine.stop(StopMode::Drain);
        let ledger = ledger.lock().unwrap();
        assert!(
            ledger.early.is_empty(),
            "acked before the sink: {:?}",
            ledger.early
        );
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for id in ledger.acked.iter().chain(&ledger.released) {
            *seen.entry(id.as_str()).or_default() += 1;
        }
        assert_eq!(seen.len() as u64, n, "every delivery answered");
        assert!(seen.values().all(|&c| c == 1), "answered once each");
        assert_eq!(ledger.released.len() as u64, n.div_ceil(7));
        let acked: HashSet<&String> = ledger.acked.iter().collect();
        assert_eq!(acked, ledger.accepted.iter().collect());
        assert!(machine.counts().is_balanced());
    }
}

#[test]
fn get_acknowledges_and_names_the_origin() {
    let (machine, ledger, _) = machine(1, false, false);
    machine.put(3).unwrap();
    let record = machine.get(Duration::from_secs(5)).unwrap();
    assert_eq!(record.origin(), Some("0-3"));
    assert_eq!(ledger.lock().unwrap().acked, ["0-3"]);
}

#[test]
fn memory_queue_records_have_no_origin() {
    let machine = Machine::<u64>::new();
    machine.put(1).unwrap();
    assert_eq!(machine.get(Duration::from_secs(5)).unwrap().origin(), None);
}

#[test]
fn a_shared_queue_counts_arrivals_and_balances() {
    for _ in 0..20 {
        let (machine, ledger, inner) = machine(2, false, true);
        machine.start().unwrap();
        // Another process's puts: straight into the queue, unseen by this machine until
        // its consumers take them.
        for i in 0..200 {
            inner.put_until(i, None).unwrap();
            assert!(machine.counts().is_balanced());
        }
        machine.stop(StopMode::Drain);
        let counts = machine.counts();
        assert!(counts.is_balanced(), "{counts:?}");
        assert_eq!(counts.accepted, 200);
        assert_eq!(counts.processed + counts.failed, 200);
        assert_eq!(
            ledger.lock().unwrap().acked.len(),
            200 - 200_usize.div_ceil(7)
        );
    }
}

#[test]
fn a_shared_queue_s_data_handed_back_by_stop_are_counted() {
    let (machine, _, inner) = machine(1, false, true);
    // Another process's puts, never taken by a consumer: stop hands them back.
    for i in 0..5 {
        inner.put_until(i, None).unwrap();
    }
    let returned = machine.stop(StopMode::Return);
    assert_eq!(returned, [0, 1, 2, 3, 4]);
    let counts = machine.counts();
    assert!(counts.is_balanced(), "{counts:?}");
    assert_eq!((counts.accepted, counts.returned, counts.queued), (5, 5, 0));
    assert!(machine.status().counts.is_balanced());
}

#[test]
fn a_retried_datum_is_acked_once_when_it_finished_for_good() {
    use timbr_core::{Backoff, RetryPolicy, Transient};
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let inner = Arc::new(MemoryQueue::new(8));
    let queue = Numbering {
        inner: Arc::clone(&inner),
        next: AtomicU64::new(0),
        ledger: Arc::clone(&ledger),
        shared: false,
    };
    // Down for each datum's first call; 8 never comes up (its retries run out).
    let calls = Mutex::new(HashMap::<u64, u32>::new());
    let flaky = Stage::try_new(1, "flaky", ["f0"], move |x: &u64| {
        let mut calls = calls.lock().unwrap();
        let call = calls.entry(*x).or_insert(0);
        *call += 1;
        if *call == 1 || *x == 8 {
            Err(Transient::new("down"))
        } else {
            Ok(*x)
        }
    })
    .unwrap()
    // A backoff long enough that the three data are all waiting at once even on a loaded
    // machine (the wait below looks for that moment; with 30 ms it could pass unseen).
    .retry(RetryPolicy::new(3).backoff(Backoff::fixed(Duration::from_secs(1))));
    let machine = Machine::<u64>::builder()
        .queue(queue)
        .workers(2)
        .sink(Picky(Arc::clone(&ledger)))
        .stage(Stage::new(0, "double", ["input"], |x: &u64| x * 2).unwrap())
        .stage(flaky)
        .build()
        .unwrap();
    machine.start().unwrap();
    for i in [1, 2, 4] {
        machine.put(i).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while machine.counts().retrying < 3 {
        assert!(Instant::now() < deadline, "the retries never came");
        std::thread::sleep(Duration::from_millis(1));
    }
    {
        let ledger = ledger.lock().unwrap();
        assert!(
            ledger.acked.is_empty() && ledger.released.is_empty(),
            "nothing is acknowledged while it waits for a retry: {:?}",
            ledger.acked
        );
    }
    machine.stop(StopMode::Drain);
    let ledger = ledger.lock().unwrap();
    assert!(ledger.early.is_empty(), "{:?}", ledger.early);
    let mut acked = ledger.acked.clone();
    acked.sort();
    // The datum 4 (f0 = 8) failed for good after 3 attempts: its record went to the sink
    // as a failure record, which the sink accepted, so it is acknowledged too, once.
    assert_eq!(acked.len(), 3, "{acked:?}");
    assert!(ledger.released.is_empty());
    assert!(machine.counts().is_balanced());
}
