//! What the behaviour tests share: every executor configuration worth running a plan under.

use std::sync::{Arc, OnceLock};

use timbr_sched::{Executor, Sequential, Threaded};

/// A 3-thread pool of our own, built once per test binary (more threads than this machine's
/// cores, so tasks really interleave).
pub(crate) fn pool3() -> Arc<rayon::ThreadPool> {
    static POOL: OnceLock<Arc<rayon::ThreadPool>> = OnceLock::new();
    Arc::clone(POOL.get_or_init(|| {
        Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(3)
                .thread_name(|i| format!("pool3-{i}"))
                .build()
                .expect("a 3-thread pool"),
        )
    }))
}

/// Sequential, Threaded on the global pool, Threaded on [`pool3`]; each with a name for messages.
pub(crate) fn executors() -> Vec<(&'static str, Box<dyn Executor>)> {
    vec![
        ("sequential", Box::new(Sequential)),
        ("threaded", Box::new(Threaded::new())),
        ("threaded-pool3", Box::new(Threaded::with_pool(pool3()))),
    ]
}
