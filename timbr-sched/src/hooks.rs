//! Callbacks around a run and each of its tasks, in the spirit of dask's `Callback`.

use std::time::Duration;

use crate::{NodeId, Outcome, Outcomes, Plan, Skipped, TaskError};

/// The node a hook is called for.
#[derive(Clone, Copy, Debug)]
pub struct NodeRef<'a> {
    /// The node.
    pub id: NodeId,
    /// Its key.
    pub key: &'a str,
}

/// Observes runs: every method has an empty default, so implement only what you need.
///
/// For each task node both executors make the same calls, in the same order for that node:
/// `pretask`, then (if it failed) `error`, then `posttask`; a skipped node gets `skipped`
/// alone. A dependency's `posttask` (or `skipped`) returns before its dependant's `pretask`
/// (or `skipped`) is called. `start` comes before any node, `finish` after all of them.
/// Under [`Threaded`](crate::Threaded), hooks of independent nodes may run concurrently on
/// different threads. Inputs get no calls.
///
/// When no hooks are given to [`Executor::execute`](crate::Executor::execute) the executors read
/// no clocks and build nothing for them; a node [`observes`](Hooks::observes) declines costs
/// nothing either.
pub trait Hooks: Send + Sync {
    /// Whether to make the per-task calls (`pretask`, `error`, `posttask`, `skipped`) for
    /// `node`, and time it. Default: every task. Declining nodes you do not track saves two
    /// clock reads per node.
    fn observes(&self, node: NodeRef<'_>) -> bool {
        let _ = node;
        true
    }

    /// A run of `plan` begins.
    fn start(&self, plan: &Plan) {
        let _ = plan;
    }

    /// A task is about to run.
    fn pretask(&self, node: NodeRef<'_>) {
        let _ = node;
    }

    /// A task failed (returned an error or panicked), before its `posttask`.
    fn error(&self, node: NodeRef<'_>, error: &TaskError) {
        let _ = (node, error);
    }

    /// A task finished after `elapsed`, with `outcome` (a value or a failure).
    fn posttask(&self, node: NodeRef<'_>, elapsed: Duration, outcome: &Outcome) {
        let _ = (node, elapsed, outcome);
    }

    /// A task did not run because a dependency failed.
    fn skipped(&self, node: NodeRef<'_>, skipped: &Skipped) {
        let _ = (node, skipped);
    }

    /// The run is over.
    fn finish(&self, outcomes: &Outcomes<'_>) {
        let _ = outcomes;
    }
}
