//! The names most programs need, and the traits whose methods they call, in one `use`:
//!
//! ```
//! use timbr_core::prelude::*;
//!
//! let machine: Machine<u64> = Machine::builder()
//!     .handler(StopWhenDone::new().and(LogAndContinue::default()))
//!     .build()?;
//! # Ok::<(), BuildError>(())
//! ```

pub use crate::{
    from_stages, stage, stage_fn, Action, Backoff, BuildError, ChannelSink, Datum, Debugger, Event,
    FailureFilter, FailureStore, Handler, LogAndContinue, Machine, MachineState, Progress, Queue,
    Record, RetryPolicy, Sink, Stage, StageDebugger, Status, StatusPlugin, StopMode, StopWhenDone,
    Transient,
};
