//! Acknowledgement: a datum taken from a queue that wants to know when its record is safe.
//!
//! A durable, shared queue (a Redis Stream, say) keeps a datum until the machine says its
//! record was accepted by the sink; a crash before that lets another consumer have it again
//! (at-least-once). Taking from such a queue hands out a [`Delivery`]: the datum and the
//! [`DeliveryId`] the machine later passes to [`Queue::ack`](crate::Queue::ack) or
//! [`Queue::release`](crate::Queue::release). The in-memory queue gives no id: for it,
//! acknowledgement costs nothing.

use std::fmt;
use std::sync::Arc;

/// The id a queue gave one delivery of a datum (a Redis Stream entry id, for instance).
///
/// It also travels on the datum's [`Record`](crate::Record) as its
/// [`origin`](crate::Record::origin), so that downstream readers recognise a datum delivered
/// twice.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeliveryId(Arc<str>);

impl DeliveryId {
    /// An id with this text.
    pub fn new(id: impl Into<Arc<str>>) -> Self {
        DeliveryId(id.into())
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id's text, shared.
    pub fn to_arc(&self) -> Arc<str> {
        Arc::clone(&self.0)
    }
}

impl From<Arc<str>> for DeliveryId {
    fn from(id: Arc<str>) -> Self {
        DeliveryId(id)
    }
}

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeliveryId({})", self.0)
    }
}

/// A datum taken from a queue, with the id to acknowledge it by (none for queues that do
/// not acknowledge, such as [`MemoryQueue`](crate::MemoryQueue)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery<T> {
    /// The datum.
    pub datum: T,
    /// What to pass to [`Queue::ack`](crate::Queue::ack) once the datum's record is safe.
    pub id: Option<DeliveryId>,
}

impl<T> Delivery<T> {
    /// A delivery that needs no acknowledgement.
    pub fn unacked(datum: T) -> Self {
        Delivery { datum, id: None }
    }

    /// A delivery to acknowledge with `id`.
    pub fn with_id(datum: T, id: DeliveryId) -> Self {
        Delivery {
            datum,
            id: Some(id),
        }
    }
}
