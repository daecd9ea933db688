//! Setting entries aside: a packed entry split into one entry per datum (when it must be
//! delivered again, or one of its data cannot be decoded), and an entry moved to the
//! dead-letter stream with its reason, acknowledged in the same transaction.

use redis::Value;
use serde::de::DeserializeOwned;

use super::Reader;
use crate::entry::{self, dead_fields, Entry};
use crate::group::group_gone;
use crate::health::{Dead, Health};
use crate::options::RedisOptions;
use crate::pack::{self, ORIGIN_FIELD, PACK_FIELD};

/// Splits a packed entry (`ARGV[2]`) into one entry per datum (`ARGV[3..]`), each with its
/// origin, if it is still pending in the group (`ARGV[1]`), then acknowledges it and counts
/// it as acknowledged (`KEYS[2]`; its data count as their own entries are). A script runs
/// alone, so this happens at most once; the pieces go first because a script is not undone
/// when a command fails midway (an `XADD` refused for want of memory, say): the pack then
/// stays pending — some pieces added twice later, none lost. Returns the pieces added.
const SPLIT_SCRIPT: &str =
    "if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1) == 0 then return 0 end \
    for i = 3, #ARGV do \
      redis.call('XADD', KEYS[1], '*', 'd', ARGV[i], 'o', ARGV[2] .. '#' .. (i - 3)) end \
    redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) \
    redis.call('INCRBY', KEYS[2], 1) \
    return #ARGV - 2";

impl<T: DeserializeOwned> Reader<T> {
    /// Replaces packed `entry` with one entry per datum, each naming its origin, and
    /// acknowledges it, in one step that does nothing if it is no longer pending (split by
    /// another consumer, or acknowledged by the one it was claimed from, or a retry of a
    /// split whose reply was lost); an entry whose field is not a JSON array, or is an empty
    /// one (so holds no data to split), is dead-lettered as undecodable instead. Returns false if it gave up (the queue is
    /// dropped): the entry stays pending. Returns the data it held (0 if it held none).
    pub(super) fn split(
        &mut self,
        o: &RedisOptions,
        health: &Health,
        entry: &Entry,
        give_up: &dyn Fn() -> bool,
    ) -> usize {
        let items = match entry.get(PACK_FIELD) {
            Some(Value::BulkString(packed)) => {
                serde_json::from_slice::<Vec<serde_json::Value>>(packed).map_err(|e| e.to_string())
            }
            _ => Err("no bytes".to_owned()),
        };
        let items = match items {
            Ok(items) if !items.is_empty() => items,
            problem => {
                let reason = match problem {
                    Err(e) => format!("undecodable: field `{PACK_FIELD}` is not a JSON array: {e}"),
                    Ok(_) => format!("undecodable: field `{PACK_FIELD}` is an empty pack"),
                };
                self.dead_letter(o, health, entry, 1, (Dead::Undecodable, reason), give_up);
                return 0;
            }
        };
        let split: Option<i64> = self.link.run(give_up, |con| {
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(SPLIT_SCRIPT)
                .arg(2)
                .arg(&o.stream)
                .arg(o.acked_key())
                .arg(&o.group)
                .arg(&entry.id);
            for item in &items {
                cmd.arg(item.to_string());
            }
            cmd.query(con)
                .or_else(|e| if group_gone(&e) { Ok(0) } else { Err(e) })
        });
        if split.is_some_and(|n| n > 0) {
            health.split();
        }
        items.len()
    }

    /// Moves an entry to the dead-letter stream and acknowledges it, in one transaction.
    /// Returns false if it gave up (the queue is dropped): the entry stays pending.
    pub(super) fn dead_letter(
        &mut self,
        o: &RedisOptions,
        health: &Health,
        entry: &Entry,
        deliveries: u64,
        (why, reason): (Dead, String),
        give_up: &dyn Fn() -> bool,
    ) -> bool {
        let reason = bounded(reason);
        let dead = o.dead_stream();
        let done: Option<()> = self.link.run(give_up, |con| {
            let mut pipe = redis::pipe();
            pipe.atomic();
            let add = pipe
                .cmd("XADD")
                .arg(&dead)
                .arg("*")
                .arg(dead_fields::ID)
                .arg(&entry.id)
                .arg(dead_fields::REASON)
                .arg(&reason)
                .arg(dead_fields::CONSUMER)
                .arg(&o.consumer)
                .arg(dead_fields::DELIVERIES)
                .arg(deliveries);
            match entry.get(entry::DATUM_FIELD) {
                Some(Value::BulkString(raw)) => add.arg(dead_fields::DATUM).arg(raw.as_slice()),
                _ => add.arg(dead_fields::FIELDS).arg(entry.fields_json()),
            };
            if let Some(origin) = entry.get(ORIGIN_FIELD).map(entry::text) {
                if pack::is_origin(&origin) {
                    add.arg(dead_fields::ORIGIN).arg(origin);
                }
            }
            add.ignore();
            pipe.cmd("XACK")
                .arg(&o.stream)
                .arg(&o.group)
                .arg(&entry.id)
                .ignore();
            pipe.query(con)
                .or_else(|e| if group_gone(&e) { Ok(()) } else { Err(e) })
        });
        if done.is_none() {
            return false;
        }
        health.dead_lettered(&entry.id, reason, why);
        true
    }
}

/// The most bytes of a dead letter's reason kept (its event and every log line of it carry
/// it too): a decoder's message may quote the whole entry, megabytes of it.
const MAX_REASON: usize = 256;

/// `reason`, cut to its first [`MAX_REASON`] bytes (at a character boundary) with its full
/// length said, if it is longer.
fn bounded(reason: String) -> String {
    if reason.len() <= MAX_REASON {
        return reason;
    }
    let mut end = MAX_REASON;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &reason[..end], reason.len())
}

#[cfg(test)]
mod tests {
    use super::{bounded, MAX_REASON};
    use crate::entry::DATUM_FIELD;
    use crate::pack::ORIGIN_FIELD;

    #[test]
    pub(super) fn a_long_reason_is_cut_and_says_its_length() {
        assert_eq!(bounded("short".to_owned()), "short");
        let long = format!("undecodable: {}", "é".repeat(3 << 20));
        let cut = bounded(long.clone());
        assert!(cut.len() < MAX_REASON + 40, "{}", cut.len());
        assert!(cut.starts_with("undecodable: éé"), "{cut}");
        assert!(
            cut.ends_with(&format!("… ({} bytes in all)", long.len())),
            "{cut}"
        );
    }

    #[test]
    pub(super) fn the_split_script_writes_the_fields_a_reader_looks_for() {
        let script = super::SPLIT_SCRIPT;
        assert!(
            script.contains(&format!("'{DATUM_FIELD}', ARGV[i]")),
            "{script}"
        );
        assert!(
            script.contains(&format!("'{ORIGIN_FIELD}', ARGV[2] .. '#'")),
            "{script}"
        );
    }
}
