//! End-to-end throughput of a machine, against a hand-written floor doing the same work.
//!
//! ```text
//! cargo run --release --example throughput -- [--json] [--n N] [--only WORKLOAD]
//! cargo run --release --example throughput -- [--json] [--n N] [--rounds R] --pair FLOOR,WORKLOAD
//! ```
//!
//! Prints one line per workload; with `--json`, one JSON object per line with at least
//! `workload`, `datums_per_s` and `us_per_datum`.
//!
//! `--pair` compares two workloads on a noisy machine: `R` rounds (default 21), each running
//! both on `N` data (fewer if either is a heavy workload, which runs on `N / 10` in the table)
//! back to back (in alternating order), and prints the median of the
//! rounds' ratios `WORKLOAD / FLOOR` with its range, and each workload's median time. Two
//! runs a second apart see the same machine, so their ratio holds still where separate runs'
//! times drift by tens of percent.

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use timbr_core::{io::ZmqSinkOptions, sched::Threaded, zmq, Machine, Stage, Timing};

fn datum() -> Value {
    json!({"text": "some text here", "id": 123, "user": {"name": "x"}})
}

struct Args {
    json: bool,
    n: usize,
    only: Option<String>,
    pair: Option<(String, String)>,
    rounds: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        json: false,
        n: 200_000,
        only: None,
        pair: None,
        rounds: 21,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--json" => args.json = true,
            "--n" => {
                args.n = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&n| n > 0)
                    .ok_or("--n takes a number above 0")?
            }
            "--only" => args.only = Some(it.next().ok_or("--only takes a workload name")?),
            "--pair" => {
                let pair = it.next().ok_or("--pair takes FLOOR,WORKLOAD")?;
                let (floor, workload) = pair
                    .split_once(',')
                    .ok_or("--pair takes two workload names: FLOOR,WORKLOAD")?;
                args.pair = Some((floor.to_owned(), workload.to_owned()));
            }
            "--rounds" => {
                args.rounds = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&r| r > 0)
                    .ok_or("--rounds takes a number above 0")?
            }
            "-h" | "--help" => {
                println!("usage: throughput [--json] [--n N] [--only WORKLOAD]");
                println!("       throughput [--json] [--n N] [--rounds R] --pair FLOOR,WORKLOAD");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}` (try --help)")),
        }
    }
    Ok(args)
}

fn report(args: &Args, workload: &str, n: usize, elapsed: Duration, extra: Value) {
    let secs = elapsed.as_secs_f64();
    let per_s = n as f64 / secs;
    let us = secs * 1e6 / n as f64;
    if args.json {
        let mut line = json!({"workload": workload, "n": n, "datums_per_s": per_s.round(), "us_per_datum": (us * 1000.0).round() / 1000.0});
        if let (Some(line), Value::Object(extra)) = (line.as_object_mut(), extra) {
            line.extend(extra);
        }
        println!("{line}");
    } else {
        println!("{workload:<28} {per_s:>12.0} datums/s {us:>10.3} µs/datum");
    }
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

/// A workload on one machine, built at its first run and kept for the next (the warm-up's,
/// and every round of `--pair`).
fn once<M: 'static>(
    build: impl Fn() -> M + 'static,
    work: fn(&M, usize) -> Duration,
) -> Box<dyn Fn(usize) -> Duration> {
    let machine = std::cell::OnceCell::new();
    Box::new(move |n| work(machine.get_or_init(&build), n))
}

/// `--pair`: both workloads back to back, `args.rounds` times, and the median of the rounds'
/// ratios.
///
/// Both run on `n` data: the smaller of the two workloads' own sizes (a heavy workload runs
/// on fewer data than `--n`), so that a round takes no longer than the table's runs.
fn pair(
    args: &Args,
    n: usize,
    floor: (&str, &dyn Fn(usize) -> Duration),
    workload: (&str, &dyn Fn(usize) -> Duration),
) {
    let us = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    floor.1((n / 10).max(10));
    workload.1((n / 10).max(10));
    let (mut floors, mut workloads, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..args.rounds {
        let (f, w) = if round % 2 == 0 {
            let f = floor.1(n);
            (f, workload.1(n))
        } else {
            let w = workload.1(n);
            (floor.1(n), w)
        };
        floors.push(us(f));
        workloads.push(us(w));
        ratios.push(w.as_secs_f64() / f.as_secs_f64());
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let round3 = |x: f64| (x * 1000.0).round() / 1000.0;
    let (lo, hi) = ratios
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    let (ratio, f, w) = (
        median(&mut ratios),
        median(&mut floors),
        median(&mut workloads),
    );
    if args.json {
        println!(
            "{}",
            json!({"pair": [floor.0, workload.0], "n": n, "rounds": args.rounds,
                   "ratio_median": round3(ratio), "ratio_min": round3(lo), "ratio_max": round3(hi),
                   "floor_us_median": round3(f), "workload_us_median": round3(w)})
        );
    } else {
        println!(
            "{} / {}: {ratio:.3}x (rounds {lo:.3}-{hi:.3}), {f:.3} / {w:.3} µs/datum (medians of {} rounds of {n})",
            workload.0, floor.0, args.rounds
        );
    }
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("throughput: {e}");
            std::process::exit(2);
        }
    };
    let heavy_n = (args.n / 10).max(100);
    type Workload = (&'static str, usize, Box<dyn Fn(usize) -> Duration>);
    let workloads: Vec<Workload> = vec![
        ("floor_identity8", args.n, Box::new(floor_identity8)),
        ("call_identity8", args.n, Box::new(call_identity8)),
        (
            "call_u64_identity",
            args.n,
            Box::new(|n| call_u64(&timbr_workloads::u64_chain(0).expect("valid machine"), n)),
        ),
        (
            "call_u64_chain8",
            args.n,
            Box::new(|n| call_u64(&timbr_workloads::u64_chain(8).expect("valid machine"), n)),
        ),
        (
            "call_u64_chain8_macro",
            args.n,
            Box::new(|n| {
                call_u64(
                    &timbr_workloads::u64_chain8_macro().expect("valid machine"),
                    n,
                )
            }),
        ),
        (
            "floor_call_u64_chain8",
            args.n,
            Box::new(floor_call_u64_chain8),
        ),
        (
            "queue_identity8",
            args.n,
            once(Machine::<Value>::new, queue),
        ),
        (
            "queue_identity8_scraped",
            args.n,
            Box::new(queue_identity8_scraped),
        ),
        ("floor_stages8", args.n, Box::new(floor_stages8)),
        (
            "queue_stages8_timing_off",
            args.n,
            once(
                move || timbr_workloads::stages8(Timing::Off).expect("valid machine"),
                queue,
            ),
        ),
        (
            "queue_stages8",
            args.n,
            once(
                move || timbr_workloads::stages8(Timing::default()).expect("valid machine"),
                queue,
            ),
        ),
        (
            "queue_stages8_timing_sampled16",
            args.n,
            once(
                move || timbr_workloads::stages8(Timing::Sampled(16)).expect("valid machine"),
                queue,
            ),
        ),
        (
            "queue_stages8_timing_all",
            args.n,
            once(
                move || timbr_workloads::stages8(Timing::All).expect("valid machine"),
                queue,
            ),
        ),
        (
            "running_identity8",
            args.n,
            Box::new(|n| running(&Machine::new(), n)),
        ),
        ("queue_identity8_zmq", args.n, Box::new(queue_identity8_zmq)),
        (
            "heavy20us_workers1",
            heavy_n,
            Box::new(|n| running(&heavy_machine(1, false), n)),
        ),
        (
            "heavy20us_workers2",
            heavy_n,
            Box::new(|n| running(&heavy_machine(2, false), n)),
        ),
    ];
    if let Some((floor, workload)) = &args.pair {
        let find = |name: &str| {
            workloads
                .iter()
                .find(|(w, _, _)| *w == name)
                .map(|(_, n, run)| (*n, run))
                .ok_or_else(|| format!("no workload `{name}`"))
        };
        match find(floor).and_then(|f| Ok((f, find(workload)?))) {
            Ok(((nf, f), (nw, w))) => pair(&args, nf.min(nw), (floor, f), (workload, w)),
            Err(e) => {
                eprintln!("throughput: {e}");
                std::process::exit(2);
            }
        }
        return;
    }
    if let Some(only) = &args.only {
        if !workloads.iter().any(|(name, _, _)| name == only) {
            eprintln!("throughput: no workload `{only}`");
            std::process::exit(2);
        }
    }
    for (name, n, run) in &workloads {
        if args.only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        // A short warm-up, then the measured run.
        run((*n / 10).max(10));
        let elapsed = run(*n);
        report(&args, name, *n, elapsed, json!({}));
    }
}
