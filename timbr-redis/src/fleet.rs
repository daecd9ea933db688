//! Looking at a whole fleet from outside: its balance, its dead letters, its results.

use std::collections::HashMap;
use std::fmt;

use redis::streams::StreamRangeReply;
use redis::{Connection, RedisResult, Value};
use serde::{Deserialize, Serialize};

use crate::entry::{self, dead_fields, record_fields};
use crate::health::Health;
use crate::link::Link;
use crate::reader::{create_group, parse_groups};
use crate::unread::unread;
use crate::{RedisError, RedisOptions};

/// Entries read per round trip when scanning a stream.
const SCAN: usize = 1000;

/// A fleet's stream, its group and dead letters, seen by an operator.
pub struct Fleet {
    options: RedisOptions,
    link: Link,
}

/// Where every entry ever put on the stream is.
///
/// `produced = acked + pending + unread + dead` always holds for a fleet whose consumers
/// all run timbr (entries put by other programs count as produced too).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// Entries ever added to the stream, less dead letters re-queued (each added again).
    pub produced: u64,
    /// Entries acknowledged after their record was accepted.
    pub acked: u64,
    /// Entries read and not acknowledged yet.
    pub pending: u64,
    /// Entries not read yet.
    pub unread: u64,
    /// Entries in the dead-letter stream.
    pub dead: u64,
    /// Data acknowledged: as `acked` when every entry holds one datum; a packed entry
    /// counts its data ([`RedisOptions::pack`]), and a packed entry split to be delivered
    /// again counts none (its data count as their own entries are acknowledged).
    pub acked_data: u64,
}

impl Balance {
    /// Whether the accounts add up.
    pub fn is_balanced(&self) -> bool {
        self.produced == self.acked + self.pending + self.unread + self.dead
    }
}

impl fmt::Display for Balance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.is_balanced() {
            "balanced"
        } else {
            "NOT BALANCED"
        };
        write!(
            f,
            "produced {} = acked {} + pending {} + unread {} + dead {}: {verdict}",
            self.produced, self.acked, self.pending, self.unread, self.dead
        )?;
        if self.acked_data != self.acked {
            write!(f, " (entries; {} data acknowledged)", self.acked_data)?;
        }
        Ok(())
    }
}

/// One entry of the dead-letter stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Its id in the dead-letter stream (what [`Fleet::requeue`] takes).
    pub dead_id: String,
    /// Its id in the queue's stream.
    pub id: String,
    /// Why it is dead.
    pub reason: String,
    /// The consumer that gave up on it.
    pub consumer: String,
    /// How many times it was delivered.
    pub deliveries: u64,
    /// The datum's JSON text, if the entry had a datum field.
    pub datum: Option<String>,
    /// The datum's origin (`E#i`) if it came packed: put back with it when re-queued.
    pub origin: Option<String>,
}

/// What a results stream holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Results {
    /// Records in all.
    pub records: u64,
    /// Distinct origins (queue entries) among them.
    pub distinct: u64,
    /// Records whose origin an earlier record had: redelivered data.
    pub duplicates: u64,
    /// How many records each origin has, for origins with more than one.
    pub repeated: HashMap<String, u64>,
}

/// One machine of the fleet, as its consumer group shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The consumer's name.
    pub name: String,
    /// Entries it holds, read and not acknowledged.
    pub pending: u64,
    /// Milliseconds since it last read or claimed.
    pub idle_ms: u64,
}

impl Fleet {
    /// Every consumer of the group: the fleet's machines, live or gone (a consumer stays
    /// listed until deleted; a large `idle_ms` with entries pending is a dead one whose
    /// entries others will claim).
    ///
    /// # Errors
    ///
    /// [`RedisError::Command`] if Redis refused the command.
    pub fn members(&mut self) -> Result<Vec<Member>, RedisError> {
        self.query("XINFO CONSUMERS", |con, o| {
            let rows: Vec<Vec<Value>> = redis::cmd("XINFO")
                .arg("CONSUMERS")
                .arg(&o.stream)
                .arg(&o.group)
                .query(con)?;
            Ok(rows
                .into_iter()
                .map(|row| {
                    let mut m = Member {
                        name: String::new(),
                        pending: 0,
                        idle_ms: 0,
                    };
                    for pair in row.chunks(2) {
                        let [k, v] = pair else { continue };
                        match entry::text(k).as_str() {
                            "name" => m.name = entry::text(v),
                            "pending" => m.pending = redis::from_redis_value(v).unwrap_or(0),
                            "idle" => m.idle_ms = redis::from_redis_value(v).unwrap_or(0),
                            _ => {}
                        }
                    }
                    m
                })
                .collect())
        })
    }

    /// Connects to the fleet's stream (creating its group if need be).
    ///
    /// # Errors
    ///
    /// [`RedisError`] for a bad URL, an unreachable server or refused credentials.
    pub fn connect(options: RedisOptions) -> Result<Self, RedisError> {
        options.validate()?;
        let mut link = Link::open(&options.url, Health::new(), "fleet", options.backoff_max)?;
        link.once(&mut |con| create_group(con, &options))
            .map_err(|source| RedisError::Command {
                command: "XGROUP CREATE",
                source,
            })?;
        Ok(Fleet { options, link })
    }

    pub(crate) fn query<R>(
        &mut self,
        command: &'static str,
        mut op: impl FnMut(&mut Connection, &RedisOptions) -> RedisResult<R>,
    ) -> Result<R, RedisError> {
        let o = &self.options;
        self.link
            .once(&mut |con| op(con, o))
            .map_err(|source| RedisError::Command { command, source })
    }

    /// The fleet's balance, read in one transaction.
    ///
    /// # Errors
    ///
    /// [`RedisError::Command`] if Redis refused a command.
    pub fn balance(&mut self) -> Result<Balance, RedisError> {
        self.query("XINFO", |con, o| {
            // One transaction: every counter moves atomically with the entries it counts
            // (acknowledgements in a script, dead letters and re-queues in transactions).
            let (stream, groups, acked, requeued, dead, acked_data): (
                Value,
                Value,
                Option<u64>,
                Option<u64>,
                u64,
                Option<u64>,
            ) = redis::pipe()
                .atomic()
                .cmd("XINFO")
                .arg("STREAM")
                .arg(&o.stream)
                .cmd("XINFO")
                .arg("GROUPS")
                .arg(&o.stream)
                .cmd("GET")
                .arg(o.acked_key())
                .cmd("GET")
                .arg(o.requeued_key())
                .cmd("XLEN")
                .arg(o.dead_stream())
                .cmd("GET")
                .arg(o.acked_data_key())
                .query(con)?;
            let field = |name: &str| match &stream {
                Value::Array(kv) => kv
                    .chunks(2)
                    .find(|p| p.len() == 2 && entry::text(&p[0]) == name)
                    .and_then(|p| redis::from_redis_value::<u64>(&p[1]).ok())
                    .unwrap_or(0),
                _ => 0,
            };
            let (added, length) = (field("entries-added"), field("length"));
            let group = parse_groups(groups)?
                .into_iter()
                .find(|g| g.name == o.group);
            // Redis's lag only where it vouches for it (not after some restarts): `unread.rs`.
            let (pending, unread) = match group {
                Some(g) => (g.pending, unread(con, &o.stream, &g, length)?),
                None => (0, added),
            };
            Ok(Balance {
                produced: added.saturating_sub(requeued.unwrap_or(0)),
                acked: acked.unwrap_or(0),
                pending,
                unread,
                dead,
                acked_data: acked_data.unwrap_or(0),
            })
        })
    }

    /// Up to `count` dead letters, oldest first.
    ///
    /// # Errors
    ///
    /// [`RedisError::Command`] if Redis refused the read.
    pub fn dead_letters(&mut self, count: usize) -> Result<Vec<DeadLetter>, RedisError> {
        self.query("XRANGE", |con, o| {
            let reply: StreamRangeReply = redis::cmd("XRANGE")
                .arg(o.dead_stream())
                .arg("-")
                .arg("+")
                .arg("COUNT")
                .arg(count)
                .query(con)?;
            Ok(reply
                .ids
                .into_iter()
                .map(|e| {
                    let field = |k: &str| e.map.get(k).map(entry::text);
                    DeadLetter {
                        id: field(dead_fields::ID).unwrap_or_default(),
                        reason: field(dead_fields::REASON).unwrap_or_default(),
                        consumer: field(dead_fields::CONSUMER).unwrap_or_default(),
                        deliveries: field(dead_fields::DELIVERIES)
                            .and_then(|d| d.parse().ok())
                            .unwrap_or(0),
                        datum: field(dead_fields::DATUM),
                        origin: field(dead_fields::ORIGIN),
                        dead_id: e.id,
                    }
                })
                .collect())
        })
    }

    /// Puts the dead letter `dead_id` back on the queue's stream (as a new entry) and
    /// removes it from the dead letters, in one transaction.
    ///
    /// # Errors
    ///
    /// [`RedisError::NoSuchDeadLetter`] if there is no such dead letter, or it has no
    /// datum field to put back; [`RedisError::Command`] if Redis refused.
    pub fn requeue(&mut self, dead_id: &str) -> Result<String, RedisError> {
        let found: StreamRangeReply = self.query("XRANGE", |con, o| {
            redis::cmd("XRANGE")
                .arg(o.dead_stream())
                .arg(dead_id)
                .arg(dead_id)
                .query(con)
        })?;
        let dead = found.ids.first();
        let raw = dead
            .and_then(|e| match e.map.get(dead_fields::DATUM) {
                Some(redis::Value::BulkString(b)) => Some(b.clone()),
                _ => None,
            })
            .ok_or_else(|| RedisError::NoSuchDeadLetter(dead_id.to_owned()))?;
        // A datum that came packed goes back under its origin, so that its records stay
        // recognisable as the same datum's.
        let origin = dead
            .and_then(|e| e.map.get(dead_fields::ORIGIN))
            .map(entry::text)
            .filter(|o| crate::pack::is_origin(o));
        self.query("XADD", |con, o| {
            let mut pipe = redis::pipe();
            let add = pipe
                .atomic()
                .cmd("XADD")
                .arg(&o.stream)
                .arg("*")
                .arg(entry::DATUM_FIELD)
                .arg(raw.as_slice());
            if let Some(origin) = &origin {
                add.arg(crate::pack::ORIGIN_FIELD).arg(origin);
            }
            let (id,): (String,) = pipe
                .cmd("INCR")
                .arg(o.requeued_key())
                .ignore()
                .cmd("XDEL")
                .arg(o.dead_stream())
                .arg(dead_id)
                .ignore()
                .query(con)?;
            Ok(id)
        })
    }

    /// Re-queues every dead letter that has a datum; returns how many.
    ///
    /// # Errors
    ///
    /// As [`Fleet::requeue`].
    pub fn requeue_all(&mut self) -> Result<usize, RedisError> {
        let mut n = 0;
        loop {
            let batch = self.dead_letters(SCAN)?;
            let with_datum: Vec<_> = batch.iter().filter(|d| d.datum.is_some()).collect();
            if with_datum.is_empty() {
                return Ok(n);
            }
            for d in with_datum {
                self.requeue(&d.dead_id)?;
                n += 1;
            }
        }
    }

    /// Reads the records of a results stream and counts duplicates by origin.
    ///
    /// # Errors
    ///
    /// [`RedisError::Command`] if Redis refused the read.
    pub fn results(&mut self, stream: &str) -> Result<Results, RedisError> {
        let mut seen: HashMap<String, u64> = HashMap::new();
        let mut records = 0_u64;
        let mut from = "-".to_owned();
        loop {
            let page: StreamRangeReply = self.query("XRANGE", |con, _| {
                redis::cmd("XRANGE")
                    .arg(stream)
                    .arg(&from)
                    .arg("+")
                    .arg("COUNT")
                    .arg(SCAN)
                    .query(con)
            })?;
            let Some(last) = page.ids.last() else { break };
            from = format!("({}", last.id);
            for e in &page.ids {
                records += 1;
                let origin = e
                    .map
                    .get(record_fields::ORIGIN)
                    .map(entry::text)
                    .unwrap_or_default();
                *seen.entry(origin).or_default() += 1;
            }
        }
        let distinct = seen.len() as u64;
        seen.retain(|_, n| *n > 1);
        Ok(Results {
            records,
            distinct,
            duplicates: records - distinct,
            repeated: seen,
        })
    }

    /// The settings this fleet view was made with.
    pub fn options(&self) -> &RedisOptions {
        &self.options
    }
}
