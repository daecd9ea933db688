//! [`RedisQueue`] as a [`Queue`]: puts held to the capacity, takes from what the fetching
//! thread read ahead, acknowledgements through the outbox, releases delivered again.

use std::sync::atomic::Ordering;
use std::time::Instant;

use serde::de::DeserializeOwned;
use serde::Serialize;
use timbr_core::io::QueueEvents;
use timbr_core::io::{Delivery, DeliveryId, Taken};
use timbr_core::{PutTimeoutError, Queue, TryPutError};

use super::RedisQueue;
use crate::entry;
use crate::pack::Settle;

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
        self.inner.health.queued() as usize
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
        self.inner.health.released();
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
