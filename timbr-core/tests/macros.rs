//! The stage macros: a machine from `from_stages!` behaves as the same machine built through
//! the plain API, and the wiring mistakes left to build time are reported with stage,
//! argument and types.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::{json, Value};
use timbr_core::bson::oid::ObjectId;
use timbr_core::{from_stages, stage, stage_fn, BuildError, Machine, Serialized, Stage};

#[derive(Debug, Clone, Serialize)]
struct Tweet {
    id: u64,
    text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Flag {
    polarity: f64,
    first_word: String,
    oid_len: usize,
}

#[stage(0)]
fn text(input: &Tweet) -> String {
    input.text.clone()
}

#[stage(1)]
fn polarity(f0: &str) -> Result<f64, String> {
    if f0.is_empty() {
        return Err("empty text".to_owned());
    }
    let good = f0.matches("good").count() as f64;
    let bad = f0.matches("bad").count() as f64;
    Ok((good - bad) / (good + bad).max(1.0))
}

/// Slot 2 is left empty: `f2` holds what `f1` holds.
#[stage(3)]
fn flag(f2: &f64, input: &Tweet, oid: &ObjectId, f0_s: &str) -> Flag {
    Flag {
        polarity: *f2,
        first_word: f0_s
            .trim_matches('"')
            .split(' ')
            .next()
            .unwrap_or("")
            .to_owned(),
        oid_len: oid.to_hex().len() + usize::from(input.id > 99),
    }
}

fn tweets() -> Vec<Tweet> {
    ["good day", "bad bad day", "", "good good bad"]
        .iter()
        .enumerate()
        .map(|(i, t)| Tweet {
            id: i as u64,
            text: (*t).to_owned(),
        })
        .collect()
}

fn plain() -> Machine<Tweet> {
    let text = Stage::new(0, "text", ["input"], |t: &Tweet| t.text.clone()).unwrap();
    let polarity = Stage::try_new(1, "polarity", ["f0"], |s: &String| {
        if s.is_empty() {
            return Err("empty text".to_owned());
        }
        let good = s.matches("good").count() as f64;
        let bad = s.matches("bad").count() as f64;
        Ok((good - bad) / (good + bad).max(1.0))
    })
    .unwrap();
    let flag = Stage::new(
        3,
        "flag",
        ["f2", "input", "oid", "f0_s"],
        |p: &f64, t: &Tweet, oid: &ObjectId, s: &Serialized| Flag {
            polarity: *p,
            first_word: s
                .trim_matches('"')
                .split(' ')
                .next()
                .unwrap_or("")
                .to_owned(),
            oid_len: oid.to_hex().len() + usize::from(t.id > 99),
        },
    )
    .unwrap();
    Machine::from_stages([text, polarity, flag]).unwrap()
}

fn records(machine: &Machine<Tweet>) -> Vec<Value> {
    tweets()
        .into_iter()
        .map(|t| serde_json::from_str(machine.call(t).record().json()).unwrap())
        .collect()
}

#[test]
fn a_macro_machine_makes_the_same_records_as_the_plain_one() {
    let machine: Machine<Tweet> = from_stages![text, polarity, flag].unwrap();
    assert_eq!(machine.slots(), 8);
    assert_eq!(records(&machine), records(&plain()));
    let first = &records(&machine)[0];
    assert_eq!(first[1], json!("good day"));
    assert_eq!(
        first[4],
        json!({"polarity": 1.0, "first_word": "good", "oid_len": 24})
    );
    let empty = &records(&machine)[2];
    assert!(empty[2]["_exception"]
        .as_str()
        .unwrap()
        .contains("stage `polarity` (f1) failed: empty text"));
}

#[test]
fn stage_functions_stay_plain_functions() {
    assert_eq!(polarity("good"), Ok(1.0));
    let t = &tweets()[0];
    assert_eq!(text(t), "good day");
    let stage = flag::stage();
    assert_eq!((stage.name(), stage.slot()), ("flag", 3));
    let keys: Vec<String> = stage.args().iter().map(|a| a.key.to_string()).collect();
    assert_eq!(keys, ["f2", "input", "oid", "f0_s"]);
}

#[test]
fn closures_pick_arguments_by_name_and_keep_state() {
    let recent: Arc<Mutex<VecDeque<f64>>> = Arc::default();
    let remember = {
        let recent = Arc::clone(&recent);
        stage_fn!(2, name = "remember", move |f1: &f64| {
            let mut recent = recent.lock().unwrap();
            recent.push_back(*f1);
            if recent.len() > 2 {
                recent.pop_front();
            }
            recent.iter().sum::<f64>() / recent.len() as f64
        })
    };
    assert_eq!(remember.name(), "remember");
    let machine: Machine<Tweet> = from_stages![text, polarity, { remember }].unwrap();
    let means: Vec<Value> = records(&machine)
        .into_iter()
        .map(|r| r[3].clone())
        .collect();
    assert_eq!(means[0], json!(1.0));
    assert_eq!(means[1], json!(0.0), "(1 + -1) / 2");
    assert!(
        means[2]["_exception"].is_string(),
        "skipped: polarity failed"
    );
    assert_eq!(recent.lock().unwrap().len(), 2);

    let unnamed = stage_fn!(5, |input_s: &String, oid_s: &str| format!(
        "{oid_s}:{input_s}"
    ));
    assert_eq!(unnamed.name(), "closure@f5");
}

#[test]
fn fallible_closures_are_fallible_stages() {
    let machine: Machine<i64> = from_stages![stage_fn!(0, |input: &i64| {
        if *input < 0 {
            Err(format!("{input} is negative"))
        } else {
            Ok(input * 10)
        }
    })]
    .unwrap();
    assert_eq!(machine.call(4).value::<i64>("f0").unwrap(), &40);
    let record = machine.call(-1).record();
    assert!(
        record.json().contains("-1 is negative"),
        "{}",
        record.json()
    );
}

#[test]
fn set_stage_takes_stage_functions_and_closures() {
    let machine: Machine<Tweet> = from_stages![text, polarity].unwrap();
    machine
        .set_stage(stage_fn!(2, |f1: &f64, f0: &String| f1.abs() * f0.len() as f64))
        .unwrap();
    machine.set_stage(flag::stage()).unwrap();
    let record = machine.call(tweets().remove(1)).record();
    let json: Value = serde_json::from_str(record.json()).unwrap();
    assert_eq!(json[3], json!(1.0 * "bad bad day".len() as f64));
}

#[test]
fn wiring_mistakes_left_to_build_time_name_stage_argument_and_types() {
    // With a `Stage` value in the list the compile-time check steps aside; building checks.
    let stringly = stage_fn!(1, name = "stringly", |f0: &String| f0.len());
    let err = from_stages![text, { stringly }, flag]
        .map(|_: Machine<Tweet>| ())
        .unwrap_err();
    let BuildError::ArgumentType {
        stage,
        argument,
        expected,
        found,
        ..
    } = &err
    else {
        panic!("{err}");
    };
    assert_eq!((stage.as_str(), argument.as_str()), ("flag", "f2"));
    assert_eq!((*expected, *found), ("f64", "usize"));
    assert!(
        err.to_string()
            .contains("stage `flag` argument `f2` expects `&f64`"),
        "{err}"
    );

    let err = from_stages![Machine::builder() => text, polarity]
        .map(|_: Machine<Tweet>| ())
        .and_then(|()| {
            from_stages![{ text::stage() }, { text::stage() }].map(|_: Machine<Tweet>| ())
        })
        .unwrap_err();
    assert!(
        matches!(err, BuildError::SlotTaken { slot: 0, .. }),
        "{err}"
    );
}

#[test]
fn from_stages_sizes_the_machine_for_its_highest_stage() {
    #[stage(12)]
    fn late(f11: &u8, f3_s: &Serialized) -> String {
        format!("{f11} {}", f3_s.as_str())
    }
    let machine: Machine<u8> = from_stages![late].unwrap();
    assert_eq!(machine.slots(), 13);
    assert_eq!(machine.call(7).value::<String>("f12").unwrap(), "7 7");
    let empty: Machine<u8> = from_stages![].unwrap();
    assert_eq!(empty.slots(), 8);
}

/// An error type that is `Display` but not `std::error::Error`.
#[derive(Debug)]
struct Refusal(u32);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} refused", self.0)
    }
}

#[stage(0)]
fn refuse_odd(input: &u32) -> Result<u32, Refusal> {
    if input % 2 == 1 {
        Err(Refusal(*input))
    } else {
        Ok(*input)
    }
}

/// An error with a cause, to see that chains are still kept.
#[derive(Debug)]
struct Wrapped(std::num::ParseIntError);

impl std::fmt::Display for Wrapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a number")
    }
}

impl std::error::Error for Wrapped {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn display_only_errors_are_stage_errors_recorded_by_their_text() {
    // `#[stage]`: the docs promise `E: Display`.
    let machine: Machine<u32> = from_stages![refuse_odd].unwrap();
    let record = machine.call(3).record();
    assert_eq!(record.failures().len(), 1);
    assert!(
        record
            .json()
            .contains(r#"{"_exception":"stage `refuse_odd` (f0) failed: 3 refused"}"#),
        "{}",
        record.json()
    );
    assert!(machine.call(4).is_ok());

    // `stage_fn!`: the same, and an `Error` keeps its chain.
    let machine = Machine::<u32>::builder()
        .stage(stage_fn!(0, |input: &u32| if *input == 0 {
            Err(Refusal(0))
        } else {
            Ok(*input)
        }))
        .stage(stage_fn!(1, |f0: &u32| format!("x{f0}")
            .parse::<u32>()
            .map_err(Wrapped)))
        .handler(timbr_core::Debugger)
        .build()
        .unwrap();
    let called = machine.call(0);
    assert_eq!(
        called.failures()[0].to_string(),
        "stage `closure@f0` (f0) failed: 0 refused"
    );
    machine.put(5).unwrap();
    machine.start().unwrap();
    machine.wait();
    let kept = machine.kept().unwrap();
    let chain = kept.failure().unwrap().chain();
    assert_eq!(chain[0], "not a number");
    assert!(chain[1].contains("invalid digit"), "{chain:?}");
    machine.stop(timbr_core::StopMode::Return);
}
