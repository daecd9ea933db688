//! A dask-style dependency graph, built once and run many times.
//!
//! timbr-sched knows nothing of machines, queues or JSON: it runs functions of named values.
//!
//! - A [`GraphBuilder`] collects **keys**: inputs (typed slots filled per run), tasks
//!   (functions of other keys) and aliases (free extra names). [`GraphBuilder::build`] checks
//!   them once — duplicate keys, missing dependencies, cycles (naming the keys along the
//!   cycle), declared argument types — and compiles a [`Graph`] backed by `petgraph`.
//! - [`Graph::plan`] picks the keys a caller wants; only their ancestors run. A [`Plan`] is
//!   reused for every run: per run only the inputs change, set by name or by [`NodeId`].
//! - An [`Executor`] runs a [`Run`]: [`Sequential`] on the caller's thread in topological order,
//!   [`Threaded`] on a rayon pool as dependencies complete (serial stretches, a chain above
//!   all, stay on the caller's thread). Both give the same outcomes and make the same
//!   [`Hooks`] calls per node.
//! - A task that returns an error or panics does not abort the run: its dependants are
//!   [`Skipped`] ("upstream `k` failed"), independent branches still run, and every node's
//!   [`Outcome`] is returned.
//! - [`Value`]s are type-erased but typed at the edges: reading one as the wrong type is a
//!   [`TypeMismatch`] naming the key and both types, never a panic.
//! - A steady stream of runs allocates little: primitive values (numbers, `bool`, `char`)
//!   are stored inline in their [`Value`], and dropping a run's [`Outcomes`] hands its slots
//!   to the next [`Plan::run`] on the same thread. Other values cost one allocation each.
//!   A [`Run`] and its [`Outcomes`] borrow the [`Plan`]; [`Outcomes::into_owned`] detaches
//!   outcomes that must be kept longer.
//!
//! # Examples
//!
//! ```
//! use timbr_sched::{Dep, Executor, GraphBuilder, Sequential, TaskError, Threaded};
//!
//! let mut g = GraphBuilder::new();
//! g.input::<String>("text");
//! g.task("words", [Dep::typed::<String>("text")], |a| {
//!     Ok(a.get::<String>(0)?.split_whitespace().count())
//! });
//! g.task("shout", [Dep::typed::<String>("text")], |a| {
//!     Ok(a.get::<String>(0)?.to_uppercase())
//! });
//! g.task("ratio", ["words", "shout"], |a| -> Result<f64, TaskError> {
//!     let words = *a.get::<usize>(0)?;
//!     if words == 0 {
//!         return Err(TaskError::msg("no words"));
//!     }
//!     Ok(a.get::<String>(1)?.len() as f64 / words as f64)
//! });
//! let graph = g.build()?;
//! let plan = graph.plan(["ratio", "shout"])?; // built once, run many times
//!
//! for executor in [&Sequential as &dyn Executor, &Threaded::new()] {
//!     let mut run = plan.run();
//!     run.set("text", String::from("hello streaming world"))?;
//!     let out = executor.execute(run, None);
//!     assert_eq!(out.value::<String>("shout")?, "HELLO STREAMING WORLD");
//!     assert_eq!(out.value::<f64>("ratio")?, &7.0);
//!
//!     // A failure skips the dependants and spares the rest.
//!     let mut run = plan.run();
//!     run.set("text", String::new())?;
//!     let out = executor.execute(run, None);
//!     assert_eq!(out.get("ratio").unwrap().error().unwrap().to_string(), "no words");
//!     assert!(out.value::<String>("shout").is_ok());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod arena;
mod args;
mod builder;
mod error;
mod exec;
mod graph;
mod hooks;
mod out;
mod outcome;
mod plan;
mod resume;
mod scalar;
mod value;

pub use crate::{
    args::Args,
    builder::{Dep, GraphBuilder, TaskFn, TaskOutFn},
    error::{BuildError, InputError, OutcomeError, TaskError, TypeMismatch, UnknownKey},
    exec::{Executor, Sequential, Threaded},
    graph::{Graph, NodeId},
    hooks::{Hooks, NodeRef},
    out::Out,
    outcome::{Outcome, Outcomes, Skipped},
    plan::{Plan, Run},
    value::{TypeInfo, Value},
};
