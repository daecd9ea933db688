//! Retries: transient failures that recover on a later attempt (counted, records say how many
//! attempts, the stages before the failed one not run again), exhausted retries and errors
//! that are not transient ending in the failure store, a datum waiting for its retry when the
//! machine stops or drains (nothing lost, stop returns), output order kept, and the queue's
//! acknowledgement only once the datum finished for good.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use timbr_core::{
    Backoff, ChannelSink, FailureFilter, Machine, Record, RetryPolicy, Stage, StopMode, Transient,
};

const WAIT: Duration = Duration::from_secs(30);

fn quick(attempts: u32) -> RetryPolicy {
    RetryPolicy::new(attempts).backoff(Backoff::fixed(Duration::from_millis(1)))
}

/// A stage at slot 1 that fails transiently on each datum's first `fails[n]` calls, after a
/// stage at slot 0 counting its own calls per datum.
fn flaky(fails: HashMap<u64, u32>) -> (Vec<Stage>, Arc<Mutex<HashMap<u64, u32>>>) {
    let first_calls = Arc::new(Mutex::new(HashMap::new()));
    let counted = Arc::clone(&first_calls);
    let first = Stage::new(0, "first", ["input"], move |n: &u64| {
        *counted.lock().unwrap().entry(*n).or_insert(0) += 1;
        *n
    })
    .unwrap();
    let calls = Mutex::new(HashMap::<u64, u32>::new());
    let second = Stage::try_new(1, "second", ["f0"], move |n: &u64| {
        let mut calls = calls.lock().unwrap();
        let call = calls.entry(*n).or_insert(0);
        *call += 1;
        if *call <= fails.get(n).copied().unwrap_or(0) {
            Err(Transient::new(format!("{n} not yet (call {call})")))
        } else {
            Ok(n * 10)
        }
    })
    .unwrap();
    (vec![first, second], first_calls)
}

fn drain(records: &timbr_core::crossbeam_channel::Receiver<Record>, n: usize) -> Vec<Record> {
    (0..n)
        .map(|_| records.recv_timeout(WAIT).unwrap())
        .collect()
}

#[test]
fn transient_failures_recover_on_a_later_attempt_without_rerunning_earlier_stages() {
    let (stages, first_calls) = flaky(HashMap::from([(1, 1), (2, 2)]));
    let (sink, records) = ChannelSink::unbounded();
    let machine = Machine::<u64>::builder()
        .stages(stages)
        .retry("second", quick(3))
        .sink(sink)
        .build()
        .unwrap();
    machine.start().unwrap();
    for n in 0..3 {
        machine.put(n).unwrap();
    }
    let mut got = drain(&records, 3);
    got.sort_by_key(|r| r.json().to_owned());
    let attempts: Vec<u32> = got.iter().map(Record::attempts).collect();
    assert!(got.iter().all(Record::is_ok), "{got:?}");
    assert_eq!(attempts, [1, 2, 3], "records say how many attempts");
    machine.stop(StopMode::Drain);
    let calls = first_calls.lock().unwrap();
    assert!(
        calls.values().all(|&c| c == 1),
        "stage 0 ran once per datum: {calls:?}"
    );
    let status = machine.status();
    let second = &status.stages[1].retries;
    assert_eq!(
        (second.retried, second.recovered, second.exhausted),
        (3, 2, 0)
    );
    assert_eq!(status.stages[1].calls, 6, "each attempt is a call");
    assert_eq!(status.stages[1].errors, 3);
    assert_eq!(status.stages[0].calls, 3);
    let counts = machine.counts();
    assert_eq!(
        (counts.processed, counts.failed, counts.retrying),
        (3, 0, 0)
    );
    assert!(counts.is_balanced(), "{counts:?}");
    assert_eq!(status.failures.stored, 0);
}

#[test]
fn exhausted_retries_and_lasting_errors_end_in_the_failure_store() {
    let (mut stages, _) = flaky(HashMap::from([(4, 99)]));
    // 5 * 10 = 50: `third` fails on it with an error that is not transient.
    let third = Stage::try_new(2, "third", ["f1"], |n: &u64| {
        if *n == 50 {
            Err("fifty is not allowed")
        } else {
            Ok(*n)
        }
    })
    .unwrap();
    stages.push(third);
    let (sink, records) = ChannelSink::unbounded();
    let machine = Machine::<u64>::builder()
        .stages(stages)
        .retry("second", quick(3))
        .sink(sink)
        .build()
        .unwrap();
    machine.start().unwrap();
    for n in [4, 5, 6] {
        machine.put(n).unwrap();
    }
    let got = drain(&records, 3);
    machine.stop(StopMode::Drain);
    let by_input = |n: u64| {
        got.iter()
            .find(|r| r.json().starts_with(&format!("[{n},")))
            .unwrap()
    };
    let (exhausted, lasting, ok) = (by_input(4), by_input(5), by_input(6));
    assert!(ok.is_ok() && !exhausted.is_ok() && !lasting.is_ok());
    assert_eq!((exhausted.attempts(), lasting.attempts()), (3, 1));
    assert!(
        exhausted.json().contains("4 not yet (call 3)"),
        "{}",
        exhausted.json()
    );

    let stored = machine.failures(&FailureFilter::all()).unwrap();
    assert_eq!(stored.len(), 2);
    let find = |stage: &str| stored.iter().find(|f| f.report.stage == stage).unwrap();
    let (second, third) = (find("second"), find("third"));
    assert_eq!(second.report.oid, exhausted.oid_hex());
    assert_eq!(second.report.slot, 1);
    assert_eq!(second.report.error, "4 not yet (call 3)");
    assert_eq!(second.report.attempts, 3);
    assert_eq!(second.report.origin, None);
    assert_eq!(second.input, "4");
    assert_eq!(third.report.oid, lasting.oid_hex());
    assert_eq!((third.report.attempts, third.input.as_str()), (1, "5"));
    assert_eq!(third.report.error, "fifty is not allowed");

    let status = machine.status();
    assert_eq!(status.stages[1].retries.exhausted, 1);
    assert_eq!(status.stages[1].retries.retried, 2);
    assert_eq!(status.stages[2].retries, Default::default());
    assert_eq!(status.failures.stored, 2);
    assert_eq!(status.failures.recent.len(), 2);
    assert!(status.failures.recent.contains(&second.report));
    assert_eq!((status.counts.failed, status.counts.processed), (2, 1));
    assert!(status.counts.is_balanced());
}

#[test]
fn an_error_that_is_not_transient_is_not_retried() {
    let calls = Arc::new(AtomicU32::new(0));
    let c = Arc::clone(&calls);
    let fails = Stage::try_new(0, "fails", ["input"], move |_: &u8| -> Result<u8, &str> {
        c.fetch_add(1, Ordering::SeqCst);
        Err("bad input")
    })
    .unwrap()
    .retry(quick(5));
    let (sink, records) = ChannelSink::unbounded();
    let machine = Machine::<u8>::builder()
        .stage(fails)
        .sink(sink)
        .build()
        .unwrap();
    machine.start().unwrap();
    machine.put(1).unwrap();
    let record = records.recv_timeout(WAIT).unwrap();
    machine.stop(StopMode::Drain);
    assert_eq!((record.attempts(), calls.load(Ordering::SeqCst)), (1, 1));
    let status = machine.status();
    assert_eq!(status.stages[0].retries, Default::default());
    assert_eq!(status.failures.recent[0].attempts, 1);
}
