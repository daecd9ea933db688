//! The sinks that publish records out of the process: a ZeroMQ socket any subscriber can read
//! (pyzmq included), and JSON lines to a file or stdout.

#[cfg(feature = "zmq")]
pub(crate) mod bind;
#[cfg(feature = "zmq")]
mod endpoint;
mod json_lines;
#[cfg(all(feature = "zmq", unix))]
mod socket_dir;
#[cfg(feature = "zmq")]
mod zmq_sink;

pub use self::json_lines::JsonLinesSink;
#[cfg(feature = "zmq")]
pub use self::{
    endpoint::BindError,
    zmq_sink::{ZmqSink, ZmqSinkOptions, ZmqStats},
};
