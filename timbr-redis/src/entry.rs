//! How a datum sits in a stream entry, and how a record sits in a sink stream: JSON in one
//! field, so that any program (Python's redis client, `redis-cli`) can read and write them.

use std::collections::HashMap;

use redis::Value;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The field of a queue entry holding the datum's JSON.
pub const DATUM_FIELD: &str = "d";

/// Fields of a record in a sink stream.
pub mod record_fields {
    /// The datum's oid (24 hex characters).
    pub const OID: &str = "oid";
    /// The queue entry the datum came from (empty if it came from no acknowledging queue).
    pub const ORIGIN: &str = "origin";
    /// The record's JSON array `[in_s, f0_s, …]`.
    pub const RECORD: &str = "record";
    /// The consumer that wrote it.
    pub const CONSUMER: &str = "consumer";
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
}

pub(crate) fn encode<T: Serialize>(datum: &T) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(datum)
}

/// The datum of an entry, or why it cannot be had.
pub(crate) fn decode<T: DeserializeOwned>(map: &HashMap<String, Value>) -> Result<T, String> {
    match map.get(DATUM_FIELD) {
        Some(Value::BulkString(bytes)) => serde_json::from_slice(bytes)
            .map_err(|e| format!("undecodable: field `{DATUM_FIELD}` is not a datum: {e}")),
        Some(other) => Err(format!("undecodable: field `{DATUM_FIELD}` is {other:?}")),
        None => Err(format!("undecodable: no field `{DATUM_FIELD}`")),
    }
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

/// The fields of an entry as a JSON object of texts.
pub(crate) fn fields_json(map: &HashMap<String, Value>) -> String {
    let obj: serde_json::Map<String, serde_json::Value> = map
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(text(v))))
        .collect();
    serde_json::Value::Object(obj).to_string()
}
