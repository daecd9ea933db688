//! Where Threaded runs each node: a run's serial stretches on the calling thread (a chain never
//! wakes the pool); from the first fan-out on, the caller and helpers from the chosen pool, never
//! more threads than the pool has (no oversubscription); a run started on a worker of the pool
//! stays on the pool.

mod common;

use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use timbr_sched::{Executor, GraphBuilder, Plan, TaskError, Threaded};

/// Where one task ran: its thread, whether that is a rayon worker, and whether it is one of
/// [`common::pool3`]'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Place {
    thread: ThreadId,
    worker: bool,
    pool3: bool,
}

impl Place {
    fn here() -> Place {
        let current = std::thread::current();
        Place {
            thread: current.id(),
            worker: rayon::current_thread_index().is_some(),
            pool3: current.name().is_some_and(|n| n.starts_with("pool3-")),
        }
    }
}

type Log = Arc<Mutex<Vec<(String, Place)>>>;

/// Two inputs, a chain `c0 -> c1 -> c2` on them, then a fan-out `c2 -> w0..w5` and a join
/// `w0..w5 -> after -> last`. Every task logs where it ran.
fn plan(log: &Log) -> Plan {
    let mut g = GraphBuilder::new();
    g.input::<u64>("x");
    g.input::<u64>("y");
    let mut task = |key: String, deps: Vec<String>| {
        let log = Arc::clone(log);
        let me = key.clone();
        g.task(key, deps, move |a| -> Result<u64, TaskError> {
            log.lock().unwrap().push((me.clone(), Place::here()));
            (0..a.len()).map(|i| a.get::<u64>(i).copied()).sum()
        });
    };
    task("c0".into(), vec!["x".into(), "y".into()]);
    task("c1".into(), vec!["c0".into()]);
    task("c2".into(), vec!["c1".into()]);
    for k in 0..6 {
        task(format!("w{k}"), vec!["c2".into()]);
    }
    task("after".into(), (0..6).map(|k| format!("w{k}")).collect());
    task("last".into(), vec!["after".into()]);
    g.build().unwrap().plan_all()
}

fn run(plan: &Plan, executor: &dyn Executor, log: &Log) -> Vec<(String, Place)> {
    let mut run = plan.run();
    run.set("x", 1_u64).unwrap().set("y", 2_u64).unwrap();
    let out = executor.execute(run, None);
    assert_eq!(out.value::<u64>("last").unwrap(), &18, "the run is right");
    std::mem::take(&mut *log.lock().unwrap())
}

#[test]
fn serial_stretches_run_on_the_caller_and_parallel_ones_in_the_pool() {
    let log = Log::default();
    let plan = plan(&log);
    // Sequential is first; the others are Threaded on the global pool and on pool3.
    for (name, executor) in common::executors().into_iter().skip(1) {
        let threads = if name == "threaded-pool3" {
            3
        } else {
            rayon::current_num_threads()
        };
        for round in 0..200 {
            let caller = Place::here();
            let places = run(&plan, &*executor, &log);
            assert_eq!(places.len(), 11, "{name}: every task ran once");
            let mut computing: Vec<ThreadId> = Vec::new();
            for (key, place) in &places {
                if key.starts_with('c') {
                    // Before the fan-out only one task at a time is ready.
                    assert_eq!(
                        place, &caller,
                        "{name} round {round}: `{key}` left the caller"
                    );
                } else if place.thread != caller.thread {
                    assert!(place.worker, "{name}: `{key}` not on a worker");
                    assert_eq!(
                        place.pool3,
                        name == "threaded-pool3",
                        "{name}: `{key}`'s pool"
                    );
                }
                if !computing.contains(&place.thread) {
                    computing.push(place.thread);
                }
            }
            // The caller and at most `threads - 1` helpers (at least one).
            assert!(
                computing.len() <= threads.max(2),
                "{name}: {} threads computed for a pool of {threads}",
                computing.len()
            );
        }
    }
}

#[test]
fn a_chain_never_leaves_the_caller() {
    let log = Log::default();
    let mut g = GraphBuilder::new();
    g.input::<u64>("x");
    g.input::<u64>("oid"); // a second input must not look like parallel work
    let mut prev = String::from("x");
    for k in 0..8 {
        let key = format!("f{k}");
        let log = Arc::clone(&log);
        let me = key.clone();
        let deps = if k == 4 {
            vec![prev.clone(), "oid".into()]
        } else {
            vec![prev.clone()]
        };
        g.task(key.clone(), deps, move |a| {
            log.lock().unwrap().push((me.clone(), Place::here()));
            Ok(a.get::<u64>(0)? + 1)
        });
        prev = key;
    }
    let plan = g.build().unwrap().plan(["f7"]).unwrap();
    let caller = Place::here();
    for executor in [Threaded::new(), Threaded::with_pool(common::pool3())] {
        for x in 0..200_u64 {
            let mut run = plan.run();
            run.set("x", x).unwrap().set("oid", 0_u64).unwrap();
            let out = executor.execute(run, None);
            assert_eq!(out.value::<u64>("f7").unwrap(), &(x + 8));
            let places = std::mem::take(&mut *log.lock().unwrap());
            assert_eq!(places.len(), 8);
            assert!(places.iter().all(|(_, p)| p == &caller), "{places:?}");
        }
    }
}

#[test]
fn a_run_started_on_a_worker_of_its_pool_stays_on_that_pool() {
    let log = Log::default();
    let plan = plan(&log);
    let pool = common::pool3();
    let executor = Threaded::with_pool(Arc::clone(&pool));
    pool.install(|| {
        for _ in 0..200 {
            let caller = Place::here();
            let places = run(&plan, &executor, &log);
            assert_eq!(places.len(), 11);
            for (key, place) in &places {
                assert!(place.pool3, "`{key}` left the pool");
                assert!(place.worker, "`{key}` not on a worker");
                if key.starts_with('c') {
                    assert_eq!(
                        place, &caller,
                        "`{key}` left the worker that started the run"
                    );
                }
            }
        }
    });
}
