//! Executors: the same plan, run on the caller's thread or on a rayon pool.

mod sync;
mod threaded;

pub use sync::Sync;
pub use threaded::Threaded;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use crate::graph::{Inner, NodeKind};
use crate::{Args, Hooks, NodeId, NodeRef, Outcome, Outcomes, Run, Skipped, TaskError};

/// Runs a [`Run`] to completion and returns every planned node's outcome.
///
/// Implementations agree on results and on the hook calls made for each node; they differ
/// only in where tasks run.
pub trait Executor: Send + std::marker::Sync {
    /// Runs every node of the run's plan. Never fails as a whole: each node's failure is in
    /// its outcome, and the nodes that depend on it are [`Skipped`].
    fn execute(&self, run: Run, hooks: Option<&dyn Hooks>) -> Outcomes;
}

impl<E: Executor + ?Sized> Executor for Arc<E> {
    fn execute(&self, run: Run, hooks: Option<&dyn Hooks>) -> Outcomes {
        (**self).execute(run, hooks)
    }
}

impl<E: Executor + ?Sized> Executor for Box<E> {
    fn execute(&self, run: Run, hooks: Option<&dyn Hooks>) -> Outcomes {
        (**self).execute(run, hooks)
    }
}

/// Computes node `i` into its slot; every dependency's slot must already be set.
pub(crate) fn run_node(
    graph: &Inner,
    i: u32,
    slots: &[OnceLock<Outcome>],
    hooks: Option<&dyn Hooks>,
) {
    let node = &graph.nodes[i as usize];
    let slot = &slots[i as usize];
    let (args, deps, func) = match &node.kind {
        NodeKind::Input(_) => {
            if slot.get().is_none() {
                let error = TaskError::msg(format_args!("input `{}` was not set", node.key));
                let _ = slot.set(Outcome::Failed(error));
            }
            return;
        }
        NodeKind::Task {
            args, deps, func, ..
        } => (args, deps, func),
    };

    if let Some(upstream) = deps.iter().find_map(|&d| failed_upstream(graph, d, slots)) {
        let skipped = Skipped { upstream };
        if let Some(hooks) = hooks {
            hooks.skipped(node_ref(graph, i), &skipped);
        }
        let _ = slot.set(Outcome::Skipped(skipped));
        return;
    }

    let args = Args {
        graph,
        node: i,
        args,
        slots,
    };
    let call = || match catch_unwind(AssertUnwindSafe(|| func(&args))) {
        Ok(Ok(value)) => Outcome::Value(value),
        Ok(Err(error)) => Outcome::Failed(error),
        Err(payload) => Outcome::Failed(TaskError::from_panic(payload)),
    };
    let outcome = match hooks {
        None => call(),
        Some(hooks) => {
            let at = node_ref(graph, i);
            hooks.pretask(at);
            let started = Instant::now();
            let outcome = call();
            let elapsed = started.elapsed();
            if let Outcome::Failed(error) = &outcome {
                hooks.error(at, error);
            }
            hooks.posttask(at, elapsed, &outcome);
            outcome
        }
    };
    let _ = slot.set(outcome);
}

/// The key a dependant of `d` must report as failed upstream, if `d` holds no value.
fn failed_upstream(graph: &Inner, d: u32, slots: &[OnceLock<Outcome>]) -> Option<Arc<str>> {
    match slots[d as usize].get() {
        Some(Outcome::Value(_)) => None,
        Some(Outcome::Skipped(s)) => Some(Arc::clone(&s.upstream)),
        // Failed, or (impossible by construction: executors run dependencies first) not run.
        _ => Some(Arc::clone(&graph.nodes[d as usize].key)),
    }
}

fn node_ref(graph: &Inner, i: u32) -> NodeRef<'_> {
    NodeRef {
        id: NodeId(i),
        key: &graph.nodes[i as usize].key,
    }
}

fn finish(run: Run, hooks: Option<&dyn Hooks>) -> Outcomes {
    let outcomes = Outcomes {
        plan: run.plan,
        slots: run.slots,
    };
    if let Some(hooks) = hooks {
        hooks.finish(&outcomes);
    }
    outcomes
}
