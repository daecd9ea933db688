//! Delivering again what was delivered before: this consumer's own pending entries after a
//! restart, entries other consumers left pending too long (claimed), entries released after
//! a sink error — one at a time, with the delivery count `XPENDING` shows (see the
//! reader's docs for why).

use std::collections::VecDeque;

use redis::streams::StreamPendingCountReply;
use redis::Value;
use serde::de::DeserializeOwned;

use super::Reader;
use crate::entry::{self, Entry};
use crate::group::recreate_group;
use crate::health::{Dead, Health};
use crate::options::RedisOptions;
use crate::pack::PACK_FIELD;
use crate::Delivery;

/// One entry to deliver again, as `XPENDING` shows it.
pub(super) struct Stale {
    pub(super) id: String,
    consumer: String,
    deliveries: u64,
    /// Milliseconds since its last delivery, when `XPENDING` showed it.
    idle_ms: u64,
}

impl<T: DeserializeOwned> Reader<T> {
    /// The oldest pending entry in the id `range` matching: this `consumer`'s, or idle for
    /// `idle_ms` and not this consumer's, or any.
    pub(super) fn pending_one(
        &mut self,
        o: &RedisOptions,
        (start, end): (&str, &str),
        consumer: Option<&str>,
        idle_ms: Option<u64>,
        give_up: &dyn Fn() -> bool,
    ) -> Option<Stale> {
        // Another consumer's stale entries may hide behind ours (still in our buffer).
        let count = if idle_ms.is_some() { 64 } else { 1 };
        let reply: StreamPendingCountReply = self.link.run(give_up, |con| {
            let mut cmd = redis::cmd("XPENDING");
            cmd.arg(&o.stream).arg(&o.group);
            if let Some(ms) = idle_ms {
                cmd.arg("IDLE").arg(ms);
            }
            cmd.arg(start).arg(end).arg(count);
            if let Some(c) = consumer {
                cmd.arg(c);
            }
            cmd.query(con)
                .or_else(|e| recreate_group(con, o, e).map(|()| StreamPendingCountReply::default()))
        })?;
        reply
            .ids
            .into_iter()
            .find(|p| idle_ms.is_none() || p.consumer != o.consumer)
            .map(|p| Stale {
                id: p.id,
                consumer: p.consumer,
                deliveries: p.times_delivered as u64,
                idle_ms: p.last_delivered_ms as u64,
            })
    }

    /// Delivers a stale entry again (claiming it), or dead-letters it if it was delivered
    /// `max_deliveries` times already.
    pub(super) fn redeliver(
        &mut self,
        o: &RedisOptions,
        health: &Health,
        stale: Stale,
        min_idle: u64,
        give_up: &dyn Fn() -> bool,
        out: &mut VecDeque<Delivery<T>>,
    ) {
        if stale.deliveries >= o.max_deliveries {
            let entry = self.read_one(o, &stale.id, give_up);
            if entry.get(PACK_FIELD).is_some() {
                // A pack never reaches a stage after its first delivery: its count grew
                // through splits that did not happen (a consumer killed before its split's
                // transaction), not through poison. Its data get their own entries.
                self.split(o, health, &entry, give_up);
                return;
            }
            let reason = format!(
                "delivered {} times without an acknowledgement (max_deliveries {})",
                stale.deliveries, o.max_deliveries
            );
            let why = (Dead::Redelivered, reason);
            self.dead_letter(o, health, &entry, stale.deliveries, why, give_up);
            return;
        }
        // Only if nobody touched it since `XPENDING` showed it: a claim or a delivery by
        // another consumer meanwhile resets its idle time below what was seen. (Without
        // this, a restarted consumer re-reading its own entry could take it back from one
        // that had just claimed it, and both would process it.)
        let min_idle = min_idle.max(stale.idle_ms);
        let mut sent = false;
        let claimed: Vec<Entry> = self
            .link
            .run(give_up, |con| {
                let mut idle = min_idle;
                if sent {
                    // The last try may have been applied with its reply lost (Redis
                    // restarted from its AOF): the entry is then this consumer's already,
                    // its idle time reset, and must be claimed whatever that is.
                    let now: StreamPendingCountReply = redis::cmd("XPENDING")
                        .arg(&o.stream)
                        .arg(&o.group)
                        .arg(&stale.id)
                        .arg(&stale.id)
                        .arg(1)
                        .query(con)?;
                    if now.ids.first().is_some_and(|p| p.consumer == o.consumer) {
                        idle = 0;
                    }
                }
                sent = true;
                let v: Value = redis::cmd("XCLAIM")
                    .arg(&o.stream)
                    .arg(&o.group)
                    .arg(&o.consumer)
                    .arg(idle)
                    .arg(&stale.id)
                    .query(con)?;
                entry::entries(v)
            })
            .unwrap_or_default();
        for entry in claimed {
            health.redelivered();
            if stale.consumer != o.consumer {
                health.claimed(&entry.id, &stale.consumer);
            }
            self.accept(o, health, entry, stale.deliveries + 1, give_up, out);
        }
    }

    /// The entry `id` as it is in the stream (empty fields if it was deleted meanwhile).
    pub(super) fn read_one(
        &mut self,
        o: &RedisOptions,
        id: &str,
        give_up: &dyn Fn() -> bool,
    ) -> Entry {
        let found: Option<Entry> = self
            .link
            .run(give_up, |con| {
                let v: Value = redis::cmd("XRANGE")
                    .arg(&o.stream)
                    .arg(id)
                    .arg(id)
                    .query(con)?;
                Ok(entry::entries(v)?.into_iter().next())
            })
            .flatten();
        found.unwrap_or_else(|| Entry::empty(id))
    }
}
