//! What `timbr-watch`, `timbr-sub` and `timbr-fleet` share: reaching an endpoint with a clear answer when
//! nothing (or the wrong kind of socket) is there ([`connect`]), reading a status snapshot
//! whatever the shape of its `state` field ([`state_name`]), the command line's common parts
//! ([`parse`], [`print_completions`], [`seconds`]), and how a program ends: its typed exit
//! status ([`Exit`]), an error printed with its causes ([`finish`]); and where the libraries'
//! `tracing` events go ([`init_logs`]: stderr, by `RUST_LOG`); signals as a request to stop
//! ([`stop_signals`]); a fleet worker's status line ([`worker_line`]). The examples use these too.
//!
//! The command-line parser (clap) lives in this package, so that `timbr-core` keeps it out
//! of its dependency tree.

mod args;
mod connect;
mod exit;
mod logs;
mod signals;
mod worker;

pub use args::{bounded, parse, print_completions, seconds, BoundsError, DEFAULT_FLEET_EVERY};
pub use connect::{check_endpoint, connect, ConnectError, EndpointError};
pub use exit::{finish, Exit};
pub use logs::{init_logs, init_logs_or, DEFAULT_LOGS};
pub use signals::stop_signals;
pub use worker::worker_line;

/// An error and its causes, `: `-separated (`could not bind …: Address already in use`).
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    timbr_core::error_chain(e)
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
    fn the_state_is_read_in_either_shape() {
        let flat = serde_json::json!({"state": "completed"});
        let nested = serde_json::json!({"state": {"state": "failed", "reason": "x"}});
        assert_eq!(state_name(&flat), Some("completed"));
        assert_eq!(state_name(&nested), Some("failed"));
        assert!(is_final("completed") && !is_final("running") && !is_final("idle"));
    }
}
