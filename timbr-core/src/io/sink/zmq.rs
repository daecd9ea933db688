//! [`ZmqSink`]: every record as a two-frame ZeroMQ message, `[oid_hex, json_array]`, that any
//! SUB socket (libzmq, pyzmq, …) can read.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::topics::Topics;
pub use super::topics::MAX_TOPICS;
use crate::io::zmq::bind::{self, IpcFile};
use crate::io::zmq::BindError;
use crate::{Record, Sink, SinkError, Status, StatusPlugin};

/// The send high-water mark a sink has unless told otherwise (libzmq's default).
const DEFAULT_SNDHWM: u32 = 1000;
/// How long closing the sink waits for queued messages unless told otherwise.
const DEFAULT_LINGER: Duration = Duration::from_secs(1);

/// Publishes every record on a ZeroMQ socket as the two-frame message `[oid, record]`: the
/// oid as 24 hex characters ([`Record::oid_hex`]) and the JSON array ([`Record::json`]).
///
/// The socket is an XPUB socket, which SUB subscribers see as an ordinary PUB socket; unlike
/// PUB, it reports the subscriptions it receives, so that
/// [`wait_for_subscribers`](ZmqSink::wait_for_subscribers) can tell when a subscriber is
/// listening. (ZeroMQ gives a subscriber only what is sent after its subscription arrived.)
///
/// Sending never blocks the machine: each message is sent with `DONTWAIT`. What happens to
/// it is counted in [`ZmqStats`]: taken by ZeroMQ ([`sent`](ZmqStats::sent)), of which
/// matching no subscription ([`unrouted`](ZmqStats::unrouted)).
///
/// **Loss at a slow subscriber is invisible here.** ZeroMQ queues up to the
/// [high-water mark](ZmqSinkOptions::sndhwm) messages per subscriber and silently drops the
/// rest *for that subscriber alone* (the publisher is never told: the `zmq` crate offers no
/// safe way to set `ZMQ_XPUB_NODROP`, and waiting would let one reader stall the machine).
/// A subscriber sees its own loss by comparing what it received with [`sent`](ZmqStats::sent),
/// which a [`Remote`](crate::Remote) publishes in every status snapshot when the stats are
/// added to the machine as a [`StatusPlugin`](crate::StatusPlugin) (`timbr-sub --status`
/// does that comparison).
///
/// Subscriptions are kept in a prefix structure bounded in size (see [`MAX_TOPICS`]), and
/// each `ipc://` endpoint accepts a bounded number of connections (see `RemoteOptions`'s
/// notes and the README's operations section): no subscriber can slow or crash the machine.
///
/// Dropping the sink closes the socket, waiting at most the
/// [`linger`](ZmqSinkOptions::linger) for queued messages, and removes its `ipc://` socket
/// file.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use timbr_core::{Machine, ZmqSink};
///
/// let mut sink = ZmqSink::bind("tcp://127.0.0.1:*")?; // any free port
/// let stats = sink.stats();
///
/// // Any SUB socket reads it; here one in this process, with the `zmq` crate.
/// let context = zmq::Context::new();
/// let subscriber = context.socket(zmq::SUB)?;
/// subscriber.connect(sink.last_endpoint())?;
/// subscriber.set_subscribe(b"")?;
/// assert!(sink.wait_for_subscribers(1, Duration::from_secs(10)));
///
/// let machine = Machine::<u32>::builder().sink(sink).build()?;
/// machine.put(7);
/// machine.start()?;
/// machine.stop_drain();
///
/// let frames = subscriber.recv_multipart(0)?;
/// assert_eq!(frames[0].len(), 24); // the oid's hex
/// assert_eq!(frames[1], b"[7,7,7,7,7,7,7,7,7]");
/// assert_eq!((stats.sent(), stats.unrouted()), (1, 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ZmqSink {
    // Dropped first: closing the socket (and its context) ends the listener.
    socket: zmq::Socket,
    stats: ZmqStats,
    /// The subscriptions (topic prefixes), bounded.
    topics: Topics,
    // Dropped after the socket: removes the socket file it bound.
    _ipc_file: Option<IpcFile>,
}

/// Settings for a [`ZmqSink`]: its high-water mark, linger and whether it may listen beyond
/// this host.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use timbr_core::ZmqSinkOptions;
///
/// let sink = ZmqSinkOptions::new()
///     .sndhwm(10_000)
///     .linger(Duration::from_millis(100))
///     .bind("tcp://127.0.0.1:*")?;
/// assert!(sink.last_endpoint().starts_with("tcp://127.0.0.1:"));
///
/// // Other hosts only when asked for.
/// assert!(ZmqSinkOptions::new().bind("tcp://0.0.0.0:*").is_err());
/// # Ok::<(), timbr_core::BindError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ZmqSinkOptions {
    sndhwm: u32,
    linger: Duration,
    allow_remote: bool,
}

impl Default for ZmqSinkOptions {
    fn default() -> Self {
        ZmqSinkOptions {
            sndhwm: DEFAULT_SNDHWM,
            linger: DEFAULT_LINGER,
            allow_remote: false,
        }
    }
}

impl ZmqSinkOptions {
    /// The defaults: a high-water mark of 1000 messages per subscriber, a linger of one
    /// second, loopback addresses only.
    pub fn new() -> Self {
        ZmqSinkOptions::default()
    }

    /// How many messages ZeroMQ queues for each subscriber before the sink drops messages
    /// (`ZMQ_SNDHWM`); 0 means no limit.
    pub fn sndhwm(mut self, messages: u32) -> Self {
        self.sndhwm = messages;
        self
    }

    /// How long dropping the sink waits for queued messages to go out (`ZMQ_LINGER`, at
    /// millisecond precision); [`Duration::ZERO`] discards them at once.
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// Whether a `tcp://` endpoint may be on an address other hosts reach (`*`, `0.0.0.0`,
    /// an interface, a public address). Off by default: only a loopback address or
    /// `localhost`.
    pub fn allow_remote(mut self, allow: bool) -> Self {
        self.allow_remote = allow;
        self
    }

    /// A sink bound to `endpoint`: `tcp://host:port` (port `*` for any free one; the host an
    /// IP address, or `localhost` for 127.0.0.1) or `ipc://path`.
    ///
    /// # Errors
    ///
    /// [`BindError::Transport`] for another kind of endpoint, [`BindError::Remote`] for a
    /// non-loopback `tcp://` address without [`allow_remote`](Self::allow_remote),
    /// [`BindError::InUse`] when a live process listens on the `ipc://` file (anything but a
    /// socket there is refused too), and [`BindError::Zmq`] when ZeroMQ refuses (an address
    /// in use, say).
    pub fn bind(&self, endpoint: &str) -> Result<ZmqSink, BindError> {
        let hwm = i32::try_from(self.sndhwm).unwrap_or(i32::MAX);
        let linger = i32::try_from(self.linger.as_millis()).unwrap_or(i32::MAX);
        let bound = bind::bind(zmq::XPUB, endpoint, self.allow_remote, |socket| {
            socket.set_sndhwm(hwm)?;
            socket.set_linger(linger)?;
            // Every subscribe message, not just the first per topic: one per subscriber.
            socket.set_xpub_verbose(true)
        })?;
        Ok(ZmqSink {
            socket: bound.socket,
            stats: ZmqStats(Arc::new(Stats {
                endpoint: bound.endpoint,
                #[cfg(unix)]
                connections: bound.connections,
                ..Stats::default()
            })),
            topics: Topics::default(),
            _ipc_file: bound.ipc_file,
        })
    }

    /// A sink on a fresh `ipc://` endpoint of its own, in a directory only the current user
    /// can enter: `$XDG_RUNTIME_DIR/timbr/` if that variable is set, otherwise
    /// `<temp dir>/timbr-<uid>/`, made with mode 0700 (an existing one is checked: a
    /// directory of this user's, narrowed to 0700 if wider). The file is
    /// `<pid>-<n>.pub`; a file left there by a crashed run is removed first.
    ///
    /// Where unix sockets are not available it binds `tcp://127.0.0.1:*` instead.
    ///
    /// # Errors
    ///
    /// [`BindError::NotOwned`] or [`BindError::NotADirectory`] when the directory is not
    /// private to this user, [`BindError::Io`] when it cannot be made or fixed,
    /// [`BindError::PathTooLong`] for a path too long for a unix socket, and the errors of
    /// [`bind`](Self::bind).
    pub fn bind_default(&self) -> Result<ZmqSink, BindError> {
        self.bind(&bind::default_endpoint("pub")?)
    }
}

impl ZmqSink {
    /// A sink bound to `endpoint` with the default options; see [`ZmqSinkOptions::bind`].
    ///
    /// # Errors
    ///
    /// As [`ZmqSinkOptions::bind`].
    pub fn bind(endpoint: &str) -> Result<ZmqSink, BindError> {
        ZmqSinkOptions::new().bind(endpoint)
    }

    /// A sink on a private `ipc://` endpoint of its own, with the default options; see
    /// [`ZmqSinkOptions::bind_default`].
    ///
    /// # Errors
    ///
    /// As [`ZmqSinkOptions::bind_default`].
    pub fn bind_default() -> Result<ZmqSink, BindError> {
        ZmqSinkOptions::new().bind_default()
    }

    /// The endpoint the socket is bound to, as subscribers connect to it: the port ZeroMQ
    /// chose for `tcp://127.0.0.1:*`, the full path for `ipc://`.
    pub fn last_endpoint(&self) -> &str {
        &self.stats.0.endpoint
    }

    /// A handle on the sink's counters, still readable once the sink is in a machine.
    pub fn stats(&self) -> ZmqStats {
        self.stats.clone()
    }

    /// Waits until subscriptions have arrived from at least `n` subscribers, or `timeout`
    /// has passed; whether they did.
    ///
    /// What it counts is [`ZmqStats::subscriptions`]: a subscriber with several topics counts
    /// once per topic. Call it before handing the sink to a machine; a record sent after it
    /// returned `true` reaches those subscribers (their high-water mark permitting). It
    /// returns `false` early if the socket fails.
    pub fn wait_for_subscribers(&mut self, n: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.read_subscriptions().is_err() {
                return false;
            }
            if self.stats.subscriptions() >= n {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            // Rounded up: a poll of 0 ms would spin.
            let ms = i64::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i64::MAX);
            match self.socket.poll(zmq::POLLIN, ms) {
                Ok(_) | Err(zmq::Error::EINTR) => {}
                Err(_) => return false,
            }
        }
    }

    /// Takes the subscription messages ZeroMQ has queued, without waiting.
    fn read_subscriptions(&mut self) -> Result<(), zmq::Error> {
        loop {
            match self.socket.recv_bytes(zmq::DONTWAIT) {
                Ok(message) => self.note(&message),
                Err(zmq::Error::EAGAIN) => return Ok(()),
                Err(zmq::Error::EINTR) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Applies one subscription message: `1` + topic subscribes, `0` + topic unsubscribes.
    ///
    /// ZeroMQ reports every subscribe (the socket is verbose), but an unsubscribe only when
    /// the topic's last subscriber is gone; so the set of topics is exact, and the counts are
    /// exact as long as no subscriber leaves a topic others still hold. O(1) per message.
    fn note(&mut self, message: &[u8]) {
        self.topics.note(message);
        let stats = &self.stats.0;
        stats
            .subscriptions
            .store(self.topics.subscriptions(), Ordering::Release);
        stats
            .topics_refused
            .store(self.topics.refused(), Ordering::Release);
    }

    fn publish(&mut self, oid: &str, json: &str) -> Result<(), zmq::Error> {
        // Subscriptions change rarely; polling for them costs as much as a send.
        if self.stats.0.sent.load(Ordering::Relaxed) % SUBSCRIPTION_CHECK == 0 {
            self.read_subscriptions()?;
        }
        let routed = self.topics.routes(oid.as_bytes());
        // Without `ZMQ_XPUB_NODROP` an XPUB socket never refuses a message (it drops it per
        // subscriber, silently); an `EAGAIN` here would be a sink error, counted.
        self.socket
            .send(oid.as_bytes(), zmq::SNDMORE | zmq::DONTWAIT)?;
        // libzmq weighs a message against the high-water mark at its first frame and counts
        // it at its last, so the last frame of a message whose first was taken is never
        // refused; if it were, it is sent waiting rather than leaving half a message behind.
        match self.socket.send(json.as_bytes(), zmq::DONTWAIT) {
            Err(zmq::Error::EAGAIN) => self.socket.send(json.as_bytes(), 0)?,
            other => other?,
        }
        self.stats.0.sent.fetch_add(1, Ordering::Release);
        if !routed {
            self.stats.0.unrouted.fetch_add(1, Ordering::Release);
        }
        Ok(())
    }
}

impl Sink for ZmqSink {
    fn send(&mut self, record: Record) -> Result<(), SinkError> {
        let oid = record.oid_hex();
        self.publish(&oid, record.json()).map_err(|e| {
            SinkError::with_source(
                format!("publishing on {}", self.stats.0.endpoint),
                std::io::Error::from(e),
            )
        })
    }

    /// Reads the subscriptions that arrived (ZeroMQ itself sends everything it holds).
    fn flush(&mut self) -> Result<(), SinkError> {
        self.read_subscriptions().map_err(|e| {
            SinkError::with_source(
                format!("reading subscriptions on {}", self.stats.0.endpoint),
                std::io::Error::from(e),
            )
        })
    }

    fn describe(&self) -> String {
        self.stats.0.endpoint.clone()
    }
}

impl fmt::Debug for ZmqSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZmqSink")
            .field("endpoint", &self.stats.0.endpoint)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// A sink looks for new subscriptions every this many records (and in `flush`,
/// `wait_for_subscribers`).
const SUBSCRIPTION_CHECK: u64 = 64;

/// What a [`ZmqSink`] did with its records: a cheap, cloneable handle that stays readable
/// while the sink is inside a running machine.
///
/// Every record the sink was given is [`sent`](Self::sent), unless sending failed outright
/// (a sink error, counted by the machine). What a slow subscriber lost at its high-water
/// mark is not known here (see [`ZmqSink`]); add the stats to the machine as a
/// [`StatusPlugin`] (`builder.plugin(sink.stats())`) and every status carries them under
/// `plugins["zmq"]`, so that subscribers can compare.
#[derive(Clone)]
pub struct ZmqStats(Arc<Stats>);

#[derive(Default)]
struct Stats {
    endpoint: String,
    sent: AtomicU64,
    unrouted: AtomicU64,
    subscriptions: AtomicU64,
    topics_refused: AtomicU64,
    #[cfg(unix)]
    connections: Option<Arc<crate::io::zmq::guard::ConnectionStats>>,
}

impl ZmqStats {
    /// The endpoint the sink is bound to (as [`ZmqSink::last_endpoint`]).
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

    /// Subscriptions the sink did not keep (past [`MAX_TOPICS`] distinct topics, or topics
    /// longer than an oid, which match nothing). ZeroMQ still serves them; only
    /// [`unrouted`](Self::unrouted) may then count a record that reached such a subscriber.
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

/// The sink's counts in every status, under `plugins["zmq"]`: `endpoint`, `sent`,
/// `unrouted`, `subscriptions`, `topics_refused`, `connections`, `closings`.
impl StatusPlugin for ZmqStats {
    fn name(&self) -> &str {
        "zmq"
    }

    fn counters(&self) -> &[&str] {
        &["sent", "unrouted", "topics_refused", "closings"]
    }

    fn fields(&self, _status: &Status) -> serde_json::Value {
        serde_json::json!({
            "endpoint": self.endpoint(),
            "sent": self.sent(),
            "unrouted": self.unrouted(),
            "subscriptions": self.subscriptions(),
            "topics_refused": self.topics_refused(),
            "connections": self.connections(),
            "closings": self.closings(),
        })
    }
}
