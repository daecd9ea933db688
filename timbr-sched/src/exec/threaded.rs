//! The threaded executor: a run's serial stretches on the caller's thread, its parallel ones on
//! the caller and helpers from a rayon pool as dependencies complete.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Instant;

use rayon::{Scope, ThreadPool};

use super::{compute, finish, linger, Executor, Slots};
use crate::graph::NodeKind;
use crate::plan::PlanInner;
use crate::{Hooks, Outcome, Outcomes, Run};

/// Runs independent nodes in parallel on a rayon pool (the global one, or one you pass in).
///
/// A run starts on the calling thread and stays there for as long as only one task at a time
/// is ready: a chain never changes threads and never wakes the pool. From the first time two
/// or more tasks are ready at once, the caller keeps computing and the pool lends it helpers,
/// one fewer than the pool has threads, so that as many threads compute as the pool has — one
/// per core for a pool sized to the machine (a pool of one thread still lends one). A thread
/// that finishes a node continues with one dependant it made ready and offers the others to
/// whoever is free. (Offering every ready node to the pool as well as computing on the caller
/// made three threads share two cores, and a node could wait for a core while the others
/// finished; moving the whole parallel part into the pool instead made every fan-out wait for
/// a worker to wake before any work started.)
///
/// Waking a sleeping thread is slow on a small VM (tens of µs when its vCPU went idle), so
/// runs that follow each other closely wake nobody: a pool worker that helped a run keeps
/// looking for the pool's jobs for 50 µs after its last one before rayon may put it to sleep,
/// and the next run's helper starts at once; and the caller, its own nodes done, waits for its
/// helpers awake, taking any node they offer, for up to 50 µs before it sleeps. Both yield
/// their CPU while they wait and stop after that: an idle pool burns nothing. (A worker that
/// lingers while it was itself waiting inside another job of the pool resumes that job up to
/// 50 µs after the pool last had work for it.)
///
/// A run started from inside a rayon worker (e.g. from a `par_iter`) works, but while it
/// waits for its helpers the worker may pick up other jobs, which may start further runs on the
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

impl Executor for Threaded {
    fn execute<'p>(&self, run: Run<'p>, hooks: Option<&dyn Hooks>) -> Outcomes<'p> {
        let plan = &run.plan.get().0;
        if let Some(hooks) = hooks {
            hooks.start(run.plan.get());
        }
        let mut slots = run.slots;
        let mut pending: Box<[AtomicU32]> = plan.pending.iter().map(|&p| p.into()).collect();
        let ready = serial(plan, &mut slots, &mut pending, hooks);
        if let Some((&first, rest)) = ready.split_first() {
            parallel(
                self.pool.as_deref(),
                plan,
                &mut slots,
                pending,
                hooks,
                first,
                rest,
            );
        }
        finish(run.plan, slots, hooks)
    }
}

/// Tasks whose dependencies are all done: none or one while the run is serial.
#[derive(Default)]
enum Ready {
    #[default]
    None,
    One(u32),
    Many(Vec<u32>),
}

impl Ready {
    fn push(&mut self, i: u32) {
        *self = match std::mem::take(self) {
            Ready::None => Ready::One(i),
            Ready::One(first) => Ready::Many(vec![first, i]),
            Ready::Many(mut all) => {
                all.push(i);
                Ready::Many(all)
            }
        };
    }
}

/// Runs the plan on the caller's thread, one node at a time, until the run is done (nothing
/// returned) or several tasks are ready at once (returned, for [`parallel`]).
///
/// The run is still the caller's alone: plain slots, and the counters written through
/// `get_mut`, with no atomic operation.
fn serial(
    plan: &PlanInner,
    slots: &mut [Option<Outcome>],
    pending: &mut [AtomicU32],
    hooks: Option<&dyn Hooks>,
) -> Vec<u32> {
    let graph = &plan.graph.0;
    let mut ready = Ready::None;
    let mut run = |i: u32, slots: &mut [Option<Outcome>], ready: &mut Ready| {
        if let Some(outcome) = compute(graph, i, Slots::Plain(slots), hooks) {
            slots[i as usize] = Some(outcome);
        }
        for &d in plan.dependants[i as usize].iter() {
            let count = pending[d as usize].get_mut();
            *count -= 1;
            if *count == 0 {
                ready.push(d);
            }
        }
    };
    // Inputs first: they cost nothing, and two of them must not look like parallel work.
    for &r in plan.roots.iter() {
        if matches!(graph.nodes[r as usize].kind, NodeKind::Input(_)) {
            run(r, slots, &mut ready);
        }
    }
    for &r in plan.roots.iter() {
        if !matches!(graph.nodes[r as usize].kind, NodeKind::Input(_)) {
            ready.push(r);
        }
    }
    loop {
        match std::mem::take(&mut ready) {
            Ready::None => return Vec::new(),
            Ready::One(i) => run(i, slots, &mut ready),
            Ready::Many(all) => return all,
        }
    }
}

/// Runs the rest of the plan from the tasks in `first` and `rest` (ready, none of them
/// started) on the caller's thread and on helpers from the pool, and waits for it.
///
/// The caller keeps computing (it is already on a core: no wake-up before work starts) and
/// the pool lends `helpers` threads, one fewer than it has, so that as many threads compute
/// as the pool has — one per core for a pool sized to the machine. Offering every ready node
/// to the pool as well made three threads share two cores, and a node could then wait for a
/// core while the others finished.
fn parallel(
    pool: Option<&ThreadPool>,
    plan: &PlanInner,
    slots: &mut [Option<Outcome>],
    pending: Box<[AtomicU32]>,
    hooks: Option<&dyn Hooks>,
    first: u32,
    rest: &[u32],
) {
    // Slots written by one thread and read by others: write-once cells from here on.
    let cells: Box<[OnceLock<Outcome>]> = slots
        .iter_mut()
        .map(|slot| slot.take().map_or_else(OnceLock::new, OnceLock::from))
        .collect();
    let threads = pool.map_or_else(rayon::current_num_threads, ThreadPool::current_num_threads);
    let shared = Shared {
        plan,
        slots: &cells,
        pending,
        hooks,
        ready: Mutex::new(rest.to_vec()),
        helpers: AtomicUsize::new(0),
        // At least one, so that a pool of one thread still adds one.
        most_helpers: threads.saturating_sub(1).max(1),
    };
    match pool {
        Some(pool) => pool.in_place_scope(|scope| shared.start(first, scope)),
        None => rayon::in_place_scope(|scope| shared.start(first, scope)),
    }
    drop(shared);
    // Back into the run's own (recycled) array.
    for (slot, cell) in slots.iter_mut().zip(cells.into_vec()) {
        *slot = cell.into_inner();
    }
}

/// A run as several threads share it.
struct Shared<'r> {
    plan: &'r PlanInner,
    slots: &'r [OnceLock<Outcome>],
    pending: Box<[AtomicU32]>,
    hooks: Option<&'r dyn Hooks>,
    /// Ready nodes nobody has taken yet.
    ready: Mutex<Vec<u32>>,
    /// Helpers spawned and not yet finished.
    helpers: AtomicUsize,
    most_helpers: usize,
}

impl<'r> Shared<'r> {
    /// The caller's part: asks for helpers, runs `first`, then takes ready nodes until none
    /// is left and awaits its helpers; the scope then waits for any still running.
    fn start<'s>(&'s self, first: u32, scope: &Scope<'s>) {
        self.call_helpers(scope);
        self.process(first, scope);
        let _ = self.drain(scope);
        self.await_helpers(scope);
    }

    /// The caller's wait for its helpers, awake: taking any node they offer meanwhile, for at
    /// most [`linger::LINGER`]; after that (or on a pool worker, which waits the rayon way,
    /// running the pool's jobs) the scope's own wait puts the thread to sleep.
    ///
    /// A sleeping caller must be woken when the last helper is done, and on a small VM that is
    /// an idle vCPU's wake-up: in `wide8_heavy` (40 µs nodes) it took 21 µs in the median run
    /// and 47 µs in one in ten, where a helper finishing its last node usually trails the
    /// caller by about one µs (BENCHMARKS.md).
    fn await_helpers<'s>(&'s self, scope: &Scope<'s>) {
        if rayon::current_thread_index().is_some() {
            return;
        }
        let mut deadline = Instant::now() + linger::LINGER;
        while self.helpers.load(Ordering::Acquire) > 0 {
            if self.drain(scope) {
                deadline = Instant::now() + linger::LINGER;
            } else if Instant::now() < deadline {
                std::thread::yield_now();
            } else {
                return;
            }
        }
    }

    /// Spawns helpers while there is work for them and fewer than allowed are running.
    fn call_helpers<'s>(&'s self, scope: &Scope<'s>) {
        let waiting = lock(&self.ready).len();
        for _ in 0..waiting {
            let grown = self
                .helpers
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |h| {
                    (h < self.most_helpers).then_some(h + 1)
                });
            if grown.is_err() {
                return;
            }
            scope.spawn(move |s| {
                let _ = self.drain(s);
                // Queued before this helper counts itself out: a caller awaiting `helpers == 0`
                // then leaves its awake wait only once this job is all but returned, instead of
                // falling asleep in the scope while the lingering job is still being queued.
                linger::after_helping();
                self.helpers.fetch_sub(1, Ordering::AcqRel);
            });
        }
    }

    /// Takes ready nodes until none is left; whether it took any. A node offered after a
    /// helper gave up is taken by the thread that offered it, once its own chain is done, or by
    /// the caller still awaiting its helpers: nothing is left behind.
    fn drain<'s>(&'s self, scope: &Scope<'s>) -> bool {
        let mut took = false;
        loop {
            let next = lock(&self.ready).pop();
            match next {
                Some(i) => self.process(i, scope),
                None => return took,
            }
            took = true;
        }
    }

    /// Runs `i`, then whatever it makes ready: one dependant on this thread, the others
    /// offered (calling a helper if one may still come).
    fn process<'s>(&'s self, mut i: u32, scope: &Scope<'s>) {
        let graph = &self.plan.graph.0;
        loop {
            if let Some(outcome) = compute(graph, i, Slots::Shared(self.slots), self.hooks) {
                let _ = self.slots[i as usize].set(outcome);
            }
            let mut next = None;
            let mut offered = false;
            for &d in self.plan.dependants[i as usize].iter() {
                // AcqRel: the thread that brings the count to zero sees every dependency's slot.
                if self.pending[d as usize].fetch_sub(1, Ordering::AcqRel) == 1 {
                    if let Some(ready) = next.replace(d) {
                        lock(&self.ready).push(ready);
                        offered = true;
                    }
                }
            }
            if offered {
                self.call_helpers(scope);
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
