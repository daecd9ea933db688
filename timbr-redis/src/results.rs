//! Reading a results stream: records one to an entry, and **packed result entries** (many
//! records in one entry, [`RedisSink::packed`](crate::RedisSink::packed)) unpacked into the
//! same [`ResultRecord`]s.
//!
//! A record entry costs Redis an `XADD` per datum: in a packed fleet (many data to an input
//! entry) the largest part of Redis's time per datum. A sink made packed writes the records
//! of the data of one input pack as one entry instead, with the fields of
//! [`record_fields`](crate::record_fields) `oids`, `origins` and `records`: each holds one
//! line per record (`\n` between them), line `i` of the three being record `i`'s oid, origin
//! (`E#i`, as every record of a packed datum has) and JSON array. A JSON text as timbr writes
//! it has no raw newline (newlines in strings are escaped), so the records field is JSON
//! Lines that any program reads (`records.split('\n')`); a record that has one anyway (a
//! foreign serializer) is written as an entry of its own, never packed.
//!
//! What goes in one entry: the records of one input pack that went to Redis in the same
//! batch of the sink's outbox, in the order the sink got them. A pack whose records straddle
//! two batches (or that several threads of a machine processed while a batch was sealed)
//! gives two entries; records of data that did not come packed (origin without `#`: one
//! datum to an input entry, or a split pack's pieces, which keep their `E#i` and are packed
//! alone) stay one to an entry. Every record keeps its own origin, so duplicates are counted
//! per datum whatever the layout ([`Fleet::results`](crate::Fleet::results)).

use redis::Value;
use serde::{Deserialize, Serialize};

use crate::entry::{self, record_fields, Entry};
use crate::fleet::SCAN;
use crate::{Fleet, RedisError};

/// One record read back from a results stream, whether its entry held it alone or packed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultRecord {
    /// The results stream's entry that holds it (shared by the records of a packed entry).
    pub entry: String,
    /// The datum's oid (24 hex characters).
    pub oid: String,
    /// The queue delivery it came from (`E`, or `E#i` for a datum that came packed): a
    /// datum delivered twice has two records with one origin.
    pub origin: String,
    /// The record's JSON array `[in_s, f0_s, …]`.
    pub record: String,
    /// The consumer that wrote it.
    pub consumer: String,
    /// On a failure record, the first stage that failed (the datum went to the failure
    /// stream: [`Fleet::failures`](crate::Fleet::failures)); `None` on a success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

/// A results-stream entry that is neither a record nor a packed entry whose fields agree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Malformed {
    /// Its id in the results stream.
    pub entry: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A page of a results stream, from [`Fleet::result_records`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultPage {
    /// The records of the page's entries, in stream order, packed ones unpacked.
    pub records: Vec<ResultRecord>,
    /// The page's entries that could not be read as records.
    pub malformed: Vec<Malformed>,
    /// The last entry read: pass it as `after` for the next page (`None`: the stream has
    /// no entry after the one asked for).
    pub last: Option<String>,
}

/// Whether `record` (a record's JSON text) and its origin `origin` may go in a packed entry:
/// the origin must name a place in a pack, and neither may hold a line break.
pub(crate) fn packable(origin: &str, record: &str) -> bool {
    origin.contains('#') && !origin.contains('\n') && !record.as_bytes().contains(&b'\n')
}

/// The pack an origin `E#i` names (`E`), for grouping a batch's records by input pack.
pub(crate) fn pack_of(origin: &str) -> &str {
    origin.split_once('#').map_or(origin, |(pack, _)| pack)
}

/// The records of results-stream entry `e`: one for a record entry, every one of a packed
/// entry, or why there are none.
pub(crate) fn unpack(e: &Entry, out: &mut Vec<ResultRecord>) -> Result<(), String> {
    let field = |name: &str| e.get(name).map(entry::text);
    let consumer = field(record_fields::CONSUMER).unwrap_or_default();
    if let Some(record) = field(record_fields::RECORD) {
        out.push(ResultRecord {
            entry: e.id.clone(),
            oid: field(record_fields::OID).unwrap_or_default(),
            origin: field(record_fields::ORIGIN).unwrap_or_default(),
            record,
            consumer,
            failed: field(record_fields::FAILED),
        });
        return Ok(());
    }
    let (Some(oids), Some(origins), Some(records)) = (
        field(record_fields::OIDS),
        field(record_fields::ORIGINS),
        field(record_fields::RECORDS),
    ) else {
        return Err(format!(
            "neither a record (field `{}`) nor a packed entry (fields `{}`, `{}`, `{}`)",
            record_fields::RECORD,
            record_fields::OIDS,
            record_fields::ORIGINS,
            record_fields::RECORDS
        ));
    };
    let (oids, origins, records): (Vec<&str>, Vec<&str>, Vec<&str>) = (
        oids.split('\n').collect(),
        origins.split('\n').collect(),
        records.split('\n').collect(),
    );
    if oids.len() != records.len() || origins.len() != records.len() {
        return Err(format!(
            "a packed entry's lines disagree: {} oids, {} origins, {} records",
            oids.len(),
            origins.len(),
            records.len()
        ));
    }
    for ((oid, origin), record) in oids.into_iter().zip(origins).zip(records) {
        out.push(ResultRecord {
            entry: e.id.clone(),
            oid: oid.to_owned(),
            origin: origin.to_owned(),
            record: record.to_owned(),
            consumer: consumer.clone(),
            failed: None,
        });
    }
    Ok(())
}

impl Fleet {
    /// Up to `count` entries of results stream `stream` after entry `after` (from its start
    /// if `None`), as records: a packed entry gives each of its records
    /// ([`RedisSink::packed`](crate::RedisSink::packed)). Read on from the page's
    /// [`last`](ResultPage::last).
    ///
    /// # Errors
    ///
    /// [`RedisError::Command`] if Redis refused the read (`stream` is not a stream, say).
    pub fn result_records(
        &mut self,
        stream: &str,
        after: Option<&str>,
        count: usize,
    ) -> Result<ResultPage, RedisError> {
        let from = after.map_or_else(|| "-".to_owned(), |id| format!("({id}"));
        let count = count.clamp(1, SCAN * 100);
        let entries = self.query("XRANGE", |con, _| {
            let reply: Value = redis::cmd("XRANGE")
                .arg(stream)
                .arg(&from)
                .arg("+")
                .arg("COUNT")
                .arg(count)
                .query(con)?;
            entry::entries(reply)
        })?;
        let mut page = ResultPage {
            last: entries.last().map(|e| e.id.clone()),
            ..ResultPage::default()
        };
        for e in &entries {
            if let Err(reason) = unpack(e, &mut page.records) {
                page.malformed.push(Malformed {
                    entry: e.id.clone(),
                    reason,
                });
            }
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use redis::Value;

    use super::{pack_of, packable, unpack};
    use crate::entry::entries;

    fn entry(id: &str, fields: &[(&str, &str)]) -> crate::entry::Entry {
        let bulk = |s: &str| Value::BulkString(s.as_bytes().to_vec());
        let kv = fields
            .iter()
            .flat_map(|(k, v)| [bulk(k), bulk(v)])
            .collect();
        let reply = Value::Array(vec![Value::Array(vec![bulk(id), Value::Array(kv)])]);
        entries(reply).unwrap().pop().unwrap()
    }

    #[test]
    fn a_packed_entry_gives_its_records_in_order_each_with_its_origin() {
        let e = entry(
            "9-0",
            &[
                ("oids", "a\nb"),
                ("origins", "1-0#0\n1-0#1"),
                ("records", "[1,\"x\\ny\"]\n[2]"),
                ("consumer", "w"),
            ],
        );
        let mut out = Vec::new();
        unpack(&e, &mut out).unwrap();
        let got: Vec<(&str, &str, &str)> = out
            .iter()
            .map(|r| (r.oid.as_str(), r.origin.as_str(), r.record.as_str()))
            .collect();
        assert_eq!(
            got,
            [("a", "1-0#0", "[1,\"x\\ny\"]"), ("b", "1-0#1", "[2]")]
        );
        assert!(out.iter().all(|r| r.entry == "9-0" && r.consumer == "w"));
        let one = entry("9-1", &[("oid", "c"), ("origin", "2-0"), ("record", "[3]")]);
        unpack(&one, &mut out).unwrap();
        assert_eq!(out[2].record, "[3]");
        assert_eq!(out[2].consumer, "", "an absent consumer is empty");
    }

    #[test]
    fn entries_that_are_no_records_say_why() {
        let mut out = Vec::new();
        let lines = entry(
            "9-0",
            &[
                ("oids", "a"),
                ("origins", "1-0#0\n1-0#1"),
                ("records", "[1]\n[2]"),
            ],
        );
        let why = unpack(&lines, &mut out).unwrap_err();
        assert!(why.contains("1 oids, 2 origins, 2 records"), "{why}");
        let other = entry("9-1", &[("d", "1")]);
        assert!(unpack(&other, &mut out).unwrap_err().contains("neither"));
        assert!(out.is_empty());
    }

    #[test]
    fn only_records_of_packed_data_without_line_breaks_are_packed() {
        assert!(packable("1-0#3", "[1]"));
        assert!(!packable("1-0", "[1]"), "an entry of one datum");
        assert!(!packable("1-0#3", "[1,\n2]"), "a raw line break");
        assert!(!packable("1-0#3\n", "[1]"));
        assert_eq!(pack_of("1-0#3"), "1-0");
        assert_eq!(pack_of("1-0"), "1-0");
    }
}
