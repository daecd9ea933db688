//! What a queue reports: its counters, its connection and the group as Redis last showed it
//! ([`QueueReport`], [`GroupInfo`]). `health.rs` keeps them; this file is their shape.

use serde::{Deserialize, Serialize};

#[cfg(doc)]
use timbr_core::io::QueueEvent;

/// The group as Redis showed it at the last look (every half second while the queue is used).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInfo {
    /// Entries in the stream (acknowledged entries are trimmed, so mostly unread + pending).
    pub stream_length: u64,
    /// Entries the group has not read yet: Redis's `lag` where it vouches for it, else
    /// counted after the group's last delivered entry (Redis loses its count in some
    /// restarts); `None` before the first look.
    pub lag: Option<u64>,
    /// Entries read and not yet acknowledged, over all consumers.
    pub pending: u64,
    /// Consumers in the group.
    pub consumers: u64,
    /// Entries in the dead-letter stream.
    pub dead_letters: u64,
    /// Data in the failure stream: failed for good, waiting for a replay
    /// ([`Fleet::failures`](crate::Fleet::failures)).
    #[serde(default)]
    pub failures: u64,
}

/// The queue's report: what this process did and what Redis shows, for status displays.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueReport {
    /// The stream.
    pub stream: String,
    /// The group.
    pub group: String,
    /// This consumer.
    pub consumer: String,
    /// Whether the last command reached the server.
    pub connected: bool,
    /// Redis's own message, with the connection's name, while it answers but refuses a
    /// command this queue retries (see [`QueueEvent::Refused`]): `outbox: OOM command not
    /// allowed when used memory > 'maxmemory'.`, `outbox: WRONGTYPE …`. `None` once every
    /// connection's commands go through again.
    pub refused: Option<String>,
    /// Times a connection was lost.
    pub outages: u64,
    /// The last connection error.
    pub last_error: Option<String>,
    /// The group as last seen.
    pub group_info: GroupInfo,
    /// Entries this consumer got that had been delivered before (re-read or claimed).
    pub redeliveries: u64,
    /// Entries claimed from other consumers.
    pub claimed: u64,
    /// Entries this consumer sent to the dead-letter stream.
    pub dead_lettered: u64,
    /// Of which undecodable.
    pub undecodable: u64,
    /// Of those, entries whose datum's `Deserialize` panicked (caught: the entry is
    /// dead-lettered with the panic's message, the queue goes on).
    pub panicked: u64,
    /// Entries acknowledged by this consumer.
    pub acked: u64,
    /// Deliveries released (their record was refused by the sink): claimed again later.
    pub released: u64,
    /// Packed entries this consumer split into one entry per datum, to deliver them again
    /// (see [`RedisOptions::pack`](crate::RedisOptions::pack)).
    pub split: u64,
    /// Data this process put on the stream.
    pub put: u64,
    /// Records this process wrote to sink streams.
    pub written: u64,
}
