//! What the timbr examples and benches share.
//!
//! - [`TweetStream`]: an endless, seeded stream of tweet-like [`Tweet`]s made on this machine
//!   (the `tweets` example's source), and [`paced`] to let any stream arrive at a set rate.
//! - [`floor_record`]: the hand-written floor a machine's per-datum work is measured against
//!   (the `throughput` example and the machine bench).

mod tweetgen;

pub use crate::tweetgen::{
    paced, twitter_time, Entities, Hashtag, Mention, Paced, Tweet, TweetStream, Url, User,
    MAX_TEXT_CHARS,
};

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
