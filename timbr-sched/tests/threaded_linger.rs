//! Pool workers that helped a run stay awake briefly for the next one (`exec/linger.rs`), and
//! the caller waits for its helpers awake, taking the nodes they offer meanwhile: the
//! invariants that must hold whatever the timing — every node runs exactly once per run, a pool
//! shared by several plans and threads at once gives every run its own right results, runs
//! nested in the pool's own jobs still finish, and a dropped pool's threads all exit.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use rayon::prelude::*;
use timbr_sched::{Executor, GraphBuilder, NodeId, Outcome, Plan, TaskError, Threaded, Value};

/// `x -> w0..w{width-1}`, each `wk -> (pk, qk)`, and `sum` of every `p` and `q`: a fan-out at
/// the start and one in every branch, so helpers offer nodes while others wait. Every task
/// counts its calls in `calls`; `w{fail}` fails when `x % 7 == 0` (so `p{fail}`, `q{fail}` and
/// `sum` are skipped).
struct Fan {
    plan: Plan,
    x: NodeId,
    sum: NodeId,
    width: u64,
    fail: u64,
    calls: Arc<Vec<AtomicU64>>,
}

/// The index in `calls` of the `layer` (0 = w, 1 = p, 2 = q) task of branch `k`; `sum` is last.
fn at(width: u64, layer: u64, k: u64) -> usize {
    (layer * width + k) as usize
}

impl Fan {
    fn new(width: u64, fail: u64) -> Fan {
        let calls: Arc<Vec<AtomicU64>> =
            Arc::new((0..=3 * width).map(|_| AtomicU64::new(0)).collect());
        let mut g = GraphBuilder::new();
        g.input::<u64>("x");
        let mut task = |key: String, dep: String, slot: usize, f: fn(u64, u64) -> u64, k: u64| {
            let calls = Arc::clone(&calls);
            g.task(key, [dep], move |a| -> Result<u64, TaskError> {
                calls[slot].fetch_add(1, Ordering::Relaxed);
                let v = *a.get::<u64>(0)?;
                if slot as u64 == fail && v % 7 == 0 {
                    return Err(TaskError::msg("refused"));
                }
                Ok(f(v, k))
            });
        };
        for k in 0..width {
            task(format!("w{k}"), "x".into(), at(width, 0, k), |x, _| x, k);
            task(
                format!("p{k}"),
                format!("w{k}"),
                at(width, 1, k),
                |w, k| w * k,
                k,
            );
            task(
                format!("q{k}"),
                format!("w{k}"),
                at(width, 2, k),
                |w, k| w + k,
                k,
            );
        }
        let sum_calls = Arc::clone(&calls);
        let deps = (0..width).flat_map(|k| [format!("p{k}"), format!("q{k}")]);
        g.task("sum", deps, move |a| {
            sum_calls[at(width, 3, 0)].fetch_add(1, Ordering::Relaxed);
            (0..a.len())
                .map(|i| a.get::<u64>(i).copied())
                .sum::<Result<u64, _>>()
        });
        let graph = g.build().unwrap();
        Fan {
            plan: graph.plan(["sum"]).unwrap(),
            x: graph.node("x").unwrap(),
            sum: graph.node("sum").unwrap(),
            width,
            fail,
            calls,
        }
    }

    /// One run, its result checked.
    fn check(&self, executor: &dyn Executor, x: u64) {
        let mut run = self.plan.run();
        run.set_value(self.x, Value::new(x)).unwrap();
        let out = executor.execute(run, None);
        let sum = out.outcome(self.sum).expect("sum is planned");
        if x % 7 == 0 {
            let failed = format!("w{}", self.fail);
            assert!(
                matches!(sum, Outcome::Skipped(s) if s.upstream() == failed),
                "x = {x}: {sum:?}"
            );
        } else {
            let expected: u64 = (0..self.width).map(|k| x * k + x + k).sum();
            assert_eq!(
                sum.value().and_then(|v| v.downcast_ref::<u64>()),
                Some(&expected)
            );
        }
    }

    /// Every task has run exactly `runs` times, except those skipped when `x % 7 == 0`
    /// (`skipped` runs): the failing branch's `p` and `q`, and `sum`.
    fn assert_ran(&self, runs: u64, skipped: u64) {
        let w = self.width;
        for (i, calls) in self.calls.iter().enumerate() {
            let i = i as u64;
            let downstream = i == at(w, 1, self.fail) as u64
                || i == at(w, 2, self.fail) as u64
                || i == at(w, 3, 0) as u64;
            let expected = if downstream { runs - skipped } else { runs };
            assert_eq!(calls.load(Ordering::Relaxed), expected, "task {i}");
        }
    }
}

fn sevens(xs: impl Iterator<Item = u64>) -> u64 {
    xs.filter(|x| x % 7 == 0).count() as u64
}

#[test]
fn back_to_back_runs_run_every_node_once() {
    for (name, executor) in common::executors().into_iter().skip(1) {
        let fan = Fan::new(8, 3);
        const RUNS: u64 = 3000;
        for x in 0..RUNS {
            fan.check(&*executor, x);
        }
        fan.assert_ran(RUNS, sevens(0..RUNS));
        eprintln!("{name}: ok");
    }
}

#[test]
fn a_pool_shared_by_several_plans_and_threads_at_once() {
    // Each thread its own plan (different widths); all on one pool, and on the global one.
    let pool = Threaded::with_pool(common::pool3());
    let global = Threaded::new();
    let fans: Vec<Fan> = (0..4).map(|t| Fan::new(2 + 3 * t, t)).collect();
    const RUNS: u64 = 1500;
    std::thread::scope(|s| {
        for fan in &fans {
            let (pool, global) = (&pool, &global);
            s.spawn(move || {
                for x in 0..RUNS {
                    let executor: &dyn Executor = if x % 3 == 0 { global } else { pool };
                    fan.check(executor, x);
                }
            });
        }
    });
    for fan in &fans {
        fan.assert_ran(RUNS, sevens(0..RUNS));
    }
}

#[test]
fn runs_inside_the_pools_own_jobs_finish() {
    // A worker that waits in a parallel loop may linger, or run a lingering job nested; every
    // loop item's run must still finish with the right result.
    let fan = Fan::new(6, 1);
    let pool = Threaded::with_pool(common::pool3());
    const RUNS: u32 = 600;
    common::pool3().install(|| {
        (0..RUNS)
            .into_par_iter()
            .with_min_len(20)
            .for_each(|x| fan.check(&pool, x.into()));
    });
    // And from outside the pool at the same time as its workers start runs of their own.
    std::thread::scope(|s| {
        s.spawn(|| {
            for x in RUNS..2 * RUNS {
                fan.check(&pool, x.into());
            }
        });
        common::pool3().install(|| {
            (2 * RUNS..3 * RUNS)
                .into_par_iter()
                .with_min_len(20)
                .for_each(|x| fan.check(&pool, x.into()));
        });
    });
    let runs = u64::from(3 * RUNS);
    fan.assert_ran(runs, sevens(0..runs));
}

#[test]
fn a_dropped_pool_lets_every_worker_exit() {
    for round in 0..20 {
        let (exited, exits) = mpsc::channel();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .exit_handler(move |i| exited.send(i).expect("the test waits for every exit"))
            .build()
            .unwrap();
        let executor = Threaded::with_pool(Arc::new(pool));
        let fan = Fan::new(4, 0);
        for x in 0..200 {
            fan.check(&executor, x);
        }
        // The last run's helper may still be lingering: dropping the pool must not wait for it
        // forever, and its thread must exit after it.
        drop(executor);
        let mut seen = Vec::new();
        for _ in 0..2 {
            // Not a timing assert: a generous bound that turns a hang into a failure.
            let i = exits
                .recv_timeout(Duration::from_secs(120))
                .unwrap_or_else(|_| panic!("round {round}: a worker never exited"));
            seen.push(i);
        }
        seen.sort_unstable();
        assert_eq!(seen, [0, 1], "round {round}");
    }
}
