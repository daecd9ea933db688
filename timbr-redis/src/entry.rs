//! How a datum sits in a stream entry, and how a record sits in a sink stream: JSON in one
//! field, so that any program (Python's redis client, `redis-cli`) can read and write them.

use redis::{RedisResult, Value};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The field of a queue entry holding the datum's JSON.
pub const DATUM_FIELD: &str = "d";

/// How the reason of a dead letter that could not be decoded begins (such a letter is never
/// re-queued: it would die again at once).
pub(crate) const UNDECODABLE: &str = "undecodable";

/// Fields of a record in a sink stream (an entry of one record; a packed entry holds
/// `oids`, `origins`, `records` and `consumer`: see [`RedisSink::packed`](crate::RedisSink::packed)).
pub mod record_fields {
    /// The datum's oid (24 hex characters).
    pub const OID: &str = "oid";
    /// The queue entry the datum came from (empty if it came from no acknowledging queue).
    pub const ORIGIN: &str = "origin";
    /// The record's JSON array `[in_s, f0_s, …]`.
    pub const RECORD: &str = "record";
    /// The consumer that wrote it.
    pub const CONSUMER: &str = "consumer";
    /// On a failure record only: the name of the first stage that failed (the datum is in
    /// the fleet's failure stream too). A failure record is never packed.
    pub const FAILED: &str = "failed";
    /// A packed result entry's oids, one line each
    /// ([`RedisSink::packed`](crate::RedisSink::packed)).
    pub const OIDS: &str = "oids";
    /// A packed result entry's origins, one line each, in the order of its oids.
    pub const ORIGINS: &str = "origins";
    /// A packed result entry's records (JSON arrays), one line each, in the order of its
    /// oids.
    pub const RECORDS: &str = "records";
}

/// Fields of a dead letter.
pub mod dead_fields {
    /// The entry's id in the queue's stream.
    pub const ID: &str = "id";
    /// Why it is dead.
    pub const REASON: &str = "reason";
    /// The consumer that gave up on it.
    pub const CONSUMER: &str = "consumer";
    /// How many times it was delivered.
    pub const DELIVERIES: &str = "deliveries";
    /// The entry's datum field, as it was (absent if the entry had none).
    pub const DATUM: &str = super::DATUM_FIELD;
    /// The entry's fields as JSON, when it had no datum field.
    pub const FIELDS: &str = "fields";
    /// The datum's origin, when the entry was split out of a pack (see
    /// [`RedisOptions::pack`](crate::RedisOptions::pack)): a re-queued dead letter keeps it.
    pub const ORIGIN: &str = crate::pack::ORIGIN_FIELD;
}

pub(crate) fn encode<T: Serialize>(datum: &T) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(datum)
}

/// One stream entry as Redis sent it: its id and its fields in their order.
///
/// Read straight from the reply, without the `HashMap` per entry that `redis::streams`
/// builds: the hot path looks at one field of a few, and a linear scan of them is cheaper
/// than hashing every name.
#[derive(Debug, Default)]
pub(crate) struct Entry {
    pub(crate) id: String,
    /// Names and values, alternating, as in the reply.
    fields: Vec<Value>,
}

impl Entry {
    /// An entry with no fields (one deleted meanwhile).
    pub(crate) fn empty(id: &str) -> Entry {
        Entry {
            id: id.to_owned(),
            fields: Vec::new(),
        }
    }

    /// The value of the field `name`, if the entry has it.
    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        self.fields.chunks_exact(2).find_map(|kv| match &kv[0] {
            Value::BulkString(k) if k.as_slice() == name.as_bytes() => Some(&kv[1]),
            Value::SimpleString(k) if k == name => Some(&kv[1]),
            _ => None,
        })
    }

    /// The datum of the entry, or why it cannot be had.
    pub(crate) fn decode<T: DeserializeOwned>(&self) -> Result<T, String> {
        match self.get(DATUM_FIELD) {
            Some(Value::BulkString(bytes)) => serde_json::from_slice(bytes)
                .map_err(|e| format!("{UNDECODABLE}: field `{DATUM_FIELD}` is not a datum: {e}")),
            Some(other) => Err(format!("{UNDECODABLE}: field `{DATUM_FIELD}` is {other:?}")),
            None => Err(format!("{UNDECODABLE}: no field `{DATUM_FIELD}`")),
        }
    }

    /// The fields as a JSON object of texts (for a dead letter without a datum field).
    pub(crate) fn fields_json(&self) -> String {
        let obj: serde_json::Map<String, serde_json::Value> = self
            .fields
            .chunks_exact(2)
            .map(|kv| (text(&kv[0]), serde_json::Value::String(text(&kv[1]))))
            .collect();
        serde_json::Value::Object(obj).to_string()
    }
}

/// The entries of an `XRANGE` or `XCLAIM` reply, in order; entries deleted meanwhile (nil,
/// or an id without fields) come back without fields or are skipped.
pub(crate) fn entries(reply: Value) -> RedisResult<Vec<Entry>> {
    let items = match reply {
        Value::Array(items) | Value::Set(items) => items,
        Value::Nil => return Ok(Vec::new()),
        other => return Err(malformed("a list of entries", &other)),
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let pair = match item {
            Value::Nil => continue,
            Value::Array(pair) => pair,
            other => return Err(malformed("an entry", &other)),
        };
        let mut pair = pair.into_iter();
        let id = match pair.next() {
            Some(Value::BulkString(b)) => String::from_utf8(b)
                .map_err(|e| malformed("an entry id", &Value::BulkString(e.into_bytes())))?,
            Some(Value::SimpleString(s)) => s,
            other => return Err(malformed("an entry id", &other.unwrap_or(Value::Nil))),
        };
        let fields = match pair.next() {
            Some(Value::Array(fields)) => fields,
            Some(Value::Map(map)) => map.into_iter().flat_map(|(k, v)| [k, v]).collect(),
            _ => Vec::new(),
        };
        out.push(Entry { id, fields });
    }
    Ok(out)
}

/// The entries of an `XREADGROUP` reply on one stream (nil when the read timed out).
pub(crate) fn read_reply(reply: Value) -> RedisResult<Vec<Entry>> {
    let mut out = Vec::new();
    match reply {
        Value::Nil => {}
        // RESP2: a list of `[stream name, entries]`.
        Value::Array(streams) => {
            for stream in streams {
                let Value::Array(pair) = stream else {
                    return Err(malformed("[stream, entries]", &stream));
                };
                let entries_of = pair.into_iter().nth(1).unwrap_or(Value::Nil);
                out.extend(entries(entries_of)?);
            }
        }
        // RESP3: a map of stream name to entries.
        Value::Map(streams) => {
            for (_, entries_of) in streams {
                out.extend(entries(entries_of)?);
            }
        }
        other => return Err(malformed("a list of streams", &other)),
    }
    Ok(out)
}

fn malformed(what: &'static str, got: &Value) -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::TypeError,
        "unexpected reply",
        format!("expected {what}, got {got:?}"),
    ))
}

/// The text of a field value, lossy for bytes that are not UTF-8.
pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Int(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use redis::Value;

    use super::{entries, read_reply};

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    fn entry(id: &str, fields: &[&str]) -> Value {
        Value::Array(vec![
            bulk(id),
            Value::Array(fields.iter().map(|f| bulk(f)).collect()),
        ])
    }

    #[test]
    fn a_read_reply_gives_its_entries_in_order_with_their_fields() {
        let reply = Value::Array(vec![Value::Array(vec![
            bulk("s"),
            Value::Array(vec![
                entry("1-0", &["d", "{\"n\":1}"]),
                entry("1-1", &["other", "x", "d", "2"]),
            ]),
        ])]);
        let got = read_reply(reply).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].id, "1-0");
        assert_eq!(got[0].decode::<serde_json::Value>().unwrap()["n"], 1);
        assert_eq!(
            got[1].decode::<u64>().unwrap(),
            2,
            "the field found by name"
        );
        let fields: serde_json::Value = serde_json::from_str(&got[1].fields_json()).unwrap();
        assert_eq!(fields, serde_json::json!({"other": "x", "d": "2"}));
        assert!(
            read_reply(Value::Nil).unwrap().is_empty(),
            "a timed-out read"
        );
    }

    #[test]
    fn deleted_entries_are_skipped_or_empty_and_garbage_is_an_error() {
        let reply = Value::Array(vec![Value::Nil, entry("2-0", &[]), {
            Value::Array(vec![bulk("3-0"), Value::Nil])
        }]);
        let got = entries(reply).unwrap();
        assert_eq!(
            got.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            ["2-0", "3-0"]
        );
        assert!(got[1].decode::<u64>().unwrap_err().contains("no field `d`"));
        assert!(entries(Value::Int(3)).is_err());
        assert!(read_reply(Value::Array(vec![Value::Int(1)])).is_err());
    }
}
