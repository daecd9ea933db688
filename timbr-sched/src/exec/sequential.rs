//! The sequential executor: the plan's nodes in topological order on the caller's thread.

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::{compute, compute_slow, finish, input_outcome, no_outcome, Executor, Slots};
use crate::graph::Inner;
use crate::plan::{Step, StepTask};
use crate::{Args, Hooks, Out, Outcome, Outcomes, Run, TaskError};

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
            None => run_unobserved(graph, &plan.steps, &mut run.slots),
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
fn run_unobserved(graph: &Inner, steps: &[Step], slots: &mut [Option<Outcome>]) {
    let mut next = 0;
    let mut clean = true;
    while next < steps.len() {
        let caught = catch_unwind(AssertUnwindSafe(|| {
            while let Some(s) = steps.get(next) {
                step(graph, s, slots, &mut clean);
                next += 1;
            }
        }));
        if let Err(payload) = caught {
            let i = steps[next].node as usize;
            slots[i] = Some(Outcome::Failed(TaskError::from_panic(payload)));
            clean = false;
            next += 1;
        }
    }
}

/// Computes node `i` into its slot; a panicking task unwinds out of here (see
/// [`run_unobserved`]).
#[inline(always)]
fn step(graph: &Inner, step: &Step, slots: &mut [Option<Outcome>], clean: &mut bool) {
    let i = step.node;
    let Some(StepTask {
        func,
        args,
        args_before,
    }) = &step.task
    else {
        // An input: set (the common case) or failed for want of a value.
        if slots[i as usize].is_none() {
            slots[i as usize] = input_outcome(graph, i, Slots::Plain(&*slots));
            *clean = false;
        }
        return;
    };
    if !*clean {
        // Something failed earlier in this run: check for a failed dependency (and keep a
        // guard per node; this path is not the fast one).
        let outcome = compute_slow(graph, i, Slots::Plain(&*slots), None);
        put(&mut slots[i as usize], outcome);
        return;
    }
    if !*args_before {
        // An argument declared after the task: its slot cannot be lent beside them.
        let outcome = compute_slow(graph, i, Slots::Plain(&*slots), None);
        if !matches!(outcome, Outcome::Value(_)) {
            *clean = false;
        }
        put(&mut slots[i as usize], outcome);
        return;
    }
    // The task writes its own slot; it reads the slots before it, where its arguments are.
    let (before, from) = slots.split_at_mut(i as usize);
    // A run has a slot for every node of its graph, this one's included.
    let Some(slot) = from.first_mut() else {
        return;
    };
    let args = Args {
        graph,
        node: i,
        args,
        slots: Slots::Plain(before),
    };
    func(&args, Out(slot));
    match slot {
        Some(Outcome::Value(_)) => {}
        Some(_) => *clean = false,
        None => {
            *slot = Some(no_outcome());
            *clean = false;
        }
    }
}

/// Writes a task's outcome into its slot. A task's slot is empty (the run's slots come empty
/// and each task runs once), so nothing is dropped on the way; `debug_assert` says so.
#[inline(always)]
fn put(slot: &mut Option<Outcome>, outcome: Outcome) {
    debug_assert!(slot.is_none(), "a task's slot is written once per run");
    if slot.is_none() {
        *slot = Some(outcome);
    } else {
        replace(slot, outcome);
    }
}

/// [`put`] on a slot that is not empty: never, by construction (kept safe all the same).
#[cold]
#[inline(never)]
fn replace(slot: &mut Option<Outcome>, outcome: Outcome) {
    *slot = Some(outcome);
}
