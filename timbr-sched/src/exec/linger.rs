//! Helpers that stay awake for a moment after a run, so that the next run's fan-out finds a
//! worker running instead of having to wake a sleeping one.
//!
//! Waking a parked thread is a futex call plus, when its CPU went idle, that CPU's wake-up; on a
//! small VM an idle vCPU can take tens of µs to come back (`cargo bench -p timbr-benches --bench
//! wake`): in `wide8_heavy` one run in ten started its helper 10–30 µs late, and ended that
//! much later. Rayon's workers already spin a little before sleeping
//! (33 `sched_yield`s, a few µs on an idle core); this extends that to [`LINGER`] after a worker
//! helped a run, by a pool job that runs whatever the pool is given meanwhile — the next run's
//! helper included — and yields its CPU between looks, so it gives way to any other thread that
//! wants the core. The time is measured from the last job it ran, so a stream of runs keeps one
//! worker awake and a pause longer than [`LINGER`] lets it sleep: an idle pool burns nothing.
//!
//! The lingering job is an ordinary rayon job: if the worker was itself waiting inside another
//! job (a `join` or a scope of the user's), that job resumes at most [`LINGER`] after the pool
//! last had work for it.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a pool worker that helped a run keeps looking for the next job before rayon may put
/// it to sleep.
pub(crate) const LINGER: Duration = Duration::from_micros(50);

/// Lingering jobs queued or running, over every pool (for tests: it must come back to zero).
static LINGERERS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Whether this thread is inside [`linger`] (then its jobs run nested in it, and one
    /// lingering job per thread is enough).
    static LINGERING: Cell<bool> = const { Cell::new(false) };
}

/// Called on a pool worker when its helper job is done: unless the worker is already lingering,
/// queues a [`linger`] job on its own deque, which it takes as soon as the helper job returns.
pub(crate) fn after_helping() {
    if rayon::current_thread_index().is_some() && !LINGERING.get() {
        LINGERERS.fetch_add(1, Ordering::Relaxed);
        rayon::spawn(linger);
    }
}

/// Runs the pool's jobs as they come for as long as one comes within [`LINGER`] of the last,
/// yielding the CPU between looks, then returns to rayon.
fn linger() {
    LINGERING.set(true);
    let mut deadline = Instant::now() + LINGER;
    loop {
        match rayon::yield_now() {
            Some(rayon::Yield::Executed) => deadline = Instant::now() + LINGER,
            Some(rayon::Yield::Idle) if Instant::now() < deadline => std::thread::yield_now(),
            // Idle past the deadline (or, impossibly, not on a worker any more).
            _ => break,
        }
    }
    LINGERING.set(false);
    LINGERERS.fetch_sub(1, Ordering::Relaxed);
}

/// Lingering jobs queued or running now, over every pool.
#[cfg(test)]
pub(crate) fn lingerers() -> usize {
    LINGERERS.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::{Executor, GraphBuilder, Threaded};

    /// Every lingering job ends once runs stop coming: the pool goes back to sleep. Waits for
    /// the count to reach zero (the only unit test here that runs Threaded, so nothing else
    /// keeps it up), which it must within [`super::LINGER`] of the last run, however slowly.
    #[test]
    fn lingering_ends_when_runs_stop() {
        let pool = Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(2)
                .build()
                .expect("a 2-thread pool"),
        );
        let mut g = GraphBuilder::new();
        g.input::<u64>("x");
        for k in 0..4_u64 {
            g.task(format!("w{k}"), ["x"], move |a| Ok(a.get::<u64>(0)? + k));
        }
        g.task("sum", ["w0", "w1", "w2", "w3"], |a| {
            (0..4)
                .map(|i| a.get::<u64>(i).copied())
                .sum::<Result<u64, _>>()
        });
        let plan = g
            .build()
            .expect("well formed")
            .plan(["sum"])
            .expect("a key");
        for executor in [Threaded::with_pool(pool), Threaded::new()] {
            for x in 0..500_u64 {
                let mut run = plan.run();
                run.set("x", x).expect("a u64 input");
                let out = executor.execute(run, None);
                assert_eq!(out.value::<u64>("sum").expect("no failures"), &(4 * x + 6));
            }
            while super::lingerers() > 0 {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    }
}
