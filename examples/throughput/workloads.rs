//! The workloads `throughput` measures: what each one is, and how it runs.

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use timbr_core::{io::ZmqSinkOptions, sched::Threaded, zmq, Machine, Stage, Timing};

/// One workload: its name on the command line is its snake_case name, and its doc line is
/// what `--help` says it measures. `floor_*` ones are hand-written code doing the same
/// work as the machine workload they are the floor of, with no machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub(crate) enum Workload {
    /// The floor of queue_identity8: a bounded channel, an ObjectId's hex, one serialization, the record's text.
    FloorIdentity8,
    /// `Machine::call` on an 8-slot machine of JSON values with no stage (the queue left out).
    CallIdentity8,
    /// `Machine::call` on a u64 machine with no stage: the fixed cost of one call.
    CallU64Identity,
    /// `Machine::call` on a u64 machine of eight `+1` stages (`Stage::new` closures): one stage's glue.
    CallU64Chain8,
    /// call_u64_chain8 with the stages written as `#[stage]` functions (`from_stages!`).
    CallU64Chain8Macro,
    /// The floor of call_u64_chain8: eight direct calls, each writing its slot.
    FloorCallU64Chain8,
    /// `try_put` then `get` on an 8-slot JSON machine with no stage: the queue path.
    QueueIdentity8,
    /// queue_identity8 while a client scrapes its /metrics every 100 ms: what scraping costs.
    QueueIdentity8Scraped,
    /// The floor of queue_stages8: the channel, the eight values and the record's text, by hand.
    FloorStages8,
    /// queue_stages8 with per-stage timing off.
    QueueStages8TimingOff,
    /// The queue path through eight cheap real stages, per-stage timing at its default.
    QueueStages8,
    /// queue_stages8 timing one datum in 16.
    QueueStages8TimingSampled16,
    /// queue_stages8 timing every stage of every datum.
    QueueStages8TimingAll,
    /// A producer thread feeding a running machine (its consumer thread, the null sink).
    RunningIdentity8,
    /// running_identity8 publishing every record on ZeroMQ to a subscriber that gets them all.
    QueueIdentity8Zmq,
    /// A running machine with one worker, a stage of about 20 µs (on --n / 10 data).
    #[value(name = "heavy20us_workers1")]
    Heavy20usWorkers1,
    /// heavy20us_workers1 with two workers: what a second worker gains (on --n / 10 data).
    #[value(name = "heavy20us_workers2")]
    Heavy20usWorkers2,
}

/// Runs a workload on `n` data and says how long it took.
pub(crate) type Runner = Box<dyn Fn(usize) -> Duration>;

impl Workload {
    /// How many data it runs on for `--n n`: a heavy workload runs on a tenth.
    pub(crate) fn size(self, n: usize) -> usize {
        match self {
            Workload::Heavy20usWorkers1 | Workload::Heavy20usWorkers2 => (n / 10).max(100),
            _ => n,
        }
    }

    /// Its runner. A workload on a machine of its own builds it at the first run and keeps
    /// it for the next (the warm-up's, and every round of `--pair`).
    pub(crate) fn runner(self) -> Runner {
        let stages8 = |timing| {
            once(
                move || timbr_workloads::stages8(timing).expect("valid machine"),
                queue,
            )
        };
        match self {
            Workload::FloorIdentity8 => Box::new(floor_identity8),
            Workload::CallIdentity8 => Box::new(call_identity8),
            Workload::CallU64Identity => Box::new(|n| call_u64(&u64_chain(0), n)),
            Workload::CallU64Chain8 => Box::new(|n| call_u64(&u64_chain(8), n)),
            Workload::CallU64Chain8Macro => Box::new(|n| {
                let machine = timbr_workloads::u64_chain8_macro().expect("valid machine");
                call_u64(&machine, n)
            }),
            Workload::FloorCallU64Chain8 => Box::new(floor_call_u64_chain8),
            Workload::QueueIdentity8 => once(Machine::<Value>::new, queue),
            Workload::QueueIdentity8Scraped => Box::new(queue_identity8_scraped),
            Workload::FloorStages8 => Box::new(floor_stages8),
            Workload::QueueStages8TimingOff => stages8(Timing::Off),
            Workload::QueueStages8 => stages8(Timing::default()),
            Workload::QueueStages8TimingSampled16 => stages8(Timing::Sampled(16)),
            Workload::QueueStages8TimingAll => stages8(Timing::All),
            Workload::RunningIdentity8 => Box::new(|n| running(&Machine::new(), n)),
            Workload::QueueIdentity8Zmq => Box::new(queue_identity8_zmq),
            Workload::Heavy20usWorkers1 => Box::new(|n| running(&heavy_machine(1, false), n)),
            Workload::Heavy20usWorkers2 => Box::new(|n| running(&heavy_machine(2, false), n)),
        }
    }
}

/// The datum every JSON workload puts.
fn datum() -> Value {
    json!({"text": "some text here", "id": 123, "user": {"name": "x"}})
}

fn u64_chain(stages: usize) -> Machine<u64> {
    timbr_workloads::u64_chain(stages).expect("valid machine")
}

/// A workload on one machine, built at its first run and kept for the next.
fn once<M: 'static>(build: impl Fn() -> M + 'static, work: fn(&M, usize) -> Duration) -> Runner {
    let machine = std::cell::OnceCell::new();
    Box::new(move |n| work(machine.get_or_init(&build), n))
}

/// The same work as `queue_identity8`, by hand: a bounded channel, a fresh ObjectId's hex, one
/// serialization, and the array text of nine copies of it.
fn floor_identity8(n: usize) -> Duration {
    let template = datum();
    let (tx, rx) = crossbeam_channel::bounded::<Value>(1024);
    let started = Instant::now();
    for _ in 0..n {
        tx.try_send(template.clone())
            .expect("room: one in, one out");
        let d = rx.recv().expect("just sent");
        black_box(timbr_workloads::floor_record(&d));
    }
    started.elapsed()
}

/// The same work as `queue_stages8`, by hand: the bounded channel, a fresh ObjectId's hex, the
/// eight values and the record's array text of their JSON (see
/// [`timbr_workloads::floor_stages8`]).
fn floor_stages8(n: usize) -> Duration {
    let template = datum();
    let (tx, rx) = crossbeam_channel::bounded::<Value>(1024);
    let started = Instant::now();
    for _ in 0..n {
        tx.try_send(template.clone())
            .expect("room: one in, one out");
        let d = rx.recv().expect("just sent");
        black_box(timbr_workloads::floor_stages8(&d));
    }
    started.elapsed()
}

/// `Machine::call` on a `u64` machine (the chains of [`timbr_workloads::u64_chain`]).
fn call_u64(machine: &Machine<u64>, n: usize) -> Duration {
    let started = Instant::now();
    for i in 0..n as u64 {
        black_box(machine.call(black_box(i)));
    }
    started.elapsed()
}

/// What `call_u64_chain8` computes, by hand: eight direct calls, each writing its slot.
fn floor_call_u64_chain8(n: usize) -> Duration {
    let mut slots = [0_u64; 9];
    let started = Instant::now();
    for i in 0..n as u64 {
        timbr_workloads::u64_chain_by_hand(black_box(i), &mut slots);
        black_box(&mut slots);
    }
    started.elapsed()
}

fn call_identity8(n: usize) -> Duration {
    let template = datum();
    let machine = Machine::<Value>::new();
    let started = Instant::now();
    for _ in 0..n {
        black_box(machine.call(template.clone()));
    }
    started.elapsed()
}

/// `queue_identity8` while a client scrapes the machine's `/metrics` (timbr-http, in
/// process) every 100 ms: compare with `queue_identity8` for what scraping costs.
fn queue_identity8_scraped(n: usize) -> Duration {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let machine = Arc::new(Machine::<Value>::new());
    let server =
        timbr_http::serve(&machine, timbr_http::HttpOptions::new()).expect("a loopback port");
    let addr = server.addr();
    let done = Arc::new(AtomicBool::new(false));
    let stop = Arc::clone(&done);
    let (first_tx, first_rx) = std::sync::mpsc::channel();
    let scraper = std::thread::spawn(move || {
        let mut scrapes = 0_u64;
        while !stop.load(Ordering::Acquire) {
            let mut s = std::net::TcpStream::connect(addr).expect("the server listens");
            s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n")
                .expect("a request");
            let mut body = Vec::new();
            s.read_to_end(&mut body).expect("an answer");
            assert!(body.starts_with(b"HTTP/1.1 200"), "a scrape failed");
            scrapes += 1;
            if scrapes == 1 {
                let _ = first_tx.send(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        scrapes
    });
    // The data flow while scrapes come, from the first on: a short run (the smoke test's
    // warm-up takes well under a millisecond) could otherwise end before any scrape did.
    first_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the first scrape within 30 s");
    let elapsed = queue(&machine, n);
    done.store(true, Ordering::Release);
    let scrapes = scraper.join().expect("the scraper does not panic");
    // At least one scrape per 200 ms of the run, and the first.
    assert!(
        scrapes as u128 > elapsed.as_millis() / 200,
        "{scrapes} scrapes in {elapsed:?}"
    );
    elapsed
}

/// `try_put` then `get`, `n` times, on the caller's thread.
fn queue(machine: &Machine<Value>, n: usize) -> Duration {
    let template = datum();
    let started = Instant::now();
    for _ in 0..n {
        machine
            .try_put(template.clone())
            .expect("room: one in, one out");
        black_box(machine.get(Duration::from_secs(1)).expect("just put"));
    }
    started.elapsed()
}

/// A producer thread feeding a running machine; timed until every datum is counted.
fn running(machine: &Machine<Value>, n: usize) -> Duration {
    let template = datum();
    let putter = machine.putter();
    let started = Instant::now();
    machine.start().expect("a fresh machine starts");
    let producer = std::thread::spawn(move || {
        for _ in 0..n {
            putter
                .put(template.clone())
                .expect("the machine outlives its putters");
        }
    });
    producer.join().expect("the producer does not panic");
    machine.stop_drain();
    let elapsed = started.elapsed();
    let counts = machine.counts();
    assert_eq!(
        counts.processed + counts.failed,
        n as u64,
        "every datum processed: {counts:?}"
    );
    elapsed
}

/// `running_identity8` publishing every record on ZeroMQ (a private `ipc://` endpoint) to
/// one subscriber in another thread, which must receive them all: compare with
/// `running_identity8`, whose sink is the null sink.
fn queue_identity8_zmq(n: usize) -> Duration {
    // No high-water mark: the subscriber may fall behind for a while, but must get every
    // record (the machine's cost is what is timed; with a mark, ZeroMQ would drop the excess).
    let mut sink = ZmqSinkOptions::new()
        .sndhwm(0)
        .bind_default()
        .expect("a private ipc endpoint");
    let endpoint = sink.last_endpoint().to_owned();
    let subscriber = std::thread::spawn(move || {
        let sub = zmq::Context::new().socket(zmq::SUB).expect("a SUB socket");
        sub.set_rcvhwm(0)
            .expect("an unlimited queue: count every record");
        sub.set_rcvtimeo(10_000).expect("a timeout");
        sub.set_subscribe(b"").expect("everything");
        sub.connect(&endpoint).expect("the sink's endpoint");
        let mut received = 0;
        while received < n {
            match sub.recv_multipart(0) {
                Ok(frames) if frames.len() == 2 => received += 1,
                Ok(frames) => panic!("a message of {} frames", frames.len()),
                Err(e) => panic!("after {received} of {n} records: {e}"),
            }
        }
        received
    });
    assert!(
        sink.wait_for_subscribers(1, Duration::from_secs(10)),
        "the subscriber connects"
    );
    let machine = Machine::builder()
        .sink(sink)
        .build()
        .expect("valid machine");
    let elapsed = running(&machine, n);
    assert_eq!(subscriber.join().expect("the subscriber does not panic"), n);
    elapsed
}

/// About 20 µs of arithmetic the optimizer cannot skip.
fn heavy(x: &Value) -> u64 {
    let seed = x["id"].as_u64().unwrap_or(1);
    let mut acc = seed;
    for i in 0..24_000_u64 {
        acc = black_box(acc.wrapping_mul(6364136223846793005).wrapping_add(i));
    }
    acc
}

fn heavy_machine(workers: usize, threaded: bool) -> Machine<Value> {
    let stage = Stage::new(0, "heavy", ["input"], heavy).expect("valid stage");
    let builder = Machine::builder().workers(workers).stage(stage);
    let builder = if threaded {
        builder.executor(Threaded::new())
    } else {
        builder
    };
    builder.build().expect("valid machine")
}
