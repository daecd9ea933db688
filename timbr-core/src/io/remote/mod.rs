//! Observing and controlling a machine from another process: periodic status snapshots on a
//! ZeroMQ PUB socket, and a REP socket answering control requests (see the `timbr-watch`
//! program).

mod protocol;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use self::protocol::Command;
use crate::io::zmq::bind::{self, Bound};
use crate::{BindError, Datum, Machine};

/// The topic (first frame) of the status snapshots on the status endpoint.
pub const STATUS_TOPIC: &str = "status";

/// How often a [`Remote`] publishes the status unless told otherwise.
pub const DEFAULT_STATUS_INTERVAL: Duration = Duration::from_secs(1);

/// How long a control request may be unless told otherwise, in bytes.
pub const DEFAULT_MAX_REQUEST: usize = 4096;

/// Where and how a [`Remote`] listens.
#[derive(Clone, Debug)]
pub struct RemoteOptions {
    status: Option<String>,
    control: Option<String>,
    interval: Duration,
    allow_remote: bool,
    max_request: usize,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        RemoteOptions {
            status: None,
            control: None,
            interval: DEFAULT_STATUS_INTERVAL,
            allow_remote: false,
            max_request: DEFAULT_MAX_REQUEST,
        }
    }
}

impl RemoteOptions {
    /// Private `ipc://` endpoints (in a directory only this user can enter), a snapshot
    /// every second, local peers only.
    pub fn new() -> Self {
        RemoteOptions::default()
    }

    /// Publish status snapshots on `endpoint` (`ipc://…` or `tcp://127.0.0.1:*`).
    pub fn status_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.status = Some(endpoint.into());
        self
    }

    /// Answer control requests on `endpoint`.
    pub fn control_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.control = Some(endpoint.into());
        self
    }

    /// How often to publish a snapshot (default [`DEFAULT_STATUS_INTERVAL`]).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(1));
        self
    }

    /// Allow `tcp://` endpoints other hosts can reach (default: refused).
    pub fn allow_remote(mut self, allow: bool) -> Self {
        self.allow_remote = allow;
        self
    }

    /// The longest control request answered (default [`DEFAULT_MAX_REQUEST`] bytes); longer
    /// ones get an error reply. Far longer ones (over 1 MiB) are not even read: ZeroMQ drops
    /// the connection that sent them.
    pub fn max_request(mut self, bytes: usize) -> Self {
        self.max_request = bytes;
        self
    }
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    bad_requests: AtomicU64,
    published: AtomicU64,
}

/// A machine served to other processes: status snapshots (JSON, topic
/// [`STATUS_TOPIC`]) on one endpoint, control requests on another. Dropping it stops serving
/// (the machine itself goes on).
///
/// Control requests are one frame each: `status`, `ping`, `start`, `stop` (drain the queue),
/// `stop return` (leave it queued), or the same as JSON (`{"cmd": "stop", "mode": "return"}`).
/// The reply is one JSON frame: `{"ok": true, "state": …}` (with `"status"` for `status`), or
/// `{"ok": false, "error": …}` for anything malformed or unknown, which changes nothing.
///
/// ```
/// use std::sync::Arc;
/// use timbr_core::{zmq, Machine, Remote, RemoteOptions};
///
/// let machine = Arc::new(Machine::<u64>::new());
/// let remote = Remote::serve(&machine, RemoteOptions::new())?;
/// println!("watch with: timbr-watch {}", remote.status_endpoint());
///
/// let ctx = zmq::Context::new();
/// let req = ctx.socket(zmq::REQ)?;
/// req.connect(remote.control_endpoint())?;
/// req.send("status", 0)?;
/// let reply: serde_json::Value = serde_json::from_slice(&req.recv_bytes(0)?)?;
/// assert_eq!(reply["ok"], true);
/// assert_eq!(reply["status"]["state"], "idle");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Remote {
    status_endpoint: String,
    control_endpoint: String,
    counters: Arc<Counters>,
    quit: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Remote {
    /// Binds both endpoints and starts serving `machine` on a thread of its own.
    ///
    /// # Errors
    ///
    /// [`BindError`] if an endpoint is malformed, reachable from other hosts without
    /// [`allow_remote`](RemoteOptions::allow_remote), in use, or refused by ZeroMQ.
    pub fn serve<T>(machine: &Arc<Machine<T>>, options: RemoteOptions) -> Result<Remote, BindError>
    where
        T: Datum,
    {
        let status = match &options.status {
            Some(e) => e.clone(),
            None => bind::default_endpoint("status")?,
        };
        let status = bind::bind(zmq::PUB, &status, options.allow_remote, |s| {
            // Snapshots are replaced by the next one: a slow watcher loses old ones only.
            s.set_sndhwm(16)?;
            s.set_linger(0)
        })?;
        let control = match &options.control {
            Some(e) => e.clone(),
            None => bind::default_endpoint("control")?,
        };
        let control = bind::bind(zmq::REP, &control, options.allow_remote, |s| {
            s.set_maxmsgsize(1 << 20)?;
            s.set_linger(0)
        })?;
        let counters = Arc::new(Counters::default());
        let quit = Arc::new(AtomicBool::new(false));
        let server = Server {
            machine: Arc::clone(machine),
            status,
            control,
            counters: Arc::clone(&counters),
            quit: Arc::clone(&quit),
            interval: options.interval,
            max_request: options.max_request,
        };
        let (status_endpoint, control_endpoint) = (
            server.status.endpoint.clone(),
            server.control.endpoint.clone(),
        );
        let thread = std::thread::Builder::new()
            .name("timbr-remote".to_owned())
            .spawn(move || server.run())
            .map_err(|e| BindError::Io {
                path: "timbr-remote thread".into(),
                source: e,
            })?;
        Ok(Remote {
            status_endpoint,
            control_endpoint,
            counters,
            quit,
            thread: Some(thread),
        })
    }

    /// Where status snapshots are published (subscribe to [`STATUS_TOPIC`]).
    pub fn status_endpoint(&self) -> &str {
        &self.status_endpoint
    }

    /// Where control requests are answered (a ZeroMQ REQ socket talks to it).
    pub fn control_endpoint(&self) -> &str {
        &self.control_endpoint
    }

    /// Control requests answered, bad ones included.
    pub fn requests(&self) -> u64 {
        self.counters.requests.load(Ordering::Acquire)
    }

    /// Control requests refused as malformed or unknown.
    pub fn bad_requests(&self) -> u64 {
        self.counters.bad_requests.load(Ordering::Acquire)
    }

    /// Status snapshots published.
    pub fn published(&self) -> u64 {
        self.counters.published.load(Ordering::Acquire)
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        self.quit.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("status_endpoint", &self.status_endpoint)
            .field("control_endpoint", &self.control_endpoint)
            .field("requests", &self.requests())
            .field("bad_requests", &self.bad_requests())
            .finish()
    }
}

/// How long the serving thread waits at most before looking at `quit` again.
const QUIT_CHECK: Duration = Duration::from_millis(50);

struct Server<T: Datum> {
    machine: Arc<Machine<T>>,
    status: Bound,
    control: Bound,
    counters: Arc<Counters>,
    quit: Arc<AtomicBool>,
    interval: Duration,
    max_request: usize,
}

impl<T: Datum> Server<T> {
    fn run(self) {
        let mut next = Instant::now();
        while !self.quit.load(Ordering::Acquire) {
            let now = Instant::now();
            if now >= next {
                self.publish();
                next = now + self.interval;
            }
            let wait = next.saturating_duration_since(now).min(QUIT_CHECK);
            let ms = i64::try_from(wait.as_millis().max(1)).unwrap_or(i64::MAX);
            match self.control.socket.poll(zmq::POLLIN, ms) {
                Ok(n) if n > 0 => self.answer(),
                // Interrupted or not ready: look again. Any other failure of a bound socket
                // cannot be fixed here; keep publishing.
                _ => {}
            }
        }
    }

    fn publish(&self) {
        let Ok(json) = serde_json::to_vec(&self.machine.status()) else {
            return;
        };
        // Counted first: a subscriber that got the snapshot sees it counted.
        self.counters.published.fetch_add(1, Ordering::AcqRel);
        let sent = self
            .status
            .socket
            .send(STATUS_TOPIC, zmq::SNDMORE | zmq::DONTWAIT)
            .and_then(|()| self.status.socket.send(json, zmq::DONTWAIT));
        if sent.is_err() {
            self.counters.published.fetch_sub(1, Ordering::AcqRel);
        }
    }

    fn answer(&self) {
        let frames = match self.control.socket.recv_multipart(zmq::DONTWAIT) {
            Ok(frames) => frames,
            Err(_) => return,
        };
        self.counters.requests.fetch_add(1, Ordering::AcqRel);
        let reply = match protocol::parse(&frames, self.max_request) {
            Ok(command) => self.carry_out(command),
            Err(message) => {
                self.counters.bad_requests.fetch_add(1, Ordering::AcqRel);
                protocol::error(&message)
            }
        };
        // A REP socket must answer before it can read again; if the peer is gone, ZeroMQ
        // drops the reply.
        let _ = self.control.socket.send(reply.to_string().as_bytes(), 0);
    }

    fn carry_out(&self, command: Command) -> Value {
        let machine = &self.machine;
        match command {
            Command::Status => {
                let status = machine.status();
                json!({
                    "ok": true,
                    "state": status.state.name(),
                    "status": status,
                    "remote": self.counts(),
                })
            }
            Command::Ping => json!({ "ok": true, "state": machine.state().name() }),
            Command::Start => match machine.start() {
                Ok(()) => json!({ "ok": true, "state": machine.state().name() }),
                Err(e) => protocol::error(&e.to_string()),
            },
            Command::Stop(mode) => {
                machine.request_stop(mode);
                json!({ "ok": true, "state": machine.state().name() })
            }
        }
    }

    fn counts(&self) -> Value {
        json!({
            "requests": self.counters.requests.load(Ordering::Acquire),
            "bad_requests": self.counters.bad_requests.load(Ordering::Acquire),
            "published": self.counters.published.load(Ordering::Acquire),
        })
    }
}
