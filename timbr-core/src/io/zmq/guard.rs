//! Keeps libzmq's `ipc://` listener from running the process out of file descriptors.
//!
//! libzmq 4.3's ipc listener asserts (aborts the process) when `accept` fails with `EMFILE`
//! (zeromq/libzmq#1306), so about a thousand idle local connections under the usual
//! `ulimit -n 1024` used to kill a machine. Two defences, both here:
//!
//! - [`raise_nofile`]: the soft open-files limit is raised to the hard one, once per process.
//! - A guard thread per bound socket follows libzmq's monitor events (accepted,
//!   disconnected) and counts live connections, per endpoint and for the whole process. When
//!   an endpoint reaches its cap, or the process its budget (half the open-files limit), the
//!   guard *closes the door*: it renames the endpoint's socket file aside, so new connection
//!   attempts fail with "no such file" before they reach libzmq, while the listener and the
//!   peers already connected carry on. Below three quarters of both it renames the file back.
//!   Renaming is a file-system operation, so the guard never touches the zmq socket (which
//!   belongs to another thread).
//!
//! What a closed door costs is counted ([`ConnectionStats`]). `tcp://` endpoints cannot be
//! closed this way, but libzmq's tcp listener survives `EMFILE`; their connections count
//! towards the budget all the same, so that the ipc doors close in time.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

/// Connections one endpoint accepts at most (before its door closes).
pub const MAX_CONNECTIONS: u64 = 4096;

/// Live connections and how often the door closed, for one bound endpoint.
#[derive(Debug, Default)]
pub(crate) struct ConnectionStats {
    live: AtomicU64,
    peak: AtomicU64,
    closings: AtomicU64,
}

impl ConnectionStats {
    /// Peers connected now.
    pub(crate) fn live(&self) -> u64 {
        self.live.load(Ordering::Acquire)
    }

    /// The most peers connected at once.
    pub(crate) fn peak(&self) -> u64 {
        self.peak.load(Ordering::Acquire)
    }

    /// How many times the endpoint was closed to new connections.
    pub(crate) fn closings(&self) -> u64 {
        self.closings.load(Ordering::Acquire)
    }
}

/// Raises this process's soft open-files limit (`ulimit -n`) to its hard limit, once per
/// process (later calls return what the first found), and returns the soft limit now
/// (`u64::MAX` if unlimited). ZeroMQ needs a descriptor or two per socket and connection, and
/// libzmq aborts the process on some paths that run out of them: timbr calls this before
/// binding, and a program opening many sockets (a watcher of many machines) can call it
/// first and check what it needs against the result.
pub fn raise_nofile() -> u64 {
    static LIMIT: OnceLock<u64> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let limit = getrlimit(Resource::Nofile);
        match (limit.current, limit.maximum) {
            (Some(soft), Some(hard)) if soft < hard => {
                let new = Rlimit {
                    current: Some(hard),
                    maximum: Some(hard),
                };
                setrlimit(Resource::Nofile, new).map_or(soft, |()| hard)
            }
            (Some(soft), None) => {
                // Unlimited hard limit: a large finite soft one is enough.
                let want = soft.max(1 << 20);
                let new = Rlimit {
                    current: Some(want),
                    maximum: None,
                };
                setrlimit(Resource::Nofile, new).map_or(soft, |()| want)
            }
            (Some(soft), Some(_)) => soft,
            (None, _) => u64::MAX,
        }
    })
}

/// One guarded endpoint in the process-wide registry.
struct Entry {
    id: u64,
    /// The socket file and where it goes while the door is closed (none for tcp/abstract).
    file: Option<(PathBuf, PathBuf)>,
    closed: bool,
    stats: Arc<ConnectionStats>,
}

#[derive(Default)]
struct Registry {
    entries: Vec<Entry>,
    total: u64,
    next_id: u64,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    entries: Vec::new(),
    total: 0,
    next_id: 0,
});

/// Connections the whole process accepts on guarded endpoints: half the open-files limit
/// (the other half for everything else and for connections already in the listen backlog).
fn budget() -> u64 {
    (raise_nofile() / 2).saturating_sub(16).max(8)
}

impl Registry {
    /// Opens or closes every door as the counts now say.
    fn settle(&mut self, cap: u64) {
        let budget = budget();
        let total = self.total;
        for entry in &mut self.entries {
            let live = entry.stats.live();
            let close = live >= cap || total >= budget;
            let reopen = live < cap * 3 / 4 && total < budget * 3 / 4;
            let Some((path, aside)) = &entry.file else {
                continue;
            };
            if close && !entry.closed {
                if std::fs::rename(path, aside).is_ok() {
                    entry.closed = true;
                    entry.stats.closings.fetch_add(1, Ordering::AcqRel);
                }
            } else if reopen && entry.closed && std::fs::rename(aside, path).is_ok() {
                entry.closed = false;
            }
        }
    }
}

/// The name a socket file has while its door is closed: hidden, beside it.
fn aside(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    Some(path.with_file_name(format!(".{name}.full")))
}

/// Starts guarding `socket`, which is about to be bound; `file` is its socket file (if any).
/// Call before `bind`, so that no connection goes uncounted.
pub(crate) fn watch(
    context: &zmq::Context,
    socket: &zmq::Socket,
    file: Option<&Path>,
) -> Result<Arc<ConnectionStats>, zmq::Error> {
    let stats = Arc::new(ConnectionStats::default());
    let id = {
        let mut registry = REGISTRY.lock();
        registry.next_id += 1;
        registry.next_id
    };
    let address = format!("inproc://timbr-guard-{}-{id}", std::process::id());
    let events = zmq::SocketEvent::ACCEPTED.to_raw()
        | zmq::SocketEvent::DISCONNECTED.to_raw()
        | zmq::SocketEvent::MONITOR_STOPPED.to_raw();
    socket.monitor(&address, i32::from(events))?;
    let monitor = context.socket(zmq::PAIR)?;
    monitor.set_linger(0)?;
    monitor.connect(&address)?;
    REGISTRY.lock().entries.push(Entry {
        id,
        file: file.and_then(|p| Some((p.to_owned(), aside(p)?))),
        closed: false,
        stats: Arc::clone(&stats),
    });
    let thread_stats = Arc::clone(&stats);
    let spawned = std::thread::Builder::new()
        .name("timbr-zmq-guard".to_owned())
        .spawn(move || follow(&monitor, id, &thread_stats));
    if spawned.is_err() {
        forget(id);
        return Err(zmq::Error::ENOMEM);
    }
    Ok(stats)
}

/// The guard thread: counts connections until the socket closes.
fn follow(monitor: &zmq::Socket, id: u64, stats: &ConnectionStats) {
    loop {
        let frames = match monitor.recv_multipart(0) {
            Ok(frames) => frames,
            Err(zmq::Error::EINTR) => continue,
            Err(_) => break,
        };
        let Some(event) = frames
            .first()
            .and_then(|f| f.get(..2))
            .map(|b| u16::from_ne_bytes([b[0], b[1]]))
        else {
            continue;
        };
        let mut registry = REGISTRY.lock();
        if event == zmq::SocketEvent::ACCEPTED.to_raw() {
            let live = stats.live.fetch_add(1, Ordering::AcqRel) + 1;
            stats.peak.fetch_max(live, Ordering::AcqRel);
            registry.total += 1;
        } else if event == zmq::SocketEvent::DISCONNECTED.to_raw() {
            if stats
                .live
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
                .is_ok()
            {
                registry.total = registry.total.saturating_sub(1);
            }
        } else if event == zmq::SocketEvent::MONITOR_STOPPED.to_raw() {
            break;
        }
        registry.settle(MAX_CONNECTIONS);
    }
    forget(id);
}

/// Takes an endpoint out of the registry: its connections no longer count, and a socket file
/// still aside is removed (the listener is closed).
fn forget(id: u64) {
    let mut registry = REGISTRY.lock();
    let Some(at) = registry.entries.iter().position(|e| e.id == id) else {
        return;
    };
    let entry = registry.entries.swap_remove(at);
    registry.total = registry.total.saturating_sub(entry.stats.live());
    if let (true, Some((_, aside))) = (entry.closed, &entry.file) {
        let _ = std::fs::remove_file(aside);
    }
    registry.settle(MAX_CONNECTIONS);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let soft = raise_nofile();
        let now = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        assert_eq!(now.current.unwrap_or(u64::MAX), soft);
        if let Some(hard) = now.maximum {
            assert_eq!(soft, hard);
        }
    }

    #[test]
    fn a_closed_door_is_a_hidden_name_beside_the_file() {
        assert_eq!(
            aside(Path::new("/run/x/12-0.pub")),
            Some(PathBuf::from("/run/x/.12-0.pub.full"))
        );
    }
}
