//! [`RedisQueue`]: a machine's queue on a Redis Stream, shared by a fleet.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::Serialize;
use timbr_core::io::QueueEvents;
use timbr_core::{Delivery, DeliveryId, PutTimeoutError, Queue, Taken, TryPutError};

use crate::entry;
use crate::health::{Health, QueueReport, RedisEvent};
use crate::link::Link;
use crate::outbox::{AckTarget, Outbox};
use crate::reader::{create_group, Reader};
use crate::writer::{wait_for_room, Writer};
use crate::{RedisError, RedisOptions, RedisSink};

/// A bounded queue on a Redis Stream, read by every machine of a fleet through one consumer
/// group: durable, shared, at-least-once.
///
/// - **Put**: `XADD` of the datum's JSON (field `d`), held to the capacity (unread + pending
///   entries; see [`RedisOptions::capacity`] for how exact). [`try_put`](Queue::try_put)
///   hands the datum back when the queue is full *or Redis unreachable*; `put` waits.
/// - **Take**: `XREADGROUP` in batches of [`RedisOptions::batch`]; a machine's consumers
///   acknowledge (`XACK`) each entry once its record was accepted by the sink, batched with
///   the sink's writes when the sink is this queue's [`sink`](RedisQueue::sink).
/// - **Recovery**: at start a consumer first re-reads what it left pending; entries other
///   consumers left pending longer than [`claim_after`](RedisOptions::claim_after) are
///   claimed; entries delivered [`max_deliveries`](RedisOptions::max_deliveries) times, or
///   that cannot be decoded, go to the dead-letter stream with the reason.
/// - **Outages**: every command is retried with backoff and reported
///   ([`report`](RedisQueue::report), [`on_event`](RedisQueue::on_event), and to the
///   handler of a machine built on the queue as [`Event::Queue`](timbr_core::Event::Queue)s);
///   nothing is lost.
///
/// Cloning gives another handle on the same connections (a producer and a machine in one
/// process share them).
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
    /// Fetched entries, pending under this consumer, not yet handed out.
    buffer: Mutex<VecDeque<Delivery<T>>>,
    reader: Mutex<Reader<T>>,
    writer: Mutex<Writer>,
    outbox: Arc<Outbox>,
    released: Mutex<Vec<String>>,
    wakes: AtomicUsize,
    /// Set by `close` (the machine on this queue was dropped): puts hand their data back.
    closed: AtomicBool,
}

impl<T: Serialize + DeserializeOwned + Send + 'static> RedisQueue<T> {
    /// Connects (three connections: reading, writing, acknowledging) and creates the group
    /// if it does not exist (reading the stream from its start).
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
        let target = AckTarget {
            stream: options.stream.clone(),
            group: options.group.clone(),
            counter: options.acked_key(),
        };
        let outbox = Outbox::new(
            open("outbox")?,
            Arc::clone(&health),
            Some(target),
            options.batch,
        );
        Ok(RedisQueue {
            inner: Arc::new(Inner {
                buffer: Mutex::new(VecDeque::with_capacity(options.batch)),
                reader: Mutex::new(Reader::new(reader)),
                writer: Mutex::new(Writer::new(writer)),
                outbox: Arc::new(outbox),
                released: Mutex::new(Vec::new()),
                wakes: AtomicUsize::new(0),
                closed: AtomicBool::new(false),
                health,
                options,
            }),
        })
    }

    /// A sink writing records to `stream`, batched with this queue's acknowledgements so
    /// that an entry is acknowledged only once its record is in Redis.
    pub fn sink(&self, stream: impl Into<String>) -> RedisSink {
        RedisSink::on_outbox(
            Arc::clone(&self.inner.outbox),
            stream.into(),
            self.inner.options.consumer.clone(),
            false,
        )
    }

    /// Puts many data, in round trips of [`RedisOptions::batch`], waiting for room as `put`
    /// does (the producer's fast path).
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
            let mut writer = self.inner.writer.lock();
            let mut wait = Duration::from_millis(1);
            while writer.room(o, &self.inner.health, chunk.len(), &|| false) != Some(true) {
                wait_for_room(&mut wait, None);
            }
            writer.xadd(o, &chunk, &|| false);
            writer.added(chunk.len());
            Health::add(&self.inner.health.put, chunk.len() as u64);
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

    fn put_one(
        &self,
        bytes: &[u8],
        give_up: &dyn Fn() -> bool,
        wait_room: Option<Option<Instant>>,
    ) -> bool {
        let o = &self.inner.options;
        let mut writer = self.inner.writer.lock();
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
        if writer.xadd(o, &[bytes.to_vec()], give_up).is_none() {
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
        // A datum that cannot be encoded is refused like a closed queue's: handed back.
        let Ok(bytes) = entry::encode(&datum) else {
            return Err(TryPutError::Closed(datum));
        };
        // One attempt: never blocks on an outage either.
        if self.put_one(&bytes, &|| true, None) {
            Ok(())
        } else if self.is_closed() {
            Err(TryPutError::Closed(datum))
        } else {
            Err(TryPutError::Full(datum))
        }
    }

    fn put_until(&self, datum: T, deadline: Option<Instant>) -> Result<(), PutTimeoutError<T>> {
        let Ok(bytes) = entry::encode(&datum) else {
            return Err(PutTimeoutError::Closed(datum));
        };
        let give_up = || self.is_closed() || deadline.is_some_and(|d| Instant::now() >= d);
        if self.put_one(&bytes, &give_up, Some(deadline)) {
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
        self.inner.wakes.fetch_add(n, Ordering::AcqRel);
    }

    fn len(&self) -> usize {
        let info = self.inner.health.group_info.lock();
        (info.lag.unwrap_or(info.stream_length) + info.pending) as usize
    }

    fn capacity(&self) -> Option<usize> {
        Some(self.inner.options.capacity)
    }

    fn take_delivery(&self, deadline: Option<Instant>) -> Taken<Delivery<T>> {
        let inner = &*self.inner;
        loop {
            // Data first, as with the memory queue: a wake-up never hides a fetched entry.
            if let Some(d) = inner.buffer.lock().pop_front() {
                return Taken::Datum(d);
            }
            if inner
                .wakes
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| w.checked_sub(1))
                .is_ok()
            {
                return Taken::Woken;
            }
            let block = match deadline {
                None => inner.options.block,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left.min(inner.options.block),
                    _ => return Taken::TimedOut,
                },
            };
            let mut reader = inner.reader.lock();
            if !inner.buffer.lock().is_empty() {
                continue; // another taker fetched meanwhile
            }
            // Records and acknowledgements of what was taken so far go out before more is
            // fetched: the natural batch boundary, and what keeps an idle fleet acknowledged.
            inner.outbox.flush(None);
            let released = std::mem::take(&mut *inner.released.lock());
            let mut fetched = VecDeque::new();
            reader.fetch(&inner.options, &inner.health, released, block, &mut fetched);
            inner.buffer.lock().extend(fetched);
        }
    }

    fn try_take_delivery(&self) -> Option<Delivery<T>> {
        self.inner.buffer.lock().pop_front()
    }

    fn ack(&self, id: &DeliveryId) {
        self.inner.outbox.ack(id.as_str());
    }

    fn release(&self, id: &DeliveryId) {
        Health::add(&self.inner.health.released, 1);
        self.inner.released.lock().push(id.as_str().to_owned());
    }

    fn is_shared(&self) -> bool {
        true
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
            self.inner.outbox.ack(id.as_str());
        }
        d.datum
    }
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
