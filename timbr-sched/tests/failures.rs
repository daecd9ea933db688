//! A failing or panicking task does not abort the run: its dependants are skipped naming the
//! original failure, independent branches still run, and every outcome is reported.

mod common;

use std::error::Error as _;

use timbr_sched::{
    Dep, Executor as _, GraphBuilder, Outcome, OutcomeError, Outcomes, Plan, TaskError,
    TypeMismatch,
};

fn inc(a: &timbr_sched::Args<'_>) -> Result<u64, TaskError> {
    Ok(a.get::<u64>(0)? + 1)
}

fn sum(a: &timbr_sched::Args<'_>) -> Result<u64, TaskError> {
    (0..a.len()).map(|i| a.get::<u64>(i).copied()).sum()
}

fn skipped_upstream<'o>(out: &'o Outcomes, key: &str) -> &'o str {
    match out.get(key) {
        Some(Outcome::Skipped(s)) => s.upstream(),
        other => panic!("`{key}` should be skipped, is {other:?}"),
    }
}

fn error<'o>(out: &'o Outcomes, key: &str) -> &'o TaskError {
    match out.get(key) {
        Some(Outcome::Failed(e)) => e,
        other => panic!("`{key}` should have failed, is {other:?}"),
    }
}

/// ```text
/// x ─ ok ─ after_ok ─────────────┐
///  ├─ bad ─ child_of_bad ─ grandchild (also needs after_ok)
///  ├─ boom ─ child_of_boom
///  └─ (boom, bad) ─ both
/// ```
fn failing_plan() -> Plan {
    let mut g = GraphBuilder::new();
    g.input::<u64>("x");
    g.task("ok", ["x"], inc);
    g.task("after_ok", ["ok"], inc);
    g.task("bad", ["x"], |a| -> Result<u64, TaskError> {
        Err(TaskError::msg(format_args!(
            "bad input {}",
            a.get::<u64>(0)?
        )))
    });
    g.task("boom", ["x"], |a| -> Result<u64, TaskError> {
        panic!("boom at {}", a.get::<u64>(0)?)
    });
    g.task("child_of_bad", ["bad"], inc);
    g.task("grandchild", ["after_ok", "child_of_bad"], sum);
    g.task("child_of_boom", [Dep::typed::<u64>("boom")], inc);
    g.task("both", ["boom", "bad"], sum);
    g.alias("grandchild_alias", "grandchild");
    g.build().unwrap().plan_all()
}

#[test]
fn dependants_of_a_failure_are_skipped_naming_the_original_key_and_siblings_run() {
    let plan = failing_plan();
    for (name, executor) in common::executors() {
        let mut run = plan.run();
        run.set("x", 3_u64).unwrap();
        let out = executor.execute(run, None);

        assert_eq!(out.value::<u64>("ok").unwrap(), &4, "{name}");
        assert_eq!(out.value::<u64>("after_ok").unwrap(), &5, "{name}");

        let bad = error(&out, "bad");
        assert_eq!(bad.to_string(), "bad input 3", "{name}");
        assert!(!bad.is_panic(), "{name}");

        let boom = error(&out, "boom");
        assert!(boom.is_panic(), "{name}");
        assert_eq!(boom.panic_message(), Some("boom at 3"), "{name}");
        assert_eq!(boom.to_string(), "panicked: boom at 3", "{name}");

        assert_eq!(skipped_upstream(&out, "child_of_bad"), "bad", "{name}");
        // Transitively, the original failure is named, not the skipped node in between.
        assert_eq!(skipped_upstream(&out, "grandchild"), "bad", "{name}");
        assert_eq!(skipped_upstream(&out, "grandchild_alias"), "bad", "{name}");
        assert_eq!(skipped_upstream(&out, "child_of_boom"), "boom", "{name}");
        // Several failed dependencies: the first in argument order is named.
        assert_eq!(skipped_upstream(&out, "both"), "boom", "{name}");

        let failed: Vec<&str> = out.failures().map(|(k, _)| k).collect();
        assert_eq!(failed.len(), 2, "{name}: {failed:?}");
        assert!(
            failed.contains(&"bad") && failed.contains(&"boom"),
            "{name}"
        );
        assert!(!out.is_ok(), "{name}");
        assert_eq!(out.iter().count(), plan.graph().len(), "{name}");
    }
}

#[test]
fn skipped_reads_as_upstream_failed() {
    let plan = failing_plan();
    let mut run = plan.run();
    run.set("x", 1_u64).unwrap();
    let out = timbr_sched::Sequential.execute(run, None);
    let Some(Outcome::Skipped(s)) = out.get("child_of_bad") else {
        panic!("child_of_bad should be skipped");
    };
    assert_eq!(s.to_string(), "upstream `bad` failed");
    let e = out.value::<u64>("child_of_bad").unwrap_err();
    assert_eq!(
        e.to_string(),
        "`child_of_bad` was skipped: upstream `bad` failed"
    );
}

#[test]
fn a_returned_error_keeps_its_source_chain() {
    #[derive(Debug, thiserror::Error)]
    #[error("could not parse")]
    struct ParseFailed(#[source] std::num::ParseIntError);

    let mut g = GraphBuilder::new();
    g.input::<String>("text");
    g.task("n", ["text"], |a| {
        a.get::<String>(0)?
            .parse::<u64>()
            .map_err(|e| TaskError::new(ParseFailed(e)))
    });
    let plan = g.build().unwrap().plan_all();
    for (name, executor) in common::executors() {
        let mut run = plan.run();
        run.set("text", String::from("twelve")).unwrap();
        let out = executor.execute(run, None);
        let e = out.value::<u64>("n").unwrap_err();
        assert_eq!(e.to_string(), "`n` failed: could not parse", "{name}");
        let OutcomeError::Failed { key, error } = &e else {
            panic!("{name}: {e:?}");
        };
        assert_eq!(key, "n");
        assert!(error.inner().unwrap().is::<ParseFailed>(), "{name}");
        // OutcomeError -> TaskError -> ParseIntError.
        let cause = e.source().and_then(|s| s.source()).expect("a cause");
        assert_eq!(cause.to_string(), "invalid digit found in string", "{name}");
    }
}

#[test]
fn a_missing_input_fails_and_its_dependants_are_skipped() {
    let mut g = GraphBuilder::new();
    g.input::<u64>("x");
    g.input::<u64>("y");
    g.task("from_x", ["x"], inc);
    g.task("from_both", ["from_x", "y"], sum);
    g.task("from_y", ["y"], inc);
    g.task("constant", Vec::<Dep>::new(), |_| Ok(42_u64));
    let plan = g.build().unwrap().plan_all();
    for (name, executor) in common::executors() {
        let mut run = plan.run();
        run.set("y", 1_u64).unwrap();
        let out = executor.execute(run, None);
        assert_eq!(
            error(&out, "x").to_string(),
            "input `x` was not set",
            "{name}"
        );
        assert_eq!(skipped_upstream(&out, "from_x"), "x", "{name}");
        assert_eq!(skipped_upstream(&out, "from_both"), "x", "{name}");
        assert_eq!(out.value::<u64>("from_y").unwrap(), &2, "{name}");
        assert_eq!(out.value::<u64>("constant").unwrap(), &42, "{name}");
        assert_eq!(out.value::<u64>("y").unwrap(), &1, "{name}");
    }
}

#[test]
fn reading_an_argument_as_the_wrong_type_is_a_type_mismatch_not_a_panic() {
    let mut g = GraphBuilder::new();
    g.input::<u64>("x");
    g.alias("x_alias", "x");
    g.task("wrong", ["x_alias"], |a| Ok(a.get::<String>(0)?.len()));
    g.task("out_of_range", ["x"], |a| Ok(*a.get::<u64>(1)?));
    g.task("after", ["wrong"], |a| Ok(*a.get::<usize>(0)?));
    let plan = g.build().unwrap().plan_all();
    for (name, executor) in common::executors() {
        let mut run = plan.run();
        run.set("x", 7_u64).unwrap();
        let out = executor.execute(run, None);

        let e = error(&out, "wrong");
        assert!(!e.is_panic(), "{name}");
        let mismatch = e
            .inner()
            .and_then(|i| i.downcast_ref::<TypeMismatch>())
            .unwrap_or_else(|| panic!("{name}: not a TypeMismatch: {e:?}"));
        assert_eq!(
            mismatch,
            &TypeMismatch {
                key: "x".into(),
                expected: "alloc::string::String",
                found: "u64",
            },
            "{name}"
        );
        assert_eq!(
            e.to_string(),
            "`x` holds `u64`, not `alloc::string::String`",
            "{name}"
        );
        assert_eq!(skipped_upstream(&out, "after"), "wrong", "{name}");

        let e = error(&out, "out_of_range");
        assert!(!e.is_panic(), "{name}");
        assert_eq!(
            e.to_string(),
            "`out_of_range` has 1 argument(s), no argument 1",
            "{name}"
        );
    }
}

#[test]
fn outcome_values_explain_why_they_are_missing() {
    let mut g = GraphBuilder::new();
    g.input::<u64>("x");
    g.task("ok", ["x"], inc);
    g.task("bad", ["x"], |_| -> Result<u64, TaskError> {
        Err(TaskError::msg("no"))
    });
    g.task("skipped", ["bad"], inc);
    g.task("elsewhere", ["x"], inc);
    let graph = g.build().unwrap();
    let plan = graph.plan(["ok", "skipped"]).unwrap();
    for (name, executor) in common::executors() {
        let mut run = plan.run();
        run.set("x", 1_u64).unwrap();
        let out = executor.execute(run, None);

        assert_eq!(out.value::<u64>("ok").unwrap(), &2, "{name}");

        let e = out.value::<u64>("nope").unwrap_err();
        assert!(
            matches!(&e, OutcomeError::UnknownKey(k) if k.0 == "nope"),
            "{name}: {e:?}"
        );
        assert_eq!(e.to_string(), "unknown key `nope`");

        let e = out.value::<u64>("elsewhere").unwrap_err();
        assert!(
            matches!(&e, OutcomeError::NotComputed(k) if k == "elsewhere"),
            "{name}: {e:?}"
        );
        assert_eq!(e.to_string(), "`elsewhere` was not computed in this run");

        let e = out.value::<u64>("bad").unwrap_err();
        assert!(
            matches!(&e, OutcomeError::Failed { key, error } if key == "bad" && error.to_string() == "no"),
            "{name}: {e:?}"
        );
        assert_eq!(e.to_string(), "`bad` failed: no");

        let e = out.value::<u64>("skipped").unwrap_err();
        assert!(
            matches!(&e, OutcomeError::Skipped { key, skipped } if key == "skipped" && skipped.upstream() == "bad"),
            "{name}: {e:?}"
        );

        let e = out.value::<String>("ok").unwrap_err();
        let OutcomeError::TypeMismatch(m) = &e else {
            panic!("{name}: {e:?}");
        };
        assert_eq!(
            m,
            &TypeMismatch {
                key: "ok".into(),
                expected: "alloc::string::String",
                found: "u64",
            }
        );
        assert_eq!(
            e.to_string(),
            "`ok` holds `u64`, not `alloc::string::String`"
        );
    }
}

#[test]
fn a_panic_with_a_non_string_payload_is_still_caught() {
    let mut g = GraphBuilder::new();
    g.input::<u64>("x");
    g.task("odd", ["x"], |_| -> Result<u64, TaskError> {
        std::panic::panic_any(17_i32)
    });
    g.task("fine", ["x"], inc);
    let plan = g.build().unwrap().plan_all();
    for (name, executor) in common::executors() {
        let mut run = plan.run();
        run.set("x", 0_u64).unwrap();
        let out = executor.execute(run, None);
        let e = error(&out, "odd");
        assert!(e.is_panic(), "{name}");
        assert_eq!(e.panic_message(), Some("panic with a non-string payload"));
        assert_eq!(out.value::<u64>("fine").unwrap(), &1, "{name}");
    }
}

#[test]
fn the_same_plan_recovers_on_the_next_run() {
    let mut g = GraphBuilder::new();
    g.input::<u64>("x");
    g.task("picky", ["x"], |a| {
        let x = *a.get::<u64>(0)?;
        if x % 2 == 1 {
            panic!("odd {x}");
        }
        Ok(x / 2)
    });
    g.task("after", ["picky"], inc);
    let plan = g.build().unwrap().plan(["after"]).unwrap();
    for (name, executor) in common::executors() {
        for x in 0..6_u64 {
            let mut run = plan.run();
            run.set("x", x).unwrap();
            let out = executor.execute(run, None);
            if x % 2 == 1 {
                assert_eq!(skipped_upstream(&out, "after"), "picky", "{name}");
            } else {
                assert_eq!(out.value::<u64>("after").unwrap(), &(x / 2 + 1), "{name}");
            }
        }
    }
}
