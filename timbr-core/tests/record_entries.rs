//! A record's entries are serialized straight into its text (no `_s` node, `String` or `Arc`
//! per value unless a stage asks for the `_s` key): what that must not change — a value that
//! cannot be serialized, or whose `Serialize` panics, is an `_exception` entry with nothing of
//! its partial text left, on every path (`get`, a running machine, `call`); records of any
//! length come out whole; a kept failure still answers the `_s` keys no stage asked for.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Serialize, Serializer};
use serde_json::{json, Value};
use timbr_core::{datum::FailureKind, Debugger, Machine, MachineState, Serialized, Stage};

fn parse(record_json: &str) -> Vec<Value> {
    serde_json::from_str::<Vec<Value>>(record_json).expect("a record is a JSON array")
}

/// Serializes as its number, but panics for odd numbers (a user's broken `Serialize`).
struct Boom(u64);

impl Serialize for Boom {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        assert!(self.0 % 2 == 0, "boom {}", self.0);
        s.serialize_u64(self.0)
    }
}

/// Writes a field, then fails: a map whose keys are not strings.
#[derive(Serialize)]
struct HalfWritten {
    a: u64,
    m: HashMap<(u8, u8), u8>,
}

fn boom_machine(ask_for_f0_s: bool) -> Machine<u64> {
    let mut builder = Machine::<u64>::builder()
        .stage(Stage::new(0, "boom", ["input"], |x: &u64| Boom(*x)).unwrap())
        .stage(Stage::new(2, "after", ["input"], |x: &u64| x + 1).unwrap());
    if ask_for_f0_s {
        builder =
            builder.stage(Stage::new(1, "reads", ["f0_s"], |s: &Serialized| s.len()).unwrap());
    }
    builder.build().unwrap()
}

const BOOM_3: &str = "serializing `f0_s` failed: panicked: boom 3";

#[test]
fn a_panicking_serialize_is_an_exception_entry_whether_or_not_a_stage_reads_it() {
    for ask in [false, true] {
        let machine = boom_machine(ask);
        for x in [3_u64, 4, 3] {
            machine.try_put(x).unwrap();
            let record = machine.get(Duration::from_secs(5)).unwrap();
            let entries = parse(record.json());
            assert_eq!(entries.len(), 9, "{}", record.json());
            assert_eq!(entries[0], json!(x));
            assert_eq!(entries[3], json!(x + 1), "later entries are written");
            if x == 4 {
                assert!(record.is_ok(), "{:?}", record.failures());
                assert_eq!(entries[1], json!(4));
                assert!(record.unserializable().is_empty());
                continue;
            }
            assert_eq!(entries[1], json!({ "_exception": BOOM_3 }), "asked: {ask}");
            if ask {
                // The stage reading `f0_s` is skipped, as for any failed key it reads.
                let failures = record.failures();
                assert_eq!(failures.len(), 1, "{failures:?}");
                assert!(
                    matches!(&failures[0].kind, FailureKind::Skipped { upstream } if upstream == "f0_s"),
                    "{failures:?}"
                );
            } else {
                assert!(record.is_ok(), "no stage failed: {:?}", record.failures());
                // An empty slot repeats f0's entry.
                assert_eq!(entries[2], entries[1]);
            }
            let u = record.unserializable();
            assert_eq!(u.len(), 1, "{u:?}");
            assert_eq!(u[0].key, "f0_s");
            assert_eq!(u[0].message, BOOM_3);
        }
        let counts = machine.counts();
        let expected = if ask { (1, 2) } else { (3, 0) };
        assert_eq!((counts.processed, counts.failed), expected, "asked: {ask}");
    }
}

#[test]
fn a_running_machine_survives_a_panicking_serialize() {
    let machine = boom_machine(false);
    for x in 0..200_u64 {
        machine.put(x).unwrap();
    }
    machine.start().unwrap();
    machine.stop_drain();
    assert!(
        matches!(machine.state(), MachineState::Stopped),
        "{:?}",
        machine.state()
    );
    let counts = machine.counts();
    assert_eq!((counts.processed, counts.failed), (200, 0));
    let status = machine.status();
    assert_eq!(status.stages[0].calls, 200);
}

#[test]
fn call_gives_the_same_exception_text() {
    let machine = boom_machine(false);
    let called = machine.call(3);
    let f0: Value = serde_json::from_str(&called.json("f0").unwrap()).unwrap();
    assert_eq!(f0, json!({ "_exception": BOOM_3 }));
    assert_eq!(parse(called.record().json())[1], f0);
}

#[test]
fn a_value_failing_half_way_leaves_nothing_of_itself() {
    let machine = Machine::<u8>::builder()
        .stage(
            Stage::new(0, "half", ["input"], |x: &u8| HalfWritten {
                a: u64::from(*x),
                m: HashMap::from([((*x, *x), 1)]),
            })
            .unwrap(),
        )
        .build()
        .unwrap();
    machine.try_put(7).unwrap();
    let record = machine.get(Duration::from_secs(5)).unwrap();
    let entries = parse(record.json());
    let message = entries[1]["_exception"].as_str().unwrap();
    assert!(message.starts_with("cannot serialize: "), "{message}");
    assert!(message.contains("key must be a string"), "{message}");
    assert_eq!(entries[1..], vec![entries[1].clone(); 8][..]);
    assert!(!record.json().contains(r#""a":7"#), "{}", record.json());
    assert_eq!(record.unserializable().len(), 1);
    assert_eq!(parse(machine.call(7).record().json()), entries);
}

#[test]
fn records_of_changing_length_come_out_whole() {
    let machine = Machine::<String>::builder()
        .stage(Stage::new(3, "len", ["input"], |s: &String| s.len()).unwrap())
        .build()
        .unwrap();
    // Short, then long enough to outgrow every estimate, then short again, and so on.
    for len in [1, 10, 200_000, 3, 0, 5_000, 70_000, 2, 100, 1] {
        let text: String = (0..len)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        machine.try_put(text.clone()).unwrap();
        let record = machine.get(Duration::from_secs(5)).unwrap();
        let mut expected = vec![json!(text); 4];
        expected.extend(vec![json!(len); 5]);
        assert_eq!(parse(record.json()), expected, "length {len}");
    }
}

#[test]
fn a_kept_failure_answers_the_serialized_keys_no_stage_asked_for() {
    let machine = Machine::<u64>::builder()
        .stage(Stage::new(0, "plus_one", ["input"], |n: &u64| n + 1).unwrap())
        .stage(
            Stage::try_new(2, "refuse", ["f1"], |n: &u64| -> Result<u64, String> {
                Err(format!("{n} refused"))
            })
            .unwrap(),
        )
        .handler(Debugger)
        .build()
        .unwrap();
    machine.put(4).unwrap();
    machine.start().unwrap();
    assert!(matches!(machine.wait(), MachineState::Failed(_)));
    let kept = machine.kept().unwrap();
    let failure = kept.failure().unwrap();
    let text = |key: &str| failure.value::<Serialized>(key).map(Serialized::as_str);
    assert_eq!(text("input_s"), Some("4"));
    assert_eq!(text("in_s"), Some("4"));
    assert_eq!(text("f0_s"), Some("5"));
    assert_eq!(text("f1_s"), Some("5"), "an empty slot passes f0 through");
    assert_eq!(text("f2_s"), None, "the failed stage has no value");
    assert_eq!(text("f3_s"), None, "nor what passes it through");
    assert_eq!(failure.value::<u64>("f1"), Some(&5));
    assert!(
        failure.value::<String>("f0_s").is_none(),
        "a `_s` key is a `Serialized`"
    );
}

/// A value whose strings hold what a hand-made splitter trips on.
#[derive(Serialize)]
struct Tricky {
    text: String,
    nested: Vec<Vec<(String, u8)>>,
}

#[test]
fn a_records_entries_are_its_arrays_elements_as_written() {
    let machine = Machine::<String>::builder()
        .stage(
            Stage::new(0, "tricky", ["input"], |s: &String| Tricky {
                text: format!("{s}\",]}}[{{\\"),
                nested: vec![vec![(s.clone(), 1)], vec![]],
            })
            .unwrap(),
        )
        .stage(Stage::new(2, "len", ["input"], |s: &String| s.len()).unwrap())
        .build()
        .unwrap();
    let input = "a, \"b\" ] c".to_owned();
    machine.try_put(input.clone()).unwrap();
    let record = machine.get(Duration::from_secs(5)).unwrap();
    let entries = record.entries().unwrap();
    let parsed = parse(record.json());
    assert_eq!(entries.len(), parsed.len(), "{}", record.json());
    assert_eq!(entries[0], serde_json::to_string(&input).unwrap());
    assert_eq!(entries[1], entries[2], "an empty slot repeats f0's entry");
    assert!(entries[3..].iter().all(|e| *e == "10"), "{entries:?}");
    for (text, value) in entries.iter().zip(&parsed) {
        assert_eq!(&serde_json::from_str::<Value>(text).unwrap(), value);
    }
    assert_eq!(format!("[{}]", entries.join(",")), record.json());
}
