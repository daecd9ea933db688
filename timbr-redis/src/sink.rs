//! [`RedisSink`]: records to a Redis Stream, each with the entry id it came from.

use std::sync::Arc;
use std::time::{Duration, Instant};

use timbr_core::{Record, Sink, SinkError};

use crate::entry::RecordEntry;
use crate::health::Health;
use crate::link::Link;
use crate::outbox::Outbox;
use crate::RedisError;

/// How long a stopping machine's flush waits for an unreachable Redis before it gives up
/// (losing nothing: the entries whose records were not written stay pending).
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// Writes each record to a Redis Stream as an entry with fields `oid`, `origin` (the queue
/// entry the datum came from: duplicates share it), `record` (the JSON array) and
/// `consumer`.
///
/// Made by [`RedisQueue::sink`](crate::RedisQueue::sink), records are batched with the
/// queue's acknowledgements (at-least-once, fast). Made by [`RedisSink::connect`], each
/// record is written before `send` returns.
pub struct RedisSink {
    outbox: Arc<Outbox>,
    stream: Arc<str>,
    consumer: Arc<str>,
    /// Write each record at once (a sink of its own, not batched with acknowledgements).
    each: bool,
}

impl RedisSink {
    /// A sink of its own on `url`, writing each record to `stream` before `send` returns.
    ///
    /// # Errors
    ///
    /// [`RedisError`] for a bad URL, an unreachable server or refused credentials.
    pub fn connect(url: &str, stream: impl Into<String>) -> Result<Self, RedisError> {
        let stream = stream.into();
        let health = Health::named(&stream, "", "");
        let link = Link::open(url, Arc::clone(&health), "sink", Duration::from_secs(2))?;
        let outbox = Outbox::new(link, health, None, 1);
        Ok(RedisSink::on_outbox(
            Arc::new(outbox),
            stream,
            String::new(),
            true,
        ))
    }

    pub(crate) fn on_outbox(
        outbox: Arc<Outbox>,
        stream: String,
        consumer: String,
        each: bool,
    ) -> Self {
        RedisSink {
            outbox,
            stream: stream.into(),
            consumer: consumer.into(),
            each,
        }
    }
}

impl Sink for RedisSink {
    fn send(&mut self, record: Record) -> Result<(), SinkError> {
        let origin = record.origin().unwrap_or_default().to_owned();
        let (oid, record) = record.into_frames();
        let record = RecordEntry {
            stream: Arc::clone(&self.stream),
            oid,
            origin,
            record,
            consumer: Arc::clone(&self.consumer),
        };
        self.outbox.add(record, self.each);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        if self.outbox.flush(Some(Instant::now() + FLUSH_TIMEOUT)) {
            Ok(())
        } else {
            Err(SinkError::msg(
                "Redis unreachable: buffered records not written (their entries stay pending)",
            ))
        }
    }

    fn describe(&self) -> String {
        format!("redis stream {}", self.stream)
    }
}
