//! Runs recycle their slots (per thread, through dropped outcomes): nothing of one datum may
//! show in the next, and every value is dropped when its run's outcomes are.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use timbr_sched::{Executor, GraphBuilder, NodeId, Outcome, Plan, TaskError};

/// A value that counts how many of its kind are alive.
struct Counted {
    n: u64,
    live: Arc<AtomicUsize>,
}

impl Counted {
    fn new(n: u64, live: &Arc<AtomicUsize>) -> Counted {
        live.fetch_add(1, Ordering::SeqCst);
        Counted {
            n,
            live: Arc::clone(live),
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

/// `x (u64, may be unset) -> boxed (Counted) -> text (String) -> len (usize)`, and
/// `odd` failing for odd `x`, `after_odd` depending on it.
struct Chain {
    plan: Plan,
    x: NodeId,
    live: Arc<AtomicUsize>,
}

fn chain() -> Chain {
    let live = Arc::new(AtomicUsize::new(0));
    let mut g = GraphBuilder::new();
    g.input::<u64>("x");
    let l = Arc::clone(&live);
    g.task("boxed", ["x"], move |a| {
        Ok(Counted::new(*a.get::<u64>(0)?, &l))
    });
    g.task("text", ["boxed"], |a| {
        Ok(a.get::<Counted>(0)?.n.to_string())
    });
    g.task("len", ["text"], |a| Ok(a.get::<String>(0)?.len()));
    g.task("odd", ["x"], |a| {
        let x = *a.get::<u64>(0)?;
        if x % 2 == 1 {
            return Err(TaskError::msg(format_args!("{x} is odd")));
        }
        Ok(x / 2)
    });
    g.task("after_odd", ["odd"], |a| Ok(a.get::<u64>(0)? + 1));
    let graph = g.build().unwrap();
    Chain {
        plan: graph.plan_all(),
        x: graph.node("x").unwrap(),
        live,
    }
}

/// Checks one run with input `x` (`None`: unset) against what it must give.
fn check<'c>(c: &'c Chain, executor: &dyn Executor, x: Option<u64>) -> timbr_sched::Outcomes<'c> {
    let mut run = c.plan.run();
    if let Some(x) = x {
        run.set_value(c.x, timbr_sched::Value::new(x)).unwrap();
    }
    let out = executor.execute(run, None);
    match x {
        None => {
            assert!(out.get("x").unwrap().error().is_some(), "unset x failed");
            for key in ["boxed", "text", "len", "odd", "after_odd"] {
                let skipped = match out.get(key) {
                    Some(Outcome::Skipped(s)) => s.upstream().to_owned(),
                    other => panic!("{key}: {other:?} with x unset"),
                };
                assert_eq!(skipped, "x");
            }
        }
        Some(x) => {
            assert_eq!(out.value::<Counted>("boxed").unwrap().n, x);
            assert_eq!(out.value::<String>("text").unwrap(), &x.to_string());
            assert_eq!(out.value::<usize>("len").unwrap(), &x.to_string().len());
            if x % 2 == 1 {
                assert!(out.get("odd").unwrap().error().is_some());
                assert!(matches!(out.get("after_odd"), Some(Outcome::Skipped(_))));
            } else {
                assert_eq!(out.value::<u64>("after_odd").unwrap(), &(x / 2 + 1));
            }
        }
    }
    out
}

#[test]
fn no_value_survives_into_the_next_run() {
    let c = chain();
    for (name, executor) in common::executors() {
        for i in 0..2_000_u64 {
            // Every third datum leaves its input unset: a recycled slot must not supply one.
            let x = (i % 3 != 0).then_some(i);
            drop(check(&c, &*executor, x));
            assert_eq!(c.live.load(Ordering::SeqCst), 0, "{name}: run {i} leaked");
        }
    }
}

#[test]
fn outcomes_kept_alive_are_not_disturbed_by_later_runs() {
    let c = chain();
    let executors = common::executors();
    let mut kept = Vec::new();
    for i in 0..500_u64 {
        let (_, executor) = &executors[i as usize % executors.len()];
        let out = check(&c, &**executor, Some(i));
        if i % 7 == 0 {
            kept.push((i, out));
        }
    }
    assert_eq!(c.live.load(Ordering::SeqCst), kept.len());
    for (i, out) in &kept {
        assert_eq!(out.value::<Counted>("boxed").unwrap().n, *i);
        assert_eq!(out.value::<String>("text").unwrap(), &i.to_string());
    }
    drop(kept);
    assert_eq!(c.live.load(Ordering::SeqCst), 0);
}

#[test]
fn outcomes_dropped_on_other_threads_feed_their_caches_safely() {
    let c = chain();
    let executors = common::executors();
    std::thread::scope(|s| {
        for t in 0..4_u64 {
            let c = &c;
            let executors = &executors;
            s.spawn(move || {
                let mut handed = Vec::new();
                for i in 0..500_u64 {
                    let (_, executor) = &executors[(i + t) as usize % executors.len()];
                    let x = ((i + t) % 5 != 0).then_some(i * 4 + t);
                    handed.push(check(c, &**executor, x));
                    if handed.len() == 8 {
                        // Dropped on another thread, whose cache then feeds its own runs.
                        let batch = std::mem::take(&mut handed);
                        s.spawn(move || drop(batch)).join().unwrap();
                    }
                }
            });
        }
    });
    assert_eq!(c.live.load(Ordering::SeqCst), 0);
}
