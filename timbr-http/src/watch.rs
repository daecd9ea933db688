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

/// Why a fleet could not be watched.
#[derive(Debug, Error)]
pub enum WatchError {
    /// No endpoint was given.
    #[error("no status endpoint to watch")]
    NoEndpoints,
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
    /// # Errors
    ///
    /// [`WatchError`] if there is no endpoint, one cannot be subscribed to, or the thread
    /// cannot start.
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
        let ctx = zmq::Context::new();
        let mut subs = Vec::with_capacity(endpoints.len());
        for endpoint in endpoints {
            let sub = ctx
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
            .spawn(move || follow(&ctx, &subs, &f, &s, &i))
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

fn follow(
    _ctx: &zmq::Context,
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
