//! Executors: the same plan, run on the caller's thread or on a rayon pool.

mod linger;
mod sequential;
mod threaded;

pub use sequential::Sequential;
pub use threaded::Threaded;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use crate::arena::SlotArray;
use crate::builder::TaskOutFn;
use crate::graph::{Inner, NodeKind};
use crate::plan::PlanRef;
use crate::{Args, Hooks, NodeId, NodeRef, Out, Outcome, Outcomes, Run, Skipped, TaskError};

/// Runs a [`Run`] to completion and returns every planned node's outcome.
///
/// Implementations agree on results and on the hook calls made for each node; they differ
/// only in where tasks run.
pub trait Executor: Send + Sync {
    /// Runs every node of the run's plan. Never fails as a whole: each node's failure is in
    /// its outcome, and the nodes that depend on it are [`Skipped`].
    fn execute<'p>(&self, run: Run<'p>, hooks: Option<&dyn Hooks>) -> Outcomes<'p>;
}

impl<E: Executor + ?Sized> Executor for Arc<E> {
    fn execute<'p>(&self, run: Run<'p>, hooks: Option<&dyn Hooks>) -> Outcomes<'p> {
        (**self).execute(run, hooks)
    }
}

impl<E: Executor + ?Sized> Executor for Box<E> {
    fn execute<'p>(&self, run: Run<'p>, hooks: Option<&dyn Hooks>) -> Outcomes<'p> {
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
///
/// Inlined into each executor, so the slot kind is known and the unobserved path (no hooks,
/// every dependency a value) is straight-line code; the rest is out of line.
#[inline(always)]
pub(crate) fn compute(
    graph: &Inner,
    i: u32,
    slots: Slots<'_>,
    hooks: Option<&dyn Hooks>,
) -> Option<Outcome> {
    let node = &graph.nodes[i as usize];
    let NodeKind::Task {
        args, deps, func, ..
    } = &node.kind
    else {
        return input_outcome(graph, i, slots);
    };
    let all_values = deps
        .iter()
        .all(|&d| matches!(slots.get(d), Some(Outcome::Value(_))));
    if hooks.is_some() || !all_values {
        return Some(compute_slow(graph, i, slots, hooks));
    }
    let args = Args {
        graph,
        node: i,
        args,
        slots,
    };
    Some(call(func, &args))
}

/// Runs a task, its panic caught.
#[inline(always)]
fn call(func: &TaskOutFn, args: &Args<'_>) -> Outcome {
    let mut slot = None;
    match catch_unwind(AssertUnwindSafe(|| func(args, Out(&mut slot)))) {
        Ok(()) => slot.unwrap_or_else(no_outcome),
        Err(payload) => Outcome::Failed(TaskError::from_panic(payload)),
    }
}

/// The outcome of a task that filled nothing into its [`Out`].
#[cold]
#[inline(never)]
pub(crate) fn no_outcome() -> Outcome {
    Outcome::Failed(TaskError::msg("the task produced no outcome"))
}

/// An input's outcome: `None` when it was set, a failure when it was not.
#[cold]
#[inline(never)]
pub(super) fn input_outcome(graph: &Inner, i: u32, slots: Slots<'_>) -> Option<Outcome> {
    if slots.get(i).is_some() {
        return None;
    }
    let key = &graph.nodes[i as usize].key;
    let error = TaskError::msg(format_args!("input `{key}` was not set"));
    Some(Outcome::Failed(error))
}

/// A task's outcome when it is observed by hooks or a dependency holds no value.
#[inline(never)]
pub(super) fn compute_slow(
    graph: &Inner,
    i: u32,
    slots: Slots<'_>,
    hooks: Option<&dyn Hooks>,
) -> Outcome {
    let NodeKind::Task {
        args, deps, func, ..
    } = &graph.nodes[i as usize].kind
    else {
        unreachable!("only tasks are computed here")
    };
    let hooks = hooks.filter(|h| h.observes(node_ref(graph, i)));
    if let Some(upstream) = deps.iter().find_map(|&d| failed_upstream(graph, d, slots)) {
        let skipped = Skipped { upstream };
        if let Some(hooks) = hooks {
            hooks.skipped(node_ref(graph, i), &skipped);
        }
        return Outcome::Skipped(skipped);
    }
    let args = Args {
        graph,
        node: i,
        args,
        slots,
    };
    match hooks {
        None => call(func, &args),
        Some(hooks) => {
            let at = node_ref(graph, i);
            hooks.pretask(at);
            let started = Instant::now();
            let outcome = call(func, &args);
            let elapsed = started.elapsed();
            if let Outcome::Failed(error) = &outcome {
                hooks.error(at, error);
            }
            hooks.posttask(at, elapsed, &outcome);
            outcome
        }
    }
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

pub(crate) fn finish<'p>(
    plan: PlanRef<'p>,
    slots: SlotArray<'p>,
    hooks: Option<&dyn Hooks>,
) -> Outcomes<'p> {
    let outcomes = Outcomes { plan, slots };
    if let Some(hooks) = hooks {
        hooks.finish(&outcomes);
    }
    outcomes
}
