//! A fleet's failure stream, seen and handled by an operator: listed, replayed onto the
//! queue's stream for the (fixed) workers to take, or purged after inspection. The stream
//! itself and how it is written: `failed.rs`.
//!
//! The failure stream is a side stream, as the dead letters' is (`side.rs`): a replay is
//! one script that adds the datum back to the queue's stream with its origin (field `o`, so
//! its record has the origin its failure record had), counts it in `<stream>:replayed` and
//! deletes the failure. The fleet's [`Balance`](crate::Balance) reads the counter and still
//! adds up: exact after a replay, which moves a datum from `failed` to `unread`. What is the
//! failures' own: every one can be replayed, and the `_all` forms take a pick.

use redis::streams::StreamId;
use serde::{Deserialize, Serialize};

use crate::entry;
use crate::failed::failure_fields as F;
use crate::side::SideEntry;
use crate::{Fleet, RedisError, RedisOptions};

/// One entry of the failure stream: a datum whose stage said no for good.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// Its id in the failure stream: what [`Fleet::replay`] and [`Fleet::purge_failures`]
    /// take (and `timbr-fleet failures replay|purge`).
    pub failure_id: String,
    /// The queue entry acknowledged with it.
    pub id: String,
    /// The origin it was delivered under (`E`, or `E#i` if it came packed), which a replay
    /// keeps.
    pub origin: String,
    /// The datum's JSON, as the worker serialized it ([`failure_fields::DATUM`](crate::failure_fields::DATUM)).
    pub datum: String,
    /// Its oid in the run that failed (its failure record's).
    pub oid: String,
    /// The first stage that failed.
    pub stage: String,
    /// That stage's slot.
    pub slot: u64,
    /// The stage's error.
    pub error: String,
    /// How many times the datum ran (1 + its retries).
    pub attempts: u64,
    /// The consumer that gave up on it.
    pub consumer: String,
}

impl SideEntry for Failure {
    fn stream(o: &RedisOptions) -> String {
        o.failure_stream()
    }

    fn put_back_key(o: &RedisOptions) -> String {
        o.replayed_key()
    }

    fn from_entry(e: StreamId) -> Failure {
        let field = |k: &str| e.map.get(k).map(entry::text).unwrap_or_default();
        let number = |k: &str| field(k).parse().unwrap_or(0);
        Failure {
            id: field(F::ID),
            origin: field(F::ORIGIN),
            datum: field(F::DATUM),
            oid: field(F::OID),
            stage: field(F::STAGE),
            slot: number(F::SLOT),
            error: field(F::ERROR),
            attempts: number(F::ATTEMPTS),
            consumer: field(F::CONSUMER),
            failure_id: e.id,
        }
    }

    fn side_id(&self) -> &str {
        &self.failure_id
    }
}

/// What [`Fleet::replay_all`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayReport {
    /// Failures put back on the queue's stream.
    pub replayed: u64,
    /// Failures the pick left where they are.
    pub left: u64,
    /// Failures replayed or purged by someone else meanwhile.
    pub gone: u64,
}

impl Fleet {
    /// Up to `count` failures, oldest first.
    ///
    /// # Errors
    ///
    /// [`RedisError::Command`] if Redis refused the read.
    pub fn failures(&mut self, count: usize) -> Result<Vec<Failure>, RedisError> {
        self.side_range("-", "+", count)
    }

    /// How many failures wait in the failure stream (for a replay or a purge).
    ///
    /// # Errors
    ///
    /// [`RedisError::Command`] if Redis refused the read.
    pub fn failure_count(&mut self) -> Result<u64, RedisError> {
        self.side_len::<Failure>()
    }

    /// Up to `count` failures, newest first.
    ///
    /// # Errors
    ///
    /// [`RedisError::Command`] if Redis refused the read.
    pub fn newest_failures(&mut self, count: usize) -> Result<Vec<Failure>, RedisError> {
        self.side_newest(count)
    }

    /// Puts failure `failure_id` back on the queue's stream, keeping its origin, and removes
    /// it from the failure stream, in one step: the workers take it as any entry (after a
    /// fix, the fixed ones). Returns the new entry's id, or `None` if there is no such
    /// failure (replayed or purged meanwhile).
    ///
    /// # Errors
    ///
    /// [`RedisError::Command`] if Redis refused.
    pub fn replay(&mut self, failure_id: &str) -> Result<Option<String>, RedisError> {
        self.side_put_back::<Failure>(failure_id)
    }

    /// Replays every failure there is when called that `pick` accepts, each at most once
    /// (a replay that fails again while this runs is left for the next call), calling
    /// `each` with every failure replayed.
    ///
    /// # Errors
    ///
    /// [`RedisError::Command`] if Redis refused (the failures before were replayed).
    pub fn replay_all(
        &mut self,
        mut pick: impl FnMut(&Failure) -> bool,
        mut each: impl FnMut(&Failure, &str),
    ) -> Result<ReplayReport, RedisError> {
        let mut report = ReplayReport::default();
        self.side_pages(|fleet, page: Vec<Failure>| {
            for failure in &page {
                if !pick(failure) {
                    report.left += 1;
                    continue;
                }
                match fleet.replay(&failure.failure_id)? {
                    Some(id) => {
                        report.replayed += 1;
                        each(failure, &id);
                    }
                    None => report.gone += 1,
                }
            }
            Ok(())
        })?;
        Ok(report)
    }

    /// Drops failures `failure_ids` for good (after inspection), counting them in the
    /// fleet's [`Balance::purged`](crate::Balance::purged). Returns how many there were.
    ///
    /// # Errors
    ///
    /// [`RedisError::Command`] if Redis refused.
    pub fn purge_failures(&mut self, failure_ids: &[&str]) -> Result<u64, RedisError> {
        self.side_purge::<Failure>(failure_ids)
    }

    /// Drops every failure there is when called that `pick` accepts, as
    /// [`purge_failures`](Fleet::purge_failures) does. Returns how many.
    ///
    /// # Errors
    ///
    /// [`RedisError::Command`] if Redis refused (the failures before were purged).
    pub fn purge_failures_all(
        &mut self,
        pick: impl FnMut(&Failure) -> bool,
    ) -> Result<u64, RedisError> {
        self.side_purge_picked(pick)
    }
}
