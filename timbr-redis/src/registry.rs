//! Machines that announce themselves, so that one command finds the whole fleet.
//!
//! Every machine of a fleet (worker or producer, on any host) writes a short summary of
//! itself to Redis about once a second: its role, state, counts, rate, and where its own
//! status endpoint is. `timbr-watch fleet --redis URL` (through [`Fleet::view`](crate::Fleet::view))
//! reads them back: no list of endpoints to keep, and it works across hosts, where the
//! machines' `ipc://` status endpoints cannot be reached.
//!
//! Four keys per stream, written by one script per beat (so that they agree):
//! - `<stream>:machines`, a hash of name → [`Announced`] JSON (the last beat of its life);
//! - `<stream>:machines:seen`, a sorted set of name → the time of the last beat in ms. The
//!   time is Redis's own clock (`TIME`, read inside the script), so the clocks of the hosts
//!   do not matter;
//! - `<stream>:machines:earlier`, a hash of name → [`Earlier`] JSON: the counts of the
//!   name's earlier lives. A machine started again under its name (a restarted worker) is
//!   a new life ([`Announced::life`]); its first beat adds the last life's counts here, so
//!   that the fleet's totals still add up across restarts;
//! - `<stream>:machines:expire`, a sorted set of name → when to forget it.
//!
//! A machine's last beat says how it ended (`stopped`, `completed`, `failed`): it is shown
//! so, and kept for [`KEEP_ENDED`]. One not heard from for [`GONE_AFTER`] without such a
//! word is shown as gone (killed, or cut off from Redis), and forgotten [`FORGET_AFTER`]
//! later. The next beat of any machine removes the forgotten, so that the keys do not grow
//! with every worker ever started.
//!
//! A beat is one attempt, never retried: a machine cut off from Redis goes on working (its
//! queue retries on its own), and simply shows as gone until it is back. One process per
//! name at a time: two live processes under one name would take turns as "the last life".

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use timbr_core::{Status, StatusPlugin};

use crate::health::Health;
use crate::link::Link;
use crate::options::host_name;
use crate::report::QueueReport;
use crate::{RedisError, RedisOptions, RedisQueue};

/// How often a machine announces itself.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// A machine not heard from for this long is shown as gone.
pub const GONE_AFTER: Duration = Duration::from_secs(5);
/// A machine not heard from for this long (without saying it ended) is forgotten.
pub const FORGET_AFTER: Duration = Duration::from_secs(600);
/// A machine whose last beat said it ended is forgotten this long after it.
pub const KEEP_ENDED: Duration = Duration::from_secs(24 * 3600);
/// The most forgotten machines one beat removes (Lua's `unpack` has a stack limit).
const FORGET_PER_BEAT: usize = 1000;

/// Writes a machine's summary and its beat; adds the counts of the name's last life to its
/// earlier lives' when this is a new life; removes machines past their time; returns
/// Redis's time. Keys: machines, seen, earlier, expire. Arguments: the name, the summary's
/// JSON, its life, how long to keep it (ms), the most to forget in one beat.
const BEAT_SCRIPT: &str = "\
local t = redis.call('TIME') \
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) \
local last = redis.call('HGET', KEYS[1], ARGV[1]) \
if last then \
  local ok, l = pcall(cjson.decode, last) \
  if ok and type(l) == 'table' and l.life ~= ARGV[3] then \
    local e = {lives = 0, processed = 0, failed = 0, errors = 0, put = 0} \
    local was = redis.call('HGET', KEYS[3], ARGV[1]) \
    if was then \
      local ok2, w = pcall(cjson.decode, was) \
      if ok2 and type(w) == 'table' then \
        for k, _ in pairs(e) do e[k] = tonumber(w[k]) or 0 end \
      end \
    end \
    e.lives = e.lives + 1 \
    for _, k in ipairs({'processed', 'failed', 'errors', 'put'}) do \
      e[k] = e[k] + (tonumber(l[k]) or 0) \
    end \
    redis.call('HSET', KEYS[3], ARGV[1], cjson.encode(e)) \
  end \
end \
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) \
redis.call('ZADD', KEYS[2], now, ARGV[1]) \
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[4]), ARGV[1]) \
local old = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, tonumber(ARGV[5])) \
if #old > 0 then \
  redis.call('HDEL', KEYS[1], unpack(old)) redis.call('HDEL', KEYS[3], unpack(old)) \
  redis.call('ZREM', KEYS[2], unpack(old)) redis.call('ZREM', KEYS[4], unpack(old)) \
end \
return now";

/// Whether `state` is one a machine ends in: its last word.
pub fn is_ended(state: &str) -> bool {
    matches!(state, "stopped" | "completed" | "failed")
}

/// The counts of a machine's earlier lives (see the module's docs): what it did before it
/// was started again under the same name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Earlier {
    /// Earlier lives: 0 for a machine never restarted.
    pub lives: u64,
    /// Data they processed.
    pub processed: u64,
    /// Data with a failed stage.
    pub failed: u64,
    /// Errors of every kind.
    pub errors: u64,
    /// Data they put on the stream.
    pub put: u64,
}

/// One machine as it last announced itself.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Announced {
    /// Its name: the consumer's name in the group.
    pub name: String,
    /// What it does: `worker`, `producer`, `both`, or any word its program chose.
    pub role: String,
    /// The host it runs on.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// Its state (`running`, `stopped`, `completed`, `failed`, or a producer's own word).
    pub state: String,
    /// Data it processed.
    pub processed: u64,
    /// Data with a failed stage.
    pub failed: u64,
    /// Errors of every kind (stage, serialization, sink, source, handler).
    pub errors: u64,
    /// Data it put on the stream.
    pub put: u64,
    /// Data finished per second, recently.
    pub rate: f64,
    /// Data put per second, recently.
    #[serde(default)]
    pub put_rate: f64,
    /// Whether its queue's connection to Redis worked at its last look.
    pub connected: bool,
    /// Where its status snapshots are published (`timbr-watch status ENDPOINT` shows it alone; `timbr-watch http ADDR --redis URL` serves every machine's over HTTP).
    pub status_endpoint: Option<String>,
    /// Which life of the name this is: unique to each [`Announce`] (a process started again
    /// under the same name is a new life).
    #[serde(default)]
    pub life: String,
}

/// What a machine says of itself at a beat; [`Announce`] adds who it is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// Its state.
    pub state: String,
    /// Data processed.
    pub processed: u64,
    /// Data failed.
    pub failed: u64,
    /// Errors of every kind.
    pub errors: u64,
    /// Data finished per second, recently.
    pub rate: f64,
    /// Data put per second, recently (a producer's own measure: a machine's status does not
    /// know it).
    pub put_rate: f64,
}

impl Summary {
    /// A machine's summary, from its status.
    pub fn of(status: &Status) -> Summary {
        let e = &status.errors;
        Summary {
            state: status.state.name().to_owned(),
            processed: status.counts.processed,
            failed: status.counts.failed,
            errors: e.stage + e.serialization + e.sink + e.source + e.handler,
            rate: status.rate.recent,
            put_rate: 0.0,
        }
    }
}

/// Announces one machine of a fleet in Redis (see the module's docs for the keys).
///
/// Add it to a machine as a status plugin and it beats once a [`HEARTBEAT`] while the
/// machine runs (from the machine's monitor), and once more with the final state when it
/// stops. A process without a machine (a producer) calls [`beat`](Announce::beat) itself.
/// Clones share the connection and the settings.
///
/// ```no_run
/// use timbr_core::{Machine, Remote, RemoteOptions};
/// use timbr_redis::{Announce, RedisOptions, RedisQueue};
/// use std::sync::Arc;
///
/// let queue = RedisQueue::<String>::connect(RedisOptions::new("redis://127.0.0.1:6379", "texts"))?;
/// let announce = Announce::for_queue(&queue, "worker")?;
/// let machine = Arc::new(
///     Machine::<String>::builder()
///         .queue(queue.clone())
///         .plugin(announce.clone())
///         .build()?,
/// );
/// let remote = Remote::serve(&machine, RemoteOptions::new())?;
/// announce.status_endpoint(remote.status_endpoint());
/// machine.start()?;
/// // `timbr-watch fleet --redis redis://127.0.0.1:6379 --stream texts` shows it.
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Announce {
    inner: Arc<Inner>,
}

struct Inner {
    key: String,
    seen_key: String,
    earlier_key: String,
    expire_key: String,
    life: String,
    name: String,
    role: String,
    host: String,
    link: Mutex<Link>,
    report: Box<dyn Fn() -> QueueReport + Send + Sync>,
    endpoint: Mutex<Option<String>>,
    last_beat: Mutex<Option<Instant>>,
    beats: AtomicU64,
    failed_beats: AtomicU64,
}

impl Announce {
    /// Announces the machine reading or writing `queue`, under the queue's consumer name,
    /// with `role`. Its own connection: a beat never waits behind the queue's traffic.
    ///
    /// # Errors
    ///
    /// [`RedisError`] if Redis cannot be reached.
    pub fn for_queue<T: Send + 'static>(
        queue: &RedisQueue<T>,
        role: impl Into<String>,
    ) -> Result<Announce, RedisError> {
        let o = queue.options();
        let q = queue.clone();
        Announce::connect(o, role, move || q.report())
    }

    /// Announces a [`Producer`](crate::Producer), under its name, with `role`; its puts and
    /// its connection come from the producer's report.
    ///
    /// # Errors
    ///
    /// [`RedisError`] if Redis cannot be reached.
    pub fn for_producer<T>(
        producer: &crate::Producer<T>,
        role: impl Into<String>,
    ) -> Result<Announce, RedisError> {
        let o = producer.options();
        let health = producer.health();
        Announce::connect(o, role, move || health.report())
    }

    fn connect(
        o: &RedisOptions,
        role: impl Into<String>,
        report: impl Fn() -> QueueReport + Send + Sync + 'static,
    ) -> Result<Announce, RedisError> {
        let link = Link::open(&o.url, Health::new(o), "announce", o.backoff_max)?;
        Ok(Announce {
            inner: Arc::new(Inner {
                key: machines_key(o.stream()),
                seen_key: seen_key(o.stream()),
                earlier_key: earlier_key(o.stream()),
                expire_key: expire_key(o.stream()),
                life: new_life(),
                name: o.consumer_name().to_owned(),
                role: role.into(),
                host: host_name(),
                link: Mutex::new(link),
                report: Box::new(report),
                endpoint: Mutex::new(None),
                last_beat: Mutex::new(None),
                beats: AtomicU64::new(0),
                failed_beats: AtomicU64::new(0),
            }),
        })
    }

    /// Announces where this machine's status snapshots are published (a `Remote`'s status
    /// endpoint), from the next beat on.
    pub fn status_endpoint(&self, endpoint: impl Into<String>) {
        *self.inner.endpoint.lock() = Some(endpoint.into());
    }

    /// Writes `summary` now (one attempt). Returns whether Redis took it.
    pub fn beat(&self, summary: &Summary) -> bool {
        let inner = &*self.inner;
        *inner.last_beat.lock() = Some(Instant::now());
        let report = (inner.report)();
        let announced = Announced {
            name: inner.name.clone(),
            role: inner.role.clone(),
            host: inner.host.clone(),
            pid: std::process::id(),
            state: summary.state.clone(),
            processed: summary.processed,
            failed: summary.failed,
            errors: summary.errors,
            put: report.put,
            rate: summary.rate,
            put_rate: summary.put_rate,
            connected: report.connected,
            status_endpoint: inner.endpoint.lock().clone(),
            life: inner.life.clone(),
        };
        // An ended machine is kept longer than a gone one: its last word is worth reading.
        let keep = if is_ended(&summary.state) {
            KEEP_ENDED
        } else {
            GONE_AFTER + FORGET_AFTER
        };
        // Plain data: serializing it cannot fail.
        let json = serde_json::to_string(&announced).unwrap_or_default();
        let once = || true;
        let written: Option<u64> = inner.link.lock().run(&once, |con| {
            redis::cmd("EVAL")
                .arg(BEAT_SCRIPT)
                .arg(4)
                .arg(&inner.key)
                .arg(&inner.seen_key)
                .arg(&inner.earlier_key)
                .arg(&inner.expire_key)
                .arg(&inner.name)
                .arg(&json)
                .arg(&inner.life)
                .arg(keep.as_millis() as u64)
                .arg(FORGET_PER_BEAT)
                .query(con)
        });
        let counter = if written.is_some() {
            &inner.beats
        } else {
            &inner.failed_beats
        };
        counter.fetch_add(1, Ordering::Relaxed);
        written.is_some()
    }

    /// [`beat`](Announce::beat)s if the last one was a [`HEARTBEAT`] ago or more.
    pub fn beat_if_due(&self, summary: impl FnOnce() -> Summary) -> bool {
        let due = self
            .inner
            .last_beat
            .lock()
            .is_none_or(|at| at.elapsed() >= HEARTBEAT);
        due && self.beat(&summary())
    }
}

impl StatusPlugin for Announce {
    fn name(&self) -> &str {
        "fleet"
    }

    fn counters(&self) -> &[&str] {
        &["beats", "failed_beats"]
    }

    fn fields(&self, _status: &Status) -> serde_json::Value {
        let i = &self.inner;
        serde_json::json!({
            "name": i.name,
            "role": i.role,
            "key": i.key,
            "beats": i.beats.load(Ordering::Relaxed),
            "failed_beats": i.failed_beats.load(Ordering::Relaxed),
        })
    }

    fn started(&self, status: &Status) {
        self.beat(&Summary::of(status));
    }

    fn tick(&self, status: &Status) {
        self.beat_if_due(|| Summary::of(status));
    }

    fn stopped(&self, status: &Status) {
        self.beat(&Summary::of(status));
    }
}

/// The hash of machines' summaries of `stream`.
pub(crate) fn machines_key(stream: &str) -> String {
    format!("{stream}:machines")
}

/// The sorted set of machines' last beats of `stream`.
pub(crate) fn seen_key(stream: &str) -> String {
    format!("{stream}:machines:seen")
}

/// The hash of the counts of machines' earlier lives of `stream`.
pub(crate) fn earlier_key(stream: &str) -> String {
    format!("{stream}:machines:earlier")
}

/// The sorted set of when to forget each machine of `stream`.
pub(crate) fn expire_key(stream: &str) -> String {
    format!("{stream}:machines:expire")
}

/// A name for a new life: unique across processes (pid, time) and within one (a count).
fn new_life() -> String {
    static LIVES: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}-{nanos:x}-{}",
        std::process::id(),
        LIVES.fetch_add(1, Ordering::Relaxed)
    )
}
