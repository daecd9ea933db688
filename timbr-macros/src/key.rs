//! The names a stage argument may have, and how to say which are valid.
//!
//! [`ArgKey`], [`MAX_SLOTS`] and [`MAX_ARGS`] come from `timbr-keys`, which `timbr-core` uses too: the
//! macros accept exactly the spellings the machine reads, and check slots against its bound.

use proc_macro2::TokenStream;
use quote::quote;
pub(crate) use timbr_keys::{ArgKey, MAX_ARGS, MAX_SLOTS};

/// `::timbr_core::__private::ArgKey::…`.
pub(crate) fn tokens(key: ArgKey) -> TokenStream {
    let path = quote!(::timbr_core::__private::ArgKey);
    match key {
        ArgKey::Input => quote!(#path::Input),
        ArgKey::Oid => quote!(#path::Oid),
        ArgKey::Slot(k) => quote!(#path::Slot(#k)),
        ArgKey::InputS => quote!(#path::InputS),
        ArgKey::OidS => quote!(#path::OidS),
        ArgKey::SlotS(k) => quote!(#path::SlotS(#k)),
    }
}

/// The valid argument names for a stage at `slot` (`None`: the slot itself is invalid), as a
/// list for messages: "`input`, `oid`, `f0`…`f2`, `input_s`, `oid_s`, `f0_s`…`f2_s`".
pub(crate) fn choices(slot: Option<usize>) -> String {
    let range = |suffix: &str| match slot {
        None => format!(", `f0{suffix}`, …"),
        Some(0) => String::new(),
        Some(1) => format!(", `f0{suffix}`"),
        Some(2) => format!(", `f0{suffix}`, `f1{suffix}`"),
        Some(n) => format!(", `f0{suffix}`…`f{}{suffix}`", n - 1),
    };
    format!(
        "`input`, `oid`{}, `input_s`, `oid_s`{}",
        range(""),
        range("_s")
    )
}

/// A valid name close to `name`, if there is one: `in` → `input`, `f_0` → `f0`, `F1` → `f1`.
pub(crate) fn suggest(name: &str, slot: Option<usize>) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    let alias = match lower.as_str() {
        "in" | "datum" | "data" | "x" => Some("input"),
        "in_s" | "datum_s" | "json" => Some("input_s"),
        "id" | "object_id" | "objectid" => Some("oid"),
        "id_s" | "hex" => Some("oid_s"),
        _ => None,
    };
    if let Some(alias) = alias {
        return Some(alias.to_owned());
    }
    let earlier = slot.unwrap_or(MAX_SLOTS).min(MAX_SLOTS);
    let mut candidates: Vec<String> = ["input", "oid", "input_s", "oid_s"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    for k in 0..earlier {
        candidates.push(format!("f{k}"));
        candidates.push(format!("f{k}_s"));
    }
    candidates
        .into_iter()
        .map(|c| (distance(&lower, &c), c))
        .filter(|(d, c)| *d <= 2 && *d < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance, for suggestions.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let next = (row[j] + 1).min(row[j + 1] + 1).min(prev + cost);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_the_key_through_the_private_path() {
        assert_eq!(
            tokens(ArgKey::SlotS(3)).to_string(),
            ":: timbr_core :: __private :: ArgKey :: SlotS (3usize)"
        );
        assert_eq!(
            tokens(ArgKey::Input).to_string(),
            ":: timbr_core :: __private :: ArgKey :: Input"
        );
    }

    #[test]
    fn lists_the_choices_for_a_slot() {
        assert_eq!(choices(Some(0)), "`input`, `oid`, `input_s`, `oid_s`");
        assert_eq!(
            choices(Some(2)),
            "`input`, `oid`, `f0`, `f1`, `input_s`, `oid_s`, `f0_s`, `f1_s`"
        );
        assert_eq!(
            choices(Some(5)),
            "`input`, `oid`, `f0`…`f4`, `input_s`, `oid_s`, `f0_s`…`f4_s`"
        );
    }

    #[test]
    fn suggests_near_names() {
        assert_eq!(suggest("in", Some(1)).as_deref(), Some("input"));
        assert_eq!(suggest("f_0", Some(1)).as_deref(), Some("f0"));
        assert_eq!(suggest("F1", Some(2)).as_deref(), Some("f1"));
        assert_eq!(suggest("oid_str", Some(2)).as_deref(), Some("oid_s"));
        assert_eq!(suggest("weather", Some(2)), None);
    }
}
