//! [`RedisQueue`]: a machine's queue on a Redis Stream, shared by a fleet.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::Serialize;
use timbr_core::io::QueueEvents;
use timbr_core::{Delivery, DeliveryId, PutTimeoutError, Queue, Taken, TryPutError};

use crate::entry;
use crate::failed::Parked;
use crate::health::{Health, QueueReport, RedisEvent};
use crate::link::Link;
use crate::outbox::{AckTarget, Outbox};
use crate::pack::{self, Packs, Settle};
use crate::prefetch::Prefetch;
use crate::reader::{create_group, Reader};
use crate::writer::{wait_for_room, Writer};
use crate::{RedisError, RedisOptions, RedisSink};

/// A bounded queue on a Redis Stream, read by every machine of a fleet through one consumer
/// group: durable, shared, at-least-once.
///
/// - **Put**: `XADD` of the datum's JSON (field `d`), held to the capacity (unread + pending
///   entries; see [`RedisOptions::capacity`] for how exact). [`try_put`](Queue::try_put)
///   hands the datum back when the queue is full *or Redis unreachable*
///   ([`TryPutError::Full`]), or when it cannot be encoded as JSON
///   ([`TryPutError::Rejected`], with the encoder's message); `put` waits.
/// - **Take**: `XREADGROUP` in batches of [`RedisOptions::batch`], on a thread of the
///   queue's own that reads the next batch while the machine processes this one; a
///   machine's consumers acknowledge (`XACK`) each entry once its record was accepted by the
///   sink, batched with the sink's writes when the sink is this queue's
///   [`sink`](RedisQueue::sink), and sent by another thread of the queue's while the
///   consumers go on.
/// - **Recovery**: at start a consumer first re-reads what it left pending; entries other
///   consumers left pending longer than [`claim_after`](RedisOptions::claim_after) are
///   claimed; entries delivered [`max_deliveries`](RedisOptions::max_deliveries) times, or
///   that cannot be decoded, go to the dead-letter stream with the reason. The datum's
///   `Deserialize` runs on the queue's fetching thread; a panic in it is caught, as
///   timbr-core catches a stage's, and the entry is dead-lettered with the panic's message
///   (counted in [`QueueReport::panicked`]).
/// - **Outages**: every command is retried with backoff and reported
///   ([`report`](RedisQueue::report), [`on_event`](RedisQueue::on_event), and to the
///   handler of a machine built on the queue as [`Event::Queue`](timbr_core::Event::Queue)s);
///   nothing is lost.
///
/// # Exactly once on the producer's side
///
/// A round trip of `XADD`s that Redis applied but whose reply was lost (Redis killed just
/// after, a connection cut) is sent again once Redis answers, and adds nothing twice: each
/// connected queue is a producer with a name of its own that numbers its round trips, and a
/// round trip is one `MULTI`/`EXEC` of its `XADD`s with a `SET` of
/// `<stream>:producer:<name>` to its number. Before sending a failed round trip again, the
/// queue reads that key: if it holds the round trip's number, the entries are in. This
/// holds for any number of producers on one stream (each has its own key; the entry ids
/// stay Redis's). Not covered: a put that *gives up* in doubt (`try_put` during an outage,
/// `put_timeout` past its deadline, after the request was sent) hands its datum back
/// without knowing whether Redis applied it, so putting it again may add it twice; a round
/// trip retried more than [`PRODUCER_KEY_TTL`](crate::PRODUCER_KEY_TTL) after it was sent;
/// and a request held up in the network for longer than the reconnection and the `GET`
/// (when Redis itself restarts, its old connections die with it, so this cannot happen).
///
/// # Packing
///
/// With [`RedisOptions::pack`] above 1, [`put_all`](RedisQueue::put_all) puts up to that
/// many data in one entry (a JSON array in field [`PACK_FIELD`](crate::PACK_FIELD)), so
/// that Redis reads, holds pending and acknowledges entries rather than data — what bounds
/// a fleet on one Redis. What a fleet promises per datum stays per datum:
/// - A packed entry is acknowledged once the records of all its data are in (also for
///   `take`/`try_take` outside a machine: once its last datum was taken).
/// - Datum `i` of entry `E` has the origin `E#i` — the id of its delivery, so the record's
///   [`origin`](timbr_core::Record::origin) in every sink — however often it is delivered,
///   so duplicates stay recognisable ([`Fleet::results`](crate::Fleet::results)).
/// - A packed entry is delivered packed only once. When it must be delivered again (its
///   consumer died, a record was refused) or one of its data cannot be decoded, it is
///   **split**, at most once: one entry per datum (field
///   [`ORIGIN_FIELD`](crate::ORIGIN_FIELD) naming its origin), added in one step with the
///   packed entry's acknowledgement. A datum that kills its worker is then alone in its
///   entry and dead-lettered after [`max_deliveries`](RedisOptions::max_deliveries)
///   deliveries of it (one more in all, the packed one), keeping its origin (re-queued, it
///   goes back with it); the rest of its pack is processed, each datum possibly delivered
///   again, as data fetched together with a poisonous one are.
/// - An entry written by another program is checked, not trusted: one whose
///   [`ORIGIN_FIELD`](crate::ORIGIN_FIELD) is not what a split writes (an earlier entry's
///   id, `#`, an index below [`MAX_PACK`](crate::MAX_PACK)), or whose pack is empty, is
///   dead-lettered as undecodable with the reason (reasons are cut to their first 256
///   bytes, with their length).
/// - The fleet's [`Balance`](crate::Balance) counts entries (a split entry is acknowledged,
///   its pieces produced) and still adds up; [`Balance::acked_data`](crate::Balance)
///   counts data. The capacity counts entries, and is not checked for a split's pieces
///   (a split may take the stream `pack` entries past it).
/// - [`claim_after`](RedisOptions::claim_after) must exceed the time a whole pack — and
///   what is fetched ahead of it — takes to process, or live consumers' packs get claimed.
///
/// Cloning gives another handle on the same connections (a producer and a machine in one
/// process share them). A handle's `try_put` never waits for another's put: puts that
/// wait (`put`, `put_all`, `put_until`) share one writing connection, held through an
/// outage (a `put_until` waits for it no longer than its deadline), and `try_put` makes
/// its one attempt on a connection of its own, opened at its first use.
///
/// A machine's **drain** (`stop(Drain)`) processes what this process has fetched, not the
/// whole stream: other machines share it. `take`/`try_take` outside a machine acknowledge
/// at once (the caller owns the datum then).
pub struct RedisQueue<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for RedisQueue<T> {
    fn clone(&self) -> Self {
        RedisQueue {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<T> {
    options: RedisOptions,
    health: Arc<Health>,
    /// Fetched entries, pending under this consumer, not yet handed out, and the thread
    /// that fetches them.
    prefetch: Prefetch<T>,
    /// The writer of puts that may wait (`put`, `put_all`, `put_until`).
    writer: Mutex<Writer>,
    /// The writer of `try_put`'s one attempt, never held by a put that waits (see
    /// `writer.rs`); connected at its first use.
    once_writer: Mutex<Writer>,
    outbox: Arc<Outbox>,
    /// Packed entries fetched and not yet acknowledged.
    packs: Arc<Packs>,
    /// Failures the sinks saw, waiting for their acknowledgement.
    parked: Arc<Parked>,
    /// Set by `close` (the machine on this queue was dropped): puts hand their data back.
    closed: AtomicBool,
}

impl<T: Serialize + DeserializeOwned + Send + 'static> RedisQueue<T> {
    /// Connects (three connections: reading, writing, acknowledging; a fourth for
    /// `try_put` at its first use), creates the group if
    /// it does not exist (reading the stream from its start), and starts the queue's two
    /// threads — one reads ahead (only while a machine takes), one sends records and
    /// acknowledgements — joined when the last handle is dropped.
    ///
    /// # Errors
    ///
    /// [`RedisError`] for an invalid setting, a bad URL, an unreachable server or refused
    /// credentials, or a key that is not a stream.
    pub fn connect(options: RedisOptions) -> Result<Self, RedisError> {
        options.validate()?;
        let health = Health::new();
        let open = |name| Link::open(&options.url, Arc::clone(&health), name, options.backoff_max);
        let mut reader = open("reader")?;
        reader
            .once(&mut |con| create_group(con, &options))
            .map_err(|source| RedisError::Command {
                command: "XGROUP CREATE",
                source,
            })?;
        let writer = open("writer")?;
        let size = Arc::default();
        let target = AckTarget {
            stream: options.stream.clone(),
            group: options.group.clone(),
            counter: options.acked_key(),
            data_counter: options.acked_data_key(),
            failures: options.failure_stream(),
            failed_counter: options.failed_key(),
        };
        // A batch of records and acknowledgements per `batch` data (two operations each).
        let outbox = Arc::new(Outbox::new(
            open("outbox")?,
            Arc::clone(&health),
            Some(target),
            options.batch * 2,
        ));
        let packs = Arc::new(Packs::new(outbox.abandoned()));
        let prefetch = Prefetch::start(
            Reader::new(reader, Arc::clone(&packs)),
            options.clone(),
            Arc::clone(&health),
            Arc::clone(&outbox),
        );
        Ok(RedisQueue {
            inner: Arc::new(Inner {
                prefetch,
                once_writer: Mutex::new(Writer::new(
                    writer.sibling("try_put"),
                    &options,
                    Arc::clone(&size),
                )),
                writer: Mutex::new(Writer::new(writer, &options, size)),
                outbox,
                packs,
                parked: Arc::default(),
                closed: AtomicBool::new(false),
                health,
                options,
            }),
        })
    }

    /// A sink writing records to `stream`, batched with this queue's acknowledgements so
    /// that an entry is acknowledged only once its record is in Redis. A datum that failed
    /// for good goes to the failure stream too, with its entry's acknowledgement
    /// ([`Fleet::failures`](crate::Fleet::failures)); [`packed`](RedisSink::packed) writes
    /// the records of one input pack as one entry.
    pub fn sink(&self, stream: impl Into<String>) -> RedisSink {
        RedisSink::on_outbox(
            Arc::clone(&self.inner.outbox),
            stream.into(),
            self.inner.options.consumer.clone(),
            false,
            Some(Arc::clone(&self.inner.parked)),
        )
    }

    /// Puts many data, in round trips of [`RedisOptions::batch`], waiting for room as `put`
    /// does (the producer's fast path), [`pack`](RedisOptions::pack) data to an entry.
    ///
    /// # Errors
    ///
    /// [`serde_json::Error`] if a datum cannot be serialized; the data before it were put.
    pub fn put_all(&self, data: impl IntoIterator<Item = T>) -> Result<(), serde_json::Error> {
        let o = &self.inner.options;
        let mut chunk = Vec::with_capacity(o.batch);
        let mut data = data.into_iter().peekable();
        while data.peek().is_some() {
            chunk.clear();
            for d in data.by_ref().take(o.batch) {
                chunk.push(entry::encode(&d)?);
            }
            let put = chunk.len();
            let packed: Vec<Vec<u8>>;
            let (field, entries) = if o.pack > 1 {
                packed = chunk.chunks(o.pack).map(pack::pack).collect();
                (pack::PACK_FIELD, &packed)
            } else {
                (entry::DATUM_FIELD, &chunk)
            };
            let mut writer = self.inner.writer.lock();
            let mut wait = Duration::from_millis(1);
            while writer.room(o, &self.inner.health, entries.len(), &|| false) != Some(true) {
                wait_for_room(&mut wait, None);
            }
            writer.xadd(o, field, entries, &|| false);
            writer.added(entries.len());
            Health::add(&self.inner.health.put, put as u64);
        }
        Ok(())
    }
}

impl<T> RedisQueue<T> {
    /// Calls `f` with every [`RedisEvent`] (outages, dead letters, claims). `f` runs on the
    /// thread that saw the event: keep it short. (A machine built on this queue gets the
    /// same events in its handler whether or not `f` is set.)
    pub fn on_event(&self, f: impl Fn(&RedisEvent) + Send + Sync + 'static) {
        self.inner.health.listen(Arc::new(f));
    }

    /// What this consumer did and what Redis showed at the last look (twice a second while
    /// the queue is read; at every capacity check while it is written).
    pub fn report(&self) -> QueueReport {
        let o = &self.inner.options;
        self.inner.health.report(&o.stream, &o.group, &o.consumer)
    }

    /// The queue's settings.
    pub fn options(&self) -> &RedisOptions {
        &self.inner.options
    }

    /// Sends the buffered acknowledgements (and records of this queue's sinks) now.
    pub fn flush(&self) {
        self.inner.outbox.flush(None);
    }

    /// Puts one entry with `writer`; `wait_room` says whether to wait for room (until its
    /// deadline, if any) or to give up at once on a full queue.
    fn put_one(
        &self,
        writer: &mut Writer,
        bytes: &[u8],
        give_up: &dyn Fn() -> bool,
        wait_room: Option<Option<Instant>>,
    ) -> bool {
        let o = &self.inner.options;
        let mut wait = Duration::from_millis(1);
        loop {
            // A put waiting for room notices the close within one backoff step.
            if self.is_closed() {
                return false;
            }
            match writer.room(o, &self.inner.health, 1, give_up) {
                Some(true) => break,
                Some(false) => match wait_room {
                    Some(deadline) if wait_for_room(&mut wait, deadline) => continue,
                    _ => return false,
                },
                None => return false,
            }
        }
        if writer
            .xadd(o, entry::DATUM_FIELD, &[bytes.to_vec()], give_up)
            .is_none()
        {
            return false;
        }
        writer.added(1);
        Health::add(&self.inner.health.put, 1);
        true
    }
}

impl<T> RedisQueue<T> {
    fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }
}

impl<T: Serialize + DeserializeOwned + Send + 'static> Queue<T> for RedisQueue<T> {
    fn try_put(&self, datum: T) -> Result<(), TryPutError<T>> {
        // A datum that cannot be encoded is refused for good, with the encoder's reason.
        let bytes = match entry::encode(&datum) {
            Ok(bytes) => bytes,
            Err(e) => {
                return Err(TryPutError::Rejected {
                    datum,
                    reason: unencodable(&e),
                })
            }
        };
        // One attempt, on the writer no waiting put holds: never blocks on an outage,
        // whatever other handles of this queue are doing.
        let mut writer = self.inner.once_writer.lock();
        if self.put_one(&mut writer, &bytes, &|| true, None) {
            Ok(())
        } else if self.is_closed() {
            Err(TryPutError::Closed(datum))
        } else {
            Err(TryPutError::Full(datum))
        }
    }

    fn put_until(&self, datum: T, deadline: Option<Instant>) -> Result<(), PutTimeoutError<T>> {
        let bytes = match entry::encode(&datum) {
            Ok(bytes) => bytes,
            Err(e) => {
                return Err(PutTimeoutError::Rejected {
                    datum,
                    reason: unencodable(&e),
                })
            }
        };
        let give_up = || self.is_closed() || deadline.is_some_and(|d| Instant::now() >= d);
        // Another put may hold the writer through an outage: wait for it no longer than
        // the deadline.
        let writer = match deadline {
            None => Some(self.inner.writer.lock()),
            Some(d) => self.inner.writer.try_lock_until(d),
        };
        let Some(mut writer) = writer else {
            return Err(PutTimeoutError::Timeout(datum));
        };
        if self.put_one(&mut writer, &bytes, &give_up, Some(deadline)) {
            Ok(())
        } else if self.is_closed() {
            Err(PutTimeoutError::Closed(datum))
        } else {
            Err(PutTimeoutError::Timeout(datum))
        }
    }

    fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
    }

    fn take(&self, deadline: Option<Instant>) -> Taken<T> {
        match self.take_delivery(deadline) {
            Taken::Datum(d) => Taken::Datum(self.owned(d)),
            Taken::TimedOut => Taken::TimedOut,
            Taken::Woken => Taken::Woken,
        }
    }

    fn try_take(&self) -> Option<T> {
        self.try_take_delivery().map(|d| self.owned(d))
    }

    fn wake_takers(&self, n: usize) {
        self.inner.prefetch.wake(n);
    }

    fn len(&self) -> usize {
        let info = self.inner.health.group_info.lock();
        (info.lag.unwrap_or(info.stream_length) + info.pending) as usize
    }

    fn capacity(&self) -> Option<usize> {
        Some(self.inner.options.capacity)
    }

    fn take_delivery(&self, deadline: Option<Instant>) -> Taken<Delivery<T>> {
        // The next batch is fetched while the last half of this one is processed.
        self.inner
            .prefetch
            .take(deadline, self.inner.options.batch / 2)
    }

    fn try_take_delivery(&self) -> Option<Delivery<T>> {
        self.inner.prefetch.try_take()
    }

    fn ack(&self, id: &DeliveryId) {
        self.ack_id(id.as_str());
    }

    fn release(&self, id: &DeliveryId) {
        Health::add(&self.inner.health.released, 1);
        // Delivered again: its failure (if it had one) is found again then.
        drop(self.inner.parked.take(id.as_str()));
        // A pack is split when delivered again: its other data no longer acknowledge it.
        let entry = self.inner.packs.release(id.as_str());
        self.inner.prefetch.release(&entry);
    }

    fn is_shared(&self) -> bool {
        true
    }

    /// The server (as given, without its password), the stream and the group: the same in
    /// every machine reading this stream in this group.
    fn shared_name(&self) -> Option<String> {
        let o = &self.inner.options;
        Some(format!(
            "{} stream {} group {}",
            crate::error::redact_url(&o.url),
            o.stream,
            o.group
        ))
    }

    /// Outages, reconnections, dead letters and claims reach the machine as
    /// [`Event::Queue`](timbr_core::Event::Queue)s (and `on_event`'s function, if set).
    fn set_events(&self, events: QueueEvents) {
        self.inner.health.attach(events);
    }
}

impl<T> RedisQueue<T> {
    /// A delivery handed out of the acknowledgement protocol: acknowledged now.
    fn owned(&self, d: Delivery<T>) -> T {
        if let Some(id) = &d.id {
            self.ack_id(id.as_str());
        }
        d.datum
    }

    /// Acknowledges the entry of delivery `id` — a packed entry once all its data are.
    fn ack_id(&self, id: &str) {
        let failed = self.inner.parked.take(id);
        if let Settle::Entry(entry, data, failed) = self.inner.packs.done(id, failed) {
            self.inner.outbox.ack(entry, data, failed);
        }
    }
}

/// Why a datum cannot go on the stream.
fn unencodable(e: &serde_json::Error) -> String {
    format!("cannot encode the datum as JSON: {e}")
}

impl<T> fmt::Debug for RedisQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.inner.options;
        f.debug_struct("RedisQueue")
            .field("stream", &o.stream)
            .field("group", &o.group)
            .field("consumer", &o.consumer)
            .finish_non_exhaustive()
    }
}
