//! The names a timbr stage can ask for, the machine keys they read, and how many slots a
//! machine has (and arguments a stage takes): the one definition that `timbr-core` (at run time) and `timbr-macros` (at
//! compile time) both use, so that a name the macros accept is one the machine reads.
//!
//! Its own crate because neither can hold it for the other: a proc-macro crate exports only
//! macros, and `timbr-core` depends on the macros (it re-exports them). `timbr-sched`, which
//! both could reach, knows nothing of machines. Users name these through `timbr-core`
//! (`timbr_core::datum::ArgKey`, `timbr_core::machine::MAX_SLOTS`).

use std::fmt;

/// The most slots a machine can have (and so the highest stage position is `MAX_SLOTS - 1`).
pub const MAX_SLOTS: usize = 64;

/// The most arguments a stage function takes: `timbr-core`'s `StageFn` is implemented for
/// functions of 0 to `MAX_ARGS` parameters (and checks that at compile time), and the
/// macros refuse a stage with more, naming this bound.
pub const MAX_ARGS: usize = 12;

/// One key of a datum's graph that a stage may ask for by argument name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArgKey {
    /// `input`: the datum (machine key `in`).
    Input,
    /// `oid`: the datum's `ObjectId`.
    Oid,
    /// `f{k}`: the output of slot `k`.
    Slot(usize),
    /// `input_s`: the datum as JSON (machine key `in_s`).
    InputS,
    /// `oid_s`: the oid as 24 hex characters.
    OidS,
    /// `f{k}_s`: the output of slot `k` as JSON.
    SlotS(usize),
}

impl ArgKey {
    /// Parses an argument name (`input`, `oid`, `f3`, `f3_s`, …).
    pub fn parse(name: &str) -> Option<ArgKey> {
        let (base, serialized) = match name.strip_suffix("_s") {
            Some(base) => (base, true),
            None => (name, false),
        };
        let key = match base {
            "input" => ArgKey::Input,
            "oid" => ArgKey::Oid,
            _ => {
                let digits = base.strip_prefix('f')?;
                // Reject "f", "f+1", "f01": exactly the canonical spelling of a number.
                let k: usize = digits.parse().ok()?;
                if digits != k.to_string() {
                    return None;
                }
                ArgKey::Slot(k)
            }
        };
        Some(if serialized { key.serialized()? } else { key })
    }

    fn serialized(self) -> Option<ArgKey> {
        Some(match self {
            ArgKey::Input => ArgKey::InputS,
            ArgKey::Oid => ArgKey::OidS,
            ArgKey::Slot(k) => ArgKey::SlotS(k),
            _ => return None,
        })
    }

    /// The slot this key reads, for `f{k}` and `f{k}_s`.
    pub fn slot(self) -> Option<usize> {
        match self {
            ArgKey::Slot(k) | ArgKey::SlotS(k) => Some(k),
            _ => None,
        }
    }

    /// Whether this is a serialized (`_s`) key.
    pub fn is_serialized(self) -> bool {
        matches!(self, ArgKey::InputS | ArgKey::OidS | ArgKey::SlotS(_))
    }

    /// The key's name in the machine's graph (`in`, `oid`, `f3`, `in_s`, …).
    pub fn graph_key(self) -> String {
        match self {
            ArgKey::Input => "in".to_owned(),
            ArgKey::Oid => "oid".to_owned(),
            ArgKey::Slot(k) => format!("f{k}"),
            ArgKey::InputS => "in_s".to_owned(),
            ArgKey::OidS => "oid_s".to_owned(),
            ArgKey::SlotS(k) => format!("f{k}_s"),
        }
    }
}

impl fmt::Display for ArgKey {
    /// The argument name (`input`, `f3_s`, …).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgKey::Input => f.write_str("input"),
            ArgKey::Oid => f.write_str("oid"),
            ArgKey::Slot(k) => write!(f, "f{k}"),
            ArgKey::InputS => f.write_str("input_s"),
            ArgKey::OidS => f.write_str("oid_s"),
            ArgKey::SlotS(k) => write!(f, "f{k}_s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_and_rejects_lookalikes() {
        assert_eq!(ArgKey::parse("input"), Some(ArgKey::Input));
        assert_eq!(ArgKey::parse("oid_s"), Some(ArgKey::OidS));
        assert_eq!(ArgKey::parse("f0"), Some(ArgKey::Slot(0)));
        assert_eq!(ArgKey::parse("f12_s"), Some(ArgKey::SlotS(12)));
        for bad in [
            "in",
            "f",
            "f_0",
            "f01",
            "f+1",
            "f0_s_s",
            "input_s_s",
            "F0",
            "",
            "_s",
        ] {
            assert_eq!(ArgKey::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_round_trip() {
        for name in ["input", "oid", "f3", "input_s", "oid_s", "f3_s"] {
            assert_eq!(ArgKey::parse(name).unwrap().to_string(), name);
        }
        assert_eq!(ArgKey::InputS.graph_key(), "in_s");
    }
}
