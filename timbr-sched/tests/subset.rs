//! A plan runs only the ancestors of the keys it asks for; aliases name the same node.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use timbr_sched::{Executor as _, GraphBuilder, Outcome, OutcomeError, TaskError};

const TASKS: [&str; 6] = ["a", "b", "c", "d", "e", "f"];

/// ```text
/// x ─ a ─ b ─┐
///  └─ c ─────┴ e
/// d (no inputs)      f ← d
/// ```
/// Every task counts its calls.
fn counted() -> (timbr_sched::Graph, Arc<[AtomicUsize; 6]>) {
    let calls: Arc<[AtomicUsize; 6]> = Arc::new(Default::default());
    let mut g = GraphBuilder::new();
    g.input::<u64>("x");
    let deps: [&[&str]; 6] = [&["x"], &["a"], &["x"], &[], &["b", "c"], &["d"]];
    for (i, (key, deps)) in TASKS.iter().zip(deps).enumerate() {
        let calls = Arc::clone(&calls);
        g.task(*key, deps.iter().copied(), move |args| {
            calls[i].fetch_add(1, Ordering::Relaxed);
            (0..args.len())
                .map(|k| args.get::<u64>(k).copied())
                .sum::<Result<u64, TaskError>>()
                .map(|s| s + i as u64)
        });
    }
    g.alias("bee", "b");
    g.alias("buzz", "bee");
    (g.build().unwrap(), calls)
}

fn take_counts(calls: &[AtomicUsize; 6]) -> [usize; 6] {
    std::array::from_fn(|i| calls[i].swap(0, Ordering::Relaxed))
}

#[test]
fn only_the_ancestors_of_requested_keys_run() {
    let (graph, calls) = counted();
    let cases: [(&[&str], [usize; 6]); 5] = [
        (&["b"], [1, 1, 0, 0, 0, 0]),
        (&["c"], [0, 0, 1, 0, 0, 0]),
        (&["f"], [0, 0, 0, 1, 0, 1]),
        (&["e", "f"], [1, 1, 1, 1, 1, 1]),
        (&["a", "c", "a"], [1, 0, 1, 0, 0, 0]),
    ];
    for (name, executor) in common::executors() {
        for (keys, expected) in cases {
            let plan = graph.plan(keys).unwrap();
            for x in 0..3_u64 {
                let mut run = plan.run();
                run.set("x", x).unwrap();
                let out = executor.execute(run, None);
                assert!(out.is_ok(), "{name} {keys:?}: {out:?}");
                assert_eq!(take_counts(&calls), expected, "{name} {keys:?}");
                for (i, key) in TASKS.iter().enumerate() {
                    let id = graph.node(key).unwrap();
                    assert_eq!(plan.contains(id), expected[i] == 1, "{name} {key}");
                    assert_eq!(out.get(key).is_some(), expected[i] == 1, "{name} {key}");
                    if expected[i] == 0 {
                        assert!(matches!(
                            out.value::<u64>(key),
                            Err(OutcomeError::NotComputed(_))
                        ));
                    }
                }
            }
        }
    }
}

#[test]
fn an_unneeded_input_may_stay_unset() {
    let (graph, calls) = counted();
    let plan = graph.plan(["f"]).unwrap();
    assert!(!plan.contains(graph.node("x").unwrap()));
    for (name, executor) in common::executors() {
        let out = executor.execute(plan.run(), None);
        assert!(out.is_ok(), "{name}: {out:?}");
        assert_eq!(out.value::<u64>("f").unwrap(), &(3 + 5), "{name}");
        assert!(out.get("x").is_none(), "{name}");
        assert_eq!(take_counts(&calls), [0, 0, 0, 1, 0, 1], "{name}");
    }
}

#[test]
fn aliases_resolve_to_the_same_node_and_run_it_once() {
    let (graph, calls) = counted();
    let b = graph.node("b").unwrap();
    assert_eq!(graph.node("bee"), Some(b));
    assert_eq!(graph.node("buzz"), Some(b));
    assert_eq!(graph.key(b), "b");

    let by_alias = graph.plan(["buzz"]).unwrap();
    let direct = graph.plan(["b"]).unwrap();
    assert_eq!(by_alias.requested(), direct.requested());
    assert!(by_alias.order().eq(direct.order()));

    let all_names = graph.plan(["b", "bee", "buzz"]).unwrap();
    assert_eq!(all_names.requested(), [b, b, b]);
    for (name, executor) in common::executors() {
        let mut run = all_names.run();
        run.set("x", 10_u64).unwrap();
        let out = executor.execute(run, None);
        assert_eq!(take_counts(&calls), [1, 1, 0, 0, 0, 0], "{name}");
        // a = 10 + 0, b = a + 1
        for key in ["b", "bee", "buzz"] {
            assert_eq!(out.value::<u64>(key).unwrap(), &11, "{name} {key}");
        }
        assert!(std::ptr::eq(out.get("bee").unwrap(), out.get("b").unwrap()));
    }
}

#[test]
fn plan_order_puts_dependencies_first_and_iter_follows_it() {
    let (graph, _calls) = counted();
    let plan = graph.plan(["e"]).unwrap();
    let order: Vec<&str> = plan.order().map(|id| graph.key(id)).collect();
    assert_eq!(order.len(), 5, "{order:?}");
    let pos = |k: &str| order.iter().position(|o| *o == k).unwrap();
    assert!(pos("x") < pos("a") && pos("a") < pos("b") && pos("b") < pos("e"));
    assert!(pos("x") < pos("c") && pos("c") < pos("e"));

    let mut run = plan.run();
    run.set("x", 1_u64).unwrap();
    let out = timbr_sched::Sequential.execute(run, None);
    let iterated: Vec<&str> = out.iter().map(|(k, _)| k).collect();
    assert_eq!(iterated, order);
    assert!(out.iter().all(|(_, o)| matches!(o, Outcome::Value(_))));
}

#[test]
fn an_input_set_outside_the_plan_is_not_an_outcome() {
    let (graph, _calls) = counted();
    let plan = graph.plan(["d"]).unwrap();
    for (name, executor) in common::executors() {
        let mut run = plan.run();
        run.set("x", 5_u64).unwrap();
        let out = executor.execute(run, None);
        assert!(
            out.get("x").is_none(),
            "{name}: `x` is not part of the plan"
        );
        assert!(matches!(
            out.value::<u64>("x"),
            Err(OutcomeError::NotComputed(_))
        ));
    }
}

/// A value set outside the plan is dropped at once, and a later run of another plan of the
/// same graph (which recycles the same slots) never sees it: its unset input fails instead.
#[test]
fn an_input_outside_the_plan_is_dropped_and_never_reaches_a_later_run() {
    let mut g = GraphBuilder::new();
    g.input::<Arc<u64>>("kept");
    g.input::<u64>("x");
    g.task("double", ["x"], |a| Ok(a.get::<u64>(0)? * 2));
    g.task("read_kept", ["kept"], |a| Ok(**a.get::<Arc<u64>>(0)?));
    let graph = g.build().unwrap();
    let without = graph.plan(["double"]).unwrap();
    let with = graph.plan(["read_kept"]).unwrap();
    let value = Arc::new(7_u64);
    for (name, executor) in common::executors() {
        for round in 0..500_u64 {
            let mut run = without.run();
            run.set("x", round).unwrap();
            run.set("kept", Arc::clone(&value)).unwrap();
            assert_eq!(Arc::strong_count(&value), 1, "{name}: dropped when set");
            let out = executor.execute(run, None);
            assert_eq!(out.value::<u64>("double").unwrap(), &(round * 2));
            drop(out);
            let out = executor.execute(with.run(), None);
            assert!(
                matches!(
                    out.value::<u64>("read_kept"),
                    Err(OutcomeError::Skipped { .. })
                ),
                "{name}, round {round}: the unset input fails, nothing left over is read"
            );
        }
    }
}
