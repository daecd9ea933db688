//! Executors: the same plan, run on the caller's thread or on a rayon pool.

mod sequential;
mod threaded;

pub use sequential::Sequential;
pub use threaded::Threaded;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use crate::graph::{Inner, NodeKind};
use crate::{Args, Hooks, NodeId, NodeRef, Outcome, Outcomes, Plan, Run, Skipped, TaskError};

/// Runs a [`Run`] to completion and returns every planned node's outcome.
///
/// Implementations agree on results and on the hook calls made for each node; they differ
/// only in where tasks run.
pub trait Executor: Send + Sync {
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

/// A run's slots as a node's computation reads them: plain when one thread owns the run
/// ([`Sequential`]), write-once cells when several threads share it ([`Threaded`]).
#[derive(Clone, Copy)]
pub(crate) enum Slots<'a> {
    Plain(&'a [Option<Outcome>]),
    Shared(&'a [OnceLock<Outcome>]),
}

impl<'a> Slots<'a> {
    /// The outcome of node `i`, if it has one yet.
    #[inline]
    pub(crate) fn get(self, i: u32) -> Option<&'a Outcome> {
        match self {
            Slots::Plain(slots) => slots[i as usize].as_ref(),
            Slots::Shared(slots) => slots[i as usize].get(),
        }
    }
}

/// Computes node `i`'s outcome, to be stored in its slot; every dependency's slot must already
/// be set. `None` for an input that was set (its slot already holds its outcome).
pub(crate) fn compute(
    graph: &Inner,
    i: u32,
    slots: Slots<'_>,
    hooks: Option<&dyn Hooks>,
) -> Option<Outcome> {
    let node = &graph.nodes[i as usize];
    let (args, deps, func) = match &node.kind {
        NodeKind::Input(_) => {
            if slots.get(i).is_some() {
                return None;
            }
            let error = TaskError::msg(format_args!("input `{}` was not set", node.key));
            return Some(Outcome::Failed(error));
        }
        NodeKind::Task {
            args, deps, func, ..
        } => (args, deps, func),
    };

    let hooks = hooks.filter(|h| h.observes(node_ref(graph, i)));
    if let Some(upstream) = deps.iter().find_map(|&d| failed_upstream(graph, d, slots)) {
        let skipped = Skipped { upstream };
        if let Some(hooks) = hooks {
            hooks.skipped(node_ref(graph, i), &skipped);
        }
        return Some(Outcome::Skipped(skipped));
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
    Some(outcome)
}

/// The key a dependant of `d` must report as failed upstream, if `d` holds no value.
fn failed_upstream(graph: &Inner, d: u32, slots: Slots<'_>) -> Option<Arc<str>> {
    match slots.get(d) {
        Some(Outcome::Value(_)) => None,
        Some(Outcome::Skipped(s)) => Some(Arc::clone(&s.upstream)),
        // Failed, or (impossible by construction: executors run dependencies first) not run.
        _ => Some(Arc::clone(&graph.nodes[d as usize].key)),
    }
}

pub(crate) fn node_ref(graph: &Inner, i: u32) -> NodeRef<'_> {
    NodeRef {
        id: NodeId(i),
        key: &graph.nodes[i as usize].key,
    }
}

fn finish(plan: Plan, slots: Box<[Option<Outcome>]>, hooks: Option<&dyn Hooks>) -> Outcomes {
    let outcomes = Outcomes { plan, slots };
    if let Some(hooks) = hooks {
        hooks.finish(&outcomes);
    }
    outcomes
}
