//! A stage reading `_s` keys through empty slots (`f2_s` of an empty slot 2 is `f1_s`,
//! `f0_s` of an empty slot 0 is `in_s`) gets the serialized value of the key passed through,
//! under both executors, in `call` and in a record: the wiring declares each `_s` node a
//! stage reads before that stage, whatever the alias it is read through.

use std::time::Duration;

use serde_json::{json, Value};
use timbr_core::sched::{Executor, Sequential, Threaded};
use timbr_core::{Machine, Serialized, Stage};

/// Slot 0 empty, slot 1 doubles, slot 2 empty, slot 3 quotes every `_s` key it can read.
fn machine(executor: impl Executor + 'static) -> Machine<i64> {
    Machine::<i64>::builder()
        .executor(executor)
        .stage(Stage::new(1, "double", ["input"], |x: &i64| x * 2).unwrap())
        .stage(
            Stage::new(
                3,
                "quote",
                ["f2_s", "f0_s", "input_s", "oid_s", "f1"],
                |f2: &Serialized, f0: &Serialized, input: &str, oid: &str, f1: &i64| {
                    format!("{}|{}|{input}|{}|{f1}", f2.as_str(), f0.as_str(), oid.len())
                },
            )
            .unwrap(),
        )
        .build()
        .unwrap()
}

/// The record `[in_s, f0_s, …, f7_s]` (a machine has 8 slots): slots 4 to 7 are empty and
/// pass `f3` through.
fn expected(x: i64) -> Vec<Value> {
    let quote = format!("{}|{x}|{x}|24|{}", 2 * x, 2 * x);
    let mut record = vec![json!(x), json!(x), json!(2 * x), json!(2 * x)];
    record.extend(std::iter::repeat_n(json!(quote), 5));
    record
}

fn parse(record_json: &str) -> Vec<Value> {
    serde_json::from_str(record_json).expect("a record is a JSON array")
}

#[test]
fn a_stage_reads_serialized_keys_through_empty_slots_under_both_executors() {
    let machines: [(&str, Machine<i64>); 2] = [
        ("sequential", machine(Sequential)),
        ("threaded", machine(Threaded::new())),
    ];
    for (name, machine) in &machines {
        for x in [-7_i64, 0, 5, 1_000_000] {
            let called = machine.call(x);
            let quote = format!("{}|{x}|{x}|24|{}", 2 * x, 2 * x);
            assert_eq!(called.value::<String>("f3").unwrap(), &quote, "{name}");
            let record = called.record();
            assert!(record.is_ok(), "{name}: {:?}", record.failures());
            assert_eq!(parse(record.json()), expected(x), "{name}");

            machine.try_put(x).unwrap();
            let record = machine.get(Duration::from_secs(5)).unwrap();
            assert!(record.is_ok(), "{name}: {:?}", record.failures());
            assert_eq!(parse(record.json()), expected(x), "{name}");
        }
    }
}

#[test]
fn every_stage_is_declared_after_the_nodes_it_reads_and_raw_keys_come_first() {
    // What lets an executor lend a stage its own slot: each argument's node, `_s` ones read
    // through an empty slot's alias included, has a lower index than the stage's.
    let machine = machine(Sequential);
    let called = machine.call(3);
    let graph = called.outcomes().plan().graph();
    for stage in ["f1", "f3"] {
        let id = graph.node(stage).unwrap();
        let deps: Vec<&str> = graph.dependencies(id).map(|d| graph.key(d)).collect();
        assert!(
            graph.dependencies(id).all(|d| d.index() < id.index()),
            "{stage} reads {deps:?}, not all declared before it"
        );
    }
    assert_eq!(
        graph.key(graph.node("f2_s").unwrap()),
        "f1_s",
        "an empty slot's `_s` is the one before it"
    );
    assert_eq!(graph.key(graph.node("f0_s").unwrap()), "in_s");
    // The `_s` nodes no stage reads (`f3_s`) come after every raw key.
    let unread = graph.node("f3_s").unwrap().index();
    for raw in ["in", "oid", "f1", "f3"] {
        assert!(graph.node(raw).unwrap().index() < unread, "{raw}");
    }
}
