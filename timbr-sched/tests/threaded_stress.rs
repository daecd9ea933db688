//! Threaded under load: thousands of runs of one wide plan, from several threads at once and
//! from inside rayon's own workers, every result checked.

mod common;

use rayon::prelude::*;
use timbr_sched::{Executor, GraphBuilder, NodeId, Outcome, Plan, TaskError, Threaded, Value};

const WIDTH: u64 = 64;
const GROUPS: u64 = 8;

/// `x -> w0..w63 -> g0..g7 (each sums 8) -> total`; `w13` fails when `x % 5 == 0`, which
/// must skip `g1` and `total` and nothing else.
struct Wide {
    plan: Plan,
    x: NodeId,
    total: NodeId,
    groups: Vec<NodeId>,
}

fn wide() -> Wide {
    let mut g = GraphBuilder::new();
    g.input::<u64>("x");
    for i in 0..WIDTH {
        g.task(format!("w{i}"), ["x"], move |a| {
            let x = *a.get::<u64>(0)?;
            if i == 13 && x % 5 == 0 {
                return Err(TaskError::msg(format_args!("w13 refuses {x}")));
            }
            Ok(x * i + i)
        });
    }
    let per = WIDTH / GROUPS;
    for k in 0..GROUPS {
        let deps: Vec<String> = (k * per..(k + 1) * per).map(|i| format!("w{i}")).collect();
        g.task(format!("g{k}"), deps, |a| {
            (0..a.len())
                .map(|i| a.get::<u64>(i).copied())
                .sum::<Result<u64, _>>()
        });
    }
    g.task("total", (0..GROUPS).map(|k| format!("g{k}")), |a| {
        (0..a.len())
            .map(|i| a.get::<u64>(i).copied())
            .sum::<Result<u64, _>>()
    });
    let graph = g.build().unwrap();
    Wide {
        plan: graph.plan(["total"]).unwrap(),
        x: graph.node("x").unwrap(),
        total: graph.node("total").unwrap(),
        groups: (0..GROUPS)
            .map(|k| graph.node(&format!("g{k}")).unwrap())
            .collect(),
    }
}

impl Wide {
    /// Runs once and checks every group and the total.
    fn check(&self, executor: &dyn Executor, x: u64) {
        let mut run = self.plan.run();
        run.set_value(self.x, Value::new(x)).unwrap();
        let out = executor.execute(run, None);
        let per = WIDTH / GROUPS;
        for (k, &id) in self.groups.iter().enumerate() {
            let k = k as u64;
            let expected: u64 = (k * per..(k + 1) * per).map(|i| x * i + i).sum();
            match out.outcome(id) {
                Some(Outcome::Skipped(s)) if k == 1 && x % 5 == 0 => {
                    assert_eq!(s.upstream(), "w13")
                }
                Some(Outcome::Value(v)) if !(k == 1 && x % 5 == 0) => {
                    assert_eq!(v.downcast_ref::<u64>(), Some(&expected), "g{k}, x = {x}");
                }
                other => panic!("g{k}, x = {x}: {other:?}"),
            }
        }
        let total = out.outcome(self.total).expect("total is planned");
        if x % 5 == 0 {
            assert!(
                matches!(total, Outcome::Skipped(s) if s.upstream() == "w13"),
                "x = {x}: {total:?}"
            );
        } else {
            let expected: u64 = (0..WIDTH).map(|i| x * i + i).sum();
            assert_eq!(
                total.value().and_then(|v| v.downcast_ref::<u64>()),
                Some(&expected),
                "x = {x}"
            );
        }
    }
}

#[test]
fn many_runs_from_several_threads_at_once_are_all_right() {
    let wide = wide();
    // Threaded on the global pool and on a pool of our own, alternately.
    let executors: Vec<Box<dyn Executor>> = common::executors()
        .into_iter()
        .filter(|(name, _)| name.starts_with("threaded"))
        .map(|(_, e)| e)
        .collect();
    assert_eq!(executors.len(), 2);
    const THREADS: u64 = 4;
    const RUNS: u64 = 2000;
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (wide, executors) = (&wide, &executors);
            s.spawn(move || {
                for x in (t..RUNS).step_by(THREADS as usize) {
                    wide.check(&*executors[(x % 2) as usize], x);
                }
            });
        }
    });
}

/// A run started on a rayon worker waits for its scope the rayon way, by running other jobs
/// meanwhile — which can be another item of the same parallel loop, starting another run on
/// the same stack. The nesting is bounded by the number of jobs the loop splits into, so the
/// loops here hand out chunks (`with_min_len`): with one job per item, a debug build nests a
/// few hundred runs deep and overflows rayon's default 2 MiB worker stack.
#[test]
fn runs_started_from_inside_rayon_workers_are_all_right() {
    const CHUNK: usize = 25;
    let wide = wide();
    let global = Threaded::new();
    let pool3 = Threaded::with_pool(common::pool3());
    // The global pool's workers start runs on the global pool and on another pool.
    (0..1000_u32)
        .into_par_iter()
        .with_min_len(CHUNK)
        .for_each(|x| {
            wide.check(&global, x.into());
            wide.check(&pool3, u64::from(x) + 1000);
        });
    // And the other way round, from inside the custom pool.
    common::pool3().install(|| {
        (0..500_u32)
            .into_par_iter()
            .with_min_len(CHUNK)
            .for_each(|x| wide.check(&pool3, u64::from(x) + 2000));
    });
}
