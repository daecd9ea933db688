//! The result of [`Machine::call`](crate::Machine::call): every key of one datum, raw, and
//! serialized on request.

use std::any::Any;
use std::borrow::Cow;
use std::sync::Arc;

use bson::oid::ObjectId;
use timbr_sched::{Outcome, OutcomeError, Outcomes, UnknownKey};

use crate::datum::record;
use crate::datum::wiring::Wiring;
use crate::{
    datum::{ArgKey, StageFailure},
    Record,
};

/// Every key of one datum processed by [`Machine::call`](crate::Machine::call).
///
/// Keys are named as stage arguments are (`input`, `oid`, `f3`; `in` is accepted for
/// `input`). Serialized forms are computed only when asked for.
pub struct Called {
    pub(crate) wiring: Arc<Wiring>,
    pub(crate) oid: ObjectId,
    pub(crate) outcomes: Outcomes<'static>,
}

impl Called {
    /// The datum's id.
    pub fn oid(&self) -> ObjectId {
        self.oid
    }

    /// The value of a raw key (`input`, `oid`, `f{k}`) as an `R`.
    ///
    /// # Errors
    ///
    /// [`OutcomeError`] if the key is unknown, its stage failed or was skipped, or it holds
    /// another type than `R`.
    pub fn value<R: Any>(&self, key: &str) -> Result<&R, OutcomeError> {
        if matches!(key, "oid") {
            return (&self.oid as &dyn Any).downcast_ref::<R>().ok_or_else(|| {
                OutcomeError::TypeMismatch(timbr_sched::TypeMismatch {
                    key: key.to_owned(),
                    expected: std::any::type_name::<R>(),
                    found: std::any::type_name::<ObjectId>(),
                })
            });
        }
        self.outcomes.value::<R>(&graph_key(key)?)
    }

    /// The outcome of a raw key: a value, the stage's error, or why it was skipped.
    pub fn outcome(&self, key: &str) -> Option<&Outcome> {
        self.outcomes.get(&graph_key(key).ok()?)
    }

    /// The serialized form of `key` (`input`, `f2`, or their `_s` names; `oid` gives its
    /// hex): JSON text, or an `{"_exception": …}` object for a value that failed or cannot
    /// be serialized. `None` for an unknown key.
    pub fn json(&self, key: &str) -> Option<Cow<'_, str>> {
        let key = ArgKey::parse(key).or(match key {
            "in" | "in_s" => Some(ArgKey::Input),
            _ => None,
        })?;
        let entry = match key {
            ArgKey::Oid | ArgKey::OidS => return Some(Cow::Owned(self.oid.to_hex())),
            ArgKey::Input | ArgKey::InputS => 0,
            ArgKey::Slot(k) | ArgKey::SlotS(k) => k + 1,
        };
        let entry = self.wiring.entries.get(entry)?;
        Some(record::entry_text(&self.wiring, entry, &self.outcomes))
    }

    /// The datum's record, as [`get`](crate::Machine::get) would have produced it.
    pub fn record(&self) -> Record {
        Record::assemble(&self.wiring, self.oid, &self.outcomes)
    }

    /// The stages that failed or were skipped.
    pub fn failures(&self) -> Vec<StageFailure> {
        record::failures(&self.wiring, &self.outcomes)
    }

    /// Whether every stage produced a value.
    pub fn is_ok(&self) -> bool {
        self.failures().is_empty()
    }

    /// The scheduler's outcomes, keyed by graph keys (`in`, `f0`, …).
    pub fn outcomes(&self) -> &Outcomes<'static> {
        &self.outcomes
    }
}

fn graph_key(key: &str) -> Result<String, UnknownKey> {
    match key {
        "in" => Ok("in".to_owned()),
        _ => ArgKey::parse(key)
            .filter(|k| !k.is_serialized())
            .map(ArgKey::graph_key)
            .ok_or_else(|| UnknownKey(key.to_owned())),
    }
}
