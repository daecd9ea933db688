//! The sequential executor: the plan's nodes in topological order on the caller's thread.

use super::{compute, finish, Executor, Slots};
use crate::{Hooks, Outcomes, Run};

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
    fn execute(&self, mut run: Run, hooks: Option<&dyn Hooks>) -> Outcomes {
        let plan = &run.plan.0;
        let graph = &plan.graph.0;
        if let Some(hooks) = hooks {
            hooks.start(&run.plan);
        }
        // The run is ours alone: plain slots, no synchronisation per node.
        for &i in plan.order.iter() {
            if let Some(outcome) = compute(graph, i, Slots::Plain(&run.slots), hooks) {
                run.slots[i as usize] = Some(outcome);
            }
        }
        finish(run.plan, run.slots, hooks)
    }
}
