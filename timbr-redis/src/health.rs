//! What a queue knows of itself and of the shared stream: counters this process keeps, the
//! group as Redis last showed it, the connection's health, and the events it raises.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use timbr_core::io::{QueueEvent, QueueEvents};

/// Something that happened to a fleet queue or sink, for the function given to
/// [`RedisQueue::on_event`](crate::RedisQueue::on_event).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedisEvent {
    /// A command failed for want of a server: retrying with backoff.
    Disconnected {
        /// Which connection (`reader`, `writer`, `outbox`…).
        link: &'static str,
        /// Why.
        error: String,
    },
    /// The server answers again (or accepts again what it refused).
    Reconnected {
        /// Which connection.
        link: &'static str,
        /// How long it was gone.
        after: Duration,
    },
    /// The server answers but refuses a command — out of memory under `maxmemory` with
    /// `noeviction` (`OOM …`), a key of the wrong type (`WRONGTYPE …`, a results stream's
    /// name taken by another key) — retrying with backoff. Not an outage: `error` is Redis's
    /// own message, naming the cause to remove.
    Refused {
        /// Which connection.
        link: &'static str,
        /// Redis's answer.
        error: String,
    },
    /// An entry went to the dead-letter stream and was acknowledged.
    DeadLettered {
        /// The entry's id in the queue's stream.
        id: String,
        /// Why.
        reason: String,
    },
    /// Entries another consumer left pending too long were claimed by this one.
    Claimed {
        /// The entry's id.
        id: String,
        /// The consumer that had it.
        from: String,
    },
}

impl From<&RedisEvent> for QueueEvent {
    fn from(event: &RedisEvent) -> Self {
        match event {
            RedisEvent::Disconnected { link, error } => QueueEvent::Disconnected {
                link: (*link).to_owned(),
                error: error.clone(),
            },
            RedisEvent::Reconnected { link, after } => QueueEvent::Reconnected {
                link: (*link).to_owned(),
                after: *after,
            },
            RedisEvent::Refused { link, error } => QueueEvent::Refused {
                link: (*link).to_owned(),
                error: error.clone(),
            },
            RedisEvent::DeadLettered { id, reason } => QueueEvent::DeadLettered {
                id: id.clone(),
                reason: reason.clone(),
            },
            RedisEvent::Claimed { id, from } => QueueEvent::Claimed {
                id: id.clone(),
                from: from.clone(),
            },
        }
    }
}

type Listener = Arc<dyn Fn(&RedisEvent) + Send + Sync>;

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
    /// command this queue retries (see [`RedisEvent::Refused`]): `outbox: OOM command not
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

#[derive(Default)]
pub(crate) struct Health {
    pub(crate) connected: AtomicBool,
    pub(crate) outages: AtomicU64,
    pub(crate) last_error: Mutex<Option<String>>,
    /// Per connection, Redis's message while it refuses that connection's command.
    pub(crate) refused: Mutex<Vec<(&'static str, String)>>,
    pub(crate) group_info: Mutex<GroupInfo>,
    pub(crate) redeliveries: AtomicU64,
    pub(crate) claimed: AtomicU64,
    pub(crate) dead_lettered: AtomicU64,
    pub(crate) undecodable: AtomicU64,
    pub(crate) panicked: AtomicU64,
    pub(crate) acked: AtomicU64,
    pub(crate) released: AtomicU64,
    pub(crate) split: AtomicU64,
    pub(crate) put: AtomicU64,
    pub(crate) written: AtomicU64,
    listener: Mutex<Option<Listener>>,
    /// The machines built on this queue: each gets every event as a [`QueueEvent`].
    machines: Mutex<Vec<QueueEvents>>,
}

impl Health {
    pub(crate) fn new() -> Arc<Health> {
        let health = Health::default();
        health.connected.store(true, Ordering::Relaxed);
        Arc::new(health)
    }

    pub(crate) fn listen(&self, f: Listener) {
        *self.listener.lock() = Some(f);
    }

    /// Adds a machine to tell about every event from now on.
    pub(crate) fn attach(&self, machine: QueueEvents) {
        self.machines.lock().push(machine);
    }

    /// Raises `event`: only built by callers when something happened (rare paths). The
    /// machines get it through their never-blocking senders (forgotten once dropped); the
    /// `on_event` listener is called here.
    pub(crate) fn emit(&self, event: RedisEvent) {
        {
            let mut machines = self.machines.lock();
            if !machines.is_empty() {
                let queue_event = QueueEvent::from(&event);
                machines.retain(|m| m.send(queue_event.clone()));
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

    /// Redis's refusals, each with its connection (`outbox: OOM …; writer: OOM …`).
    fn refused(&self) -> Option<String> {
        let refused = self.refused.lock();
        (!refused.is_empty()).then(|| {
            let each: Vec<String> = refused.iter().map(|(l, m)| format!("{l}: {m}")).collect();
            each.join("; ")
        })
    }

    /// Connection `link` is refused with `message`; returns whether that is news.
    pub(crate) fn set_refused(&self, link: &'static str, message: &str) -> bool {
        let mut refused = self.refused.lock();
        match refused.iter_mut().find(|(l, _)| *l == link) {
            Some((_, m)) if m == message => false,
            Some((_, m)) => {
                *m = message.to_owned();
                true
            }
            None => {
                refused.push((link, message.to_owned()));
                true
            }
        }
    }

    /// Connection `link`'s commands go through.
    pub(crate) fn clear_refused(&self, link: &'static str) {
        self.refused.lock().retain(|(l, _)| *l != link);
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn report(&self, stream: &str, group: &str, consumer: &str) -> QueueReport {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        QueueReport {
            stream: stream.to_owned(),
            group: group.to_owned(),
            consumer: consumer.to_owned(),
            connected: self.connected.load(Ordering::Relaxed),
            outages: load(&self.outages),
            last_error: self.last_error.lock().clone(),
            refused: self.refused(),
            group_info: self.group_info.lock().clone(),
            redeliveries: load(&self.redeliveries),
            claimed: load(&self.claimed),
            dead_lettered: load(&self.dead_lettered),
            undecodable: load(&self.undecodable),
            panicked: load(&self.panicked),
            acked: load(&self.acked),
            released: load(&self.released),
            split: load(&self.split),
            put: load(&self.put),
            written: load(&self.written),
        }
    }
}
