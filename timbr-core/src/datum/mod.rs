//! What one datum becomes, with no threads: the keys a stage can ask for, stages, the wiring
//! of a machine's stages into one graph, serialized values, the result of a call, a stage
//! failure kept for a closer look, and the record.
//!
//! | file | what |
//! |---|---|
//! | `stage.rs` | [`Stage`]: a user function at a slot, its arguments named, typed and type-erased |
//! | `stage_fn.rs` | [`StageFn`]: the functions a stage can call, and how it reads their arguments |
//! | `wiring.rs` | a machine's stages compiled into one graph and its plans, type-checked |
//! | `serialized.rs` | [`Serialized`]: JSON text, or `{"_exception": …}` |
//! | `entry.rs` | one record entry's text: computed, serialized on the spot, or an `_exception` |
//! | `record.rs` | [`Record`]: assembled from a run, with the one formatter of a failure's text |
//! | `array.rs` | a record's JSON array cut into its entries' texts ([`Record::entries`]) |
//! | `call.rs` | [`Called`]: every key of one datum, from [`Machine::call`](crate::Machine::call) |
//! | `failure.rs` | [`Failure`]: a failed stage with its datum, arguments and chain |
//! | `retry.rs` | [`RetryPolicy`], [`Backoff`], [`Transient`]: which failures are retried, and when |
//! | `timestamp.rs` | [`Timestamp`]: a wall-clock time, serialized as RFC 3339 |
//!
//! [`ArgKey`], the names a stage can ask for (`input`, `oid`, `f{k}`, their `_s`), is defined in
//! `timbr-keys`, which the stage macros share.

pub(crate) mod array;
pub(crate) mod call;
pub(crate) mod entry;
pub(crate) mod failure;
pub(crate) mod record;
pub(crate) mod retry;
pub(crate) mod serialized;
pub(crate) mod stage;
pub(crate) mod stage_fn;
pub(crate) mod timestamp;
pub(crate) mod wiring;

use serde::Serialize;

// Defined in `timbr-keys`, so that the macros accept exactly the names the machine reads.
pub use timbr_keys::ArgKey;

pub use self::{
    array::EntriesError,
    call::Called,
    failure::Failure,
    record::{FailureKind, Record, StageFailure, Unserializable},
    retry::{Backoff, RetryPolicy, Transient, MAX_BACKOFF},
    serialized::Serialized,
    stage::{Stage, StageArg},
    stage_fn::StageFn,
    timestamp::Timestamp,
};

/// What a machine carries and what its stages produce: a value that serializes (for its
/// record) and that threads can share. Implemented for every such type.
pub trait Datum: Serialize + Send + Sync + 'static {}

impl<T: Serialize + Send + Sync + 'static> Datum for T {}
