//! The per-datum data model: identity slots, serialized forms, records, failures, wiring checks.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};
use timbr_core::bson::oid::ObjectId;
use timbr_core::{datum::FailureKind, BuildError, Machine, Serialized, Stage};

fn parse(record_json: &str) -> Vec<Value> {
    serde_json::from_str::<Vec<Value>>(record_json).expect("a record is a JSON array")
}

#[test]
fn empty_slots_pass_the_input_through() {
    let machine = Machine::<Value>::new();
    let called = machine.call(json!({"a": 1}));
    for key in ["input", "f0", "f7"] {
        assert_eq!(
            called.value::<Value>(key).unwrap(),
            &json!({"a": 1}),
            "{key}"
        );
    }
    let record = called.record();
    assert_eq!(parse(record.json()), vec![json!({"a": 1}); 9]);
    assert_eq!(record.oid(), called.oid());
}

#[test]
fn stages_read_earlier_slots_by_name_through_empty_ones() {
    let machine = Machine::<i64>::builder()
        .stage(Stage::new(1, "double", ["input"], |x: &i64| x * 2).unwrap())
        .stage(
            Stage::new(
                4,
                "sum",
                ["f2", "f0", "input"],
                |a: &i64, b: &i64, c: &i64| a + b + c,
            )
            .unwrap(),
        )
        .stage(
            Stage::new(
                6,
                "describe",
                ["f4_s", "oid", "oid_s"],
                |s: &Serialized, oid: &ObjectId, hex: &Serialized| {
                    assert_eq!(&oid.to_hex(), hex.as_str());
                    format!("sum={}", s.as_str())
                },
            )
            .unwrap(),
        )
        .build()
        .unwrap();
    let record = machine.call(5).record();
    assert_eq!(
        parse(record.json()),
        vec![
            json!(5),
            json!(5),
            json!(10),
            json!(10),
            json!(10),
            json!(20),
            json!(20),
            json!("sum=20"),
            json!("sum=20")
        ]
    );
    assert!(record.is_ok());
}

#[test]
fn a_failed_stage_skips_its_dependants_and_keeps_the_datum() {
    let machine = Machine::<i32>::builder()
        .stage(
            Stage::try_new(0, "check", ["input"], |x: &i32| {
                if *x < 0 {
                    Err(format!("{x} is negative"))
                } else {
                    Ok(*x)
                }
            })
            .unwrap(),
        )
        .stage(Stage::new(1, "next", ["f0"], |x: &i32| x + 1).unwrap())
        .stage(Stage::new(2, "independent", ["input"], |x: &i32| x * 10).unwrap())
        .build()
        .unwrap();
    machine.try_put(-3).unwrap();
    let record = machine.get(Duration::from_secs(1)).unwrap();
    let values = parse(record.json());
    assert_eq!(values[0], json!(-3));
    assert_eq!(
        values[1],
        json!({"_exception": "stage `check` (f0) failed: -3 is negative"})
    );
    assert_eq!(
        values[2],
        json!({"_exception": "stage `next` (f1) skipped: upstream `f0` failed"})
    );
    assert_eq!(values[3], json!(-30));
    assert_eq!(values[8], json!(-30), "empty slots after pass f2 through");
    let failures = record.failures();
    assert_eq!(failures.len(), 2);
    assert!(
        matches!(&failures[0].kind, FailureKind::Failed(e) if e.to_string() == "-3 is negative")
    );
    assert!(matches!(&failures[1].kind, FailureKind::Skipped { upstream } if upstream == "f0"));
    assert_eq!(machine.counts().failed, 1);
}

#[test]
fn a_panicking_stage_is_an_error_not_a_crash() {
    let machine = Machine::<u8>::builder()
        .stage(
            Stage::new(0, "boom", ["input"], |x: &u8| -> u8 {
                panic!("bad datum {x}")
            })
            .unwrap(),
        )
        .build()
        .unwrap();
    let called = machine.call(7);
    let failures = called.failures();
    assert_eq!(failures.len(), 1);
    match &failures[0].kind {
        FailureKind::Failed(e) => assert_eq!(e.panic_message(), Some("bad datum 7")),
        other => panic!("unexpected {other:?}"),
    }
    let f0: Value = serde_json::from_str(&called.json("f0").unwrap()).unwrap();
    assert_eq!(
        f0,
        json!({"_exception": "stage `boom` (f0) failed: panicked: bad datum 7"})
    );
}

#[test]
fn unserializable_values_become_exception_objects() {
    let machine = Machine::<u8>::builder()
        .stage(Stage::new(0, "map", ["input"], |x: &u8| HashMap::from([((*x, *x), 1)])).unwrap())
        .stage(Stage::new(1, "reads_json", ["f0_s"], |s: &Serialized| s.is_exception()).unwrap())
        .build()
        .unwrap();
    let called = machine.call(1);
    let f0: Value = serde_json::from_str(&called.json("f0").unwrap()).unwrap();
    assert!(
        f0["_exception"]
            .as_str()
            .unwrap()
            .contains("key must be a string"),
        "{f0}"
    );
    assert_eq!(called.value::<bool>("f1").unwrap(), &true);
    let record = called.record();
    assert_eq!(parse(record.json())[1], f0);
}

#[test]
fn wiring_mistakes_name_stage_argument_and_types() {
    let taken = Machine::<u8>::builder()
        .stage(Stage::new(0, "a", ["input"], |x: &u8| *x).unwrap())
        .stage(Stage::new(0, "b", ["input"], |x: &u8| *x).unwrap())
        .build()
        .unwrap_err();
    assert_eq!(taken.to_string(), "stages `a` and `b` are both at slot 0");

    let range = Machine::<u8>::builder()
        .slots(4)
        .stage(Stage::new(4, "late", ["input"], |x: &u8| *x).unwrap())
        .build()
        .unwrap_err();
    assert!(
        matches!(
            range,
            BuildError::SlotOutOfRange {
                slot: 4,
                slots: 4,
                ..
            }
        ),
        "{range}"
    );

    let input = Machine::<u8>::builder()
        .stage(Stage::new(0, "s", ["input"], |x: &String| x.len()).unwrap())
        .build()
        .unwrap_err();
    assert_eq!(
        input.to_string(),
        "stage `s` argument `input` expects `&alloc::string::String`, but `in` is `u8`"
    );

    // Slot 1 is empty: f1 is f0 passed through, a String.
    let through = Machine::<u8>::builder()
        .stage(Stage::new(0, "text", ["input"], |x: &u8| x.to_string()).unwrap())
        .stage(Stage::new(2, "wants_number", ["f1"], |x: &u64| *x).unwrap())
        .build()
        .unwrap_err();
    assert!(
        matches!(&through, BuildError::ArgumentType { stage, argument, expected: "u64", found: "alloc::string::String", .. } if stage == "wants_number" && argument == "f1"),
        "{through}"
    );
    assert!(
        through
            .to_string()
            .contains("f1 (empty, passing f0 through)"),
        "{through}"
    );

    let serialized = Machine::<u8>::builder()
        .stage(Stage::new(1, "s", ["f0_s"], |x: &String| x.len()).unwrap())
        .build()
        .unwrap_err();
    assert!(
        serialized
            .to_string()
            .contains("a serialized key is JSON text: take it as `&str` or `&Serialized`"),
        "{serialized}"
    );

    let oid = Machine::<u8>::builder()
        .stage(Stage::new(1, "s", ["oid"], |x: &String| x.len()).unwrap())
        .build()
        .unwrap_err();
    assert!(oid.to_string().contains("ObjectId"), "{oid}");
}

#[test]
fn rewiring_is_checked_and_leaves_the_machine_unchanged_on_error() {
    let machine = Machine::<u8>::builder()
        .stage(Stage::new(0, "text", ["input"], |x: &u8| x.to_string()).unwrap())
        .stage(Stage::new(1, "len", ["f0"], |s: &String| s.len()).unwrap())
        .build()
        .unwrap();
    // Removing slot 0 would hand `len` a u8.
    assert!(matches!(
        machine.remove_stage(0),
        Err(BuildError::ArgumentType { .. })
    ));
    assert_eq!(machine.stage(0).unwrap().name(), "text");
    assert!(matches!(
        machine.remove_stage(5),
        Err(BuildError::EmptySlot(5))
    ));
    let old = machine
        .set_stage(Stage::new(0, "text2", ["input"], |x: &u8| format!("{x}{x}")).unwrap())
        .unwrap();
    assert_eq!(old.unwrap().name(), "text");
    assert_eq!(machine.call(4).value::<usize>("f1").unwrap(), &2);
    let removed = machine.remove_stage(1).unwrap();
    assert_eq!(removed.name(), "len");
    assert_eq!(machine.call(4).value::<String>("f1").unwrap(), "44");
}

#[test]
fn only_what_is_needed_is_computed() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    // A stage reading `input_s`: the input is serialized for it in `call`, but no other
    // `_s` key is; a record serializes every entry.
    let machine = Machine::<u8>::builder()
        .stage(
            Stage::new(0, "json_len", ["input_s"], move |s: &Serialized| {
                counter.fetch_add(1, Ordering::Relaxed);
                s.len()
            })
            .unwrap(),
        )
        .build()
        .unwrap();
    let called = machine.call(42);
    assert_eq!(called.value::<usize>("f0").unwrap(), &2);
    assert!(called.outcomes().get("in_s").is_some());
    assert!(
        called.outcomes().get("f0_s").is_none(),
        "no serialization nobody asked for"
    );
    assert_eq!(called.json("f0").unwrap(), "2", "serialized on request");
    assert_eq!(calls.load(Ordering::Relaxed), 1);
}

#[test]
fn plain_stages_take_serialized_keys_as_str() {
    // As the macros do: `&str` for a `_s` key, with the plain API.
    let machine = Machine::<u8>::builder()
        .stage(Stage::new(0, "json_len", ["input_s"], |s: &str| s.len()).unwrap())
        .stage(
            Stage::new(1, "both", ["f0", "oid_s"], |n: &usize, oid: &str| {
                oid.len() + n
            })
            .unwrap(),
        )
        .build()
        .unwrap();
    let called = machine.call(200);
    assert_eq!(called.value::<usize>("f0").unwrap(), &3);
    assert_eq!(called.value::<usize>("f1").unwrap(), &27);

    // `&String` is what the stage macros also take, not the plain API: the error says what
    // to take instead.
    let wrong = Machine::<u8>::builder()
        .stage(Stage::new(0, "wrong", ["input_s"], |s: &String| s.len()).unwrap())
        .build()
        .unwrap_err();
    let message = wrong.to_string();
    assert!(message.contains("`&str` or `&Serialized`"), "{message}");
}
