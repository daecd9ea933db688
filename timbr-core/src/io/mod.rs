//! The edges: the queue data wait in, the source that feeds it, the sinks records go to, and
//! the ZeroMQ plumbing that publishing and remote control share.
//!
//! | file | what |
//! |---|---|
//! | `delivery.rs` | [`Delivery`] and [`DeliveryId`]: acknowledging a datum once its record is safe |
//! | `queue.rs` | [`Queue`], the trait, and [`MemoryQueue`], the bounded embedded default |
//! | `queue_event.rs` | [`QueueEvent`]s a queue sends its machine through [`QueueEvents`] |
//! | `source.rs` | a source iterator on its own thread: backpressure or a drop policy |
//! | `sink/` | [`Sink`], the trait, with channel, callback, null, JSON lines and ZeroMQ sinks |
//! | `zmq/` | which endpoints may be bound, the private socket directory, binding (shared) |

pub(crate) mod delivery;
pub(crate) mod queue;
pub(crate) mod queue_event;
pub(crate) mod sink;
pub(crate) mod source;
#[cfg(feature = "zmq")]
pub(crate) mod zmq;

pub use self::{
    delivery::{Delivery, DeliveryId},
    queue::{MemoryQueue, Queue, Taken},
    queue_event::{QueueEvent, QueueEvents, QUEUE_EVENT_BACKLOG},
    sink::{ChannelSink, FnSink, JsonLinesSink, NullSink, Sink},
    source::{SourcePolicy, SourceState},
};
/// Connectors catch panics in user code the way timbr-core does.
pub use crate::unwind::catch_panic;

#[cfg(all(feature = "zmq", unix))]
pub use self::zmq::{raise_nofile, MAX_CONNECTIONS};
#[cfg(feature = "zmq")]
pub use self::{
    sink::{ZmqSink, ZmqSinkOptions, ZmqStats, MAX_TOPICS},
    zmq::BindError,
};
