//! The failure store and replays: the live-fix loop end to end (a stage fails on some data,
//! the failures are listed, the fixed stage is swapped in live, the failures replayed, each
//! replaced by exactly one success record), a replay that fails again keeping its origin,
//! filters, the bounded store dropping its oldest, undecodable inputs, and the status's JSON.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use timbr_core::{
    ChannelSink, FailureFilter, Machine, MachineState, Record, ReplayError, Stage, StopMode,
    StopWhenDone, Timestamp,
};

const WAIT: Duration = Duration::from_secs(30);

/// The notebook's stage: a bug on every multiple of 31 (and, with `also`, of `also`).
fn buggy(also: u64) -> Stage {
    Stage::try_new(1, "f1", ["f0"], move |n: &u64| {
        if n % 31 == 0 || (also > 0 && n % also == 0) {
            Err(format!("{n}: not handled"))
        } else {
            Ok(n + 1)
        }
    })
    .unwrap()
}

fn fixed() -> Stage {
    Stage::try_new(1, "f1", ["f0"], |n: &u64| -> Result<u64, String> {
        Ok(n + 1)
    })
    .unwrap()
}

fn parse() -> Stage {
    Stage::new(0, "parse", ["input"], |n: &u64| *n).unwrap()
}

fn records(rx: &timbr_core::crossbeam_channel::Receiver<Record>, n: usize) -> Vec<Record> {
    (0..n).map(|_| rx.recv_timeout(WAIT).unwrap()).collect()
}

#[test]
fn the_live_fix_loop_replaces_every_failure_with_one_success() {
    let (sink, rx) = ChannelSink::unbounded();
    let machine = Machine::<u64>::builder()
        .stages([parse(), buggy(0)])
        .workers(2)
        .handler(StopWhenDone::new())
        .sink(sink)
        .build()
        .unwrap();
    machine.set_source(1..=200_u64);
    machine.start().unwrap();
    assert_eq!(machine.wait(), MachineState::Completed);
    let first = records(&rx, 200);
    machine.stop(StopMode::Drain);

    // See the failures.
    let failed: HashMap<String, &Record> = first
        .iter()
        .filter(|r| !r.is_ok())
        .map(|r| (r.oid_hex(), r))
        .collect();
    assert_eq!(failed.len(), 6, "31, 62, …, 186");
    let stored = machine.failures(&FailureFilter::all().stage("f1")).unwrap();
    assert_eq!(stored.len(), 6);
    assert!(stored.iter().all(|f| failed.contains_key(&f.report.oid)));
    assert!(stored
        .iter()
        .all(|f| f.report.error.ends_with("not handled")));

    // Swap the fixed stage in, live, and replay what failed at it.
    machine.start().unwrap();
    machine.set_stage(fixed()).unwrap();
    assert_eq!(
        machine
            .replay_failures(&FailureFilter::all().stage("f1"))
            .unwrap(),
        6
    );
    let replays = records(&rx, 6);
    machine.stop(StopMode::Drain);

    // Every failure is replaced by exactly one success record.
    assert!(replays.iter().all(Record::is_ok), "{replays:?}");
    let replaced: Vec<&str> = replays.iter().filter_map(Record::replaces).collect();
    let distinct: HashSet<&str> = replaced.iter().copied().collect();
    assert_eq!(replaced.len(), 6);
    assert_eq!(distinct.len(), 6, "no failure replaced twice");
    for oid in &distinct {
        let original = failed[*oid];
        let replay = replays.iter().find(|r| r.replaces() == Some(oid)).unwrap();
        // Same input, a value at the fixed stage now.
        assert_eq!(
            original.json().split(',').next(),
            replay.json().split(',').next()
        );
    }
    assert!(rx.try_recv().is_err(), "nothing else came out");
    assert!(machine.failures(&FailureFilter::all()).unwrap().is_empty());
    let status = machine.status();
    assert_eq!(status.failures.stored, 0);
    assert_eq!(status.failures.replayed, 6);
    let c = status.counts;
    assert_eq!(
        (c.accepted, c.replayed, c.processed, c.failed),
        (200, 6, 200, 6)
    );
    assert!(c.is_balanced(), "{c:?}");
}

#[test]
fn a_replay_that_fails_again_is_stored_again_with_the_first_failure_as_origin() {
    let (sink, rx) = ChannelSink::unbounded();
    let machine = Machine::<u64>::builder()
        .stages([parse(), buggy(0)])
        .sink(sink)
        .build()
        .unwrap();
    machine.start().unwrap();
    machine.put(31).unwrap();
    let first = rx.recv_timeout(WAIT).unwrap();
    assert_eq!(first.replaces(), None);

    // Replayed before the fix: it fails again.
    assert_eq!(machine.replay_failures(&FailureFilter::all()).unwrap(), 1);
    let again = rx.recv_timeout(WAIT).unwrap();
    assert!(!again.is_ok());
    assert_eq!(again.replaces(), Some(first.oid_hex().as_str()));
    let stored = machine.failures(&FailureFilter::all()).unwrap();
    assert_eq!(stored.len(), 1, "stored once, not twice");
    assert_eq!(stored[0].report.oid, again.oid_hex());
    assert_eq!(stored[0].report.origin, Some(first.oid_hex()));

    machine.set_stage(fixed()).unwrap();
    machine.replay_failures(&FailureFilter::all()).unwrap();
    let ok = rx.recv_timeout(WAIT).unwrap();
    assert!(ok.is_ok());
    assert_eq!(
        ok.replaces(),
        Some(first.oid_hex().as_str()),
        "the chain keeps the first failure"
    );
    machine.stop(StopMode::Drain);
    let c = machine.counts();
    assert_eq!(
        (c.accepted, c.replayed, c.failed, c.processed),
        (1, 2, 2, 1)
    );
    assert!(c.is_balanced());
}

#[test]
fn filters_pick_by_stage_error_and_time() {
    let machine = Machine::<u64>::builder()
        .stages([parse(), buggy(5)])
        .build()
        .unwrap();
    let before = Timestamp::now();
    for n in [5, 31, 10] {
        machine.put(n).unwrap();
        machine.get(WAIT).unwrap();
    }
    let all = FailureFilter::all();
    assert_eq!(
        machine.failures(&all).unwrap().len(),
        3,
        "`get` keeps failures too"
    );
    let picked = |f: FailureFilter| machine.failures(&f).unwrap().len();
    assert_eq!(picked(all.clone().error_contains("31:")), 1);
    assert_eq!(picked(all.clone().slot(1)), 3);
    assert_eq!(picked(all.clone().slot(0)), 0);
    assert_eq!(picked(all.clone().stage("parse")), 0);
    assert_eq!(picked(all.clone().since(before)), 3);
    assert_eq!(picked(all.clone().until(before)), 0);

    // A machine that is not running keeps the replays until it starts.
    assert_eq!(
        machine
            .replay_failures(&all.clone().error_contains("10:"))
            .unwrap(),
        1
    );
    let c = machine.counts();
    assert_eq!((c.queued, c.replayed), (1, 1));
    assert!(c.is_balanced(), "{c:?}");
    assert_eq!(machine.failures(&all).unwrap().len(), 2);
    machine.start().unwrap();
    machine.stop(StopMode::Drain);
    let c = machine.counts();
    assert_eq!((c.queued, c.failed), (0, 4), "failed again: no fix");
    assert!(c.is_balanced());
}

#[test]
fn a_full_store_drops_its_oldest_failures_and_says_so() {
    let machine = Machine::<u64>::builder()
        .stages([parse(), buggy(1)])
        .failure_capacity(2)
        .build()
        .unwrap();
    for n in 0..5 {
        machine.put(n).unwrap();
        machine.get(WAIT).unwrap();
    }
    let status = machine.status();
    let f = &status.failures;
    assert_eq!((f.stored, f.capacity, f.dropped), (2, 2, 3));
    let newest: Vec<&str> = f.recent.iter().map(|r| r.error.as_str()).collect();
    assert_eq!(newest, ["4: not handled", "3: not handled"], "newest first");
}

#[test]
fn inputs_that_do_not_decode_stay_stored() {
    // The datum serializes as a string the datum type cannot read back.
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Odd(#[serde(serialize_with = "as_text")] u64);
    fn as_text<S: serde::Serializer>(n: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&n.to_string())
    }
    let fails = Stage::try_new(0, "fails", ["input"], |_: &Odd| -> Result<u8, &str> {
        Err("always")
    })
    .unwrap();
    let machine = Machine::<Odd>::builder().stage(fails).build().unwrap();
    machine.put(Odd(1)).unwrap();
    machine.get(WAIT).unwrap();
    let e = machine.replay_failures(&FailureFilter::all()).unwrap_err();
    assert!(
        matches!(
            e,
            ReplayError::Undecodable {
                replayed: 0,
                kept: 1,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(machine.failures(&FailureFilter::all()).unwrap().len(), 1);
    assert_eq!(machine.counts().replayed, 0);
}

#[test]
fn the_status_names_its_retry_and_failure_fields() {
    let machine = Machine::<u64>::builder()
        .stages([parse(), buggy(0)])
        .build()
        .unwrap();
    machine.put(31).unwrap();
    machine.get(WAIT).unwrap();
    let json = serde_json::to_value(machine.status()).unwrap();
    let f = &json["failures"];
    for key in ["stored", "capacity", "dropped", "replayed", "recent"] {
        assert!(!f[key].is_null(), "failures.{key} in {f}");
    }
    let report = &f["recent"][0];
    for key in ["oid", "slot", "stage", "error", "attempts", "at", "origin"] {
        assert!(report.get(key).is_some(), "{key} in {report}");
    }
    assert_eq!(report["attempts"], 1);
    let retries = &json["stages"][1]["retries"];
    for key in ["retried", "recovered", "exhausted"] {
        assert_eq!(retries[key], 0, "stages[1].retries.{key} in {retries}");
    }
    for key in ["retrying", "replayed"] {
        assert_eq!(json["counts"][key], 0);
    }
    // An older status, without these fields, still reads.
    let mut old = json.clone();
    old.as_object_mut().unwrap().remove("failures");
    old["stages"][1].as_object_mut().unwrap().remove("retries");
    old["counts"].as_object_mut().unwrap().remove("retrying");
    let back: timbr_core::Status = serde_json::from_value(old).unwrap();
    assert_eq!(back.failures, Default::default());
}
