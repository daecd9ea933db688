//! Following machines in other processes: a thread subscribed to each one's status
//! endpoint (`timbr_core::Remote`), keeping a [`FleetFeed`] up to date.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;

use thiserror::Error;
use timbr_core::{machine::STATUS_TOPIC, zmq, Status};

use crate::feed::FleetFeed;

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
#[non_exhaustive]
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

/// Subscribes to the status endpoints of several machines and keeps a [`FleetFeed`] of their
/// latest statuses (each member named by its endpoint). Dropping it stops the thread.
///
/// The endpoints may change while it runs ([`follow`](FleetWatch::follow)): a fleet whose
/// membership is kept elsewhere (a registry in Redis, say) is followed as it grows and
/// shrinks. A member that stops publishing keeps its last status (a machine that ended says
/// so in it) for as long as it is followed.
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
    fleet: Arc<FleetFeed>,
    stop: Arc<AtomicBool>,
    ignored: Arc<AtomicU64>,
    followed: Arc<Mutex<Followed>>,
    changes: Sender<Change>,
    thread: Option<JoinHandle<()>>,
}

/// What a watch follows: each endpoint with the index of its socket's context, and how many
/// sockets each context holds (the thread gives a place back once the socket is closed).
#[derive(Default)]
struct Followed {
    endpoints: BTreeMap<String, usize>,
    contexts: Vec<(zmq::Context, usize)>,
}

/// A change to the sockets the thread polls.
enum Change {
    Add(String, zmq::Socket),
    /// The endpoint, and the index of its socket's context.
    Remove(String, usize),
}

/// What one [`FleetWatch::follow`] changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Membership {
    /// Endpoints followed from now on, in order.
    pub joined: Vec<String>,
    /// Endpoints no longer followed (their members left the fleet), in order.
    pub left: Vec<String>,
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
        FleetWatch::with_fleet(FleetFeed::new(endpoints.clone()), endpoints)
    }

    /// As [`new`](FleetWatch::new), updating `fleet` (e.g. with its own
    /// [`stale_after`](FleetFeed::stale_after)).
    ///
    /// # Errors
    ///
    /// As [`new`](FleetWatch::new).
    pub fn with_fleet(fleet: FleetFeed, endpoints: Vec<String>) -> Result<FleetWatch, WatchError> {
        if endpoints.is_empty() {
            return Err(WatchError::NoEndpoints);
        }
        let watch = FleetWatch::start(fleet)?;
        watch.follow(endpoints)?;
        Ok(watch)
    }

    /// A watch that follows no endpoint yet, updating `fleet`: give it endpoints with
    /// [`follow`](FleetWatch::follow), as the fleet's membership becomes known.
    ///
    /// # Errors
    ///
    /// [`WatchError::Spawn`] if the thread cannot start.
    pub fn start(fleet: FleetFeed) -> Result<FleetWatch, WatchError> {
        let fleet = Arc::new(fleet);
        let stop = Arc::new(AtomicBool::new(false));
        let ignored = Arc::new(AtomicU64::new(0));
        let followed = Arc::new(Mutex::new(Followed::default()));
        let (changes, receive) = std::sync::mpsc::channel();
        let thread = {
            let (f, s, i, w) = (
                Arc::clone(&fleet),
                Arc::clone(&stop),
                Arc::clone(&ignored),
                Arc::clone(&followed),
            );
            std::thread::Builder::new()
                .name("timbr-http-watch".to_owned())
                .spawn(move || follow(&receive, &f, &s, &i, &w))
                .map_err(WatchError::Spawn)?
        };
        Ok(FleetWatch {
            fleet,
            stop,
            ignored,
            followed,
            changes,
            thread: Some(thread),
        })
    }

    /// Follows exactly `endpoints` from now on (duplicates count once): subscribes to the
    /// new ones — they join the fleet at once, with no status until one arrives — and
    /// closes the sockets of the others, whose members then leave the fleet (within about
    /// 100 ms, on the watch's thread, so that no late status brings them back).
    ///
    /// # Errors
    ///
    /// [`WatchError::TooManyEndpoints`] past [`MAX_ENDPOINTS`], [`WatchError::FileLimit`]
    /// if the process may not open enough files for them, [`WatchError::Subscribe`] if a new
    /// one cannot be subscribed to. Nothing changes then.
    pub fn follow<S: Into<String>>(
        &self,
        endpoints: impl IntoIterator<Item = S>,
    ) -> Result<Membership, WatchError> {
        let wanted: BTreeSet<String> = endpoints.into_iter().map(Into::into).collect();
        if wanted.len() > MAX_ENDPOINTS {
            return Err(WatchError::TooManyEndpoints {
                given: wanted.len(),
                max: MAX_ENDPOINTS,
            });
        }
        let mut followed = self.followed.lock();
        let joined: Vec<String> = wanted
            .iter()
            .filter(|e| !followed.endpoints.contains_key(*e))
            .cloned()
            .collect();
        let left: Vec<String> = followed
            .endpoints
            .keys()
            .filter(|e| !wanted.contains(*e))
            .cloned()
            .collect();
        if !joined.is_empty() {
            // The sockets being closed still hold their files: count them.
            let needed = FILES_PER_ENDPOINT * (followed.endpoints.len() + joined.len()) as u64
                + FILES_RESERVED;
            let limit = open_files_limit();
            if needed > limit {
                return Err(WatchError::FileLimit {
                    endpoints: wanted.len(),
                    needed,
                    limit,
                });
            }
        }
        // Every new socket first, so that a refusal changes nothing.
        let mut added = Vec::with_capacity(joined.len());
        for endpoint in &joined {
            let at = context_with_room(&mut followed.contexts);
            let sub = followed.contexts[at]
                .0
                .socket(zmq::SUB)
                .and_then(|s| {
                    s.set_linger(0)?;
                    s.set_subscribe(STATUS_TOPIC.as_bytes())?;
                    s.connect(endpoint)?;
                    Ok(s)
                })
                .map_err(|source| WatchError::Subscribe {
                    endpoint: endpoint.clone(),
                    source,
                });
            match sub {
                Ok(sub) => {
                    followed.contexts[at].1 += 1;
                    added.push((endpoint.clone(), at, sub));
                }
                Err(e) => {
                    // Give the places back; the sockets close as they drop.
                    for (_, at, _) in added {
                        followed.contexts[at].1 -= 1;
                    }
                    return Err(e);
                }
            }
        }
        for (endpoint, at, sub) in added {
            self.fleet.join(&endpoint);
            followed.endpoints.insert(endpoint.clone(), at);
            // The thread ends only when this watch is dropped: a send cannot fail before.
            let _ = self.changes.send(Change::Add(endpoint, sub));
        }
        for endpoint in &left {
            if let Some(at) = followed.endpoints.remove(endpoint) {
                let _ = self.changes.send(Change::Remove(endpoint.clone(), at));
            }
        }
        Ok(Membership { joined, left })
    }

    /// The fleet it keeps up to date (serve it with [`HttpServer::start`](crate::HttpServer::start)).
    pub fn fleet(&self) -> Arc<FleetFeed> {
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

/// The index of a context with room for one more socket, made if none has.
fn context_with_room(contexts: &mut Vec<(zmq::Context, usize)>) -> usize {
    match contexts.iter().position(|(_, n)| *n < SOCKETS_PER_CONTEXT) {
        Some(at) => at,
        None => {
            contexts.push((zmq::Context::new(), 0));
            contexts.len() - 1
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
    changes: &Receiver<Change>,
    fleet: &FleetFeed,
    stop: &AtomicBool,
    ignored: &AtomicU64,
    followed: &Mutex<Followed>,
) {
    let mut subs: Vec<(String, zmq::Socket)> = Vec::new();
    while !stop.load(Ordering::Acquire) {
        // Nothing to poll: wait for the first endpoint (or the stop) instead.
        let first = if subs.is_empty() {
            match changes.recv_timeout(Duration::from_millis(POLL_MS as u64)) {
                Ok(change) => Some(change),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        } else {
            None
        };
        for change in first.into_iter().chain(changes.try_iter()) {
            match change {
                Change::Add(endpoint, sub) => {
                    // Again: a removal of its earlier socket may have taken it out.
                    fleet.join(&endpoint);
                    subs.push((endpoint, sub));
                }
                Change::Remove(endpoint, at) => {
                    // Closed before its member leaves: no status of it arrives after.
                    subs.retain(|(e, _)| *e != endpoint);
                    fleet.remove(&endpoint);
                    if let Some((_, n)) = followed.lock().contexts.get_mut(at) {
                        *n = n.saturating_sub(1);
                    }
                }
            }
        }
        if subs.is_empty() {
            continue;
        }
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
