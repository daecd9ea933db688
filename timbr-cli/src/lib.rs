//! What `timbr-watch` and `timbr-sub` share: reaching an endpoint with a clear answer when
//! nothing (or the wrong kind of socket) is there, reading a status snapshot whatever the
//! shape of its `state` field, and printing an error with its causes.
//!
//! The command-line parser (clap) lives in this package, so that `timbr-core` keeps it out
//! of its dependency tree.

use std::path::Path;
use std::time::{Duration, Instant};

use timbr_core::zmq;

/// Exit status: success.
pub const EXIT_OK: u8 = 0;
/// Exit status: the run failed (no peer, no reply, a check failed, loss seen).
pub const EXIT_FAILED: u8 = 1;
/// Exit status: a usage error (clap's own).
pub const EXIT_USAGE: u8 = 2;
/// Exit status: the watched machine ended `failed`.
pub const EXIT_MACHINE_FAILED: u8 = 3;

/// An error and its causes, `: `-separated (`could not bind …: Address already in use`).
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    timbr_core::error_chain(e)
}

/// Checks an endpoint before connecting: `tcp://host:port` with a port from 1 to 65535, or
/// `ipc://path` whose file exists and is a socket (a missing file is reported now rather than
/// waited for).
///
/// # Errors
///
/// A message naming what is wrong.
pub fn check_endpoint(endpoint: &str) -> Result<(), String> {
    if let Some(path) = endpoint.strip_prefix("ipc://") {
        if path.starts_with('@') {
            return Ok(());
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt;
            return match std::fs::metadata(Path::new(path)) {
                Ok(m) if m.file_type().is_socket() => Ok(()),
                Ok(_) => Err(format!("`{path}` is not a socket")),
                Err(e) => Err(format!("cannot reach `{path}`: {e}")),
            };
        }
        #[cfg(not(unix))]
        return Ok(());
    }
    if let Some(address) = endpoint.strip_prefix("tcp://") {
        let Some((_, port)) = address.rsplit_once(':') else {
            return Err(format!("`{endpoint}` has no port"));
        };
        return match port.parse::<u16>() {
            Ok(p) if p > 0 => Ok(()),
            _ => Err(format!(
                "`{endpoint}`: the port must be a number from 1 to 65535"
            )),
        };
    }
    Err(format!(
        "`{endpoint}` is not a `tcp://host:port` or `ipc://path` endpoint"
    ))
}

/// Connects `socket` to `endpoint` and waits until the ZeroMQ handshake with the peer
/// succeeded, at most `timeout`.
///
/// # Errors
///
/// A message when the peer is absent (nothing accepted within `timeout`), of the wrong kind
/// (the handshake failed: say, a SUB socket against a control endpoint), or when ZeroMQ
/// refuses.
pub fn connect(
    context: &zmq::Context,
    socket: &zmq::Socket,
    endpoint: &str,
    timeout: Duration,
) -> Result<(), String> {
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
    let zmq_error = |e: zmq::Error| format!("cannot connect to {endpoint}: {e}");
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
                break Err(format!(
                    "nothing answered at {endpoint} within {timeout:.0?}"
                ))
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
        break Err(format!(
            "the peer at {endpoint} is not the kind of socket expected \
             (the ZeroMQ handshake failed): is this the right endpoint?"
        ));
    };
    // Monitoring ends here; the events no longer matter.
    let _ = socket.monitor("", 0);
    outcome
}

/// The name of the state in a status snapshot's JSON, whether `"state"` is a plain string
/// or an object with a `"state"` field.
pub fn state_name(status: &serde_json::Value) -> Option<&str> {
    let state = status.get("state")?;
    state
        .as_str()
        .or_else(|| state.get("state").and_then(serde_json::Value::as_str))
}

/// Whether a state name is one a machine rests in once it has run: stopped, completed or
/// failed.
pub fn is_final(state: &str) -> bool {
    matches!(state, "stopped" | "completed" | "failed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_checked_before_connecting() {
        assert!(check_endpoint("tcp://127.0.0.1:5555").is_ok());
        assert!(check_endpoint("tcp://127.0.0.1:99999")
            .unwrap_err()
            .contains("1 to 65535"));
        assert!(check_endpoint("tcp://127.0.0.1:0").is_err());
        assert!(check_endpoint("ipc:///nonexistent/dir/x.pub")
            .unwrap_err()
            .contains("No such file or directory"));
        assert!(check_endpoint("udp://x:1").is_err());
    }

    #[test]
    fn the_state_is_read_in_either_shape() {
        let flat = serde_json::json!({"state": "completed"});
        let nested = serde_json::json!({"state": {"state": "failed", "reason": "x"}});
        assert_eq!(state_name(&flat), Some("completed"));
        assert_eq!(state_name(&nested), Some("failed"));
        assert!(is_final("completed") && !is_final("running") && !is_final("idle"));
    }
}
