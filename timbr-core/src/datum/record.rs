//! What one datum produces: its oid, the JSON array of its serialized keys, and its failures;
//! how a run's outcomes become one, and the one formatter of a failure's text.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use bson::oid::ObjectId;
use timbr_sched::{Outcome, Outcomes, TaskError};

use crate::datum::array::{self, EntriesError};
use crate::datum::entry;
use crate::datum::wiring::{Entry, Wiring};
use crate::unwind;

/// The result of one datum: its oid and the JSON array `[in_s, f0_s, …, f{N-1}_s]`.
///
/// This is what [`get`](crate::Machine::get) returns and what sinks publish. A failed stage
/// does not lose the datum: its entry (and those of the slots depending on it) is an
/// `{"_exception": …}` object, and [`failures`](Record::failures) says what went wrong.
#[derive(Clone)]
pub struct Record {
    pub(crate) oid: ObjectId,
    pub(crate) json: String,
    /// What went wrong, if anything: one pointer for the common record (nothing), which a
    /// record is moved a few times on its way out and so is the smaller for.
    pub(crate) issues: Option<Box<Issues>>,
    /// The id the queue gave the datum's delivery, if the queue acknowledges (see
    /// [`Record::origin`]).
    pub(crate) origin: Option<Arc<str>>,
    /// Retries and replays (rare): one pointer, nothing for the common record.
    pub(crate) lineage: Option<Box<Lineage>>,
}

/// What a record says of the runs behind it when there was more than one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Lineage {
    /// How many times the datum ran (1 + its retries).
    pub(crate) attempts: u32,
    /// The failure a replayed datum stands in for (see [`Record::replaces`]).
    pub(crate) replaces: Option<Arc<str>>,
}

/// A record's failures and unserializable keys (at least one of them not empty).
#[derive(Clone)]
pub(crate) struct Issues {
    failures: Vec<StageFailure>,
    unserializable: Vec<Unserializable>,
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

    /// The entries' texts, as in [`json`](Record::json): `in_s`, then `f0_s`, `f1_s`, … (an
    /// entry without a value is its `{"_exception": …}` object).
    ///
    /// # Errors
    ///
    /// [`EntriesError`] if the text is not a JSON array of JSON values, which the text of a
    /// record a machine assembled always is.
    pub fn entries(&self) -> Result<Vec<&str>, EntriesError> {
        array::elements(&self.json)
    }

    /// The stages that failed or were skipped for this datum, in slot order.
    pub fn failures(&self) -> &[StageFailure] {
        self.issues.as_ref().map_or(&[], |i| &i.failures)
    }

    /// The keys whose values could not be serialized.
    pub fn unserializable(&self) -> &[Unserializable] {
        self.issues.as_ref().map_or(&[], |i| &i.unserializable)
    }

    /// Where the datum came from: the id its queue gave the delivery (a Redis Stream entry
    /// id, for instance), or `None` for a queue that does not acknowledge (the in-memory
    /// queue). A datum delivered twice (at-least-once) has two records with the same origin.
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// How many times the datum ran through its stages: 1, plus one per retry (see
    /// [`RetryPolicy`](crate::RetryPolicy)). A retry runs again from the failed stage on;
    /// the stages before it ran once.
    pub fn attempts(&self) -> u32 {
        self.lineage.as_ref().map_or(1, |l| l.attempts.max(1))
    }

    /// For a datum replayed from the failure store
    /// ([`Machine::replay_failures`](crate::Machine::replay_failures)), the failure it stands
    /// in for: that failure's [`origin`](crate::observe::FailureReport::origin) if it had one, else
    /// its oid (hex) — the oid of its failure record. A replay of a replay keeps the first
    /// failure's, so downstream can tell which failure record a later record replaces.
    /// `None` for a datum that is not a replay.
    pub fn replaces(&self) -> Option<&str> {
        self.lineage.as_ref()?.replaces.as_deref()
    }

    /// Sets the attempts and the replaced failure (the machine, on the rare records that
    /// have them).
    pub(crate) fn set_lineage(&mut self, attempts: u32, replaces: Option<Arc<str>>) {
        if attempts > 1 || replaces.is_some() {
            self.lineage = Some(Box::new(Lineage { attempts, replaces }));
        }
    }

    /// Whether every stage produced a value.
    pub fn is_ok(&self) -> bool {
        self.failures().is_empty()
    }

    /// Whether something must be reported: a stage failed or a value could not be serialized.
    pub(crate) fn has_issues(&self) -> bool {
        self.issues.is_some()
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
            .field("failures", &self.failures())
            .field("unserializable", &self.unserializable())
            .field("origin", &self.origin)
            .field("attempts", &self.attempts())
            .field("replaces", &self.replaces())
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
    /// The record of a run of either of `wiring`'s plans: every entry's text written into
    /// one buffer (see `entry.rs`), the values no stage serialized serialized on the spot.
    pub(crate) fn assemble(wiring: &Wiring, oid: ObjectId, outcomes: &Outcomes) -> Record {
        let mut json = Vec::with_capacity(wiring.record_capacity());
        let mut unserializable = Vec::new();
        // One catch around the whole record rather than one per value: should a user's
        // `Serialize` panic (rare), the record is written again with a catch per value.
        let once = unwind::catch(|| {
            write_entries(wiring, outcomes, &mut json, &mut unserializable, false)
        });
        let raw_values = once.unwrap_or_else(|_| {
            json.clear();
            unserializable.clear();
            write_entries(wiring, outcomes, &mut json, &mut unserializable, true)
        });
        wiring.note_record_len(json.len());
        // Every byte is ASCII punctuation, a `Serialized` text or serde_json's output, all
        // UTF-8, and an entry cut short is cut at its start: the lossy branch never runs.
        let json = String::from_utf8(json)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        // Every stage's node is the raw key of its slot's entry: if each entry was written
        // from a raw value, no stage failed or was skipped, and there is nothing to look up.
        let failures = if raw_values {
            Vec::new()
        } else {
            failures(wiring, outcomes)
        };
        let issues = (!failures.is_empty() || !unserializable.is_empty()).then(|| {
            Box::new(Issues {
                failures,
                unserializable,
            })
        });
        Record {
            oid,
            json,
            issues,
            origin: None,
            lineage: None,
        }
    }
}

/// Writes the record's array `[in_s, f0_s, …]` into `json`, noting the values that could not
/// be serialized; `catch`: a panic in a value's `Serialize` becomes its `_exception` entry.
/// Returns whether every entry was written from its raw key's value.
///
/// What each entry needs was decided when the wiring was built ([`Entry::repeats`]): the
/// loop neither compares nodes nor tracks which entry came last, and every entry is followed
/// by a comma, the last one then turned into the closing bracket.
fn write_entries(
    wiring: &Wiring,
    outcomes: &Outcomes,
    json: &mut Vec<u8>,
    unserializable: &mut Vec<Unserializable>,
    catch: bool,
) -> bool {
    let mut raw_values = true;
    // Where the text of the last entry written is in `json`.
    let mut previous: Range<usize> = 0..0;
    json.push(b'[');
    for entry in &wiring.entries {
        if entry.repeats {
            // An empty slot repeats its predecessor's entry: copied, reported once.
            json.extend_from_within(previous.clone());
        } else {
            let start = json.len();
            // Rare: a value that could not be serialized.
            let written = entry::write(wiring, entry, outcomes, json, catch, &mut raw_values);
            if let Some(text) = written {
                note_unserializable(wiring, entry, &text, unserializable);
            }
            previous = start..json.len();
        }
        json.push(b',');
    }
    // A wiring has at least the input's entry, so the last byte is a comma.
    match json.last_mut() {
        Some(last) if *last == b',' => *last = b']',
        _ => json.push(b']'),
    }
    raw_values
}

/// Notes an entry whose value could not be serialized (out of the loop: it is rare).
#[cold]
#[inline(never)]
fn note_unserializable(
    wiring: &Wiring,
    entry: &Entry,
    text: &crate::Serialized,
    unserializable: &mut Vec<Unserializable>,
) {
    unserializable.push(Unserializable {
        key: wiring.graph.key(entry.serialized).to_owned(),
        text: text.as_str().to_owned(),
        message: text.exception_message().unwrap_or_default().to_owned(),
    });
}

/// The text of one record entry: JSON, or an `{"_exception": …}` object.
pub(crate) fn entry_text<'o>(
    wiring: &Wiring,
    entry: &Entry,
    outcomes: &'o Outcomes,
) -> Cow<'o, str> {
    match entry::text(wiring, entry, outcomes).0 {
        Cow::Borrowed(s) => Cow::Borrowed(s.as_str()),
        Cow::Owned(s) => Cow::Owned(s.into_string()),
    }
}

/// The stages that failed or were skipped in a run, in slot order.
pub(crate) fn failures(wiring: &Wiring, outcomes: &Outcomes) -> Vec<StageFailure> {
    let mut failures = Vec::new();
    for (slot, node) in wiring.stage_nodes() {
        let kind = match outcomes.outcome(node) {
            Some(Outcome::Failed(e)) => FailureKind::Failed(e.clone()),
            Some(Outcome::Skipped(s)) => FailureKind::Skipped {
                upstream: s.upstream().to_owned(),
            },
            _ => continue,
        };
        let Some(stage) = wiring.stages.get(slot).and_then(Option::as_ref) else {
            continue;
        };
        failures.push(StageFailure {
            slot,
            stage: Arc::clone(&stage.name),
            kind,
        });
    }
    failures
}
