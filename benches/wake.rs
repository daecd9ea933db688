//! What bounds `wide8_heavy` under Threaded on a small machine: how long a parked thread takes
//! to wake, and when, in each run, the helper starts its first node relative to the caller.
//!
//! Two experiments, printed as plain text (no criterion: the figures are distributions, not
//! means):
//!
//! - `park`: a thread parks; another unparks it after a pause and both note the time. The
//!   difference is the wake-up latency (futex + scheduling an idle CPU; on a VM, an idle vCPU).
//! - `timeline`: `wide8_heavy` (eight ~40 µs nodes after one input) run by [`Threaded`] on
//!   the global pool; every node notes its thread and start/end times. Per run: when the first
//!   node not on the caller started, how many nodes the caller ran, how long the run took.
//!
//! Run with `cargo bench -p timbr-benches --bench wake` (`-- park` or `-- timeline` for one).

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use timbr_sched::{Executor, GraphBuilder, Sequential, TaskError, Threaded, Value};

/// The same node as `sched.rs`'s `wide8_heavy`.
fn heavy(seed: u64) -> u64 {
    let mut x = black_box(seed) | 1;
    for _ in 0..black_box(20_000_u32) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    x
}

/// The `q`-quantile of sorted `v`.
fn q(v: &[f64], q: f64) -> f64 {
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn summary(name: &str, mut v: Vec<f64>) {
    if v.is_empty() {
        println!("{name:<44} n=0");
        return;
    }
    v.sort_by(f64::total_cmp);
    println!(
        "{name:<44} n={:<5} min {:>7.1}  p10 {:>7.1}  p50 {:>7.1}  p90 {:>7.1}  max {:>8.1}  µs",
        v.len(),
        v[0],
        q(&v, 0.1),
        q(&v, 0.5),
        q(&v, 0.9),
        v[v.len() - 1]
    );
}

/// Wake-up latency of a parked thread, after it has been parked for `pause`.
fn park(pause: Duration, rounds: usize) -> Vec<f64> {
    let woke = Arc::new(Mutex::new(None::<Instant>));
    let parked = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let sleeper = {
        let (woke, parked, stop) = (Arc::clone(&woke), Arc::clone(&parked), Arc::clone(&stop));
        thread::spawn(move || loop {
            parked.store(true, Ordering::Release);
            while parked.load(Ordering::Acquire) {
                thread::park();
            }
            *woke.lock().expect("not poisoned") = Some(Instant::now());
            if stop.load(Ordering::Acquire) {
                return;
            }
        })
    };
    let mut out = Vec::with_capacity(rounds);
    for round in 0..=rounds {
        while !parked.load(Ordering::Acquire) {
            thread::yield_now();
        }
        thread::sleep(pause);
        if round == rounds {
            stop.store(true, Ordering::Release);
        }
        let t0 = Instant::now();
        parked.store(false, Ordering::Release);
        sleeper.thread().unpark();
        let t1 = loop {
            if let Some(t) = woke.lock().expect("not poisoned").take() {
                break t;
            }
            thread::yield_now();
        };
        if round < rounds {
            out.push((t1 - t0).as_secs_f64() * 1e6);
        }
    }
    sleeper.join().expect("the sleeper does not panic");
    out
}

type Log = Arc<Mutex<Vec<(ThreadId, Instant, Instant)>>>;

fn timeline(runs: usize) {
    let log = Log::default();
    let mut g = GraphBuilder::new();
    g.input::<u64>("x");
    for k in 0..8 {
        let log = Arc::clone(&log);
        g.task(format!("w{k}"), ["x"], move |a| -> Result<u64, TaskError> {
            let start = Instant::now();
            let v = heavy(*a.get::<u64>(0)?);
            let end = Instant::now();
            log.lock()
                .expect("not poisoned")
                .push((thread::current().id(), start, end));
            Ok(v)
        });
    }
    let graph = g.build().expect("well formed");
    let plan = graph.plan_all();
    let x = graph.node("x").expect("x");
    let once = |executor: &dyn Executor, n: u64| -> Duration {
        let start = Instant::now();
        let mut run = plan.run();
        run.set_value(x, Value::new(n)).expect("a u64 input");
        let out = executor.execute(run, None);
        black_box(&out);
        drop(out);
        start.elapsed()
    };
    let seq: Vec<f64> = (0..runs)
        .map(|n| once(&Sequential, n as u64).as_secs_f64() * 1e6)
        .collect();
    log.lock().expect("not poisoned").clear();
    let threaded = Threaded::new();
    let me = thread::current().id();
    let (mut total, mut helper_late, mut caller_nodes, mut end_gap) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut in_run, mut span, mut start_gap) = (Vec::new(), Vec::new(), Vec::new());
    let mut split = [0_usize; 9];
    for n in 0..runs {
        let start = Instant::now();
        let took = once(&threaded, n as u64);
        let nodes = std::mem::take(&mut *log.lock().expect("not poisoned"));
        let first_caller = nodes
            .iter()
            .filter(|n| n.0 == me)
            .map(|n| n.1)
            .min()
            .expect("the caller runs the first node");
        let first_helper = nodes.iter().filter(|n| n.0 != me).map(|n| n.1).min();
        let mine = nodes.iter().filter(|n| n.0 == me).count();
        let last = nodes.iter().map(|n| n.2).max().expect("eight nodes");
        in_run.extend(nodes.iter().map(|n| (n.2 - n.1).as_secs_f64() * 1e6));
        span.push((last - first_caller).as_secs_f64() * 1e6);
        start_gap.push((first_caller - start).as_secs_f64() * 1e6);
        total.push(took.as_secs_f64() * 1e6);
        caller_nodes.push(mine as f64);
        split[mine] += 1;
        if let Some(h) = first_helper {
            helper_late.push((h - first_caller).as_secs_f64() * 1e6);
        }
        // From the last node's end to `execute` having returned and the outcomes dropped.
        end_gap.push((start + took - last).as_secs_f64() * 1e6);
    }
    let node: Vec<f64> = (0..runs)
        .map(|n| {
            let t = Instant::now();
            black_box(heavy(n as u64));
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    summary("one node alone", node);
    summary("Sequential run", seq);
    summary("Threaded run", total);
    summary("a node, in a Threaded run", in_run);
    summary("run start to caller's first node", start_gap);
    summary("caller's first node start to last node end", span);
    summary("helper's first node after caller's first", helper_late);
    summary("last node's end to execute returned", end_gap);
    summary("nodes the caller ran (of 8)", caller_nodes);
    println!("runs by nodes on the caller (0..=8): {split:?}");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this unoptimized without
    // it, only to check that it works: a few rounds then.
    let rounds = if args.iter().any(|a| a == "--bench") {
        500
    } else {
        10
    };
    let only = args.iter().find(|a| !a.starts_with('-'));
    let want = |name: &str| only.is_none_or(|o| name.contains(o.as_str()));
    if want("park") {
        for pause_us in [0_u64, 50, 200, 1000] {
            let v = park(Duration::from_micros(pause_us), rounds);
            summary(&format!("unpark -> running, parked {pause_us} µs+"), v);
        }
    }
    if want("timeline") {
        timeline(rounds);
    }
}
