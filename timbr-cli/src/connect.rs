//! Reaching a machine's ZeroMQ endpoint with a clear answer when nothing, or the wrong kind
//! of socket, is there.

use std::path::Path;
use std::time::{Duration, Instant};

use timbr_core::zmq;

/// Why an endpoint cannot be used, found before connecting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// `ipc://PATH` names a file that is not a socket.
    #[error("`{0}` is not a socket")]
    NotASocket(String),
    /// `ipc://PATH` names nothing that can be read.
    #[error("cannot reach `{path}`")]
    Unreachable {
        /// The socket's path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `tcp://HOST` without a port.
    #[error("`{0}` has no port")]
    NoPort(String),
    /// `tcp://HOST:PORT` with a port that is not 1 to 65535.
    #[error("`{0}`: the port must be a number from 1 to 65535")]
    BadPort(String),
    /// Neither `tcp://` nor `ipc://`.
    #[error("`{0}` is not a `tcp://host:port` or `ipc://path` endpoint")]
    Scheme(String),
}

/// Why [`connect`] did not reach its peer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The endpoint itself is wrong.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// ZeroMQ refused.
    #[error("cannot connect to {endpoint}")]
    Zmq {
        /// The endpoint.
        endpoint: String,
        /// ZeroMQ's error.
        #[source]
        source: zmq::Error,
    },
    /// Nothing accepted within the timeout.
    #[error("nothing answered at {endpoint} within {timeout:.0?}")]
    Silent {
        /// The endpoint.
        endpoint: String,
        /// How long it waited.
        timeout: Duration,
    },
    /// The ZeroMQ handshake failed: a socket of another kind is there.
    #[error(
        "the peer at {0} is not the kind of socket expected (the ZeroMQ handshake failed): \
         is this the right endpoint?"
    )]
    WrongPeer(String),
}

/// Checks an endpoint before connecting: `tcp://host:port` with a port from 1 to 65535, or
/// `ipc://path` whose file exists and is a socket (a missing file is reported now rather than
/// waited for).
///
/// # Errors
///
/// [`EndpointError`], naming what is wrong.
pub fn check_endpoint(endpoint: &str) -> Result<(), EndpointError> {
    if let Some(path) = endpoint.strip_prefix("ipc://") {
        if path.starts_with('@') {
            return Ok(());
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt;
            return match std::fs::metadata(Path::new(path)) {
                Ok(m) if m.file_type().is_socket() => Ok(()),
                Ok(_) => Err(EndpointError::NotASocket(path.to_owned())),
                Err(source) => Err(EndpointError::Unreachable {
                    path: path.to_owned(),
                    source,
                }),
            };
        }
        #[cfg(not(unix))]
        return Ok(());
    }
    if let Some(address) = endpoint.strip_prefix("tcp://") {
        let Some((_, port)) = address.rsplit_once(':') else {
            return Err(EndpointError::NoPort(endpoint.to_owned()));
        };
        return match port.parse::<u16>() {
            Ok(p) if p > 0 => Ok(()),
            _ => Err(EndpointError::BadPort(endpoint.to_owned())),
        };
    }
    Err(EndpointError::Scheme(endpoint.to_owned()))
}

/// Connects `socket` to `endpoint` and waits until the ZeroMQ handshake with the peer
/// succeeded, at most `timeout`.
///
/// # Errors
///
/// [`ConnectError`]: the endpoint is wrong, the peer is absent (nothing accepted within
/// `timeout`), of the wrong kind (the handshake failed: say, a SUB socket against a
/// control endpoint), or ZeroMQ refuses.
pub fn connect(
    context: &zmq::Context,
    socket: &zmq::Socket,
    endpoint: &str,
    timeout: Duration,
) -> Result<(), ConnectError> {
    check_endpoint(endpoint)?;
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let address = format!("inproc://timbr-cli-monitor-{n}");
    let events = zmq::SocketEvent::HANDSHAKE_SUCCEEDED.to_raw()
        | zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL.to_raw()
        | zmq::SocketEvent::HANDSHAKE_FAILED_NO_DETAIL.to_raw()
        | zmq::SocketEvent::HANDSHAKE_FAILED_AUTH.to_raw()
        // A peer of the wrong kind may just hang up during the handshake.
        | zmq::SocketEvent::DISCONNECTED.to_raw();
    let zmq_error = |source| ConnectError::Zmq {
        endpoint: endpoint.to_owned(),
        source,
    };
    socket
        .monitor(&address, i32::from(events))
        .map_err(zmq_error)?;
    let monitor = context.socket(zmq::PAIR).map_err(zmq_error)?;
    monitor
        .set_linger(0)
        .and_then(|()| monitor.connect(&address))
        .and_then(|()| socket.connect(endpoint))
        .map_err(zmq_error)?;
    let deadline = Instant::now() + timeout;
    let outcome = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = i64::try_from(left.as_millis()).unwrap_or(i64::MAX);
        match monitor.poll(zmq::POLLIN, ms) {
            Ok(0) => {
                break Err(ConnectError::Silent {
                    endpoint: endpoint.to_owned(),
                    timeout,
                })
            }
            Ok(_) => {}
            Err(zmq::Error::EINTR) => continue,
            Err(e) => break Err(zmq_error(e)),
        }
        let Ok(frames) = monitor.recv_multipart(0) else {
            continue;
        };
        let Some(event) = frames
            .first()
            .and_then(|f| f.get(..2))
            .map(|b| u16::from_ne_bytes([b[0], b[1]]))
        else {
            continue;
        };
        if event == zmq::SocketEvent::HANDSHAKE_SUCCEEDED.to_raw() {
            break Ok(());
        }
        break Err(ConnectError::WrongPeer(endpoint.to_owned()));
    };
    // Monitoring ends here; the events no longer matter.
    let _ = socket.monitor("", 0);
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_checked_before_connecting() {
        let said = |e: &str| crate::chain(&check_endpoint(e).unwrap_err());
        assert!(check_endpoint("tcp://127.0.0.1:5555").is_ok());
        assert!(said("tcp://127.0.0.1:99999").contains("1 to 65535"));
        assert!(said("tcp://127.0.0.1:0").contains("1 to 65535"));
        assert!(said("tcp://127.0.0.1").contains("has no port"));
        assert!(
            said("ipc:///nonexistent/dir/x.pub")
                .starts_with("cannot reach `/nonexistent/dir/x.pub`: No such file or directory"),
            "{}",
            said("ipc:///nonexistent/dir/x.pub")
        );
        assert!(said("udp://x:1").contains("is not a `tcp://host:port`"));
    }
}
