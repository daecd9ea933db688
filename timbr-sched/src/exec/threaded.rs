//! The threaded executor: ready nodes run on a rayon pool as their dependencies complete.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use rayon::{Scope, ThreadPool};

use super::{compute, finish, Executor, Slots};
use crate::plan::PlanInner;
use crate::{Hooks, Outcome, Outcomes, Run};

/// Runs ready nodes in parallel on a rayon pool (the global one, or one you pass in).
///
/// The calling thread takes part: it runs the first ready node itself, and whenever a
/// finished node makes several dependants ready, one continues on the same thread and the
/// rest are offered to the pool. A chain therefore never changes threads, and independent
/// branches spread over the pool. When its own branch is done, the calling thread takes
/// offered nodes that no pool thread has started yet, so it keeps working rather than
/// waiting (on 2 cores, the caller and the pool's two threads share the work).
///
/// A run started from inside a rayon worker (e.g. from a `par_iter`) works, but while it waits
/// for its own nodes the worker may pick up other jobs, which may start further runs on the
/// same stack; very deep nesting of that kind can exhaust a worker's stack (rayon's default is
/// 2 MiB). Give such pools a larger `stack_size`, or batch the outer iteration.
///
/// # Examples
///
/// ```
/// use timbr_sched::{Executor, GraphBuilder, TaskError, Threaded};
///
/// let mut g = GraphBuilder::new();
/// g.input::<u64>("n");
/// for k in 0..4 {
///     g.task(format!("part{k}"), ["n"], move |a| Ok(a.get::<u64>(0)? * k));
/// }
/// g.task("sum", ["part0", "part1", "part2", "part3"], |a| {
///     (0..4).map(|i| a.get::<u64>(i).copied()).sum::<Result<u64, _>>()
/// });
/// let plan = g.build()?.plan(["sum"])?;
/// let mut run = plan.run();
/// run.set("n", 10_u64)?;
/// assert_eq!(Threaded::new().execute(run, None).value::<u64>("sum")?, &60);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Threaded {
    pool: Option<Arc<ThreadPool>>,
}

impl Threaded {
    /// An executor on rayon's global pool.
    pub fn new() -> Self {
        Threaded { pool: None }
    }

    /// An executor on `pool`.
    pub fn with_pool(pool: Arc<ThreadPool>) -> Self {
        Threaded { pool: Some(pool) }
    }
}

struct Shared<'r> {
    plan: &'r PlanInner,
    slots: &'r [OnceLock<Outcome>],
    pending: Box<[AtomicU32]>,
    /// Ready nodes not yet taken. Each is pushed together with a pool job that takes one
    /// node; the calling thread takes them too, so it works instead of only waiting.
    ready: Mutex<Vec<u32>>,
    hooks: Option<&'r dyn Hooks>,
}

impl<'r> Shared<'r> {
    /// Offers every root but the first to the pool, runs the first on this thread, then
    /// takes ready nodes until none is left to take.
    fn start<'s>(&'s self, scope: &Scope<'s>) {
        if let Some((&first, rest)) = self.plan.roots.split_first() {
            for &r in rest {
                self.offer(r, scope);
            }
            self.process(first, scope);
            while let Some(i) = self.take() {
                self.process(i, scope);
            }
        }
    }

    /// Makes `i` available to whichever thread takes it first: a pool job or the caller.
    fn offer<'s>(&'s self, i: u32, scope: &Scope<'s>) {
        lock(&self.ready).push(i);
        scope.spawn(move |s| {
            if let Some(i) = self.take() {
                self.process(i, s);
            }
        });
    }

    /// A ready node nobody took yet.
    fn take(&self) -> Option<u32> {
        lock(&self.ready).pop()
    }

    /// Runs `i`, then whatever it makes ready: one dependant inline, the others offered.
    fn process<'s>(&'s self, mut i: u32, scope: &Scope<'s>) {
        loop {
            let graph = &self.plan.graph.0;
            if let Some(outcome) = compute(graph, i, Slots::Shared(self.slots), self.hooks) {
                let _ = self.slots[i as usize].set(outcome);
            }
            let mut next = None;
            for &d in self.plan.dependants[i as usize].iter() {
                // AcqRel: the thread that brings the count to zero sees every dependency's slot.
                if self.pending[d as usize].fetch_sub(1, Ordering::AcqRel) == 1 {
                    if let Some(ready) = next.replace(d) {
                        self.offer(ready, scope);
                    }
                }
            }
            match next {
                Some(d) => i = d,
                None => return,
            }
        }
    }
}

/// Locks the ready list; nothing panics while holding it, but a poisoned list is still valid.
fn lock(ready: &Mutex<Vec<u32>>) -> MutexGuard<'_, Vec<u32>> {
    ready.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Executor for Threaded {
    fn execute<'p>(&self, run: Run<'p>, hooks: Option<&dyn Hooks>) -> Outcomes<'p> {
        let plan = &run.plan.get().0;
        if let Some(hooks) = hooks {
            hooks.start(run.plan.get());
        }
        // Slots written by one thread and read by others: write-once cells for this run.
        let mut plain = run.slots;
        let slots: Box<[OnceLock<Outcome>]> = plain
            .iter_mut()
            .map(|slot| slot.take().map_or_else(OnceLock::new, OnceLock::from))
            .collect();
        let shared = Shared {
            plan,
            slots: &slots,
            pending: plan.pending.iter().map(|&p| AtomicU32::new(p)).collect(),
            ready: Mutex::new(Vec::new()),
            hooks,
        };
        match &self.pool {
            Some(pool) => pool.in_place_scope(|scope| shared.start(scope)),
            None => rayon::in_place_scope(|scope| shared.start(scope)),
        }
        drop(shared);
        // Back into the run's own (recycled) array.
        for (slot, cell) in plain.iter_mut().zip(slots.into_vec()) {
            *slot = cell.into_inner();
        }
        finish(run.plan, plain, hooks)
    }
}
