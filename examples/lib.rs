//! Shared helpers for the timbr examples and benches.

use serde_json::Value;

/// The hand-written floor of one queued datum: a fresh ObjectId's hex, one serialization of
/// the datum, and the record's array text of nine copies of it (8 empty slots) — the work a
/// machine's `get` does, with no machine.
pub fn floor_record(datum: &Value) -> (String, String) {
    let oid = bson::oid::ObjectId::new().to_hex();
    let s = serde_json::to_string(datum).unwrap_or_else(|e| format!("{{\"_exception\":\"{e}\"}}"));
    let mut out = String::with_capacity(9 * (s.len() + 1) + 2);
    out.push('[');
    for i in 0..9 {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&s);
    }
    out.push(']');
    (oid, out)
}
