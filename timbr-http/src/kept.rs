//! What a handler kept when it stopped a machine ([`Machine::kept`](timbr_core::Machine::kept),
//! e.g. `Debugger`'s), as the dashboard shows it: the failing stage, the datum, the error.

use serde::Serialize;
use timbr_core::{Datum, Kept};

/// What a handler kept, for the page: the event, and for a stage failure its stage, datum
/// (as JSON) and error chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct KeptDatum {
    /// The event that stopped the machine, as text.
    pub event: String,
    /// The failing stage's name and slot (a stage failure only).
    pub stage: Option<String>,
    /// The failing stage's slot.
    pub slot: Option<usize>,
    /// The datum's oid, 24 hex characters.
    pub oid: Option<String>,
    /// When the stage failed (RFC 3339).
    pub at: Option<String>,
    /// The error and its causes, outermost first.
    pub chain: Vec<String>,
    /// The datum, as JSON (absent if it could not be serialized).
    pub datum: Option<String>,
}

impl KeptDatum {
    /// What `kept` holds, the datum read as a `T` (the machine's datum type).
    pub fn of<T: Datum>(kept: &Kept) -> KeptDatum {
        let event = kept.event.to_string();
        match kept.failure() {
            Some(f) => KeptDatum {
                event,
                stage: Some(f.stage().to_owned()),
                slot: Some(f.slot()),
                oid: Some(f.oid().to_hex()),
                at: Some(f.at().to_rfc3339()),
                chain: f.chain(),
                datum: f.datum::<T>().and_then(|d| serde_json::to_string(d).ok()),
            },
            None => KeptDatum {
                event,
                stage: None,
                slot: None,
                oid: None,
                at: None,
                chain: Vec::new(),
                datum: None,
            },
        }
    }
}
