//! Following machines in other processes: a thread subscribed to each one's status
//! endpoint (`timbr_core::Remote`), keeping a [`Fleet`] up to date.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use thiserror::Error;
use timbr_core::{zmq, Status, STATUS_TOPIC};

use crate::feed::Fleet;

/// How long the thread waits for a message before looking whether it should stop, in ms.
const POLL_MS: i64 = 100;

/// The most endpoints one [`FleetWatch`] follows.
pub const MAX_ENDPOINTS: usize = 4096;

/// Sockets per ZeroMQ context: libzmq caps a context at 1023 (`ZMQ_MAX_SOCKETS_DFLT`), and
/// the `zmq` crate has no safe way to raise it, so a watch of more endpoints uses several
/// contexts (one I/O thread each).
const SOCKETS_PER_CONTEXT: usize = 1000;

/// Open files a watch needs per endpoint: the SUB socket's mailbox and its connection.
const FILES_PER_ENDPOINT: u64 = 2;
/// Open files kept for the rest of the process: the contexts' own, the HTTP server's
/// connections, the standard streams.
const FILES_RESERVED: u64 = 256;

/// Why a fleet could not be watched.
#[derive(Debug, Error)]
pub enum WatchError {
    /// No endpoint was given.
    #[error("no status endpoint to watch")]
    NoEndpoints,
    /// More endpoints than [`MAX_ENDPOINTS`].
    #[error("{given} status endpoints to watch; one watch follows at most {max}: split the fleet over several watchers")]
    TooManyEndpoints {
        /// How many were given.
        given: usize,
        /// [`MAX_ENDPOINTS`].
        max: usize,
    },
    /// The process may not open enough files for a socket per endpoint, even with its soft
    /// open-files limit raised to the hard one.
    #[error("watching {endpoints} endpoints needs about {needed} open files, and this process may open {limit}: raise the limit (`ulimit -n {needed}`) or watch fewer endpoints")]
    FileLimit {
        /// How many endpoints were given.
        endpoints: usize,
        /// About how many open files they need.
        needed: u64,
        /// The process's open-files limit.
        limit: u64,
    },
    /// An endpoint could not be subscribed to.
    #[error("cannot subscribe to {endpoint}")]
    Subscribe {
        /// The endpoint.
        endpoint: String,
        /// Why.
        #[source]
        source: zmq::Error,
    },
    /// The watching thread could not start.
    #[error("cannot start the watching thread")]
    Spawn(#[source] std::io::Error),
}

/// Subscribes to the status endpoints of several machines and keeps a [`Fleet`] of their
/// latest statuses (each member named by its endpoint). Dropping it stops the thread.
///
/// # Examples
///
/// ```no_run
/// use timbr_http::{FleetWatch, HttpOptions, HttpServer};
///
/// let watch = FleetWatch::new(["ipc:///tmp/a.status", "tcp://127.0.0.1:5601"])?;
/// let server = HttpServer::start(watch.fleet(), HttpOptions::new())?;
/// println!("fleet dashboard on {}", server.url());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct FleetWatch {
    fleet: Arc<Fleet>,
    stop: Arc<AtomicBool>,
    ignored: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl FleetWatch {
    /// Subscribes to each endpoint (`ipc://…`, `tcp://…`) with a fleet of default settings.
    ///
    /// Up to [`MAX_ENDPOINTS`] endpoints, past ZeroMQ's 1023 sockets per context. Each takes
    /// about two open files: the process's soft open-files limit is raised to its hard limit
    /// first ([`timbr_core::io::raise_nofile`]), and if that is still too few, the watch is
    /// refused at once with [`WatchError::FileLimit`] rather than failing socket by socket.
    ///
    /// # Errors
    ///
    /// [`WatchError`] if there is no endpoint or too many, the process may not open enough
    /// files, one cannot be subscribed to, or the thread cannot start.
    pub fn new<S: Into<String>>(
        endpoints: impl IntoIterator<Item = S>,
    ) -> Result<FleetWatch, WatchError> {
        let endpoints: Vec<String> = endpoints.into_iter().map(Into::into).collect();
        FleetWatch::with_fleet(Fleet::new(endpoints.clone()), endpoints)
    }

    /// As [`new`](FleetWatch::new), updating `fleet` (e.g. with its own
    /// [`stale_after`](Fleet::stale_after)).
    ///
    /// # Errors
    ///
    /// As [`new`](FleetWatch::new).
    pub fn with_fleet(fleet: Fleet, endpoints: Vec<String>) -> Result<FleetWatch, WatchError> {
        if endpoints.is_empty() {
            return Err(WatchError::NoEndpoints);
        }
        if endpoints.len() > MAX_ENDPOINTS {
            return Err(WatchError::TooManyEndpoints {
                given: endpoints.len(),
                max: MAX_ENDPOINTS,
            });
        }
        let needed = FILES_PER_ENDPOINT * endpoints.len() as u64 + FILES_RESERVED;
        let limit = open_files_limit();
        if needed > limit {
            return Err(WatchError::FileLimit {
                endpoints: endpoints.len(),
                needed,
                limit,
            });
        }
        let contexts: Vec<zmq::Context> = (0..endpoints.len().div_ceil(SOCKETS_PER_CONTEXT))
            .map(|_| zmq::Context::new())
            .collect();
        let mut subs = Vec::with_capacity(endpoints.len());
        for (i, endpoint) in endpoints.into_iter().enumerate() {
            let sub = contexts[i / SOCKETS_PER_CONTEXT]
                .socket(zmq::SUB)
                .and_then(|s| {
                    s.set_linger(0)?;
                    s.set_subscribe(STATUS_TOPIC.as_bytes())?;
                    s.connect(&endpoint)?;
                    Ok(s)
                })
                .map_err(|source| WatchError::Subscribe {
                    endpoint: endpoint.clone(),
                    source,
                })?;
            subs.push((endpoint, sub));
        }
        let fleet = Arc::new(fleet);
        let stop = Arc::new(AtomicBool::new(false));
        let ignored = Arc::new(AtomicU64::new(0));
        let (f, s, i) = (Arc::clone(&fleet), Arc::clone(&stop), Arc::clone(&ignored));
        let thread = std::thread::Builder::new()
            .name("timbr-http-watch".to_owned())
            .spawn(move || follow(&contexts, &subs, &f, &s, &i))
            .map_err(WatchError::Spawn)?;
        Ok(FleetWatch {
            fleet,
            stop,
            ignored,
            thread: Some(thread),
        })
    }

    /// The fleet it keeps up to date (serve it with [`HttpServer::start`](crate::HttpServer::start)).
    pub fn fleet(&self) -> Arc<Fleet> {
        Arc::clone(&self.fleet)
    }

    /// Messages ignored because they were not a status (wrong frames, JSON that does not parse).
    pub fn ignored(&self) -> u64 {
        self.ignored.load(Ordering::Relaxed)
    }
}

impl Drop for FleetWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The process's open-files limit, raised to the hard one first.
#[cfg(unix)]
fn open_files_limit() -> u64 {
    timbr_core::io::raise_nofile()
}

/// No such limit to ask for here: ZeroMQ's own errors say it.
#[cfg(not(unix))]
fn open_files_limit() -> u64 {
    u64::MAX
}

fn follow(
    _contexts: &[zmq::Context],
    subs: &[(String, zmq::Socket)],
    fleet: &Fleet,
    stop: &AtomicBool,
    ignored: &AtomicU64,
) {
    while !stop.load(Ordering::Acquire) {
        let mut items: Vec<zmq::PollItem<'_>> = subs
            .iter()
            .map(|(_, s)| s.as_poll_item(zmq::POLLIN))
            .collect();
        if zmq::poll(&mut items, POLL_MS).is_err() {
            continue;
        }
        let ready: Vec<bool> = items.iter().map(zmq::PollItem::is_readable).collect();
        for ((endpoint, sub), readable) in subs.iter().zip(ready) {
            if !readable {
                continue;
            }
            // Everything queued now, keeping only the newest status.
            let mut newest: Option<Status> = None;
            while let Ok(frames) = sub.recv_multipart(zmq::DONTWAIT) {
                match &frames[..] {
                    [topic, body] if topic.as_slice() == STATUS_TOPIC.as_bytes() => {
                        match serde_json::from_slice::<Status>(body) {
                            Ok(status) => newest = Some(status),
                            Err(_) => {
                                ignored.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    _ => {
                        ignored.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            if let Some(status) = newest {
                fleet.update(endpoint, status);
            }
        }
    }
}
