//! Resuming a run: the nodes that did not produce a value run again, the others keep theirs.

use crate::exec::{compute, finish, Slots};
use crate::graph::NodeKind;
use crate::{Hooks, Outcome, Outcomes};

impl<'p> Outcomes<'p> {
    /// Runs again, now, on the caller's thread, every task of this run that failed or was
    /// skipped, in dependency order; every node that holds a value keeps it and does not run.
    /// What a retry after a transient failure does: the work before the failure is not done
    /// twice.
    ///
    /// The hooks see the start, each task that runs again, and the finish, as in a run. An
    /// input that was not set stays failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::sync::Arc;
    /// use timbr_sched::{Executor, GraphBuilder, Sequential, TaskError};
    ///
    /// let (parsed, flaky) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    /// let (p, f) = (Arc::clone(&parsed), Arc::clone(&flaky));
    /// let mut g = GraphBuilder::new();
    /// g.input::<u32>("x");
    /// g.task("parsed", ["x"], move |a| { p.fetch_add(1, Ordering::SeqCst); Ok(*a.get::<u32>(0)?) });
    /// g.task("sent", ["parsed"], move |a| {
    ///     if f.fetch_add(1, Ordering::SeqCst) == 0 { return Err(TaskError::msg("down")) }
    ///     Ok(a.get::<u32>(0)? + 1)
    /// });
    /// let plan = g.build()?.plan_all();
    /// let mut run = plan.run();
    /// run.set("x", 41_u32)?;
    /// let failed = Sequential.execute(run, None);
    /// assert!(failed.get("sent").unwrap().error().is_some());
    /// let resumed = failed.resume(None);
    /// assert_eq!(resumed.value::<u32>("sent")?, &42);
    /// assert_eq!(parsed.load(Ordering::SeqCst), 1, "not run again");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resume(self, hooks: Option<&dyn Hooks>) -> Outcomes<'p> {
        let Outcomes { plan, mut slots } = self;
        {
            let inner = &plan.get().0;
            let graph = &inner.graph.0;
            if let Some(hooks) = hooks {
                hooks.start(plan.get());
            }
            for &i in inner.order.iter() {
                let at = i as usize;
                let is_task = matches!(graph.nodes[at].kind, NodeKind::Task { .. });
                if !is_task || matches!(slots[at], Some(Outcome::Value(_))) {
                    continue;
                }
                slots[at] = None;
                if let Some(outcome) = compute(graph, i, Slots::Plain(&slots), hooks) {
                    slots[at] = Some(outcome);
                }
            }
        }
        finish(plan, slots, hooks)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    use crate::{Executor, GraphBuilder, TaskError, Threaded};

    #[test]
    fn a_resumed_run_recomputes_failed_and_skipped_nodes_only() {
        let calls: Arc<[AtomicU32; 3]> = Arc::new(Default::default());
        let c = Arc::clone(&calls);
        let mut g = GraphBuilder::new();
        g.input::<u32>("x");
        let c0 = Arc::clone(&c);
        g.task("a", ["x"], move |a| {
            c0[0].fetch_add(1, Ordering::SeqCst);
            Ok(*a.get::<u32>(0)?)
        });
        let c1 = Arc::clone(&c);
        g.task("b", ["a"], move |a| {
            // Fails on its first two calls.
            if c1[1].fetch_add(1, Ordering::SeqCst) < 2 {
                return Err(TaskError::msg("down"));
            }
            Ok(a.get::<u32>(0)? * 2)
        });
        let c2 = Arc::clone(&c);
        g.task("c", ["b"], move |a| {
            c2[2].fetch_add(1, Ordering::SeqCst);
            Ok(a.get::<u32>(0)? + 1)
        });
        let plan = g.build().unwrap().plan_all();
        let mut run = plan.run();
        run.set("x", 5_u32).unwrap();
        let out = Threaded::new().execute(run, None).into_owned();
        assert!(out.get("c").unwrap().error().is_none() && !out.is_ok());
        let out = out.resume(None);
        assert!(out.get("b").unwrap().error().is_some(), "failed again");
        let out = out.resume(None);
        assert_eq!(out.value::<u32>("c").unwrap(), &11);
        let counts: Vec<u32> = calls.iter().map(|c| c.load(Ordering::SeqCst)).collect();
        assert_eq!(counts, [1, 3, 1]);
    }
}
