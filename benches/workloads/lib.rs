//! What the timbr benches and the `throughput` example measure, in one place so that both
//! measure the same thing (and so that neither the examples nor the benches exist to serve
//! the other):
//!
//! - [`stages8`]: eight cheap real stages, for what per-stage timing costs.
//! - [`floor_record`]: the hand-written floor a machine's per-datum work is measured against.

use serde_json::Value;
use timbr_core::{BuildError, Machine, Stage, Timing};

/// Eight real stages on the throughput datum, each adding one to the previous slot's number:
/// what per-stage timing has to time (the `throughput` example and the machine bench).
///
/// # Errors
///
/// Never in practice: the stages are wired right; [`BuildError`] is passed on all the same.
pub fn stages8(timing: Timing) -> Result<Machine<Value>, BuildError> {
    let first = Stage::new(0, "id", ["input"], |x: &Value| {
        x["id"].as_u64().unwrap_or(0)
    });
    let rest = (1..8).map(|i| {
        Stage::new(i, format!("inc{i}"), [format!("f{}", i - 1)], |n: &u64| {
            n + 1
        })
    });
    let stages = std::iter::once(first)
        .chain(rest)
        .collect::<Result<Vec<Stage>, _>>()?;
    Machine::builder().stages(stages).timing(timing).build()
}

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
