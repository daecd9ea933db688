//! The sequential executor: the plan's nodes in topological order on the caller's thread.

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::{compute, compute_slow, finish, input_outcome, Executor, Slots};
use crate::graph::{Inner, NodeKind};
use crate::{Args, Hooks, Outcome, Outcomes, Run, TaskError};

/// Runs every node on the caller's thread, in topological order.
///
/// The fastest choice for cheap stages and chains: no synchronisation beyond what the run
/// itself needs, and no thread hand-offs.
///
/// (This executor was called `Sync`, a name that shadowed [`std::marker::Sync`] wherever it
/// was imported.)
///
/// # Examples
///
/// ```
/// use timbr_sched::{Executor, GraphBuilder, Sequential, TaskError};
///
/// let mut g = GraphBuilder::new();
/// g.input::<u32>("x");
/// g.task("y", ["x"], |a| Ok(a.get::<u32>(0)? + 1));
/// let plan = g.build()?.plan_all();
/// for x in 0..3_u32 {
///     let mut run = plan.run();
///     run.set("x", x)?;
///     assert_eq!(Sequential.execute(run, None).value::<u32>("y")?, &(x + 1));
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Sequential;

impl Executor for Sequential {
    fn execute<'p>(&self, mut run: Run<'p>, hooks: Option<&dyn Hooks>) -> Outcomes<'p> {
        let plan = &run.plan.get().0;
        let graph = &plan.graph.0;
        match hooks {
            None => run_unobserved(graph, &plan.order, &mut run.slots),
            Some(hooks) => {
                hooks.start(run.plan.get());
                // The run is ours alone: plain slots, no synchronisation per node.
                for &i in plan.order.iter() {
                    if let Some(outcome) = compute(graph, i, Slots::Plain(&run.slots), Some(hooks))
                    {
                        run.slots[i as usize] = Some(outcome);
                    }
                }
            }
        }
        finish(run.plan, run.slots, hooks)
    }
}

/// Runs `order` with no hooks: the common case, made cheap.
///
/// Without hooks the only user code a run calls is the task functions, so one `catch_unwind`
/// around the whole loop catches their panics as well as one per node would: a panic unwinds
/// to here with `next` still naming the node that panicked (its slot not yet written), that
/// node alone is marked failed, and the loop resumes with the node after it — its dependants
/// are skipped, independent nodes still run, exactly as with a guard per node.
///
/// While every outcome so far is a value (`clean`), no dependency can have failed, so tasks
/// are called without looking at their dependencies first.
fn run_unobserved(graph: &Inner, order: &[u32], slots: &mut [Option<Outcome>]) {
    let mut next = 0;
    let mut clean = true;
    while next < order.len() {
        let caught = catch_unwind(AssertUnwindSafe(|| {
            while let Some(&i) = order.get(next) {
                step(graph, i, slots, &mut clean);
                next += 1;
            }
        }));
        if let Err(payload) = caught {
            let i = order[next] as usize;
            slots[i] = Some(Outcome::Failed(TaskError::from_panic(payload)));
            clean = false;
            next += 1;
        }
    }
}

/// Computes node `i` into its slot; a panicking task unwinds out of here (see
/// [`run_unobserved`]).
#[inline(always)]
fn step(graph: &Inner, i: u32, slots: &mut [Option<Outcome>], clean: &mut bool) {
    let NodeKind::Task { args, func, .. } = &graph.nodes[i as usize].kind else {
        if let Some(failed) = input_outcome(graph, i, Slots::Plain(&*slots)) {
            slots[i as usize] = Some(failed);
            *clean = false;
        }
        return;
    };
    let outcome = if *clean {
        let args = Args {
            graph,
            node: i,
            args,
            slots: Slots::Plain(&*slots),
        };
        match func(&args) {
            Ok(value) => Outcome::Value(value),
            Err(error) => {
                *clean = false;
                Outcome::Failed(error)
            }
        }
    } else {
        // Something failed earlier in this run: check for a failed dependency (and keep a
        // guard per node; this path is not the fast one).
        compute_slow(graph, i, Slots::Plain(&*slots), None)
    };
    slots[i as usize] = Some(outcome);
}
