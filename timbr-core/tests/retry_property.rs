//! Many runs of a threaded machine whose stages fail at random, mostly transiently, some for
//! good, stopped and restarted at random: every datum ends exactly once, as a success record
//! or as a failure record whose failure the store keeps, and the counts always balance.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use timbr_core::sched::Threaded;
use timbr_core::{
    Backoff, ChannelSink, FailureFilter, Machine, Record, RetryPolicy, Stage, StopMode, Transient,
};

/// splitmix64: a reproducible stream of random numbers.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A stage that fails transiently one call in `transient`, for good one in `lasting`.
fn chancy(slot: usize, args: [&'static str; 1], seed: u64) -> Stage {
    let calls = Arc::new(AtomicU64::new(0));
    Stage::try_new(slot, format!("s{slot}"), args, move |n: &u64| {
        let call = calls.fetch_add(1, Ordering::Relaxed);
        let roll = mix(seed ^ mix(*n) ^ call.rotate_left(17)) % 100;
        let error: Box<dyn std::error::Error + Send + Sync> = match roll {
            0..=24 => Box::new(Transient::new(format!("{n} down"))),
            // Not transient: a plain error.
            25..=26 => format!("{n} stays down").into(),
            _ => return Ok(*n),
        };
        Err(error)
    })
    .unwrap()
}

fn machine(
    seed: u64,
    workers: usize,
) -> (
    Machine<u64>,
    timbr_core::crossbeam_channel::Receiver<Record>,
) {
    // Two stages side by side, one after both: failures on either branch.
    let join = Stage::new(2, "join", ["f0", "f1"], |a: &u64, b: &u64| a + b).unwrap();
    let (sink, records) = ChannelSink::unbounded();
    let policy = RetryPolicy::new(3).backoff(
        Backoff::exponential(Duration::from_micros(200), Duration::from_millis(2)).jitter(0.5),
    );
    let machine = Machine::<u64>::builder()
        .stages([
            chancy(0, ["input"], seed),
            chancy(1, ["input"], !seed),
            join,
        ])
        .default_retry(policy)
        .executor(Threaded::new())
        .workers(workers)
        .capacity(16)
        .failure_capacity(100_000)
        .sink(sink)
        .build()
        .unwrap();
    (machine, records)
}

#[test]
fn every_datum_ends_once_as_a_success_or_a_stored_failure() {
    for round in 0..30_u64 {
        let seed = mix(round);
        let workers = 1 + (seed % 4) as usize;
        let (machine, records) = machine(seed, workers);
        let n = 300_u64;
        machine.start().unwrap();
        let mut pending: Vec<u64> = (0..n).collect();
        // Up to three stops that hand the queue back, at random points; then a drain.
        for stop in 0..3 {
            let cut = (mix(seed ^ stop) % (pending.len() as u64 + 1)) as usize;
            let rest = pending.split_off(cut);
            for d in pending.drain(..) {
                machine.put(d).unwrap();
            }
            pending = rest;
            if mix(seed ^ stop ^ 99) % 2 == 0 {
                let returned = machine.stop(StopMode::Return);
                let counts = machine.counts();
                assert!(counts.is_balanced(), "round {round}: {counts:?}");
                pending.extend(returned);
                machine.start().unwrap();
            }
        }
        for d in pending.drain(..) {
            machine.put(d).unwrap();
        }
        machine.stop(StopMode::Drain);

        let got: Vec<Record> = records.try_iter().collect();
        let counts = machine.counts();
        assert!(counts.is_balanced(), "round {round}: {counts:?}");
        assert_eq!(counts.retrying, 0);
        assert_eq!(counts.processed + counts.failed, n, "round {round}");
        assert_eq!(got.len() as u64, n, "one record per datum");
        let stored = machine.failures(&FailureFilter::all()).unwrap();
        let stored_oids: HashSet<&str> = stored.iter().map(|f| f.report.oid.as_str()).collect();
        assert_eq!(stored_oids.len(), stored.len(), "each failure stored once");
        let mut ends: HashMap<u64, u32> = HashMap::new();
        for record in &got {
            let input: u64 = record.json()[1..]
                .split(',')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            *ends.entry(input).or_default() += 1;
            let kept = stored_oids.contains(record.oid_hex().as_str());
            assert_eq!(kept, !record.is_ok(), "round {round}: {record:?}");
            assert!((1..=3).contains(&record.attempts()));
        }
        assert_eq!(ends.len() as u64, n, "round {round}: every datum ended");
        assert!(
            ends.values().all(|&c| c == 1),
            "round {round}: ended once each"
        );
        assert_eq!(stored.len() as u64, counts.failed);
        // The inputs kept are those of the failures.
        for f in &stored {
            assert!(f.input.parse::<u64>().is_ok_and(|d| d < n));
        }
        // A retry is scheduled per failed stage: both branches may fail in one attempt.
        let status = machine.status();
        let retried: u64 = status.stages.iter().map(|s| s.retries.retried).sum();
        let extra: u64 = got.iter().map(|r| u64::from(r.attempts() - 1)).sum();
        assert!(
            extra <= retried && retried <= 2 * extra,
            "round {round}: {extra} {retried}"
        );
    }
}
