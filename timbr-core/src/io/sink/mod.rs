//! Where a running machine delivers its records: a trait, with a null sink, a channel and a
//! callback (ZeroMQ and JSON lines plug into the same trait).

mod json_lines;
#[cfg(feature = "zmq")]
mod topics;
#[cfg(feature = "zmq")]
mod zmq;
#[cfg(feature = "zmq")]
mod zmq_stats;

use crossbeam_channel::{Receiver, Sender};

use crate::{Record, SinkError};

pub use self::json_lines::JsonLinesSink;
#[cfg(feature = "zmq")]
pub use self::{
    zmq::{ZmqSink, ZmqSinkOptions, MAX_TOPICS},
    zmq_stats::ZmqStats,
};

/// Takes the records of a running machine, one at a time, in delivery order.
///
/// A sink's error is counted and reported; it never stops the machine or loses the count of
/// the datum (the datum was processed; only its delivery failed). A panic in a sink is caught
/// and reported the same way.
pub trait Sink: Send + 'static {
    /// Delivers one record.
    ///
    /// # Errors
    ///
    /// [`SinkError`] when the record could not be delivered.
    fn send(&mut self, record: Record) -> Result<(), SinkError>;

    /// Flushes anything buffered; called when the machine stops.
    ///
    /// # Errors
    ///
    /// [`SinkError`] when buffered records could not be delivered.
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    /// Where the records go, for status displays (an endpoint, a path…).
    fn describe(&self) -> String {
        std::any::type_name::<Self>()
            .rsplit("::")
            .next()
            .unwrap_or("sink")
            .to_owned()
    }
}

impl<S: Sink + ?Sized> Sink for Box<S> {
    fn send(&mut self, record: Record) -> Result<(), SinkError> {
        (**self).send(record)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        (**self).flush()
    }

    fn describe(&self) -> String {
        (**self).describe()
    }
}

/// Discards every record (the default sink: records still count as processed).
#[derive(Debug, Default, Clone, Copy)]
pub struct NullSink;

impl Sink for NullSink {
    fn send(&mut self, _record: Record) -> Result<(), SinkError> {
        Ok(())
    }

    fn describe(&self) -> String {
        "null".to_owned()
    }
}

/// Sends every record into a crossbeam channel, for another thread to read.
///
/// The receiving end is a [`crossbeam_channel::Receiver`]; the crate is re-exported as
/// [`timbr_core::crossbeam_channel`](crate::crossbeam_channel), so naming its types (to
/// keep the receiver in a struct, wait with a timeout, or `select!` over several machines)
/// needs no dependency of your own.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use timbr_core::crossbeam_channel::{Receiver, RecvTimeoutError};
/// use timbr_core::{ChannelSink, Machine, Record};
///
/// let (sink, records): (ChannelSink, Receiver<Record>) = ChannelSink::unbounded();
/// let machine = Machine::<u32>::builder().sink(sink).build()?;
/// machine.put(7);
/// machine.start()?;
/// let record = records.recv()?;
/// assert_eq!(record.json(), "[7,7,7,7,7,7,7,7,7]"); // eight empty slots pass `in` through
/// machine.stop_drain();
/// // Nothing more was put: a wait with a timeout says so.
/// let none = records.recv_timeout(Duration::from_millis(10));
/// assert_eq!(none.unwrap_err(), RecvTimeoutError::Timeout);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ChannelSink {
    tx: Sender<Record>,
}

impl ChannelSink {
    /// A sink into an unbounded channel, and the channel's receiving end.
    pub fn unbounded() -> (ChannelSink, Receiver<Record>) {
        let (tx, rx) = crossbeam_channel::unbounded();
        (ChannelSink { tx }, rx)
    }

    /// A sink into a channel of `capacity` records, and its receiving end. When the channel
    /// is full the machine waits for the reader (backpressure).
    pub fn bounded(capacity: usize) -> (ChannelSink, Receiver<Record>) {
        let (tx, rx) = crossbeam_channel::bounded(capacity);
        (ChannelSink { tx }, rx)
    }
}

impl Sink for ChannelSink {
    fn send(&mut self, record: Record) -> Result<(), SinkError> {
        self.tx
            .send(record)
            .map_err(|_| SinkError::msg("the record channel's receiver is gone"))
    }

    fn describe(&self) -> String {
        "channel".to_owned()
    }
}

/// Calls a function with every record.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use timbr_core::{FnSink, Machine};
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = Arc::clone(&seen);
/// let machine = Machine::<&'static str>::builder()
///     .sink(FnSink::new(move |r| log.lock().unwrap().push(r.json().to_owned())))
///     .build()?;
/// machine.put("hi");
/// machine.start()?;
/// machine.stop_drain();
/// assert_eq!(seen.lock().unwrap().len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct FnSink<F>(F);

impl<F: FnMut(Record) + Send + 'static> FnSink<F> {
    /// A sink calling `f` with every record.
    pub fn new(f: F) -> Self {
        FnSink(f)
    }
}

impl<F: FnMut(Record) + Send + 'static> Sink for FnSink<F> {
    fn send(&mut self, record: Record) -> Result<(), SinkError> {
        (self.0)(record);
        Ok(())
    }

    fn describe(&self) -> String {
        "callback".to_owned()
    }
}
