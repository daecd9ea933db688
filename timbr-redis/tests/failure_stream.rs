//! The fleet's failure stream: a datum whose stage said no for good goes to
//! `<stream>:failures` with its input, stage, error, attempts and origin, written with its
//! entry's acknowledgement (packed or not); the balance counts it as `failed`; a replay puts
//! it back on the queue keeping its origin, and a fixed machine's success record replaces
//! the failure record with the balance exact; a purge drops it (counted purged).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use timbr_core::FailureFilter;
use timbr_core::{Machine, Stage, StopMode};
use timbr_redis::{Fleet, RedisFailureStore, RedisOptions, RedisQueue};
use timbr_testkit::*;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Item {
    n: u64,
}

/// A machine on `options` whose stage `check` refuses multiples of 5 unless `fixed`.
fn machine(options: &RedisOptions, fixed: bool, packed: bool) -> Machine<Item> {
    build(options, fixed, packed, false)
}

/// As `machine`, with the fleet's failure stream as its failure store if `store`.
fn build(options: &RedisOptions, fixed: bool, packed: bool, store: bool) -> Machine<Item> {
    let queue = RedisQueue::<Item>::connect(options.clone()).unwrap();
    let check = Stage::try_new(0, "check", ["input"], move |i: &Item| {
        if i.n % 5 == 0 && !fixed {
            Err(format!("{} is a multiple of 5", i.n))
        } else {
            Ok(i.n * 10)
        }
    })
    .unwrap();
    let mut builder = Machine::<Item>::builder()
        .queue(queue.clone())
        .sink(queue.sink("results").packed(packed))
        .workers(2)
        .stage(check);
    if store {
        builder = builder.failure_store(RedisFailureStore::connect(options.clone()).unwrap());
    }
    let machine = builder.build().unwrap();
    machine.start().unwrap();
    machine
}

fn run(pack: usize) {
    const N: u64 = 1_000;
    let server = Server::start();
    let options = RedisOptions::new(server.url(), "items")
        .consumer("w")
        .pack(pack)
        .batch(64);
    let queue = RedisQueue::<Item>::connect(options.clone()).unwrap();
    queue.put_all((0..N).map(|n| Item { n })).unwrap();
    let mut fleet = Fleet::connect(options.clone()).unwrap();

    let broken = machine(&options, false, pack > 1);
    until("every datum acknowledged or failed", || {
        let b = fleet.balance().unwrap();
        b.acked_data + b.failed == N && b.pending == 0
    });
    broken.stop(StopMode::Drain);
    let balance = fleet.balance().unwrap();
    assert!(balance.is_balanced(), "{balance}");
    assert_eq!(
        (balance.failed, balance.acked_data),
        (N / 5, N - N / 5),
        "{balance}"
    );
    assert!(
        balance.to_string().contains(" + failed 200: balanced"),
        "{balance}"
    );
    drop(broken);

    // Each failure once, with what a user needs to act on it.
    let failures = fleet.failures(10 * N as usize).unwrap();
    assert_eq!(failures.len() as u64, N / 5);
    assert_eq!(fleet.failure_count().unwrap(), N / 5);
    let mut by_origin: HashMap<&str, &timbr_redis::Failure> = HashMap::new();
    for f in &failures {
        let item: Item = serde_json::from_str(&f.datum).unwrap();
        assert_eq!(item.n % 5, 0, "{f:?}");
        assert_eq!((f.stage.as_str(), f.slot, f.attempts), ("check", 0, 1));
        assert_eq!(f.error, format!("{} is a multiple of 5", item.n));
        assert_eq!(f.consumer, "w");
        assert_eq!(f.oid.len(), 24);
        assert_eq!(f.origin.contains('#'), pack > 1, "{f:?}");
        assert!(
            by_origin.insert(f.origin.as_str(), f).is_none(),
            "once: {f:?}"
        );
    }
    let results = fleet.results("results").unwrap();
    assert_eq!((results.records, results.failed), (N, N / 5));
    assert_eq!((results.duplicates, results.replaced), (0, 0));
    let page = fleet
        .result_records("results", None, 10 * N as usize)
        .unwrap();
    for r in page.records.iter().filter(|r| r.failed.is_some()) {
        let f = by_origin[r.origin.as_str()];
        assert_eq!(
            (r.oid.as_str(), r.failed.as_deref()),
            (f.oid.as_str(), Some("check"))
        );
    }

    // A purge of one, a replay of the rest on a fixed machine.
    let purged = failures[0].failure_id.as_str();
    assert_eq!(fleet.purge_failures(&[purged, "0-1"]).unwrap(), 1);
    let fixed = machine(&options, true, pack > 1);
    let mut replayed = 0;
    let report = fleet.replay_all(|_| true, |_, _| replayed += 1).unwrap();
    assert_eq!(
        (report.replayed, report.left, report.gone),
        (N / 5 - 1, 0, 0)
    );
    assert_eq!(replayed, N / 5 - 1);
    until("every replay acknowledged", || {
        let b = fleet.balance().unwrap();
        b.failed == 0 && b.pending == 0 && b.unread == 0 && b.acked_data == N - 1
    });
    fixed.stop(StopMode::Drain);
    let balance = fleet.balance().unwrap();
    assert!(balance.is_balanced(), "{balance}");
    assert_eq!((balance.failed, balance.purged), (0, 1), "{balance}");

    // Every failure but the purged one replaced by a success record with its origin.
    let results = fleet.results("results").unwrap();
    assert_eq!(results.replaced, N / 5 - 1);
    assert_eq!((results.duplicates, results.distinct), (0, N));
    let page = fleet
        .result_records("results", None, 10 * N as usize)
        .unwrap();
    let replays: Vec<_> = page.records[N as usize..].iter().collect();
    assert_eq!(replays.len() as u64, N / 5 - 1);
    for r in replays {
        assert!(r.failed.is_none(), "{r:?}");
        assert!(by_origin.contains_key(r.origin.as_str()), "{r:?}");
        let array: Vec<serde_json::Value> = serde_json::from_str(&r.record).unwrap();
        assert_eq!(array[1], array[0]["n"].as_u64().unwrap() * 10);
    }
}

#[test]
fn failures_of_single_entries_are_kept_replayed_and_purged_exactly() {
    run(1);
}

#[test]
fn failures_of_packed_data_are_written_with_their_packs_acknowledgement() {
    run(8);
}

#[test]
fn a_fleet_workers_failure_store_is_the_failure_stream() {
    const N: u64 = 100;
    let server = Server::start();
    let options = RedisOptions::new(server.url(), "items")
        .consumer("w")
        .batch(16);
    let queue = RedisQueue::<Item>::connect(options.clone()).unwrap();
    queue.put_all((0..N).map(|n| Item { n })).unwrap();
    let mut fleet = Fleet::connect(options.clone()).unwrap();
    let broken = build(&options, false, false, true);
    until("every datum acknowledged or failed", || {
        let b = fleet.balance().unwrap();
        b.acked_data + b.failed == N && b.pending == 0
    });
    broken.stop(StopMode::Drain);
    // Written once (with the acknowledgement, not again by the store), listed from Redis.
    assert_eq!(fleet.failure_count().unwrap(), N / 5);
    let listed = broken.failures(&FailureFilter::all()).unwrap();
    assert_eq!(listed.len() as u64, N / 5);
    let tens = broken
        .failures(&FailureFilter::all().error_contains("0 is a multiple"))
        .unwrap();
    assert_eq!(tens.len() as u64, N / 10);
    assert!(listed
        .iter()
        .all(|f| f.report.origin.is_some() && f.report.stage == "check"));
    let summary = broken.failure_summary();
    assert_eq!(summary.stored, N / 5);
    assert_eq!(
        summary.recent[0].oid,
        listed.last().unwrap().report.oid,
        "newest first"
    );
    drop(broken);

    // A replay from a (fixed) machine goes through the queue: any worker takes it.
    let fixed = build(&options, true, false, true);
    assert_eq!(
        fixed
            .replay_failures(&FailureFilter::all().stage("check"))
            .unwrap(),
        0
    );
    until("every replay acknowledged", || {
        let b = fleet.balance().unwrap();
        b.failed == 0 && b.pending == 0 && b.unread == 0 && b.acked_data == N
    });
    fixed.stop(StopMode::Drain);
    assert!(fleet.balance().unwrap().is_balanced());
    let results = fleet.results("results").unwrap();
    assert_eq!((results.replaced, results.duplicates), (N / 5, 0));
}
