//! [`Producer`]: puts a sequence of data on a fleet's stream, and after a crash continues
//! where it stopped instead of putting everything again.
//!
//! A producer killed mid-run and started again knows nothing of what it put: its data go on
//! the stream again under new entry ids, and since a record's origin is its entry id, the
//! fleet's duplicate count cannot see them. So a producer with a name keeps its place in
//! Redis: `<stream>:position:<name>`, the number of data of its sequence on the stream,
//! set in the same `MULTI`/`EXEC` as the `XADD`s of each round trip (see `writer.rs`, whose
//! round-trip numbers already make a retried round trip add nothing twice). Redis applies
//! the entries and the position together or not at all, so the position is exact whenever
//! the process dies; the next life under the name reads it and skips that many data.
//!
//! What it takes: the same name, and the same sequence (a generator with the same seed, a
//! file read from its start). Two live producers under one name would share one position:
//! give each its own. A position is kept for [`POSITION_TTL`] after its producer's last
//! round trip (so that the default names, one per process, do not pile up for ever): a
//! producer started again later than that starts over.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use timbr_core::io::QueueEvent;

use crate::entry;
use crate::group::create_group;
use crate::health::Health;
use crate::link::Link;
use crate::pack;
use crate::report::QueueReport;
use crate::writer::{wait_for_room, Writer};
use crate::{RedisError, RedisOptions};

/// How long Redis keeps a producer's position after its last round trip.
pub const POSITION_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// Puts data on a fleet's stream from a position it keeps in Redis, so that a producer
/// started again under its name continues its sequence where the last life stopped (see
/// the module's docs).
///
/// The name is the options' [`consumer`](RedisOptions::consumer) (default `host-pid`, a
/// new one per process: give a name to resume).
///
/// ```no_run
/// use timbr_redis::{Producer, RedisOptions};
///
/// let options = RedisOptions::new("redis://127.0.0.1:6379", "numbers").consumer("p1");
/// let mut producer = Producer::<u64>::connect(options)?;
/// // 0 the first time; after a crash, how many of 0..1_000_000 are already on the stream.
/// let from = producer.position();
/// producer.put_all(from..1_000_000, &|| false)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Producer<T> {
    options: RedisOptions,
    writer: Writer,
    health: Arc<Health>,
    key: String,
    position: u64,
    _data: PhantomData<fn(T)>,
}

impl<T: Serialize> Producer<T> {
    /// Connects as the producer named by `options`' consumer name, creates the group if it
    /// does not exist, and reads the producer's position.
    ///
    /// # Errors
    ///
    /// [`RedisError`] for an invalid setting, a bad URL, an unreachable server or refused
    /// credentials, or a position key that does not hold a number.
    pub fn connect(options: RedisOptions) -> Result<Self, RedisError> {
        options.validate()?;
        let health = Health::new(&options);
        let mut link = Link::open(
            &options.url,
            Arc::clone(&health),
            "producer",
            options.backoff_max,
        )?;
        let key = position_key(&options);
        let position: Option<u64> = link
            .once(&mut |con| {
                create_group(con, &options)?;
                redis::cmd("GET").arg(&key).query(con)
            })
            .map_err(|source| RedisError::Command {
                command: "GET",
                source,
            })?;
        Ok(Producer {
            writer: Writer::new(link, &options, Arc::default()),
            health,
            key,
            position: position.unwrap_or(0),
            options,
            _data: PhantomData,
        })
    }

    /// Calls `f` with everything that happens to the producer's connection (lost, back,
    /// Redis refusing a command…), as [`RedisQueue::on_event`](crate::RedisQueue::on_event)
    /// does for a queue: a put that waits for Redis would otherwise wait in silence.
    pub fn on_event(&self, f: impl Fn(&QueueEvent) + Send + Sync + 'static) {
        self.health.listen(Arc::new(f));
    }

    /// How many data of its sequence this producer (in this life and the earlier ones under
    /// its name) put on the stream: where it continues.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Starts the sequence again from 0: the next data put are its first (a new run under
    /// the same name).
    ///
    /// # Errors
    ///
    /// [`RedisError::Command`] if Redis refused.
    pub fn reset(&mut self) -> Result<(), RedisError> {
        let key = &self.key;
        self.writer
            .link
            .once(&mut |con| redis::cmd("DEL").arg(key).query::<()>(con))
            .map_err(|source| RedisError::Command {
                command: "DEL",
                source,
            })?;
        self.position = 0;
        Ok(())
    }

    /// Puts `data` — the data of the sequence from [`position`](Producer::position) on — in
    /// round trips of [`RedisOptions::batch`], [`pack`](RedisOptions::pack) to an entry,
    /// waiting for room as [`RedisQueue::put_all`](crate::RedisQueue::put_all) does and
    /// retrying through outages. Each round trip moves the position with it. Before each,
    /// while waiting for room and while Redis is unreachable, `stop` is asked whether to
    /// end early. Returns how many data this call put (not counting a round trip given up
    /// in doubt during an outage: the position in Redis, which the next
    /// [`connect`](Producer::connect) reads, says whether it was applied).
    ///
    /// # Errors
    ///
    /// [`serde_json::Error`] if a datum cannot be serialized; the data before it were put.
    pub fn put_all(
        &mut self,
        data: impl IntoIterator<Item = T>,
        stop: &dyn Fn() -> bool,
    ) -> Result<u64, serde_json::Error> {
        let o = &self.options;
        let mut put = 0;
        let mut chunk = Vec::with_capacity(o.batch);
        let mut data = data.into_iter().peekable();
        while data.peek().is_some() && !stop() {
            chunk.clear();
            for d in data.by_ref().take(o.batch) {
                chunk.push(entry::encode(&d)?);
            }
            let packed: Vec<Vec<u8>>;
            let (field, entries) = if o.pack > 1 {
                packed = chunk.chunks(o.pack).map(pack::pack).collect();
                (pack::PACK_FIELD, &packed)
            } else {
                (entry::DATUM_FIELD, &chunk)
            };
            let mut wait = Duration::from_millis(1);
            loop {
                match self.writer.room(o, &self.health, entries.len(), stop) {
                    Some(true) => break,
                    Some(false) if !stop() => {
                        wait_for_room(&mut wait, None);
                    }
                    _ => return Ok(put),
                }
            }
            let at = self.position + chunk.len() as u64;
            // Retried through an outage until `stop`: a round trip given up after it was
            // sent may or may not have been applied, so this call ends there; Redis's
            // position is exact either way, and the next life starts from it.
            let sent = self
                .writer
                .xadd_at(o, field, entries, Some((&self.key, at)), stop);
            if sent.is_none() {
                return Ok(put);
            }
            self.writer.added(entries.len());
            self.health.put(chunk.len());
            self.position = at;
            put += chunk.len() as u64;
        }
        Ok(put)
    }
}

impl<T> Producer<T> {
    /// What this producer did and what Redis showed at its last capacity check.
    pub fn report(&self) -> QueueReport {
        self.health.report()
    }

    /// The producer's settings.
    pub fn options(&self) -> &RedisOptions {
        &self.options
    }

    pub(crate) fn health(&self) -> Arc<Health> {
        Arc::clone(&self.health)
    }
}

/// The key holding the position of the producer named by `o`'s consumer name.
pub(crate) fn position_key(o: &RedisOptions) -> String {
    format!("{}:position:{}", o.stream, o.consumer)
}
