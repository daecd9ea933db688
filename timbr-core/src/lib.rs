//! Long-running streaming pipelines you can see into.
//!
//! A [`Machine`] takes data from a bounded queue, runs every datum through a small graph of
//! user **stages**, and produces one [`Record`] per datum; all the while it can say where
//! every datum is ([`Machine::counts`]).
//!
//! # The data model
//!
//! A machine has N slots (default 8). For each datum it computes a graph of keys:
//!
//! | key | value |
//! |---|---|
//! | `oid` | a fresh `bson` [`ObjectId`](bson::oid::ObjectId): unique, time-ordered |
//! | `in` | the datum (stage argument `input`) |
//! | `f{i}` | the output of the stage at slot `i`; an empty slot passes `f{i-1}` (or `in`) through |
//! | `oid_s`, `in_s`, `f{i}_s` | the serialized forms: hex for the oid, JSON for the rest; `{"_exception": …}` when a value cannot be serialized |
//!
//! A stage at slot n asks for any of `input`, `oid`, `f0`…`f{n-1}` and their `_s` forms **by
//! name**; only what some stage asks for, or what the record needs, is computed. The
//! record of a datum is its oid and the JSON array `[in_s, f0_s, …, f{N-1}_s]`.
//!
//! # The flow
//!
//! ```
//! use std::time::Duration;
//! use timbr_core::{ChannelSink, Machine, Serialized, Stage, StopMode};
//!
//! // Stages pick their arguments by name; slot 2 stays empty (the identity).
//! let words = Stage::new(0, "words", ["input"], |text: &String| text.split_whitespace().count())?;
//! let ratio = Stage::try_new(1, "ratio", ["f0", "input"], |n: &usize, text: &String| {
//!     if *n == 0 { Err("no words") } else { Ok(text.len() as f64 / *n as f64) }
//! })?;
//! let tag = Stage::new(3, "tag", ["f1", "input_s"], |r: &f64, json: &Serialized| {
//!     format!("{r:.1} for {}", json.as_str())
//! })?;
//!
//! let (sink, records) = ChannelSink::unbounded();
//! let machine = Machine::<String>::builder().stages([words, ratio, tag]).sink(sink).build()?;
//!
//! // `call` runs one datum now, on this thread.
//! let called = machine.call("a b".to_owned());
//! assert_eq!(called.value::<f64>("f1")?, &1.5);
//! assert_eq!(called.json("f3").unwrap(), r#""1.5 for \"a b\"""#);
//!
//! // The queue is bounded; a full queue hands the datum back instead of losing it.
//! machine.try_put("hello streaming world".to_owned())?;
//! machine.try_put("".to_owned())?; // its `ratio` stage fails: recorded, not fatal
//!
//! // `get` processes one queued datum on this thread.
//! let record = machine.get(Duration::from_secs(1))?;
//! assert!(record.json().starts_with(r#"["hello streaming world",3,7.0,7.0,"#));
//!
//! // `start` runs consumers on their own threads; records go to the sink.
//! machine.start()?;
//! let failed = records.recv()?;
//! assert_eq!(failed.failures().len(), 2); // `ratio` failed, `tag` was skipped
//! assert!(failed.json().contains(r#"{"_exception":"stage `ratio` (f1) failed: no words"}"#));
//! machine.stop(StopMode::Drain);
//!
//! let counts = machine.counts();
//! assert_eq!((counts.accepted, counts.processed, counts.failed), (2, 1, 1));
//! assert!(counts.is_balanced());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The same with the stage macros
//!
//! [`#[stage(n)]`](macro@stage) keeps a function callable and makes it a stage named after it;
//! [`stage_fn!`] does the same for a closure; [`from_stages!`] builds the machine. Argument
//! mistakes are compile errors, and so are wiring mistakes between `#[stage]` functions: here,
//! `tag` asking for `f1: &u32` would not compile, since slot 1 holds an `f64`.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use timbr_core::{from_stages, stage, stage_fn, Machine};
//!
//! #[stage(0)]
//! fn words(input: &str) -> usize {
//!     input.split_whitespace().count()
//! }
//!
//! #[stage(1)]
//! fn ratio(f0: &usize, input: &str) -> Result<f64, &'static str> {
//!     if *f0 == 0 { Err("no words") } else { Ok(input.len() as f64 / *f0 as f64) }
//! }
//!
//! #[stage(3)] // slot 2 stays empty: `f2` holds what `f1` holds
//! fn tag(f2: &f64, input_s: &str) -> String {
//!     format!("{f2:.1} for {input_s}")
//! }
//!
//! assert_eq!(words("a b"), 2); // still a plain function
//! let machine: Machine<String> = from_stages![words, ratio, tag]?;
//! assert_eq!(machine.call("a b".to_owned()).json("f3").unwrap(), r#""1.5 for \"a b\"""#);
//!
//! // A closure with state, put in at run time.
//! let longest = Arc::new(Mutex::new(0_usize));
//! let track = Arc::clone(&longest);
//! machine.set_stage(stage_fn!(2, move |f0: &usize, f1: &f64| {
//!     let mut longest = track.lock().unwrap();
//!     *longest = (*longest).max(*f0);
//!     *f1
//! }))?;
//! machine.call("one two three".to_owned());
//! assert_eq!(*longest.lock().unwrap(), 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Threads and stopping
//!
//! [`Machine::start`] spawns the consumer threads (one per worker) and the source thread if
//! a source is set ([`Machine::set_source`]). [`Machine::stop`] stops them promptly and joins
//! them, draining the queue or handing it back; it is idempotent, and `start` works again
//! afterwards. [`Machine::is_running`] is derived from the live threads. Dropping a machine
//! stops it.
//!
//! # Seeing into a running machine
//!
//! [`Machine::status`] is a consistent snapshot, cheap to take from any thread while data
//! flow: the [`MachineState`], counts that always balance, the queue, rates, the data in
//! flight, per-stage calls, errors and latency percentiles, the source, the sink, the last
//! error, and what status plugins such as [`Progress`] add. It serializes with serde,
//! prints as a table (`{}`), and renders as HTML ([`Status::to_html`], or
//! [`Status::evcxr_display`] in a Jupyter notebook).
//!
//! Everything that happens is an [`Event`], and the machine's [`Handler`] decides what each
//! does: go on ([`LogAndContinue`], the default), stop and keep the failing datum for a look
//! ([`Debugger`], [`StageDebugger`]), or complete when the work is done ([`StopWhenDone`]).
//!
//! ```
//! use timbr_core::{Handler, LogAndContinue, Machine, MachineState, Progress, Stage, StopWhenDone};
//!
//! let every_31st = Stage::try_new(0, "every_31st", ["input"], |n: &u64| {
//!     if n % 31 == 0 { Err(format!("{n} is a multiple of 31")) } else { Ok(*n) }
//! })?;
//! let machine = Machine::<u64>::builder()
//!     .name("notebook")
//!     .stage(every_31st)
//!     .handler(StopWhenDone::new().and(LogAndContinue::default()))
//!     .plugin(Progress::new(1000).bar(false))
//!     .build()?;
//! machine.set_source(1..=1000);
//! machine.start()?;
//! assert_eq!(machine.wait(), MachineState::Completed); // failures did not stop it
//!
//! let status = machine.status();
//! assert_eq!(status.counts.failed, 32);
//! assert_eq!(status.stages[0].errors, 32);
//! assert_eq!(status.last_error.as_ref().unwrap().message, "992 is a multiple of 31");
//! assert_eq!(status.plugins["progress"]["percent"], 100.0);
//! let table = status.to_string();
//! assert!(table.contains("every_31st") && table.contains("completed"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Failures as work
//!
//! A stage's [`RetryPolicy`] (on the [`Stage`], `#[stage(n, retry = …)]`, or
//! [`MachineBuilder::retry`]) retries its transient failures ([`Transient`], or what a
//! predicate says) with a bounded [`Backoff`]: the datum waits aside without holding a worker
//! ([`Counts::retrying`](observe::Counts::retrying)), then runs again from the failed stage
//! on; [`Record::attempts`] says how many runs it took. What failed for good is kept in a
//! [`FailureStore`](observe::FailureStore) (by default the newest
//! [`DEFAULT_FAILURE_CAPACITY`](observe::DEFAULT_FAILURE_CAPACITY) in memory):
//! [`Machine::failures`] lists them, [`Machine::replay_failures`] runs them again after a
//! fix, each replay's [`Record::replaces`] naming the failure it stands in for. The status
//! shows both ([`StageStatus::retries`](observe::StageStatus::retries),
//! [`Status::failures`]).
//!
//! # Extending
//!
//! The queue ([`Queue`]) and the sink ([`Sink`]) are traits: the in-memory queue is the
//! embedded default, and records go to a ZeroMQ socket (`ZmqSink`, the `zmq` feature, on by
//! default), JSON lines ([`JsonLinesSink`]), a channel, a callback or nowhere. A machine in
//! an `Arc` can be served to other processes (`Remote`: status snapshots and a control
//! endpoint; the `timbr-watch` program shows them). Handlers ([`Handler`]) and
//! status plugins ([`StatusPlugin`]) are traits too.

//! # Where things live
//!
//! The crate has four layers, each a public module that re-exports everything of its own;
//! the names most programs need are also at the root, and [`prelude`] brings those (with
//! the traits whose methods you call) in with one `use`.
//!
//! | module | what |
//! |---|---|
//! | [`machine`] | the runtime: [`Machine`], [`MachineBuilder`], [`Putter`](machine::Putter), the threads and the lifecycle, and [`Remote`] |
//! | [`datum`] | what one datum becomes, with no threads: keys, [`Stage`]s, wiring, [`Serialized`] values, [`Record`]s, [`Failure`]s |
//! | [`io`] | the edges: [`Queue`], the source, [`Sink`]s, ZeroMQ publishing |
//! | [`observe`] | [`Counts`], statistics, [`Event`]s and [`Handler`]s, plugins, [`Status`] and its displays |
//!
//! Layers know only what is below them. Lowest first: `datum` knows nothing of threads or
//! queues; `io` knows datum; `observe` knows both (it watches the edges too: queue events, the
//! source's state) but nothing of the machine; `machine` ties them together on top of
//! [`sched`], the scheduler each datum's graph runs on, and serves a machine to other
//! processes ([`Remote`]). The crate's `tests/layers.rs` reads every path the code names and
//! fails on an edge that points up.

pub mod datum;
mod error;
mod glue;
pub mod io;
pub mod machine;
pub mod observe;
pub mod prelude;
mod unwind;

// The names most programs need, at the root.
pub use crate::{
    datum::{Backoff, Called, Datum, Failure, Record, RetryPolicy, Serialized, Stage, Transient},
    error::{
        error_chain, BuildError, GetError, PutError, PutTimeoutError, SinkError, StartError,
        TryPutError,
    },
    io::{ChannelSink, FnSink, JsonLinesSink, MemoryQueue, NullSink, Queue, Sink, SourcePolicy},
    machine::{Machine, MachineBuilder, ReplayError, StopMode},
    observe::{
        Action, Counts, Debugger, Event, FailureFilter, Handler, Kept, LogAndContinue,
        MachineState, Progress, StageDebugger, Status, StatusPlugin, StopWhenDone, Timing,
    },
};

#[cfg(feature = "zmq")]
pub use crate::{
    io::{BindError, ZmqSink},
    machine::{Remote, RemoteOptions},
};

/// The `zmq` crate the ZeroMQ sink and [`Remote`] are built on, for subscribers and control
/// clients in the same program.
#[cfg(feature = "zmq")]
pub use zmq;

/// The stage macros: `#[stage(n)]` functions, `stage_fn!` closures, `from_stages![…]` machines.
pub use timbr_macros::{from_stages, stage, stage_fn};

/// The scheduler the machine runs each datum's graph on (executors, hooks, outcomes).
pub use timbr_sched as sched;

/// The `bson` crate, for [`ObjectId`](bson::oid::ObjectId).
pub use bson;

/// The `crossbeam-channel` crate, whose [`Receiver`](crossbeam_channel::Receiver)
/// [`ChannelSink`] hands out.
pub use crossbeam_channel;

/// Not public API: what the `timbr-macros` expansions refer to.
#[doc(hidden)]
pub mod __private {
    pub use crate::glue::*;
}

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
