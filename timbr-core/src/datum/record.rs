//! What one datum produces: its oid, the JSON array of its serialized keys, and its failures;
//! how a run's outcomes become one, and the one formatter of a failure's text.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use bson::oid::ObjectId;
use timbr_sched::{Outcome, Outcomes, TaskError};

use crate::datum::wiring::{Entry, Wiring};
use crate::Serialized;

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
#[non_exhaustive]
pub struct Unserializable {
    /// The `_s` key (`in_s`, `f2_s`…).
    pub key: String,
    /// The entry's text: the `{"_exception": …}` object.
    pub text: String,
    /// Why the value could not be serialized: the object's `_exception` message.
    pub message: String,
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
        let missed = match &self.kind {
            FailureKind::Failed(e) => Missed::Failed(e),
            FailureKind::Skipped { upstream } => Missed::Skipped(upstream),
        };
        FailureText::new(&self.stage, Some(self.slot), missed).fmt(f)
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

/// How a stage did not produce its value, for [`FailureText`].
pub(crate) enum Missed<'a> {
    /// It failed with this error.
    Failed(&'a dyn fmt::Display),
    /// It was skipped because this key failed first.
    Skipped(&'a str),
}

/// The one formatter of a failure's text, wherever it shows (a record's `_exception` entry,
/// [`StageFailure`], [`Failure`](crate::Failure), events and logs):
/// ``stage `ratio` (f1) failed: no words``, ``stage `ratio` (f1) failed on <oid>: no words``,
/// ``stage `tag` (f3) skipped: upstream `f1` failed``.
pub(crate) struct FailureText<'a> {
    stage: &'a str,
    /// `None` for the input (`in`).
    slot: Option<usize>,
    oid: Option<ObjectId>,
    missed: Missed<'a>,
}

impl<'a> FailureText<'a> {
    pub(crate) fn new(stage: &'a str, slot: Option<usize>, missed: Missed<'a>) -> Self {
        FailureText {
            stage,
            slot,
            oid: None,
            missed,
        }
    }

    /// The same text, naming the datum.
    pub(crate) fn on(mut self, oid: ObjectId) -> Self {
        self.oid = Some(oid);
        self
    }
}

impl fmt::Display for FailureText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stage `{}` ", self.stage)?;
        match self.slot {
            Some(slot) => write!(f, "(f{slot})")?,
            None => f.write_str("(in)")?,
        }
        match self.missed {
            Missed::Failed(e) => {
                f.write_str(" failed")?;
                if let Some(oid) = self.oid {
                    write!(f, " on {}", oid.to_hex())?;
                }
                write!(f, ": {e}")
            }
            Missed::Skipped(upstream) => write!(f, " skipped: upstream `{upstream}` failed"),
        }
    }
}

impl Record {
    /// The record of a run of either of `wiring`'s plans (serializing on the spot what the
    /// plan did not).
    pub(crate) fn assemble(wiring: &Wiring, oid: ObjectId, outcomes: &Outcomes) -> Record {
        // One pass, no per-datum vector of texts: size the buffer from the first entry (the
        // input's text, which empty slots repeat); it grows if stages produce longer text.
        let mut json = String::new();
        let mut unserializable = Vec::new();
        let mut previous = None;
        for (i, entry) in wiring.entries.iter().enumerate() {
            let (text, unserialized) = resolve(wiring, entry, outcomes);
            // Rare: a value that could not be serialized. An empty slot repeats its
            // predecessor's entry: reported once.
            if unserialized && previous != Some(entry.serialized) {
                unserializable.push(Unserializable {
                    key: wiring.graph.key(entry.serialized).to_owned(),
                    text: text.as_str().to_owned(),
                    message: text.exception_message().unwrap_or_default().to_owned(),
                });
            }
            previous = Some(entry.serialized);
            if i == 0 {
                json.reserve(wiring.entries.len() * (text.len() + 1) + 2);
                json.push('[');
            } else {
                json.push(',');
            }
            json.push_str(text.as_str());
        }
        if json.is_empty() {
            json.push('[');
        }
        json.push(']');
        Record {
            oid,
            json,
            failures: failures(wiring, outcomes),
            unserializable,
            origin: None,
        }
    }
}

/// The text of one record entry: JSON, or an `{"_exception": …}` object.
pub(crate) fn entry_text<'o>(
    wiring: &Wiring,
    entry: &Entry,
    outcomes: &'o Outcomes,
) -> Cow<'o, str> {
    match resolve(wiring, entry, outcomes).0 {
        Cow::Borrowed(s) => Cow::Borrowed(s.as_str()),
        Cow::Owned(s) => Cow::Owned(s.into_string()),
    }
}

/// One record entry, and whether it stands for a value that could not be serialized (rather
/// than a value, or a stage that failed or was skipped).
fn resolve<'o>(
    wiring: &Wiring,
    entry: &Entry,
    outcomes: &'o Outcomes,
) -> (Cow<'o, Serialized>, bool) {
    let owned = |s: Serialized| {
        let unserialized = s.is_exception();
        (Cow::Owned(s), unserialized)
    };
    match outcomes.outcome(entry.serialized) {
        Some(Outcome::Value(v)) => match v.downcast_ref::<Serialized>() {
            Some(s) => (Cow::Borrowed(s), s.is_exception()),
            None => owned(Serialized::exception(
                "serialized value of an unexpected type",
            )),
        },
        Some(Outcome::Failed(e)) => {
            let key = wiring.graph.key(entry.serialized);
            owned(Serialized::exception(format_args!(
                "serializing `{key}` failed: {e}"
            )))
        }
        // Skipped, or not in the plan: decide from the raw value.
        _ => match outcomes.outcome(entry.raw) {
            Some(Outcome::Value(v)) => owned((entry.serialize)(v)),
            Some(other) => {
                let (stage, slot) = match entry.owner {
                    Some(slot) => (wiring.stage_name(slot), Some(slot)),
                    None => ("input", None),
                };
                let missed = match other {
                    Outcome::Failed(e) => Missed::Failed(e),
                    Outcome::Skipped(s) => Missed::Skipped(s.upstream()),
                    Outcome::Value(_) => Missed::Failed(&"no failure"),
                };
                let text = Serialized::exception(FailureText::new(stage, slot, missed));
                (Cow::Owned(text), false)
            }
            None => (Cow::Owned(Serialized::exception("not computed")), false),
        },
    }
}

/// The stages that failed or were skipped in a run, in slot order.
pub(crate) fn failures(wiring: &Wiring, outcomes: &Outcomes) -> Vec<StageFailure> {
    let mut failures = Vec::new();
    for (slot, stage) in wiring.stages.iter().enumerate() {
        let Some(stage) = stage else { continue };
        let kind = match outcomes.outcome(wiring.entries[slot + 1].raw) {
            Some(Outcome::Failed(e)) => FailureKind::Failed(e.clone()),
            Some(Outcome::Skipped(s)) => FailureKind::Skipped {
                upstream: s.upstream().to_owned(),
            },
            _ => continue,
        };
        failures.push(StageFailure {
            slot,
            stage: Arc::clone(&stage.name),
            kind,
        });
    }
    failures
}
