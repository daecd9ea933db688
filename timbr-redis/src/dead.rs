//! A fleet's dead letters, seen and handled by an operator: listed, re-queued (one, or every
//! one there was when asked), or purged after inspection. The dead-letter stream is a side
//! stream (`side.rs`): each change is one script that counts what it moves
//! (`<stream>:requeued`, `<stream>:purged`), so the fleet's [`Balance`](crate::Balance)
//! still adds up, and two operators re-queuing the same letter at once put it back once.
//! What is the dead letters' own: a letter without a datum, or with one that could not be
//! decoded, is never re-queued ([`DeadLetter::unrequeueable`]).

use redis::streams::StreamId;
use redis::Value;
use serde::{Deserialize, Serialize};

use crate::entry::{self, dead_fields, UNDECODABLE};
use crate::side::SideEntry;
use crate::{Fleet, RedisError, RedisOptions};

/// One entry of the dead-letter stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Its id in the dead-letter stream: what [`Fleet::requeue`] and [`Fleet::purge`] take
    /// (and `timbr-fleet dead requeue|purge`).
    pub dead_id: String,
    /// Its id in the queue's stream, where it was when it died.
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

impl DeadLetter {
    /// Why this letter cannot be re-queued, or `None` if it can: one without a datum field
    /// has nothing to put back, and one whose datum could not be decoded would only die
    /// again at once (a worker running meanwhile would make a loop of it).
    pub fn unrequeueable(&self) -> Option<&'static str> {
        if self.datum.is_none() {
            Some("it has no datum (the entry had no datum field; its fields are in the reason)")
        } else if self.reason.starts_with(UNDECODABLE) {
            Some("its datum could not be decoded, and would die again at once")
        } else {
            None
        }
    }
}

impl SideEntry for DeadLetter {
    fn stream(o: &RedisOptions) -> String {
        o.dead_stream()
    }

    fn put_back_key(o: &RedisOptions) -> String {
        o.requeued_key()
    }

    fn from_entry(e: StreamId) -> DeadLetter {
        let field = |k: &str| e.map.get(k).map(entry::text);
        DeadLetter {
            id: field(dead_fields::ID).unwrap_or_default(),
            reason: field(dead_fields::REASON).unwrap_or_default(),
            consumer: field(dead_fields::CONSUMER).unwrap_or_default(),
            deliveries: field(dead_fields::DELIVERIES)
                .and_then(|d| d.parse().ok())
                .unwrap_or(0),
            datum: match e.map.get(dead_fields::DATUM) {
                Some(Value::BulkString(_)) => field(dead_fields::DATUM),
                _ => None,
            },
            origin: field(dead_fields::ORIGIN),
            dead_id: e.id,
        }
    }

    fn side_id(&self) -> &str {
        &self.dead_id
    }
}

/// What happened to one dead letter in [`Fleet::requeue_all`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requeue {
    /// Put back on the queue's stream under this new id.
    Requeued(String),
    /// Left in the dead letters, for this reason ([`DeadLetter::unrequeueable`]).
    Skipped(&'static str),
    /// Gone meanwhile (re-queued or purged by someone else).
    Gone,
}

/// What [`Fleet::requeue_all`] did, in numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequeueReport {
    /// Letters put back on the queue's stream.
    pub requeued: u64,
    /// Letters left in the dead letters because they cannot be re-queued.
    pub skipped: u64,
    /// Letters gone meanwhile.
    pub gone: u64,
}

impl Fleet {
    /// Up to `count` dead letters, oldest first.
    ///
    /// # Errors
    ///
    /// [`RedisError::Command`] if Redis refused the read.
    pub fn dead_letters(&mut self, count: usize) -> Result<Vec<DeadLetter>, RedisError> {
        self.side_range("-", "+", count)
    }

    /// The dead letter `dead_id`, if there is one.
    ///
    /// # Errors
    ///
    /// [`RedisError::Command`] if Redis refused the read.
    pub fn dead_letter(&mut self, dead_id: &str) -> Result<Option<DeadLetter>, RedisError> {
        Ok(self.side_range(dead_id, dead_id, 1)?.pop())
    }

    /// Puts the dead letter `dead_id` back on the queue's stream (as a new entry, with its
    /// origin if it came packed) and removes it from the dead letters, in one step. Returns
    /// the new entry's id.
    ///
    /// # Errors
    ///
    /// [`RedisError::NoSuchDeadLetter`] if there is no such dead letter;
    /// [`RedisError::NotRequeueable`] if it has no datum to put back, or one that could not
    /// be decoded ([`DeadLetter::unrequeueable`]; [`Fleet::purge`] drops it);
    /// [`RedisError::Command`] if Redis refused.
    pub fn requeue(&mut self, dead_id: &str) -> Result<String, RedisError> {
        let letter = self
            .dead_letter(dead_id)?
            .ok_or_else(|| RedisError::NoSuchDeadLetter(dead_id.to_owned()))?;
        match self.requeue_letter(&letter)? {
            Requeue::Requeued(id) => Ok(id),
            Requeue::Skipped(why) => Err(RedisError::NotRequeueable {
                dead_id: dead_id.to_owned(),
                why,
            }),
            Requeue::Gone => Err(RedisError::NoSuchDeadLetter(dead_id.to_owned())),
        }
    }

    fn requeue_letter(&mut self, letter: &DeadLetter) -> Result<Requeue, RedisError> {
        if let Some(why) = letter.unrequeueable() {
            return Ok(Requeue::Skipped(why));
        }
        let id = self.side_put_back::<DeadLetter>(&letter.dead_id)?;
        Ok(id.map_or(Requeue::Gone, Requeue::Requeued))
    }

    /// Re-queues every dead letter there is when called, each at most once, calling `each`
    /// with every letter and what happened to it. Letters that cannot be re-queued
    /// ([`DeadLetter::unrequeueable`]) stay where they are; letters that die while this
    /// runs (a re-queued one dying again, with a worker running) are left for the next
    /// call, so that it ends however fast they die.
    ///
    /// # Errors
    ///
    /// [`RedisError::Command`] if Redis refused (the letters before were handled).
    pub fn requeue_all(
        &mut self,
        mut each: impl FnMut(&DeadLetter, &Requeue),
    ) -> Result<RequeueReport, RedisError> {
        let mut report = RequeueReport::default();
        self.side_pages(|fleet, page: Vec<DeadLetter>| {
            for letter in &page {
                let done = fleet.requeue_letter(letter)?;
                match done {
                    Requeue::Requeued(_) => report.requeued += 1,
                    Requeue::Skipped(_) => report.skipped += 1,
                    Requeue::Gone => report.gone += 1,
                }
                each(letter, &done);
            }
            Ok(())
        })?;
        Ok(report)
    }

    /// Drops the dead letters `dead_ids` for good (after inspection), counting them in the
    /// fleet's [`Balance::purged`](crate::Balance::purged). Returns how many there were.
    ///
    /// # Errors
    ///
    /// [`RedisError::Command`] if Redis refused.
    pub fn purge(&mut self, dead_ids: &[&str]) -> Result<u64, RedisError> {
        self.side_purge::<DeadLetter>(dead_ids)
    }

    /// Drops every dead letter there is when called (not those that die meanwhile), as
    /// [`purge`](Fleet::purge) does. Returns how many.
    ///
    /// # Errors
    ///
    /// [`RedisError::Command`] if Redis refused (the letters before were purged).
    pub fn purge_all(&mut self) -> Result<u64, RedisError> {
        self.side_purge_picked::<DeadLetter>(|_| true)
    }
}
