//! [`ZmqStats`]: what a [`ZmqSink`](crate::io::ZmqSink) did with its records, readable while
//! the sink runs.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// What a [`ZmqSink`](crate::io::ZmqSink) did with its records: a cheap, cloneable handle
/// that stays readable while the sink is inside a running machine.
///
/// Every record the sink was given is [`sent`](Self::sent), unless sending failed outright
/// (a sink error, counted by the machine). What a slow subscriber lost at its high-water
/// mark is not known here (see [`ZmqSink`](crate::io::ZmqSink)); add the stats to the machine as a
/// [`StatusPlugin`](crate::observe::StatusPlugin) (`builder.plugin(sink.stats())`) and every
/// status carries them under `plugins["zmq"]`, so that subscribers can compare.
#[derive(Clone)]
pub struct ZmqStats(pub(super) Arc<Stats>);

/// What the sink writes and its [`ZmqStats`] read.
#[derive(Default)]
pub(super) struct Stats {
    pub(super) endpoint: String,
    pub(super) sent: AtomicU64,
    pub(super) unrouted: AtomicU64,
    pub(super) subscriptions: AtomicU64,
    pub(super) topics_refused: AtomicU64,
    #[cfg(unix)]
    pub(super) connections: Option<Arc<crate::io::zmq::guard::ConnectionStats>>,
}

impl ZmqStats {
    /// The endpoint the sink is bound to (as
    /// [`ZmqSink::last_endpoint`](crate::io::ZmqSink::last_endpoint)).
    pub fn endpoint(&self) -> &str {
        &self.0.endpoint
    }

    /// Messages ZeroMQ took: queued for every matching subscriber (including those of
    /// [`unrouted`](Self::unrouted), which had none).
    ///
    /// ZeroMQ drops a message for a subscriber whose queue is at the high-water mark without
    /// saying so: such a message counts here all the same. A subscriber that received fewer
    /// than this many (since it subscribed) lost the difference.
    pub fn sent(&self) -> u64 {
        self.0.sent.load(Ordering::Acquire)
    }

    /// Of the [`sent`](Self::sent) messages, those that matched no subscription when they
    /// were sent: no subscriber got them. Exact but for a message sent at the very moment a
    /// subscription arrives or leaves.
    pub fn unrouted(&self) -> u64 {
        self.0.unrouted.load(Ordering::Acquire)
    }

    /// Subscriptions the sink did not keep (past [`MAX_TOPICS`](crate::io::MAX_TOPICS)
    /// distinct topics, or topics longer than an oid, which match nothing). ZeroMQ still
    /// serves them; only [`unrouted`](Self::unrouted) may then count a record that reached
    /// such a subscriber.
    pub fn topics_refused(&self) -> u64 {
        self.0.topics_refused.load(Ordering::Acquire)
    }

    /// Peers connected to the endpoint now (0 where connections are not counted: not unix).
    pub fn connections(&self) -> u64 {
        #[cfg(unix)]
        if let Some(c) = &self.0.connections {
            return c.live();
        }
        0
    }

    /// The most peers connected at once.
    pub fn peak_connections(&self) -> u64 {
        #[cfg(unix)]
        if let Some(c) = &self.0.connections {
            return c.peak();
        }
        0
    }

    /// How many times the endpoint was closed to new connections because it (or the whole
    /// process) had as many as it may hold; see the README's operations section.
    pub fn closings(&self) -> u64 {
        #[cfg(unix)]
        if let Some(c) = &self.0.connections {
            return c.closings();
        }
        0
    }

    /// The subscriptions the sink has seen and not seen cancelled: one per subscriber and
    /// topic (a SUB socket subscribed to `""` counts once).
    ///
    /// ZeroMQ reports a cancelled topic only when its last subscriber leaves, so while other
    /// subscribers of the same topic remain this can count subscribers that have gone. It
    /// is updated as the sink sends or waits, not in between.
    pub fn subscriptions(&self) -> u64 {
        self.0.subscriptions.load(Ordering::Acquire)
    }
}

impl fmt::Debug for ZmqStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZmqStats")
            .field("endpoint", &self.0.endpoint)
            .field("sent", &self.sent())
            .field("unrouted", &self.unrouted())
            .field("subscriptions", &self.subscriptions())
            .field("topics_refused", &self.topics_refused())
            .field("connections", &self.connections())
            .field("closings", &self.closings())
            .finish()
    }
}
