//! Tasks that fill their own slot (`GraphBuilder::task_out`): the same outcomes as tasks that
//! return, under every executor, whether their arguments are declared before or after them;
//! a task that fills nothing fails rather than leave a hole in the run; and a task that
//! panics after filling its slot fails, its value not kept.

mod common;

use std::sync::Arc;

use timbr_sched::{
    Executor, GraphBuilder, Hooks, Out, Outcome, OutcomeError, TaskError, TypeInfo, Value,
};

/// `+1` on a `u64`, filling its slot.
fn inc() -> timbr_sched::TaskOutFn {
    Arc::new(|a, out: Out<'_>| match a.get::<u64>(0) {
        Ok(x) => out.value(Value::new(x + 1)),
        Err(e) => out.fail(e),
    })
}

/// A chain `x → a → b → c`, declared in `order` (some tasks before their arguments), with
/// `b` failing on odd inputs.
fn chain(declared_backwards: bool) -> timbr_sched::Graph {
    let mut g = GraphBuilder::new();
    let u64_ty = Some(TypeInfo::of::<u64>());
    let b: timbr_sched::TaskOutFn = Arc::new(|a, out: Out<'_>| match a.get::<u64>(0) {
        Ok(x) if x % 2 == 1 => out.fail(TaskError::msg(format!("{x} is odd"))),
        Ok(x) => out.value(Value::new(x * 10)),
        Err(e) => out.fail(e),
    });
    if declared_backwards {
        g.task_out("c", ["b"], u64_ty, inc());
        g.task_out("b", ["a"], u64_ty, b);
        g.task_out("a", ["x"], u64_ty, inc());
        g.input::<u64>("x");
    } else {
        g.input::<u64>("x");
        g.task_out("a", ["x"], u64_ty, inc());
        g.task_out("b", ["a"], u64_ty, b);
        g.task_out("c", ["b"], u64_ty, inc());
    }
    g.build().unwrap()
}

#[test]
fn filled_slots_give_the_same_outcomes_in_any_declaration_order() {
    let forwards = chain(false).plan_all();
    let backwards = chain(true).plan_all();
    for (name, executor) in common::executors() {
        for x in 0..200_u64 {
            for plan in [&forwards, &backwards] {
                let mut run = plan.run();
                run.set("x", x).unwrap();
                let out = executor.execute(run, None);
                assert_eq!(out.value::<u64>("a").unwrap(), &(x + 1), "{name}");
                if (x + 1) % 2 == 1 {
                    let err = out
                        .get("b")
                        .and_then(Outcome::error)
                        .map(ToString::to_string);
                    assert_eq!(err, Some(format!("{} is odd", x + 1)), "{name}");
                    assert!(
                        matches!(out.value::<u64>("c"), Err(OutcomeError::Skipped { .. })),
                        "{name}: `c` is skipped after `b` failed"
                    );
                } else {
                    assert_eq!(
                        out.value::<u64>("c").unwrap(),
                        &((x + 1) * 10 + 1),
                        "{name}"
                    );
                }
            }
        }
    }
}

#[test]
fn a_task_that_fills_nothing_fails_and_its_dependants_are_skipped() {
    let mut g = GraphBuilder::new();
    g.input::<u64>("x");
    g.task_out("silent", ["x"], None, Arc::new(|_, _out: Out<'_>| {}));
    g.task("after_silent", ["silent"], |_| Ok(1_u8));
    let plan = g.build().unwrap().plan_all();
    for (name, executor) in common::executors() {
        for x in 0..100_u64 {
            let mut run = plan.run();
            run.set("x", x).unwrap();
            let out = executor.execute(run, None);
            let err = out
                .get("silent")
                .and_then(Outcome::error)
                .map(ToString::to_string);
            assert_eq!(
                err.as_deref(),
                Some("the task produced no outcome"),
                "{name}"
            );
            assert!(matches!(
                out.value::<u8>("after_silent"),
                Err(OutcomeError::Skipped { .. })
            ));
        }
    }
}

/// Hooks that observe every node and do nothing: the executors' observed paths.
struct Observed;

impl Hooks for Observed {}

/// `x → filled → child`, plus `independent` on `x`, declared in either order; `filled` puts
/// its value into its slot and only then panics when `x` is a multiple of 3.
fn filled_then_panicking(declared_backwards: bool) -> timbr_sched::Graph {
    let filled: timbr_sched::TaskOutFn = Arc::new(|a, out: Out<'_>| {
        let x = *a.get::<u64>(0).expect("x is a u64");
        out.value(Value::new(x));
        assert!(x % 3 != 0, "boom at {x}");
    });
    let mut g = GraphBuilder::new();
    let u64_ty = Some(TypeInfo::of::<u64>());
    if declared_backwards {
        g.task_out("child", ["filled"], u64_ty, inc());
        g.task_out("filled", ["x"], u64_ty, filled);
        g.task("independent", ["x"], |a| Ok(a.get::<u64>(0)? * 2));
        g.input::<u64>("x");
    } else {
        g.input::<u64>("x");
        g.task_out("filled", ["x"], u64_ty, filled);
        g.task_out("child", ["filled"], u64_ty, inc());
        g.task("independent", ["x"], |a| Ok(a.get::<u64>(0)? * 2));
    }
    g.build().unwrap()
}

#[test]
fn a_task_that_panics_after_filling_its_slot_fails_and_its_value_is_not_kept() {
    let forwards = filled_then_panicking(false).plan_all();
    let backwards = filled_then_panicking(true).plan_all();
    for (name, executor) in common::executors() {
        for hooks in [None, Some(&Observed as &dyn Hooks)] {
            for (order, plan) in [("forwards", &forwards), ("backwards", &backwards)] {
                for x in 0..60_u64 {
                    let at = format!("{name}, {order}, hooks: {}, x = {x}", hooks.is_some());
                    let mut run = plan.run();
                    run.set("x", x).unwrap();
                    let out = executor.execute(run, hooks);
                    assert_eq!(out.value::<u64>("independent").unwrap(), &(x * 2), "{at}");
                    if x % 3 == 0 {
                        let error = out.get("filled").and_then(Outcome::error);
                        let error = error.unwrap_or_else(|| panic!("{at}: `filled` failed"));
                        assert!(error.is_panic(), "{at}");
                        assert_eq!(error.panic_message(), Some(&*format!("boom at {x}")));
                        match out.get("child") {
                            Some(Outcome::Skipped(s)) => assert_eq!(s.upstream(), "filled"),
                            other => panic!("{at}: `child` should be skipped, is {other:?}"),
                        }
                    } else {
                        assert_eq!(out.value::<u64>("filled").unwrap(), &x, "{at}");
                        assert_eq!(out.value::<u64>("child").unwrap(), &(x + 1), "{at}");
                    }
                }
            }
        }
    }
}
