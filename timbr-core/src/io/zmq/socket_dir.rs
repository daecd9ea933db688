//! Where [`ZmqSink::bind_default`](crate::ZmqSink::bind_default) puts its `ipc://` socket: a
//! directory only the current user can enter, and a file name no other sink uses.

use std::fs::{self, DirBuilder, File, Metadata, OpenOptions, Permissions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::endpoint::{BindError, MAX_IPC_PATH};

/// How many names past live sockets `socket_path` tries, and how many looks `private_dir`
/// takes, before giving up.
const ATTEMPTS: u32 = 64;

/// Numbers this process's default sockets.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// The current effective user id.
pub(crate) fn uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// `$XDG_RUNTIME_DIR/timbr` when that variable holds an absolute path, otherwise
/// `<temp dir>/timbr-<uid>`.
pub(crate) fn default_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if Path::new(&dir).is_absolute() => Path::new(&dir).join("timbr"),
        _ => std::env::temp_dir().join(format!("timbr-{}", uid())),
    }
}

/// Makes `dir` with mode 0700, or checks an existing one: a real directory (not a symbolic
/// link), owned by the current user; a wider mode is narrowed to 0700.
pub(crate) fn private_dir(dir: &Path) -> Result<(), BindError> {
    // Bounded: only a directory made and removed again between two looks can send us round.
    for _ in 0..ATTEMPTS {
        match fs::symlink_metadata(dir) {
            Ok(meta) => return check_dir(dir, &meta),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                match DirBuilder::new().mode(0o700).create(dir) {
                    // Re-read: the umask may have narrowed the mode further.
                    Ok(()) => continue,
                    // Someone made it in the meantime: check theirs.
                    Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(BindError::io(dir, e)),
                }
            }
            Err(e) => return Err(BindError::io(dir, e)),
        }
    }
    Err(BindError::io(
        dir,
        std::io::Error::other("the directory kept appearing and disappearing"),
    ))
}

fn check_dir(dir: &Path, meta: &Metadata) -> Result<(), BindError> {
    if !meta.file_type().is_dir() {
        return Err(BindError::NotADirectory(dir.to_owned()));
    }
    let uid = uid();
    if meta.uid() != uid {
        return Err(BindError::NotOwned {
            path: dir.to_owned(),
            owner: meta.uid(),
            uid,
        });
    }
    if meta.mode() & 0o7777 != 0o700 {
        fs::set_permissions(dir, Permissions::from_mode(0o700))
            .map_err(|e| BindError::io(dir, e))?;
    }
    Ok(())
}

/// A fresh socket path in `dir`: `<pid>-<n>.<ext>`. A file left there by a crashed run is
/// removed when nothing listens on it; a live one is skipped.
pub(crate) fn socket_path(dir: &Path, ext: &str) -> Result<PathBuf, BindError> {
    let pid = std::process::id();
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("{pid}-{n}.{ext}"));
        let len = path.as_os_str().len();
        if len > MAX_IPC_PATH {
            return Err(BindError::PathTooLong {
                path,
                len,
                max: MAX_IPC_PATH,
            });
        }
        // A lock file under our name is an earlier process's of the same pid (a sweep
        // removes it): a name of our own has none.
        if !lock_path(&path).exists() && clear_stale(&path)? {
            return Ok(path);
        }
        last = Some(path);
    }
    Err(BindError::InUse(last.unwrap_or_else(|| dir.to_owned())))
}

/// Makes sure nothing is at `path`: `Ok(false)` if a live listener is there (left alone),
/// `Ok(true)` once the path is free (a stale socket file removed).
///
/// # Errors
///
/// Anything but a socket file at `path` is refused ([`BindError::Io`]), never removed.
pub(crate) fn clear_stale(path: &Path) -> Result<bool, BindError> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(BindError::io(path, e)),
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(BindError::io(
                path,
                std::io::Error::new(ErrorKind::AlreadyExists, "exists and is not a socket"),
            ))
        }
        Ok(_) => {}
    }
    if UnixStream::connect(path).is_ok() {
        return Ok(false);
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(true),
        Err(e) => Err(BindError::io(path, e)),
    }
}

/// An exclusive lock on an `ipc://` path: the file `<path>.lock`, `flock`ed for as long as
/// the socket is bound. The kernel releases it when the process dies, however it dies, so a
/// lock never goes stale; the file is removed (while still held) when the lock is dropped.
///
/// A lock file appears in the directory already locked (made under a private name, locked,
/// then linked into place): a lock file whose lock anyone can take is therefore one whose
/// holder is gone, and a [`sweep`] that takes it may remove it. (An unlocked file that a
/// new holder had created but not yet locked was what a sweep used to take from under it.)
#[derive(Debug)]
pub(crate) struct PathLock {
    path: PathBuf,
    _file: File,
}

impl Drop for PathLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// The lock file of a socket path.
fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// The suffix of a lock file not yet linked into place: `.<lock file name>.<pid>-<n>.new`.
const NEW_LOCK: &str = ".new";

/// Takes the lock of `path` without waiting.
///
/// # Errors
///
/// [`BindError::InUse`] when another process (or socket) holds it, [`BindError::Io`] when
/// the lock file cannot be opened or made (a symbolic link there is refused, never followed).
pub(crate) fn lock(path: &Path) -> Result<PathLock, BindError> {
    let lock = lock_path(path);
    // Bounded: only lock files removed and made again between two looks send us round.
    for _ in 0..ATTEMPTS {
        let taken = match open_lock(&lock, false) {
            Ok(file) => take(&lock, file, path)?,
            Err(e) if e.kind() == ErrorKind::NotFound => publish_locked(&lock, path)?,
            Err(e) => return Err(BindError::io(&lock, e)),
        };
        if let Some(held) = taken {
            return Ok(held);
        }
    }
    Err(BindError::InUse(path.to_owned()))
}

/// Takes the lock of `path` only if its lock file exists (what a [`sweep`] does: it never
/// makes one). `None` when there is no lock file or someone holds it.
fn lock_existing(path: &Path) -> Option<PathLock> {
    let lock = lock_path(path);
    let file = open_lock(&lock, false).ok()?;
    take(&lock, file, path).ok().flatten()
}

/// Opens a lock file for reading and writing, never through a symbolic link.
fn open_lock(lock: &Path, create_new: bool) -> std::io::Result<File> {
    use rustix::fs::OFlags;
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(create_new)
        .mode(0o600)
        .custom_flags(OFlags::NOFOLLOW.bits() as i32)
        .open(lock)
}

/// Locks `file`, opened at `lock`: `Some` if the lock is ours and `file` is still the one at
/// `lock` (not removed by its last holder meanwhile), `None` to look again.
fn take(lock: &Path, file: File, path: &Path) -> Result<Option<PathLock>, BindError> {
    use rustix::fs::{flock, FlockOperation};
    match flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
            return Err(BindError::InUse(path.to_owned()))
        }
        Err(e) => return Err(BindError::io(lock, e.into())),
    }
    let same = match (file.metadata(), fs::symlink_metadata(lock)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    };
    Ok(same.then(|| PathLock {
        path: lock.to_owned(),
        _file: file,
    }))
}

/// Makes the lock file `lock` already locked: a new file under a private name, locked, then
/// hard-linked to `lock` (which fails if another lock file got there first: `None`, to look
/// again). Where the file system has no hard links, the file is made in place and locked.
fn publish_locked(lock: &Path, path: &Path) -> Result<Option<PathLock>, BindError> {
    use rustix::fs::{flock, FlockOperation};
    // Not `NEXT`: socket names stay `<pid>-0`, `<pid>-1`… whatever the locks took.
    static NEW: AtomicU64 = AtomicU64::new(0);
    let n = NEW.fetch_add(1, Ordering::Relaxed);
    let name = lock.file_name().unwrap_or_default().to_string_lossy();
    let new = lock.with_file_name(format!(".{name}.{}-{n}{NEW_LOCK}", std::process::id()));
    let file = open_lock(&new, true).map_err(|e| BindError::io(&new, e))?;
    let published = flock(&file, FlockOperation::NonBlockingLockExclusive)
        .map_err(std::io::Error::from)
        .and_then(|()| fs::hard_link(&new, lock));
    let _ = fs::remove_file(&new);
    match published {
        Ok(()) => Ok(Some(PathLock {
            path: lock.to_owned(),
            _file: file,
        })),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(None),
        Err(_) => match open_lock(lock, false).or_else(|_| open_lock(lock, true)) {
            Ok(file) => take(lock, file, path),
            Err(e) => Err(BindError::io(lock, e)),
        },
    }
}

/// Whether `name` is a lock file a process made and never linked into place, and that
/// process is gone (a kill between the two steps).
fn is_abandoned_new_lock(name: &str) -> bool {
    let Some(rest) = name
        .strip_prefix('.')
        .and_then(|n| n.strip_suffix(NEW_LOCK))
    else {
        return false;
    };
    let pid = rest
        .rsplit_once('.')
        .and_then(|(_, id)| id.split_once('-'))
        .and_then(|(pid, _)| pid.parse::<i32>().ok())
        .and_then(rustix::process::Pid::from_raw);
    pid.is_some_and(|pid| rustix::process::test_kill_process(pid) == Err(rustix::io::Errno::SRCH))
}

/// Removes what killed processes left in the socket directory `dir`: socket files whose
/// lock nobody holds (and their lock files), and socket files without a lock on which
/// nothing listens. Looks at no more than a few thousand entries; errors are ignored (the
/// next sweep tries again). Returns how many socket files it removed.
///
/// It never makes a lock file, and takes only one it can lock: one whose holder is gone,
/// since a live holder's lock file is locked from the moment it appears (see [`PathLock`]).
pub(crate) fn sweep(dir: &Path) -> usize {
    const MAX_ENTRIES: usize = 4096;
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.take(MAX_ENTRIES).flatten() {
        let path = entry.path();
        let Ok(meta) = entry.metadata() else { continue };
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.extension().is_some_and(|e| e == "lock") && meta.file_type().is_file() {
            let socket = path.with_extension("");
            // Ours now: its holder is dead. Dropping the lock removes the lock file.
            if let Some(held) = lock_existing(&socket) {
                if fs::symlink_metadata(&socket).is_ok_and(|m| m.file_type().is_socket())
                    && fs::remove_file(&socket).is_ok()
                {
                    removed += 1;
                }
                drop(held);
            }
        } else if meta.file_type().is_file() && is_abandoned_new_lock(&name) {
            let _ = fs::remove_file(&path);
        } else if meta.file_type().is_socket()
            && !lock_path(&path).exists()
            && !name.starts_with('.')
            && UnixStream::connect(&path).is_err()
            && fs::remove_file(&path).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests;
