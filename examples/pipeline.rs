//! A small text pipeline, end to end: a generated source feeds a running machine whose
//! stages are `#[stage]` functions and a stateful `stage_fn!` closure; one stage fails on
//! purpose every 31st datum, and the machine keeps going, counting where every datum is. It
//! completes by itself when the source is exhausted (the `StopWhenDone` handler), with a
//! progress bar on a terminal (the `Progress` plugin) and its status table at the end.
//!
//! ```text
//! cargo run --release --example pipeline -- [--n N] [--workers W]
//! ```

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use timbr_core::{
    from_stages, stage, stage_fn, ChannelSink, LogAndContinue, Machine, MachineState, Progress,
    StopWhenDone,
};

const WORDS: [&str; 12] = [
    "streams", "never", "sleep", "good", "bad", "data", "flows", "happy", "broken", "pipes",
    "shine", "fail",
];

/// A deterministic sentence for datum `i`.
fn sentence(i: u64) -> String {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..(3 + i % 6))
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            WORDS[(x % WORDS.len() as u64) as usize]
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[stage(0)]
fn words(input: &str) -> usize {
    input.split_whitespace().count()
}

#[stage(1)]
fn mood(input: &str) -> i32 {
    input
        .split_whitespace()
        .map(|w| match w {
            "good" | "happy" | "shine" => 1,
            "bad" | "broken" | "fail" => -1,
            _ => 0,
        })
        .sum()
}

/// Fails on every 31st datum, as the notebook's last stage did.
#[stage(3)]
fn every_31st(f0: &usize, f1: &i32) -> Result<String, String> {
    let n = SEEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
    if n % 31 == 0 {
        return Err(format!("datum #{n} is a 31st"));
    }
    Ok(format!("{f1:+} over {f0} words"))
}

static SEEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    timbr_cli::init_logs();
    let n = arg("--n", 200_000);
    let workers = arg("--workers", 1) as usize;

    let recent: Arc<Mutex<VecDeque<(i32, String)>>> = Arc::default();
    let remember = {
        let recent = Arc::clone(&recent);
        stage_fn!(2, name = "remember", move |f1: &i32,
                                              input: &String|
              -> Result<
            usize,
            &'static str,
        > {
            let mut recent = recent.lock().map_err(|_| "poisoned")?;
            recent.push_back((*f1, input.clone()));
            if recent.len() > 50 {
                recent.pop_front();
            }
            Ok(recent.len())
        })
    };

    let (sink, records) = ChannelSink::bounded(4096);
    let machine: Machine<String> = from_stages![
        Machine::builder()
            .name("pipeline")
            .workers(workers)
            .ordered(true)
            .sink(sink)
            .handler(StopWhenDone::new().and(LogAndContinue::default()))
            .plugin(Progress::new(n)) =>
        words, mood, { remember }, every_31st
    ]?;
    let reader = std::thread::spawn(move || records.iter().filter(|r| !r.is_ok()).count());

    machine.set_source((0..n).map(sentence));
    machine.start()?;
    // On a terminal the progress bar shows the way; elsewhere, a status line now and then.
    let terminal = std::io::stderr().is_terminal();
    while machine.wait_timeout(Duration::from_millis(500)).is_active() {
        if !terminal {
            let s = machine.status();
            println!(
                "{}: {:>8} processed, {:>6} failed, {:>5} queued ({:.0}/s)",
                s.state, s.counts.processed, s.counts.failed, s.queue.depth, s.rate.recent
            );
        }
    }
    machine.stop_drain();
    let status = machine.status();
    drop(machine); // closes the sink's channel
    let failed_records = reader.join().map_err(|_| "reader panicked")?;

    println!("\n{status}");
    println!("\nlast remembered:");
    for (mood, text) in recent.lock().map_err(|_| "poisoned")?.iter().rev().take(3) {
        println!("  {mood:+}  {text}");
    }
    println!(
        "\n{n} data in {:.2?} ({:.0}/s); {failed_records} failed records (every 31st: {})",
        status.uptime,
        status.rate.overall,
        n / 31
    );
    if status.state != MachineState::Completed {
        return Err(format!("the machine did not complete: {}", status.state).into());
    }
    if failed_records as u64 != n / 31 || status.errors.stage != n / 31 {
        return Err("the failure count does not match every 31st datum".into());
    }
    if !status.counts.is_balanced() || status.counts.accepted != n {
        return Err(format!("data went missing: {:?}", status.counts).into());
    }
    Ok(())
}
