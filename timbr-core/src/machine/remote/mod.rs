//! Observing and controlling a machine from another process: periodic status snapshots on a
//! ZeroMQ PUB socket (and one at every change of state, and a last one when serving ends),
//! and a ROUTER socket answering control requests, each reply addressed to the peer that
//! asked (see the `timbr-watch` program).

mod protocol;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use self::protocol::Command;
use crate::io::zmq::bind::{self, Bound};
use crate::io::BindError;
use crate::{Datum, Machine};

/// The topic (first frame) of the status snapshots on the status endpoint.
pub const STATUS_TOPIC: &str = "status";

/// How often a [`Remote`] publishes the status unless told otherwise.
pub const DEFAULT_STATUS_INTERVAL: Duration = Duration::from_secs(1);

/// How long a control request may be unless told otherwise, in bytes.
pub const DEFAULT_MAX_REQUEST: usize = 4096;

/// The longest control request read at all, in bytes: longer ones get an error reply up to
/// this size; past it ZeroMQ drops the connection without reading the message into memory.
pub const MAX_REQUEST: usize = 16 << 20;

/// How long the last snapshot (when serving ends) may take to go out.
const LAST_SNAPSHOT_LINGER_MS: i32 = 500;

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

    /// The longest control request answered (default [`DEFAULT_MAX_REQUEST`] bytes, at most
    /// [`MAX_REQUEST`]); longer ones get an error reply. Requests over [`MAX_REQUEST`] are
    /// not even read: ZeroMQ drops the connection that sent them.
    pub fn max_request(mut self, bytes: usize) -> Self {
        self.max_request = bytes.min(MAX_REQUEST);
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
/// Control requests are one frame each, from a REQ (or DEALER) socket: `status`, `ping`,
/// `start`, `stop` (drain the queue, then stop), `stop now` (finish the data in flight and
/// stop; the queued data stay queued for the next start), or the same as JSON
/// (`{"cmd": "stop", "mode": "now"}`). `stop return` is refused: a remote stop hands data
/// back to nobody, unlike [`StopMode::Return`](crate::StopMode::Return).
/// The reply is one JSON frame: `{"ok": true, "state": …}` (with `"status"` for `status`), or
/// `{"ok": false, "error": …}` for anything malformed, unknown or too long, which changes
/// nothing. Every request gets its own reply, whatever other peers send.
///
/// Status snapshots go out every [`interval`](RemoteOptions::interval), at once when the
/// machine's state changes, and one last time when the `Remote` is dropped, so a watcher
/// sees how the machine ended.
///
/// ```
/// use std::sync::Arc;
/// use timbr_core::{zmq, Machine, Remote, RemoteOptions};
///
/// let machine = Arc::new(Machine::<u64>::new());
/// let remote = Remote::serve(&machine, RemoteOptions::new())?;
/// println!("watch with: timbr-watch status {}", remote.status_endpoint());
///
/// let ctx = zmq::Context::new();
/// let req = ctx.socket(zmq::REQ)?;
/// req.connect(remote.control_endpoint())?;
/// req.send("status", 0)?;
/// let reply: serde_json::Value = serde_json::from_slice(&req.recv_bytes(0)?)?;
/// assert_eq!(reply["ok"], true);
/// assert_eq!(reply["state"], "idle");
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
        // ROUTER, not REP: a REP socket that read garbage from one peer could send the next
        // peer's reply to it. ROUTER hands every request with its sender's identity, and the
        // reply goes to that identity, or nowhere if that peer is gone.
        let control = bind::bind(zmq::ROUTER, &control, options.allow_remote, |s| {
            s.set_maxmsgsize(i64::try_from(MAX_REQUEST).unwrap_or(i64::MAX))?;
            s.set_router_mandatory(true)?;
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
        let mut last_state = self.machine.state();
        while !self.quit.load(Ordering::Acquire) {
            let now = Instant::now();
            let state = self.machine.state();
            if now >= next || state != last_state {
                self.publish();
                last_state = state;
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
        // The last word: how the machine is as serving ends (a watcher waits for it).
        let _ = self.status.socket.set_linger(LAST_SNAPSHOT_LINGER_MS);
        self.publish();
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
        // [identity, "" (from REQ peers), body…]; the envelope goes back as it came.
        let Some((identity, rest)) = frames.split_first() else {
            return;
        };
        let (delimited, body) = match rest.split_first() {
            Some((first, body)) if first.is_empty() => (true, body),
            _ => (false, rest),
        };
        self.counters.requests.fetch_add(1, Ordering::AcqRel);
        let reply = match protocol::parse(body, self.max_request) {
            Ok(command) => self.carry_out(command),
            Err(message) => {
                self.counters.bad_requests.fetch_add(1, Ordering::AcqRel);
                protocol::error(&message)
            }
        };
        let reply = reply.to_string();
        let mut envelope: Vec<&[u8]> = vec![identity.as_slice()];
        if delimited {
            envelope.push(b"");
        }
        envelope.push(reply.as_bytes());
        // A peer gone since it asked: the reply goes nowhere (`ROUTER_MANDATORY` says so at
        // once instead of queueing it); never anyone else's.
        let _ = self.control.socket.send_multipart(envelope, zmq::DONTWAIT);
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
