//! One record entry (`in_s`, `f{k}_s`) from a run's outcomes: the `_s` value the run computed
//! (a stage asked for it), the raw value serialized on the spot, or an `{"_exception": …}`
//! object for a key that failed, was skipped or could not be serialized.
//!
//! A record's `_s` keys are not nodes of its run unless a stage asks for them: serializing a
//! raw value as a node cost a `String`, an `Arc` around it and a node's dispatch, and the
//! record then copied the text once more. On the record's path ([`write`](fn@write)) the
//! value is written straight into the record's buffer instead; [`text`] gives one entry on
//! its own (for [`Called::json`](crate::Called::json) and kept failures).

use std::borrow::Cow;

use timbr_sched::{NodeId, Outcome, Outcomes, TaskError, Value};

use crate::datum::record::{FailureText, Missed};
use crate::datum::wiring::{Entry, Wiring};
use crate::{unwind, Serialized};

/// What an entry's text is made from.
enum Source<'o> {
    /// A `_s` value the run computed.
    Computed(&'o Serialized),
    /// The raw value, to serialize now.
    Raw(&'o Value),
    /// No value: the `_exception` object, and whether it stands for a value that could not
    /// be serialized (rather than a stage that failed or was skipped).
    Exception(Serialized, bool),
}

fn source<'o>(wiring: &Wiring, entry: &Entry, outcomes: &'o Outcomes) -> Source<'o> {
    match outcomes.outcome(entry.serialized) {
        Some(Outcome::Value(v)) => match v.downcast_ref::<Serialized>() {
            Some(s) => Source::Computed(s),
            None => Source::Exception(
                Serialized::exception("serialized value of an unexpected type"),
                true,
            ),
        },
        Some(Outcome::Failed(e)) => Source::Exception(serializing_failed(wiring, entry, e), true),
        // Skipped, or not in the plan: decide from the raw value.
        _ => match outcomes.outcome(entry.raw) {
            Some(Outcome::Value(v)) => Source::Raw(v),
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
                Source::Exception(text, false)
            }
            None => Source::Exception(Serialized::exception("not computed"), false),
        },
    }
}

/// The text of a `_s` key whose serialization failed as a node (its serializer panicked).
#[cold]
fn serializing_failed(wiring: &Wiring, entry: &Entry, e: &dyn std::fmt::Display) -> Serialized {
    let key = wiring.graph.key(entry.serialized);
    Serialized::exception(format_args!("serializing `{key}` failed: {e}"))
}

/// The same text for a serialization that panicked here, worded as a node's panic is.
#[cold]
fn serializing_panicked(wiring: &Wiring, entry: &Entry, message: String) -> Serialized {
    let panic = TaskError::from_panic(Box::new(message));
    serializing_failed(wiring, entry, &panic)
}

/// Appends the entry's text to `out`. Returns the `_exception` object written when the value
/// could not be serialized (`None` for a value, or for a stage that failed or was skipped).
///
/// A value whose serialization fails leaves nothing of itself in `out`: what it wrote is cut
/// off before its `_exception` object is written. A panic in a user's `Serialize` is caught
/// here only with `catch` (it costs a little per value): [`Record`](crate::Record) catches
/// once around the whole record and, should that catch anything, writes it again with `catch`.
///
/// `raw_value` is left alone when the entry's raw key held a value, and set to `false` when
/// that is not known (the entry's text came another way).
#[inline]
pub(crate) fn write(
    wiring: &Wiring,
    entry: &Entry,
    outcomes: &Outcomes,
    out: &mut Vec<u8>,
    catch: bool,
    raw_value: &mut bool,
) -> Option<Serialized> {
    // The common case, straight through: no stage asked for the `_s` key, and the raw value
    // is there to serialize.
    if !entry.computed && !catch {
        if let Some(Outcome::Value(v)) = outcomes.outcome(entry.raw) {
            let start = out.len();
            return match (entry.write)(v, out) {
                Ok(()) => None,
                Err(message) => Some(cut_for(out, start, Serialized::exception(message))),
            };
        }
    }
    *raw_value = false;
    write_general(wiring, entry, outcomes, out, catch)
}

#[inline(never)]
fn write_general(
    wiring: &Wiring,
    entry: &Entry,
    outcomes: &Outcomes,
    out: &mut Vec<u8>,
    catch: bool,
) -> Option<Serialized> {
    match source(wiring, entry, outcomes) {
        Source::Computed(s) => {
            out.extend_from_slice(s.as_bytes());
            s.is_exception().then(|| s.clone())
        }
        Source::Raw(v) => {
            let start = out.len();
            let written = if catch {
                unwind::catch(|| (entry.write)(v, out))
            } else {
                Ok((entry.write)(v, out))
            };
            match written {
                Ok(Ok(())) => None,
                Ok(Err(message)) => Some(cut_for(out, start, Serialized::exception(message))),
                Err(panic) => Some(cut_for(
                    out,
                    start,
                    serializing_panicked(wiring, entry, panic),
                )),
            }
        }
        Source::Exception(text, unserialized) => {
            out.extend_from_slice(text.as_bytes());
            unserialized.then_some(text)
        }
    }
}

/// Cuts `out` back to `start` and writes `text` (an `_exception` object) there instead.
#[cold]
fn cut_for(out: &mut Vec<u8>, start: usize, text: Serialized) -> Serialized {
    out.truncate(start);
    out.extend_from_slice(text.as_bytes());
    text
}

/// The entry's text on its own, and whether it stands for a value that could not be
/// serialized.
pub(crate) fn text<'o>(
    wiring: &Wiring,
    entry: &Entry,
    outcomes: &'o Outcomes,
) -> (Cow<'o, Serialized>, bool) {
    match source(wiring, entry, outcomes) {
        Source::Computed(s) => (Cow::Borrowed(s), s.is_exception()),
        Source::Raw(v) => {
            let s = serialize(wiring, entry, v);
            let unserialized = s.is_exception();
            (Cow::Owned(s), unserialized)
        }
        Source::Exception(s, unserialized) => (Cow::Owned(s), unserialized),
    }
}

/// `value` (the entry's raw value) serialized, a panic in its `Serialize` caught.
fn serialize(wiring: &Wiring, entry: &Entry, value: &Value) -> Serialized {
    unwind::catch(|| (entry.serialize)(value))
        .unwrap_or_else(|panic| serializing_panicked(wiring, entry, panic))
}

/// The `_s` texts a run did not compute (no stage asked for them) but whose raw value it has:
/// what a kept [`Failure`](crate::Failure) answers for those keys. Only for failed runs.
pub(crate) fn uncomputed_texts(wiring: &Wiring, outcomes: &Outcomes) -> Vec<(NodeId, Serialized)> {
    let mut texts: Vec<(NodeId, Serialized)> = Vec::new();
    for entry in &wiring.entries {
        if outcomes.outcome(entry.serialized).is_some()
            || texts.iter().any(|(node, _)| *node == entry.serialized)
        {
            continue;
        }
        if let Some(Outcome::Value(v)) = outcomes.outcome(entry.raw) {
            texts.push((entry.serialized, serialize(wiring, entry, v)));
        }
    }
    texts
}
