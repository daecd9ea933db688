//! The one owner of what a queue knows of itself: its counters, its connections' health, the
//! group as Redis last showed it. Every change is a method here — a connection lost, back or
//! refused, an entry claimed or dead-lettered, a batch acknowledged — which makes the change
//! and raises its event, as timbr-core's `machine/life.rs` does for a machine's lifecycle:
//! nothing else writes these fields, everything else asks ([`Health::report`]).
//!
//! Events go to the machines built on the queue (as [`QueueEvent`]s, through their
//! never-blocking senders), to the `on_event` listener, and out as `tracing` events (target
//! `timbr_redis`, with the stream, group and consumer, and the connection or the entry's id)
//! for whatever subscriber the program installed; they are built only on the rare paths
//! that raise them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use timbr_core::io::{QueueEvent, QueueEvents};

use crate::report::{GroupInfo, QueueReport};
use crate::RedisOptions;

type Listener = Arc<dyn Fn(&QueueEvent) + Send + Sync>;

/// Why an entry went to the dead-letter stream (what it counts as besides a dead letter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dead {
    /// Delivered `max_deliveries` times without an acknowledgement.
    Redelivered,
    /// Its datum (or its pack, or its origin) could not be decoded.
    Undecodable,
}

/// Counters this process keeps (relaxed: each is a count, read on its own).
#[derive(Default)]
struct Counts {
    outages: AtomicU64,
    redeliveries: AtomicU64,
    claimed: AtomicU64,
    dead_lettered: AtomicU64,
    undecodable: AtomicU64,
    panicked: AtomicU64,
    acked: AtomicU64,
    released: AtomicU64,
    split: AtomicU64,
    put: AtomicU64,
    written: AtomicU64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

pub(crate) struct Health {
    /// The stream, group and consumer this health is of (in reports and events' logs).
    stream: String,
    group: String,
    consumer: String,
    connected: AtomicBool,
    last_error: Mutex<Option<String>>,
    /// Per connection, Redis's message while it refuses that connection's command.
    refused: Mutex<Vec<(&'static str, String)>>,
    group_info: Mutex<GroupInfo>,
    counts: Counts,
    listener: Mutex<Option<Listener>>,
    /// The machines built on this queue: each gets every event.
    machines: Mutex<Vec<QueueEvents>>,
}

impl Health {
    /// The health of the queue (or producer, fleet, registry) of `o`.
    pub(crate) fn new(o: &RedisOptions) -> Arc<Health> {
        Health::named(&o.stream, &o.group, o.consumer_name())
    }

    /// The health of connections to `stream` outside any group (a sink of its own).
    pub(crate) fn named(stream: &str, group: &str, consumer: &str) -> Arc<Health> {
        Arc::new(Health {
            stream: stream.to_owned(),
            group: group.to_owned(),
            consumer: consumer.to_owned(),
            connected: AtomicBool::new(true),
            last_error: Mutex::new(None),
            refused: Mutex::new(Vec::new()),
            group_info: Mutex::new(GroupInfo::default()),
            counts: Counts::default(),
            listener: Mutex::new(None),
            machines: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn listen(&self, f: Listener) {
        *self.listener.lock() = Some(f);
    }

    /// Adds a machine to tell about every event from now on.
    pub(crate) fn attach(&self, machine: QueueEvents) {
        self.machines.lock().push(machine);
    }

    /// Raises `event`: the machines get it through their never-blocking senders (forgotten
    /// once dropped); the `on_event` listener is called here.
    fn emit(&self, event: QueueEvent) {
        {
            let mut machines = self.machines.lock();
            if !machines.is_empty() {
                machines.retain(|m| m.send(event.clone()));
            }
        }
        let listener = self.listener.lock().clone();
        if let Some(listener) = listener {
            // The user's function runs on the queue's own threads: a panic in it must not
            // end them (nothing would be fetched or acknowledged any more). The panic hook
            // has reported it; the event is still in the machines' handlers.
            let _ = timbr_core::io::catch_panic(|| listener(&event));
        }
    }
}

/// A connection's transitions (the connection keeps when its episode began: `link.rs`).
impl Health {
    /// Connection `link` lost its server: an outage begins.
    pub(crate) fn disconnected(&self, link: &'static str, error: String) {
        tracing::warn!(
            stream = %self.stream, group = %self.group, consumer = %self.consumer, link,
            error = %error,
            "redis connection lost, retrying with backoff"
        );
        *self.last_error.lock() = Some(error.clone());
        self.connected.store(false, Ordering::Relaxed);
        add(&self.counts.outages, 1);
        self.emit(QueueEvent::Disconnected {
            link: link.to_owned(),
            error,
        });
    }

    /// Another failed attempt of connection `link` during its outage or refusal.
    pub(crate) fn still_failing(&self, error: String) {
        *self.last_error.lock() = Some(error);
    }

    /// Redis answers connection `link` but refuses its command with `error` (its own
    /// words). Raised when the episode begins (`first`) or Redis's words change; the
    /// server is there, so the queue counts as connected.
    pub(crate) fn refused(&self, link: &'static str, error: String, first: bool) {
        *self.last_error.lock() = Some(error.clone());
        self.connected.store(true, Ordering::Relaxed);
        let news = {
            let mut refused = self.refused.lock();
            match refused.iter_mut().find(|(l, _)| *l == link) {
                Some((_, m)) if *m == error => false,
                Some((_, m)) => {
                    m.clone_from(&error);
                    true
                }
                None => {
                    refused.push((link, error.clone()));
                    true
                }
            }
        };
        if first || news {
            tracing::warn!(
                stream = %self.stream, group = %self.group, consumer = %self.consumer, link,
                error = %error,
                "redis refuses a command, retrying with backoff"
            );
            self.emit(QueueEvent::Refused {
                link: link.to_owned(),
                error,
            });
        }
    }

    /// Connection `link`'s commands go through again, `after` its outage or refusal began.
    pub(crate) fn reconnected(&self, link: &'static str, after: Duration) {
        tracing::info!(
            stream = %self.stream, group = %self.group, consumer = %self.consumer, link,
            after_secs = after.as_secs_f64(),
            "redis connection back"
        );
        self.connected.store(true, Ordering::Relaxed);
        self.refused.lock().retain(|(l, _)| *l != link);
        self.emit(QueueEvent::Reconnected {
            link: link.to_owned(),
            after,
        });
    }
}

/// An entry's transitions, and the counts of what this process put and wrote.
impl Health {
    /// An entry that had been delivered before was delivered again to this consumer.
    pub(crate) fn redelivered(&self) {
        add(&self.counts.redeliveries, 1);
    }

    /// Entry `id`, left pending too long by consumer `from`, was claimed by this one.
    pub(crate) fn claimed(&self, id: &str, from: &str) {
        tracing::info!(
            stream = %self.stream, group = %self.group, consumer = %self.consumer, id, from,
            "entry claimed from a consumer that left it pending"
        );
        add(&self.counts.claimed, 1);
        self.emit(QueueEvent::Claimed {
            id: id.to_owned(),
            from: from.to_owned(),
        });
    }

    /// Entry `id` went to the dead-letter stream, for `reason`, and was acknowledged.
    pub(crate) fn dead_lettered(&self, id: &str, reason: String, why: Dead) {
        tracing::warn!(
            stream = %self.stream, group = %self.group, consumer = %self.consumer, id,
            reason = %reason,
            "entry dead-lettered"
        );
        add(&self.counts.dead_lettered, 1);
        if why == Dead::Undecodable {
            add(&self.counts.undecodable, 1);
        }
        self.emit(QueueEvent::DeadLettered {
            id: id.to_owned(),
            reason,
        });
    }

    /// A datum's `Deserialize` panicked (caught; its entry is dead-lettered as undecodable).
    pub(crate) fn deserialize_panicked(&self) {
        add(&self.counts.panicked, 1);
    }

    /// A packed entry was split into one entry per datum.
    pub(crate) fn split(&self) {
        add(&self.counts.split, 1);
    }

    /// A delivery was released (its record refused by the sink): claimed again later.
    pub(crate) fn released(&self) {
        add(&self.counts.released, 1);
    }

    /// `n` data went on the stream.
    pub(crate) fn put(&self, n: usize) {
        add(&self.counts.put, n as u64);
    }

    /// A batch was applied: `written` records, `acked` entries acknowledged.
    pub(crate) fn applied(&self, written: u64, acked: u64) {
        add(&self.counts.written, written);
        add(&self.counts.acked, acked);
    }

    /// The group as Redis shows it now.
    pub(crate) fn group_seen(&self, info: GroupInfo) {
        *self.group_info.lock() = info;
    }

    /// Unread + pending entries, as the group was last seen.
    pub(crate) fn queued(&self) -> u64 {
        let info = self.group_info.lock();
        info.lag.unwrap_or(info.stream_length) + info.pending
    }
}

impl Health {
    /// Redis's refusals, each with its connection (`outbox: OOM …; writer: OOM …`).
    fn refusals(&self) -> Option<String> {
        let refused = self.refused.lock();
        (!refused.is_empty()).then(|| {
            let each: Vec<String> = refused.iter().map(|(l, m)| format!("{l}: {m}")).collect();
            each.join("; ")
        })
    }

    pub(crate) fn report(&self) -> QueueReport {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let c = &self.counts;
        QueueReport {
            stream: self.stream.clone(),
            group: self.group.clone(),
            consumer: self.consumer.clone(),
            connected: self.connected.load(Ordering::Relaxed),
            outages: load(&c.outages),
            last_error: self.last_error.lock().clone(),
            refused: self.refusals(),
            group_info: self.group_info.lock().clone(),
            redeliveries: load(&c.redeliveries),
            claimed: load(&c.claimed),
            dead_lettered: load(&c.dead_lettered),
            undecodable: load(&c.undecodable),
            panicked: load(&c.panicked),
            acked: load(&c.acked),
            released: load(&c.released),
            split: load(&c.split),
            put: load(&c.put),
            written: load(&c.written),
        }
    }
}

#[cfg(test)]
mod tests;
