//! Binding a ZeroMQ socket the way every timbr endpoint is bound: checked (loopback unless
//! allowed otherwise), an `ipc://` path locked for this process alone and a stale file
//! there reclaimed, connections guarded (see `guard.rs`), the resolved endpoint read back,
//! and the socket file removed again when the socket is gone.

use std::path::PathBuf;
#[cfg(unix)]
use std::sync::Arc;

use super::endpoint::{self, BindError, Endpoint};
#[cfg(unix)]
use super::guard::{self, ConnectionStats};

/// How many connections may wait in a guarded listener's backlog: small, so that few slip
/// in after the guard closed the door.
const BACKLOG: i32 = 32;

/// A bound socket, the endpoint peers connect to, and its socket file.
pub(crate) struct Bound {
    pub(crate) socket: zmq::Socket,
    pub(crate) endpoint: String,
    pub(crate) ipc_file: Option<IpcFile>,
    /// Live connections and closings of the guard (unix only).
    #[cfg(unix)]
    pub(crate) connections: Option<Arc<ConnectionStats>>,
}

/// Creates a socket of `kind`, lets `configure` set its options, and binds it to `endpoint`.
pub(crate) fn bind(
    kind: zmq::SocketType,
    endpoint: &str,
    allow_remote: bool,
    configure: impl FnOnce(&zmq::Socket) -> Result<(), zmq::Error>,
) -> Result<Bound, BindError> {
    let checked = endpoint::check(endpoint, allow_remote)?;
    #[cfg(unix)]
    if let Endpoint::Ipc(Some(path)) = &checked {
        let len = path.as_os_str().len();
        if len > endpoint::MAX_IPC_PATH {
            return Err(BindError::PathTooLong {
                path: path.clone(),
                len,
                max: endpoint::MAX_IPC_PATH,
            });
        }
    }
    // Exclusive: two processes binding one path at once cannot both win (a lock, not a
    // probe followed by a bind).
    #[cfg(unix)]
    let lock = match &checked {
        Endpoint::Ipc(Some(path)) => {
            let lock = super::socket_dir::lock(path)?;
            if !super::socket_dir::clear_stale(path)? {
                return Err(BindError::InUse(path.clone()));
            }
            Some(lock)
        }
        _ => None,
    };
    let zmq_error = |op: &'static str| move |e: zmq::Error| BindError::zmq(op, endpoint, e);
    let context = zmq::Context::new();
    let socket = context
        .socket(kind)
        .map_err(zmq_error("create a socket for"))?;
    configure(&socket)
        .and_then(|()| socket.set_ipv6(matches!(checked, Endpoint::Tcp { ipv6: true })))
        .and_then(|()| socket.set_backlog(BACKLOG))
        .map_err(zmq_error("set the socket options for"))?;
    #[cfg(unix)]
    let connections = {
        guard::raise_nofile();
        let file = match &checked {
            Endpoint::Ipc(Some(path)) => Some(path.as_path()),
            _ => None,
        };
        Some(guard::watch(&context, &socket, file).map_err(zmq_error("guard the connections of"))?)
    };
    socket
        .bind(&endpoint::for_bind(endpoint))
        .map_err(zmq_error("bind"))?;
    let resolved = match socket.get_last_endpoint() {
        Ok(Ok(resolved)) => resolved,
        Ok(Err(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => return Err(zmq_error("read the bound endpoint of")(e)),
    };
    // `localhost` is checked on what it resolved to.
    if !allow_remote && !endpoint::is_loopback_endpoint(&resolved) {
        return Err(BindError::Remote(resolved));
    }
    let mut ipc_file = IpcFile::of(&resolved);
    #[cfg(unix)]
    if let Some(file) = &mut ipc_file {
        file.lock = lock;
    }
    Ok(Bound {
        socket,
        ipc_file,
        endpoint: resolved,
        #[cfg(unix)]
        connections,
    })
}

/// A fresh private endpoint: `ipc://` in a directory only the current user can enter
/// (`$XDG_RUNTIME_DIR/timbr/` or `<temp dir>/timbr-<uid>/`, mode 0700), file
/// `<pid>-<n>.<ext>`; `tcp://127.0.0.1:*` where there are no unix sockets.
pub(crate) fn default_endpoint(ext: &str) -> Result<String, BindError> {
    #[cfg(unix)]
    {
        use super::socket_dir;
        let dir = socket_dir::default_dir();
        socket_dir::private_dir(&dir)?;
        // What killed processes left behind goes before a new file is added.
        socket_dir::sweep(&dir);
        let path = socket_dir::socket_path(&dir, ext)?;
        match path.to_str() {
            Some(text) => Ok(format!("ipc://{text}")),
            None => Err(BindError::io(
                &path,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "a ZeroMQ endpoint must be UTF-8",
                ),
            )),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ext;
        Ok("tcp://127.0.0.1:*".to_owned())
    }
}

/// The socket file of an `ipc://` endpoint; removed on drop if it is still the one bound.
pub(crate) struct IpcFile {
    path: PathBuf,
    #[cfg(unix)]
    id: Option<(u64, u64)>,
    /// The lock that made the path ours; released (and its file removed) after the socket
    /// file.
    #[cfg(unix)]
    lock: Option<super::socket_dir::PathLock>,
}

impl IpcFile {
    /// The file behind a resolved endpoint (none for `tcp://` and abstract `ipc://@…`).
    fn of(resolved: &str) -> Option<IpcFile> {
        let path = resolved.strip_prefix("ipc://")?;
        if path.starts_with('@') {
            return None;
        }
        let path = PathBuf::from(path);
        Some(IpcFile {
            #[cfg(unix)]
            id: file_id(&path),
            #[cfg(unix)]
            lock: None,
            path,
        })
    }
}

#[cfg(unix)]
fn file_id(path: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

impl Drop for IpcFile {
    fn drop(&mut self) {
        // libzmq removes the file itself when it closes the listener; this is for when it
        // did not. A file that is no longer ours (a later bind of the same path) stays.
        #[cfg(unix)]
        if self.id.is_none() || file_id(&self.path) != self.id {
            return;
        }
        let _ = std::fs::remove_file(&self.path);
    }
}
