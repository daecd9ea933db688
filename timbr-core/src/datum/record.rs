//! What one datum produces: its oid, the JSON array of its serialized keys, and its failures.

use std::fmt;
use std::sync::Arc;

use bson::oid::ObjectId;
use timbr_sched::TaskError;

/// The result of one datum: its oid and the JSON array `[in_s, f0_s, …, f{N-1}_s]`.
///
/// This is what [`get`](crate::Machine::get) returns and what sinks publish. A failed stage
/// does not lose the datum: its entry (and those of the slots depending on it) is an
/// `{"_exception": …}` object, and [`failures`](Record::failures) says what went wrong.
#[derive(Clone)]
pub struct Record {
    pub(crate) oid: ObjectId,
    pub(crate) json: String,
    pub(crate) failures: Vec<StageFailure>,
    pub(crate) unserializable: Vec<Unserializable>,
    /// The id the queue gave the datum's delivery, if the queue acknowledges (see
    /// [`Record::origin`]).
    pub(crate) origin: Option<Arc<str>>,
}

/// A key whose value could not be serialized: its record entry is an `{"_exception": …}`
/// object. The datum still counts as processed (no stage failed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unserializable {
    /// The `_s` key (`in_s`, `f2_s`…).
    pub key: String,
    /// The entry's text: the `{"_exception": …}` object.
    pub text: String,
}

impl Record {
    /// The datum's id.
    pub fn oid(&self) -> ObjectId {
        self.oid
    }

    /// The id as 24 hex characters (the first frame when published).
    pub fn oid_hex(&self) -> String {
        self.oid.to_hex()
    }

    /// The JSON array `[in_s, f0_s, …]` (the second frame when published).
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The stages that failed or were skipped for this datum, in slot order.
    pub fn failures(&self) -> &[StageFailure] {
        &self.failures
    }

    /// The keys whose values could not be serialized.
    pub fn unserializable(&self) -> &[Unserializable] {
        &self.unserializable
    }

    /// Where the datum came from: the id its queue gave the delivery (a Redis Stream entry
    /// id, for instance), or `None` for a queue that does not acknowledge (the in-memory
    /// queue). A datum delivered twice (at-least-once) has two records with the same origin.
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// Whether every stage produced a value.
    pub fn is_ok(&self) -> bool {
        self.failures.is_empty()
    }

    /// The two frames of the published message: the oid's hex and the JSON array.
    pub fn into_frames(self) -> (String, String) {
        (self.oid.to_hex(), self.json)
    }
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("oid", &self.oid.to_hex())
            .field("json", &self.json)
            .field("failures", &self.failures)
            .field("unserializable", &self.unserializable)
            .field("origin", &self.origin)
            .finish()
    }
}

/// A stage that did not produce a value for a datum.
#[derive(Clone, Debug)]
pub struct StageFailure {
    /// The stage's slot.
    pub slot: usize,
    /// The stage's name.
    pub stage: Arc<str>,
    /// What happened.
    pub kind: FailureKind,
}

impl StageFailure {
    /// Whether the stage itself failed (rather than being skipped for an earlier failure).
    pub fn is_failure(&self) -> bool {
        matches!(self.kind, FailureKind::Failed(_))
    }
}

impl fmt::Display for StageFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            FailureKind::Failed(e) => {
                write!(f, "stage `{}` (f{}) failed: {e}", self.stage, self.slot)
            }
            FailureKind::Skipped { upstream } => {
                write!(
                    f,
                    "stage `{}` (f{}) skipped: upstream `{upstream}` failed",
                    self.stage, self.slot
                )
            }
        }
    }
}

/// How a stage did not produce a value.
#[derive(Clone, Debug)]
pub enum FailureKind {
    /// It returned an error or panicked.
    Failed(TaskError),
    /// It did not run because a key it reads failed first.
    Skipped {
        /// The key that failed (`f1`, `in_s`, …).
        upstream: String,
    },
}
