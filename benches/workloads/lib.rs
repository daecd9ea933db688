//! What the timbr benches and the `throughput` example measure, in one place so that both
//! measure the same thing (and so that neither the examples nor the benches exist to serve
//! the other):
//!
//! - [`stages8`]: eight cheap real stages, for what per-stage timing costs.
//! - [`floor_record`]: the hand-written floor a machine's per-datum work is measured against.
//! - [`floor_stages8`]: the same for [`stages8`].
//! - [`u64_chain`], [`u64_chain8_macro`], [`u64_chain_by_hand`]: chains of `+1` stages on a
//!   `u64`, for what one stage's glue costs beside a direct call.

use serde_json::Value;
use timbr_core::{from_stages, stage, BuildError, Machine, Stage, Timing};

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

/// The hand-written floor of one queued datum through [`stages8`]: a fresh ObjectId's hex, the
/// eight values (`id`, then seven times one more) and the record's array text of the datum's
/// JSON and theirs, each value's JSON written straight into the one buffer (as the machine
/// does) — the work a machine's `get` does for `stages8`, with no machine.
pub fn floor_stages8(datum: &Value) -> (String, String) {
    let oid = bson::oid::ObjectId::new().to_hex();
    let mut out = Vec::with_capacity(128);
    out.push(b'[');
    if let Err(e) = serde_json::to_writer(&mut out, datum) {
        out.truncate(1);
        out.extend_from_slice(format!("{{\"_exception\":\"{e}\"}}").as_bytes());
    }
    let mut f = datum["id"].as_u64().unwrap_or(0);
    for i in 0..8 {
        if i > 0 {
            f += 1;
        }
        out.push(b',');
        // A `u64` always serializes.
        let _ = serde_json::to_writer(&mut out, &f);
    }
    out.push(b']');
    // serde_json writes UTF-8, the rest is ASCII.
    let json = String::from_utf8(out)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    (oid, json)
}

/// A `u64` machine whose `stages` first slots each add one to the previous value (`f0 = in +
/// 1`, `f{i} = f{i-1} + 1`), as `Stage::new` closures; 0 stages is the identity machine.
///
/// # Errors
///
/// Never in practice: the stages are wired right; [`BuildError`] is passed on all the same.
pub fn u64_chain(stages: usize) -> Result<Machine<u64>, BuildError> {
    let stages = (0..stages)
        .map(|i| {
            let arg = if i == 0 {
                "input".to_owned()
            } else {
                format!("f{}", i - 1)
            };
            Stage::new(i, format!("inc{i}"), [arg], |n: &u64| n.wrapping_add(1))
        })
        .collect::<Result<Vec<Stage>, _>>()?;
    Machine::builder().stages(stages).build()
}

#[stage(0)]
fn inc0(input: &u64) -> u64 {
    input.wrapping_add(1)
}

#[stage(1)]
fn inc1(f0: &u64) -> u64 {
    f0.wrapping_add(1)
}

#[stage(2)]
fn inc2(f1: &u64) -> u64 {
    f1.wrapping_add(1)
}

#[stage(3)]
fn inc3(f2: &u64) -> u64 {
    f2.wrapping_add(1)
}

#[stage(4)]
fn inc4(f3: &u64) -> u64 {
    f3.wrapping_add(1)
}

#[stage(5)]
fn inc5(f4: &u64) -> u64 {
    f4.wrapping_add(1)
}

#[stage(6)]
fn inc6(f5: &u64) -> u64 {
    f5.wrapping_add(1)
}

#[stage(7)]
fn inc7(f6: &u64) -> u64 {
    f6.wrapping_add(1)
}

/// [`u64_chain`]`(8)` made of `#[stage]` functions with `from_stages!`.
///
/// # Errors
///
/// Never in practice, as for [`u64_chain`].
pub fn u64_chain8_macro() -> Result<Machine<u64>, BuildError> {
    from_stages![inc0, inc1, inc2, inc3, inc4, inc5, inc6, inc7]
}

/// What [`u64_chain`]`(n)` computes, by hand: one direct call per stage, each writing its
/// slot (`slots[0]` is the input). The limit a stage's glue is measured against.
pub fn u64_chain_by_hand<const N: usize>(input: u64, slots: &mut [u64; N]) {
    if let Some(first) = slots.first_mut() {
        *first = input;
    }
    for i in 1..N {
        slots[i] = inc_by_hand(&slots[i - 1]);
    }
}

/// One stage by hand, kept a call (not folded into its caller) as a stage is.
#[inline(never)]
fn inc_by_hand(n: &u64) -> u64 {
    n.wrapping_add(1)
}
