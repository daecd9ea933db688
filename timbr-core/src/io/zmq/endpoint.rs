//! Which endpoints a [`ZmqSink`](crate::ZmqSink) may bind, and why a bind fails.

use std::borrow::Cow;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;

/// Why a [`ZmqSink`](crate::ZmqSink) could not be bound.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BindError {
    /// The endpoint is not `tcp://…` or `ipc://…`.
    #[error("`{0}` is not a `tcp://host:port` or `ipc://path` endpoint")]
    Transport(String),
    /// A `tcp://` endpoint on an address other hosts can reach, without
    /// [`allow_remote`](crate::io::ZmqSinkOptions::allow_remote).
    #[error(
        "`{0}` would accept subscribers from other hosts; bind a loopback address \
         (`tcp://127.0.0.1:*`) or allow it with `ZmqSinkOptions::allow_remote(true)`"
    )]
    Remote(String),
    /// A `tcp://` port that is not `*` or a number from 0 to 65535.
    #[error("`{0}` has no valid port: give `*` (any free port) or a number from 0 to 65535")]
    Port(String),
    /// An abstract `ipc://@name` endpoint (Linux): it has no file permissions, so every
    /// local user can connect; refused without
    /// [`allow_remote`](crate::io::ZmqSinkOptions::allow_remote).
    #[error(
        "`{0}` is an abstract socket, which every local user can connect to; use an \
         `ipc://` path (private to this user in a 0700 directory) or allow it with \
         `allow_remote(true)`"
    )]
    Abstract(String),
    /// A live process is listening on the `ipc://` socket file.
    #[error("the ipc socket `{}` is in use by a live listener", .0.display())]
    InUse(PathBuf),
    /// The `ipc://` path is longer than a unix socket address can hold.
    #[error("the ipc path `{}` is {len} bytes long; a unix socket path holds at most {max}", .path.display())]
    PathTooLong {
        /// The path.
        path: PathBuf,
        /// Its length in bytes.
        len: usize,
        /// The longest path the platform takes.
        max: usize,
    },
    /// The socket directory of [`bind_default`](crate::ZmqSink::bind_default) exists but is
    /// not a directory (a symbolic link is refused too).
    #[error("the socket directory `{}` is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// The socket directory of [`bind_default`](crate::ZmqSink::bind_default) belongs to
    /// another user.
    #[error("the socket directory `{}` belongs to uid {owner}, not to this user (uid {uid})", .path.display())]
    NotOwned {
        /// The directory.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// The current (effective) user.
        uid: u32,
    },
    /// The socket directory or a stale socket file could not be created, inspected, fixed or
    /// removed.
    #[error("could not prepare `{}`", .path.display())]
    Io {
        /// The directory or file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// ZeroMQ refused an operation (creating the socket, an option, the bind itself).
    #[error("zeromq could not {op} `{endpoint}`")]
    Zmq {
        /// What was being done.
        op: &'static str,
        /// The endpoint.
        endpoint: String,
        /// ZeroMQ's error.
        #[source]
        source: io::Error,
    },
}

impl BindError {
    pub(crate) fn zmq(op: &'static str, endpoint: &str, source: zmq::Error) -> Self {
        BindError::Zmq {
            op,
            endpoint: endpoint.to_owned(),
            source: source.into(),
        }
    }

    #[cfg(unix)]
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        BindError::Io {
            path: path.into(),
            source,
        }
    }
}

/// An endpoint that passed the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `tcp://…`; `ipv6` when the host is an IPv6 literal (ZeroMQ needs the option then).
    Tcp { ipv6: bool },
    /// `ipc://…`, with its socket file (`None` for `ipc://@abstract` and `ipc://*`).
    Ipc(Option<PathBuf>),
}

/// Checks `endpoint`: a transport the sink supports, and a loopback host unless
/// `allow_remote`.
pub(crate) fn check(endpoint: &str, allow_remote: bool) -> Result<Endpoint, BindError> {
    let Some((transport, address)) = endpoint.split_once("://") else {
        return Err(BindError::Transport(endpoint.to_owned()));
    };
    match transport {
        "tcp" => {
            let Some((host, port)) = address.rsplit_once(':') else {
                return Err(BindError::Transport(endpoint.to_owned()));
            };
            if port != "*" && port.parse::<u16>().is_err() {
                return Err(BindError::Port(endpoint.to_owned()));
            }
            let host = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host);
            let ip = host.parse::<IpAddr>().ok();
            if !allow_remote && !is_loopback_host(host) {
                return Err(BindError::Remote(endpoint.to_owned()));
            }
            Ok(Endpoint::Tcp {
                ipv6: matches!(ip, Some(IpAddr::V6(_))),
            })
        }
        "ipc" if !address.is_empty() => {
            if address.starts_with('@') && !allow_remote {
                Err(BindError::Abstract(endpoint.to_owned()))
            } else if address.starts_with('@') || address == "*" {
                Ok(Endpoint::Ipc(None))
            } else {
                Ok(Endpoint::Ipc(Some(PathBuf::from(address))))
            }
        }
        _ => Err(BindError::Transport(endpoint.to_owned())),
    }
}

/// The endpoint as ZeroMQ binds it: libzmq takes `localhost` in a bind for an interface
/// name (and fails), so `tcp://localhost:port` becomes `tcp://127.0.0.1:port`.
pub(crate) fn for_bind(endpoint: &str) -> Cow<'_, str> {
    const PREFIX: &str = "tcp://localhost:";
    match endpoint.get(..PREFIX.len()) {
        Some(head) if head.eq_ignore_ascii_case(PREFIX) => {
            Cow::Owned(format!("tcp://127.0.0.1:{}", &endpoint[PREFIX.len()..]))
        }
        _ => Cow::Borrowed(endpoint),
    }
}

/// Whether a ZeroMQ-resolved endpoint (`tcp://127.0.0.1:5555`, `tcp://[::1]:5555`) is on a
/// loopback address.
pub(crate) fn is_loopback_endpoint(resolved: &str) -> bool {
    match resolved.strip_prefix("tcp://") {
        Some(address) => address.rsplit_once(':').is_some_and(|(host, _)| {
            let host = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host);
            host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }),
        None => true,
    }
}

/// A loopback IP literal or `localhost` (checked again on the resolved endpoint after the
/// bind); `*`, `0.0.0.0` and interface names are not.
fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The longest path a unix socket address holds (without its terminating NUL).
#[cfg(unix)]
pub(crate) const MAX_IPC_PATH: usize = if cfg!(any(target_os = "linux", target_os = "android")) {
    107
} else {
    103
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_tcp_is_allowed_and_the_rest_needs_allow_remote() {
        for ok in [
            "tcp://127.0.0.1:*",
            "tcp://127.0.0.1:5555",
            "tcp://127.1.2.3:5555",
            "tcp://localhost:*",
            "tcp://LOCALHOST:1",
            "tcp://[::1]:5555",
        ] {
            assert!(check(ok, false).is_ok(), "{ok}");
        }
        for remote in [
            "tcp://0.0.0.0:5555",
            "tcp://*:5555",
            "tcp://eth0:5555",
            "tcp://192.168.1.2:5555",
            "tcp://[::]:5555",
            "tcp://example.org:5555",
        ] {
            assert!(
                matches!(check(remote, false), Err(BindError::Remote(_))),
                "{remote}"
            );
            assert!(check(remote, true).is_ok(), "{remote}");
        }
    }

    #[test]
    fn ipc_paths_and_other_transports() {
        assert_eq!(
            check("ipc:///tmp/x.pub", false).unwrap(),
            Endpoint::Ipc(Some(PathBuf::from("/tmp/x.pub")))
        );
        assert!(matches!(
            check("ipc://@abstract", false),
            Err(BindError::Abstract(_))
        ));
        assert_eq!(check("ipc://@abstract", true).unwrap(), Endpoint::Ipc(None));
        for port in [
            "tcp://127.0.0.1:99999",
            "tcp://127.0.0.1:-1",
            "tcp://127.0.0.1:x",
        ] {
            assert!(
                matches!(check(port, false), Err(BindError::Port(_))),
                "{port}"
            );
        }
        assert_eq!(
            check("tcp://[::1]:1", false).unwrap(),
            Endpoint::Tcp { ipv6: true }
        );
        for bad in [
            "inproc://x",
            "udp://127.0.0.1:1",
            "127.0.0.1:5555",
            "ipc://",
            "tcp://noport",
        ] {
            assert!(
                matches!(check(bad, true), Err(BindError::Transport(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn localhost_is_bound_as_127_0_0_1() {
        assert_eq!(for_bind("tcp://localhost:*"), "tcp://127.0.0.1:*");
        assert_eq!(for_bind("tcp://LocalHost:5555"), "tcp://127.0.0.1:5555");
        assert_eq!(for_bind("tcp://[::1]:5555"), "tcp://[::1]:5555");
        assert_eq!(for_bind("ipc://localhost:1"), "ipc://localhost:1");
    }

    #[test]
    fn resolved_endpoints() {
        assert!(is_loopback_endpoint("tcp://127.0.0.1:4000"));
        assert!(is_loopback_endpoint("tcp://[::1]:4000"));
        assert!(!is_loopback_endpoint("tcp://0.0.0.0:4000"));
        assert!(is_loopback_endpoint("ipc:///tmp/a"));
    }
}
