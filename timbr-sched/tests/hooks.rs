//! Hooks: the same calls under both executors, in the promised order for every node.

mod common;
#[path = "common/recorder.rs"]
mod recorder;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use recorder::{check_order, Call, Recorder};
use timbr_sched::{Dep, Executor, GraphBuilder, Hooks, NodeRef, Outcome, Plan, TaskError};

fn inc(a: &timbr_sched::Args<'_>) -> Result<u64, TaskError> {
    Ok(a.get::<u64>(0)? + 1)
}

fn sum(a: &timbr_sched::Args<'_>) -> Result<u64, TaskError> {
    (0..a.len()).map(|i| a.get::<u64>(i).copied()).sum()
}

/// Fan-out, fan-in, a failure, a panic, skips two deep, an alias, and a node outside the plan.
fn plan() -> Plan {
    let mut g = GraphBuilder::new();
    g.input::<u64>("x");
    g.input::<u64>("unused");
    g.task("a", ["x"], inc);
    let parts: Vec<String> = (0..6).map(|i| format!("p{i}")).collect();
    for p in &parts {
        g.task(p.as_str(), ["a"], inc);
    }
    g.task("join", parts.iter().map(String::as_str), sum);
    g.alias("joined", "join");
    g.task("tail", ["joined"], inc);
    g.task("bad", ["x"], |a| -> Result<u64, TaskError> {
        Err(TaskError::msg(format_args!("bad {}", a.get::<u64>(0)?)))
    });
    g.task("boom", ["a"], |_| -> Result<u64, TaskError> {
        panic!("boom")
    });
    g.task("s1", ["bad"], inc);
    g.task("s2", ["tail", "s1"], sum);
    g.task("s3", [Dep::new("s2"), Dep::new("boom")], sum);
    g.task("elsewhere", ["unused"], inc);
    g.build()
        .unwrap()
        .plan(["tail", "s3", "p0", "joined"])
        .unwrap()
}

fn recorded(executor: &dyn Executor, plan: &Plan, x: Option<u64>) -> Vec<Call> {
    let recorder = Recorder::default();
    let mut run = plan.run();
    if let Some(x) = x {
        run.set("x", x).unwrap();
    }
    let out = executor.execute(run, Some(&recorder));
    let calls = recorder.take();
    check_order(&calls, plan, &out);
    calls
}

fn sorted(mut calls: Vec<Call>) -> Vec<Call> {
    calls.sort();
    calls
}

#[test]
fn every_executor_keeps_the_order_and_makes_the_same_calls() {
    let plan = plan();
    let expected = sorted(recorded(&timbr_sched::Sequential, &plan, Some(1)));
    // Sanity: the graph really exercises every kind of call.
    assert!(expected
        .iter()
        .any(|c| matches!(c, Call::Error(_, k, m) if k == "bad" && m == "bad 1")));
    assert!(expected
        .iter()
        .any(|c| matches!(c, Call::Error(_, k, m) if k == "boom" && m == "panicked: boom")));
    assert!(expected
        .iter()
        .any(|c| matches!(c, Call::Skipped(_, k, u) if k == "s3" && u == "bad")));
    assert!(!expected
        .iter()
        .any(|c| format!("{c:?}").contains("elsewhere")));
    for (name, executor) in common::executors() {
        for round in 0..50 {
            let calls = recorded(&*executor, &plan, Some(1));
            assert_eq!(sorted(calls), expected, "{name}, round {round}");
        }
    }
}

#[test]
fn a_missing_input_gets_no_call_but_its_dependants_are_skipped() {
    let plan = plan();
    let expected = sorted(recorded(&timbr_sched::Sequential, &plan, None));
    let skipped = expected
        .iter()
        .filter(|c| matches!(c, Call::Skipped(_, _, u) if u == "x"))
        .count();
    // Every task of the plan descends from `x`.
    assert_eq!(skipped, plan.order().count() - 1, "{expected:#?}");
    assert!(!expected.iter().any(|c| matches!(c, Call::Pre(..))));
    for (name, executor) in common::executors() {
        assert_eq!(
            sorted(recorded(&*executor, &plan, None)),
            expected,
            "{name}"
        );
    }
}

#[test]
fn a_task_runs_between_its_pretask_and_its_posttask() {
    /// Counts the hook calls so the task can see, from inside, that it runs between them.
    #[derive(Default)]
    struct Bracket {
        pre: AtomicUsize,
        post: AtomicUsize,
    }
    impl Hooks for Bracket {
        fn pretask(&self, node: NodeRef<'_>) {
            assert_eq!(node.key, "only");
            self.pre.fetch_add(1, Ordering::SeqCst);
        }
        fn posttask(&self, node: NodeRef<'_>, _elapsed: Duration, outcome: &Outcome) {
            assert_eq!(node.key, "only");
            assert!(outcome.is_value());
            self.post.fetch_add(1, Ordering::SeqCst);
        }
    }
    static BRACKET: std::sync::OnceLock<Bracket> = std::sync::OnceLock::new();
    let bracket = BRACKET.get_or_init(Bracket::default);

    let mut g = GraphBuilder::new();
    g.task("only", Vec::<Dep>::new(), |_| {
        let b = BRACKET.get().expect("set before the run");
        let (pre, post) = (b.pre.load(Ordering::SeqCst), b.post.load(Ordering::SeqCst));
        Ok(pre - post) // 1 while the task runs inside its bracket
    });
    let plan = g.build().unwrap().plan_all();
    for (name, executor) in common::executors() {
        let out = executor.execute(plan.run(), Some(bracket));
        assert_eq!(out.value::<usize>("only").unwrap(), &1, "{name}");
    }
    assert_eq!(bracket.pre.load(Ordering::SeqCst), 3);
    assert_eq!(bracket.post.load(Ordering::SeqCst), 3);
}

#[test]
fn a_hooks_impl_with_only_defaults_changes_nothing() {
    struct Silent;
    impl Hooks for Silent {}
    let plan = plan();
    for (name, executor) in common::executors() {
        let mut run = plan.run();
        run.set("x", 2_u64).unwrap();
        let with = executor.execute(run, Some(&Silent));
        let mut run = plan.run();
        run.set("x", 2_u64).unwrap();
        let without = executor.execute(run, None);
        let seen = |o: &timbr_sched::Outcomes| -> Vec<(String, recorder::Seen)> {
            o.iter().map(|(k, o)| (k.to_owned(), o.into())).collect()
        };
        assert_eq!(seen(&with), seen(&without), "{name}");
    }
}

/// Observes only the nodes whose key starts with `p`, counting the calls it gets.
#[derive(Default)]
struct OnlyP {
    calls: AtomicUsize,
}

impl Hooks for OnlyP {
    fn observes(&self, node: NodeRef<'_>) -> bool {
        node.key.starts_with('p')
    }

    fn pretask(&self, node: NodeRef<'_>) {
        assert!(node.key.starts_with('p'), "{}", node.key);
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    fn posttask(&self, node: NodeRef<'_>, _: Duration, _: &Outcome) {
        assert!(node.key.starts_with('p'), "{}", node.key);
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    fn skipped(&self, node: NodeRef<'_>, _: &timbr_sched::Skipped) {
        panic!("`{}` is not observed", node.key);
    }

    fn error(&self, node: NodeRef<'_>, _: &TaskError) {
        panic!("`{}` is not observed", node.key);
    }
}

#[test]
fn declined_nodes_get_no_calls_under_either_executor() {
    let plan = plan();
    let executors: [&dyn Executor; 2] = [&timbr_sched::Sequential, &timbr_sched::Threaded::new()];
    for executor in executors {
        let hooks = OnlyP::default();
        let mut run = plan.run();
        run.set("x", 1_u64).unwrap();
        let outcomes = executor.execute(run, Some(&hooks));
        // Six `p` nodes, a pretask and a posttask each; the results are unchanged.
        assert_eq!(hooks.calls.load(Ordering::Relaxed), 12);
        assert_eq!(outcomes.value::<u64>("tail").unwrap(), &(6 * 3 + 1));
    }
}

#[test]
fn rerun_repeats_one_task_on_the_values_of_its_run() {
    let plan = plan();
    let graph = plan.graph().clone();
    let mut run = plan.run();
    run.set("x", 4_u64).unwrap();
    let outcomes = timbr_sched::Sequential.execute(run, None);
    let node = |k: &str| graph.node(k).unwrap();
    // A task with values: the same value again.
    let again = outcomes.rerun(node("join")).unwrap();
    assert_eq!(again.value().unwrap().downcast_ref::<u64>(), Some(&36));
    // A failing task fails again, the same way; a panicking one panics again, caught.
    let bad = outcomes.rerun(node("bad")).unwrap();
    assert_eq!(bad.error().unwrap().to_string(), "bad 4");
    let boom = outcomes.rerun(node("boom")).unwrap();
    assert!(boom.error().unwrap().is_panic());
    // A task whose dependency failed stays skipped; inputs and unplanned nodes are refused.
    assert!(matches!(
        outcomes.rerun(node("s1")),
        Ok(Outcome::Skipped(_))
    ));
    assert!(outcomes.rerun(node("x")).is_err());
    assert!(outcomes.rerun(node("elsewhere")).is_err());
}
