//! Property: on random DAGs, Sequential and Threaded (global pool and a pool of our own) agree on
//! every key's outcome — and with a model of the semantics — and make the same hook calls.
//!
//! Each case runs one plan many times in a row, with inputs that come and go, executors
//! alternating and some outcomes kept alive across later runs: a run's recycled slots must
//! never show a value from an earlier datum.

mod common;
#[path = "common/recorder.rs"]
mod recorder;

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use recorder::{check_order, Call, Recorder, Seen};
use timbr_sched::{Dep, Executor, GraphBuilder, Outcomes, Plan, Run, TaskError};

/// One task: a constant and its dependencies (global node indices, each named directly or
/// through the node's alias).
#[derive(Clone, Debug)]
struct TaskSpec {
    constant: u64,
    deps: Vec<(usize, bool)>,
}

/// Nodes `0..inputs` are inputs, the rest tasks; a task depends only on lower indices, so the
/// graph is acyclic. Tasks are declared in `declare` order, not index order.
#[derive(Clone, Debug)]
struct Dag {
    inputs: usize,
    tasks: Vec<TaskSpec>,
    declare: Vec<usize>,
}

impl Dag {
    fn len(&self) -> usize {
        self.inputs + self.tasks.len()
    }

    fn key(&self, node: usize) -> String {
        if node < self.inputs {
            format!("in{node}")
        } else {
            format!("t{}", node - self.inputs)
        }
    }

    fn name(&self, node: usize, via_alias: bool) -> String {
        if via_alias {
            format!("{}_alias", self.key(node))
        } else {
            self.key(node)
        }
    }

    fn build(&self) -> timbr_sched::Graph {
        let mut g = GraphBuilder::new();
        for i in 0..self.inputs {
            g.input::<u64>(self.key(i));
        }
        for &t in &self.declare {
            let spec = &self.tasks[t];
            let key = self.key(self.inputs + t);
            let constant = spec.constant;
            let deps: Vec<Dep> = spec
                .deps
                .iter()
                .map(|&(d, alias)| Dep::new(self.name(d, alias)))
                .collect();
            let me = key.clone();
            g.task(key, deps, move |a| {
                let mut v = constant;
                for i in 0..a.len() {
                    v = v.wrapping_add(*a.get::<u64>(i)?);
                }
                if v % 7 == 3 {
                    return Err(TaskError::msg(format_args!("{me}: {v} % 7 == 3")));
                }
                if v % 11 == 5 {
                    panic!("{me} panics at {v}");
                }
                Ok(v)
            });
        }
        // Aliases last: the builder accepts keys in any order.
        for node in 0..self.len() {
            g.alias(self.name(node, true), self.key(node));
        }
        g.build()
            .expect("a DAG with every dependency declared builds")
    }

    /// What every node must end as, computed directly from the semantics.
    fn model(&self, inputs: &[Option<u64>]) -> Vec<Seen> {
        let mut seen: Vec<Seen> = Vec::with_capacity(self.len());
        for (i, input) in inputs.iter().enumerate() {
            seen.push(match input {
                Some(v) => Seen::Value(Some(*v)),
                None => Seen::Failed(format!("input `{}` was not set", self.key(i)), false),
            });
        }
        for (t, spec) in self.tasks.iter().enumerate() {
            let me = self.key(self.inputs + t);
            let mut distinct: Vec<usize> = Vec::new();
            for &(d, _) in &spec.deps {
                if !distinct.contains(&d) {
                    distinct.push(d);
                }
            }
            let upstream = distinct.iter().find_map(|&d| match &seen[d] {
                Seen::Value(_) => None,
                Seen::Failed(..) => Some(self.key(d)),
                Seen::Skipped(u) => Some(u.clone()),
            });
            let outcome = match upstream {
                Some(u) => Seen::Skipped(u),
                None => {
                    let v = spec.deps.iter().fold(spec.constant, |v, &(d, _)| {
                        let Seen::Value(Some(x)) = seen[d] else {
                            unreachable!("checked above")
                        };
                        v.wrapping_add(x)
                    });
                    if v % 7 == 3 {
                        Seen::Failed(format!("{me}: {v} % 7 == 3"), false)
                    } else if v % 11 == 5 {
                        Seen::Failed(format!("panicked: {me} panics at {v}"), true)
                    } else {
                        Seen::Value(Some(v))
                    }
                }
            };
            seen.push(outcome);
        }
        seen
    }

    /// Which nodes the requested ones need (themselves included).
    fn ancestors(&self, requested: &[(usize, bool)]) -> Vec<bool> {
        let mut needed = vec![false; self.len()];
        let mut stack: Vec<usize> = requested.iter().map(|&(n, _)| n).collect();
        while let Some(n) = stack.pop() {
            if !std::mem::replace(&mut needed[n], true) && n >= self.inputs {
                stack.extend(self.tasks[n - self.inputs].deps.iter().map(|&(d, _)| d));
            }
        }
        needed
    }
}

fn dag() -> impl Strategy<Value = Dag> {
    (1..=3_usize, 1..=20_usize).prop_flat_map(|(inputs, n)| {
        let tasks: Vec<_> = (0..n)
            .map(|t| {
                (0..100_u64, vec((0..inputs + t, any::<bool>()), 0..=4))
                    .prop_map(|(constant, deps)| TaskSpec { constant, deps })
            })
            .collect();
        let declare = Just((0..n).collect::<Vec<_>>()).prop_shuffle();
        (tasks, declare).prop_map(move |(tasks, declare)| Dag {
            inputs,
            tasks,
            declare,
        })
    })
}

/// Each run's inputs, `None` for one left unset.
type Runs = Vec<Vec<Option<u64>>>;

/// Requested nodes, each named directly or through its alias.
type Subset = Vec<(usize, bool)>;

/// A DAG, a few runs' worth of inputs and a random subset of keys to plan for.
fn case() -> impl Strategy<Value = (Dag, Runs, Subset)> {
    dag().prop_flat_map(|dag| {
        let runs = vec(vec(option::weighted(0.8, 0..1000_u64), dag.inputs), 1..12);
        let subset = vec((0..dag.len(), any::<bool>()), 1..=4);
        (Just(dag), runs, subset)
    })
}

/// Runs `plan` with `inputs` under `executor`, checks the hook order, and returns every
/// node's outcome (`None` outside the plan), the hook calls, sorted, and the outcomes.
fn observe<'p>(
    executor: &dyn Executor,
    dag: &Dag,
    plan: &'p Plan,
    inputs: &[Option<u64>],
) -> (Vec<Option<Seen>>, Vec<Call>, Outcomes<'p>) {
    let recorder = Recorder::default();
    let out = executor.execute(prepare(dag, plan, inputs), Some(&recorder));
    let mut calls = recorder.take();
    check_order(&calls, plan, &out);
    calls.sort();
    (read(dag, &out), calls, out)
}

/// The same run with no hooks: the executors' fast paths (one panic guard per sequential
/// run, no dependency checks while nothing failed) must give the same outcomes.
fn unobserved<'p>(
    executor: &dyn Executor,
    dag: &Dag,
    plan: &'p Plan,
    inputs: &[Option<u64>],
) -> (Vec<Option<Seen>>, Outcomes<'p>) {
    let out = executor.execute(prepare(dag, plan, inputs), None);
    (read(dag, &out), out)
}

/// A run of `plan` with `inputs` set (`None`: left unset).
fn prepare<'p>(dag: &Dag, plan: &'p Plan, inputs: &[Option<u64>]) -> Run<'p> {
    let mut run = plan.run();
    for (i, v) in inputs.iter().enumerate() {
        if let Some(v) = v {
            run.set(&dag.key(i), *v).expect("inputs are u64s");
        }
    }
    run
}

/// Every node's outcome in `out`, `None` outside the plan.
fn read(dag: &Dag, out: &Outcomes) -> Vec<Option<Seen>> {
    (0..dag.len())
        .map(|n| {
            let by_key = out.get(&dag.key(n)).map(Seen::from);
            let by_alias = out.get(&dag.name(n, true)).map(Seen::from);
            assert_eq!(by_key, by_alias, "an alias reads its node's outcome");
            by_key
        })
        .collect()
}

/// How many times each threaded executor repeats a run, to give interleavings a chance.
const THREADED_REPEATS: usize = 4;

fn check_plan(dag: &Dag, plan: &Plan, needed: &[bool], runs: &[Vec<Option<u64>>]) {
    // Outcomes of every other datum stay alive until the end, so runs recycle slots in
    // every order: fresh arrays, arrays of the previous datum, arrays of a kept one.
    let mut kept = Vec::new();
    for (n, inputs) in runs.iter().enumerate() {
        let model = dag.model(inputs);
        let expected: Vec<Option<Seen>> = model
            .into_iter()
            .zip(needed)
            .map(|(seen, &needed)| needed.then_some(seen))
            .collect();
        let (seq, seq_calls, out) = observe(&timbr_sched::Sequential, dag, plan, inputs);
        assert_eq!(seq, expected, "sequential vs model, inputs {inputs:?}");
        if n % 2 == 0 {
            kept.push((out, seq.clone()));
        }
        for (name, executor) in common::executors() {
            let (outcomes, out) = unobserved(&*executor, dag, plan, inputs);
            assert_eq!(outcomes, seq, "{name} without hooks, inputs {inputs:?}");
            if n % 3 == 1 {
                kept.push((out, seq.clone()));
            }
        }
        for (name, executor) in common::executors().into_iter().skip(1) {
            for round in 0..THREADED_REPEATS {
                let (outcomes, calls, out) = observe(&*executor, dag, plan, inputs);
                assert_eq!(
                    outcomes, seq,
                    "{name} vs sequential, round {round}, inputs {inputs:?}"
                );
                assert_eq!(calls, seq_calls, "{name} hook calls, round {round}");
                if round == n % THREADED_REPEATS {
                    kept.push((out, seq.clone()));
                }
            }
        }
    }
    // Later runs did not disturb the outcomes kept from earlier ones.
    for (out, seen) in &kept {
        assert_eq!(&read(dag, out), seen, "a kept run changed");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn executors_agree_with_each_other_and_the_model((dag, runs, subset) in case()) {
        let graph = dag.build();
        check_plan(&dag, &graph.plan_all(), &vec![true; dag.len()], &runs);

        let names: Vec<String> = subset.iter().map(|&(n, alias)| dag.name(n, alias)).collect();
        let plan = graph.plan(&names).expect("every name is a key");
        check_plan(&dag, &plan, &dag.ancestors(&subset), &runs);
    }
}
