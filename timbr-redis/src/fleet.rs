//! Looking at a whole fleet from outside: its balance, its dead letters, its results.

use std::collections::HashMap;
use std::fmt;

use redis::streams::StreamInfoGroupsReply;
use redis::{Connection, RedisResult, Value};
use serde::{Deserialize, Serialize};

use crate::group::create_group;
use crate::health::Health;
use crate::link::Link;
use crate::unread::unread;
use crate::{RedisError, RedisOptions};

/// Entries read per round trip when scanning a stream.
pub(crate) const SCAN: usize = 1000;

/// A fleet's stream, its group and dead letters, seen by an operator.
pub struct Fleet {
    options: RedisOptions,
    link: Link,
}

/// Where every entry ever put on the stream is.
///
/// `produced = acked + pending + unread + dead + failed + purged` always holds for a fleet
/// whose consumers all run timbr (entries put by other programs count as produced too).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// Entries ever added to the stream, less dead letters re-queued and failures replayed
    /// (each added again), plus failures ever written to the failure stream (each a datum
    /// to deal with again: replayed, or purged).
    pub produced: u64,
    /// Entries acknowledged after their record was accepted.
    pub acked: u64,
    /// Entries read and not acknowledged yet.
    pub pending: u64,
    /// Entries not read yet.
    pub unread: u64,
    /// Entries in the dead-letter stream.
    pub dead: u64,
    /// Data that failed for good, waiting in the failure stream for a replay
    /// ([`Fleet::failures`]).
    #[serde(default)]
    pub failed: u64,
    /// Dead letters and failures dropped after inspection ([`Fleet::purge`],
    /// [`Fleet::purge_failures`]): out of the fleet for good.
    #[serde(default)]
    pub purged: u64,
    /// Data acknowledged: as `acked` when every entry holds one datum; a packed entry
    /// counts its data ([`RedisOptions::pack`]), and a packed entry split to be delivered
    /// again counts none (its data count as their own entries are acknowledged). Data that
    /// failed for good are not counted here but in `failed`.
    pub acked_data: u64,
}

impl Balance {
    /// Whether the accounts add up.
    pub fn is_balanced(&self) -> bool {
        self.produced
            == self.acked + self.pending + self.unread + self.dead + self.failed + self.purged
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
            "produced {} = acked {} + pending {} + unread {} + dead {}",
            self.produced, self.acked, self.pending, self.unread, self.dead
        )?;
        if self.failed > 0 {
            write!(f, " + failed {}", self.failed)?;
        }
        if self.purged > 0 {
            write!(f, " + purged {}", self.purged)?;
        }
        write!(f, ": {verdict}")?;
        if self.acked_data != self.acked {
            write!(f, " (entries; {} data acknowledged)", self.acked_data)?;
        }
        Ok(())
    }
}

/// What a results stream holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Results {
    /// Records in all (success and failure records).
    pub records: u64,
    /// Distinct origins (queue entries) among them.
    pub distinct: u64,
    /// Records an origin has beyond its first success record and its first failure record:
    /// redelivered data. A datum *put* twice has two entries, two origins, and is not
    /// counted here: a producer that may be restarted keeps its place with a
    /// [`Producer`](crate::Producer) so that it never is. (A replayed failure that fails
    /// again has a second failure record under its origin, counted here too.)
    pub duplicates: u64,
    /// How many records each origin has, for origins with more than one.
    pub repeated: HashMap<String, u64>,
    /// Entries that are neither a record nor a packed entry whose fields agree (written by
    /// another program): not counted as records.
    #[serde(default)]
    pub malformed: u64,
    /// Failure records (field `failed`): data whose stage said no for good.
    #[serde(default)]
    pub failed: u64,
    /// Origins with a failure record and a success record: failures replayed after a fix,
    /// whose success record replaces the failure record (a replay keeps its origin).
    #[serde(default)]
    pub replaced: u64,
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
            let reply: redis::streams::StreamInfoConsumersReply = redis::cmd("XINFO")
                .arg("CONSUMERS")
                .arg(&o.stream)
                .arg(&o.group)
                .query(con)?;
            Ok(reply
                .consumers
                .into_iter()
                .map(|c| Member {
                    name: c.name,
                    pending: c.pending as u64,
                    idle_ms: c.idle as u64,
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
        let mut link = Link::open(
            &options.url,
            Health::new(&options),
            "fleet",
            options.backoff_max,
        )?;
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
            #[allow(clippy::type_complexity)] // the transaction's replies, in their order
            let (
                stream,
                groups,
                acked,
                requeued,
                dead,
                acked_data,
                purged,
                failed,
                written,
                replayed,
            ): (
                // `XINFO STREAM` by field name: the crate's typed reply has no `entries-added`.
                HashMap<String, Value>,
                StreamInfoGroupsReply,
                Option<u64>,
                Option<u64>,
                u64,
                Option<u64>,
                Option<u64>,
                u64,
                Option<u64>,
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
                .cmd("GET")
                .arg(o.purged_key())
                .cmd("XLEN")
                .arg(o.failure_stream())
                .cmd("GET")
                .arg(o.failed_key())
                .cmd("GET")
                .arg(o.replayed_key())
                .query(con)?;
            let field = |name: &str| {
                stream
                    .get(name)
                    .and_then(|v| redis::from_redis_value::<u64>(v).ok())
                    .unwrap_or(0)
            };
            let (added, length) = (field("entries-added"), field("length"));
            let group = groups.groups.into_iter().find(|g| g.name == o.group);
            // Redis's lag only where it vouches for it (not after some restarts): `unread.rs`.
            let (pending, unread) = match group {
                Some(g) => (g.pending as u64, unread(con, &o.stream, &g, length)?),
                None => (0, added),
            };
            Ok(Balance {
                produced: (added + written.unwrap_or(0))
                    .saturating_sub(requeued.unwrap_or(0) + replayed.unwrap_or(0)),
                acked: acked.unwrap_or(0),
                pending,
                unread,
                dead,
                failed,
                purged: purged.unwrap_or(0),
                acked_data: acked_data.unwrap_or(0),
            })
        })
    }

    /// Reads the records of a results stream (packed entries unpacked:
    /// [`RedisSink::packed`](crate::RedisSink::packed)) and counts duplicates by origin.
    ///
    /// # Errors
    ///
    /// [`RedisError::Command`] if Redis refused the read.
    pub fn results(&mut self, stream: &str) -> Result<Results, RedisError> {
        // Per origin: its success records and its failure records.
        let mut seen: HashMap<String, (u64, u64)> = HashMap::new();
        let mut out = Results::default();
        let mut after: Option<String> = None;
        loop {
            let page = self.result_records(stream, after.as_deref(), SCAN)?;
            let Some(last) = page.last else { break };
            after = Some(last);
            out.malformed += page.malformed.len() as u64;
            for r in page.records {
                out.records += 1;
                let counts = seen.entry(r.origin).or_default();
                if r.failed.is_some() {
                    out.failed += 1;
                    counts.1 += 1;
                } else {
                    counts.0 += 1;
                }
            }
        }
        out.distinct = seen.len() as u64;
        for (ok, failed) in seen.values() {
            out.duplicates += ok.saturating_sub(1) + failed.saturating_sub(1);
            out.replaced += u64::from(*ok > 0 && *failed > 0);
        }
        out.repeated = seen
            .into_iter()
            .filter(|(_, (ok, failed))| ok + failed > 1)
            .map(|(origin, (ok, failed))| (origin, ok + failed))
            .collect();
        Ok(out)
    }

    /// The settings this fleet view was made with.
    pub fn options(&self) -> &RedisOptions {
        &self.options
    }
}
