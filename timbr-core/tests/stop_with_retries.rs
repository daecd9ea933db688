//! A stop returns while data wait aside for a retry: many runs of start, puts, transient
//! failures and `stop(Drain)` or `stop(Return)`, with 2 to 4 workers. A consumer that waits
//! for a retry due later takes the stop's wake-ups in its loop, while another may sleep in a
//! take without a deadline: the stop must still reach every consumer. Each stop runs on its
//! own thread and is waited for with a generous deadline, so a hang fails the test instead of
//! blocking it. After each stop the accounts balance and nothing is lost.

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use timbr_core::{Backoff, Machine, NullSink, RetryPolicy, Stage, StopMode, Transient};

/// How long a stop may take before the test calls it a hang (a drain here waits for at most
/// a few retries of a few milliseconds).
const STOP_DEADLINE: Duration = Duration::from_secs(30);
const ITERATIONS: u64 = 300;

/// A stage that fails transiently on each datum's first call, and on every call for odd
/// data (their retries run out: they end failed).
fn flaky(backoff: Duration) -> Stage {
    let calls = Mutex::new(HashMap::<u64, u32>::new());
    Stage::try_new(0, "flaky", ["input"], move |n: &u64| {
        let mut calls = calls.lock().unwrap();
        let call = calls.entry(*n).or_insert(0);
        *call += 1;
        if *call == 1 || n % 2 == 1 {
            Err(Transient::new("down"))
        } else {
            Ok(*n)
        }
    })
    .unwrap()
    .retry(RetryPolicy::new(3).backoff(Backoff::fixed(backoff)))
}

/// Waits (bounded) until `done` holds.
fn wait_for(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + STOP_DEADLINE;
    while !done() {
        assert!(Instant::now() < deadline, "waited too long for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Stops `machine` on another thread; fails the test if the stop does not return in time.
/// Returns what the stop handed back.
fn stop_within_deadline(machine: &Arc<Machine<u64>>, mode: StopMode, what: &str) -> Vec<u64> {
    let (done_tx, done_rx) = mpsc::channel();
    let stopping = Arc::clone(machine);
    // Not joined if it hangs: the test fails, and the process ends with it.
    std::thread::spawn(move || {
        let _ = done_tx.send(stopping.stop(mode));
    });
    match done_rx.recv_timeout(STOP_DEADLINE) {
        Ok(returned) => returned,
        Err(_) => panic!("{what}: stop({mode:?}) did not return within {STOP_DEADLINE:?}"),
    }
}

#[test]
fn a_stop_returns_while_data_wait_for_a_retry() {
    for i in 0..ITERATIONS {
        let workers = 2 + (i % 3) as usize;
        let mode = if i % 2 == 0 {
            StopMode::Drain
        } else {
            StopMode::Return
        };
        let backoff = Duration::from_millis(1 + i % 5);
        let machine = Arc::new(
            Machine::<u64>::builder()
                .workers(workers)
                .sink(NullSink)
                .stage(flaky(backoff))
                .build()
                .unwrap(),
        );
        machine.start().unwrap();
        let data = 1 + i % 6;
        for n in 0..data {
            machine.put(n).unwrap();
        }
        // The stop comes while a retry waits (or runs): the case a consumer's wait for it
        // swallows the stop's wake-ups.
        wait_for("a retry", || {
            let counts = machine.counts();
            counts.retrying > 0 || counts.processed + counts.failed == data
        });
        let what = format!("iteration {i} ({workers} workers, {data} data)");
        let returned = stop_within_deadline(&machine, mode, &what);
        let counts = machine.counts();
        assert!(counts.is_balanced(), "{what}: {counts:?}");
        match mode {
            StopMode::Drain => {
                assert!(returned.is_empty(), "{what}");
                assert_eq!(counts.processed + counts.failed, data, "{what}: {counts:?}");
                assert_eq!(counts.retrying, 0, "{what}: {counts:?}");
            }
            StopMode::Return => {
                let finished = counts.processed + counts.failed;
                let waiting = counts.retrying + returned.len() as u64;
                assert_eq!(finished + waiting, data, "{what}: {counts:?}");
            }
        }
    }
}
