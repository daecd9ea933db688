//! Where [`ZmqSink::bind_default`](crate::ZmqSink::bind_default) puts its `ipc://` socket: a
//! directory only the current user can enter, and a file name no other sink uses.

use std::fs::{self, DirBuilder, Metadata, Permissions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
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
        if clear_stale(&path)? {
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

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixListener;

    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("timbr-test-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_new_directory_is_private_and_a_wide_one_is_narrowed() {
        let dir = scratch("mode");
        private_dir(&dir).unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o7777, 0o700);
        fs::set_permissions(&dir, Permissions::from_mode(0o755)).unwrap();
        private_dir(&dir).unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o7777, 0o700);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_or_a_symlink_is_not_a_socket_directory() {
        let dir = scratch("notdir");
        fs::write(&dir, b"").unwrap();
        assert!(matches!(
            private_dir(&dir),
            Err(BindError::NotADirectory(_))
        ));
        fs::remove_file(&dir).unwrap();

        let target = scratch("target");
        fs::create_dir(&target).unwrap();
        std::os::unix::fs::symlink(&target, &dir).unwrap();
        assert!(matches!(
            private_dir(&dir),
            Err(BindError::NotADirectory(_))
        ));
        fs::remove_file(&dir).unwrap();
        fs::remove_dir_all(&target).unwrap();
    }

    #[test]
    fn a_stale_file_is_removed_and_a_live_socket_is_kept() {
        let dir = scratch("stale");
        private_dir(&dir).unwrap();
        let stale = dir.join("stale.pub");
        drop(UnixListener::bind(&stale).unwrap()); // the file stays, nothing listens
        assert!(stale.exists());
        assert!(clear_stale(&stale).unwrap());
        assert!(!stale.exists());

        let live = dir.join("live.pub");
        let _listener = UnixListener::bind(&live).unwrap();
        assert!(!clear_stale(&live).unwrap());
        assert!(live.exists());

        let plain = dir.join("plain.pub");
        fs::write(&plain, b"not a socket").unwrap();
        assert!(matches!(clear_stale(&plain), Err(BindError::Io { .. })));
        assert!(plain.exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn socket_paths_are_unique_in_the_process() {
        let dir = scratch("names");
        private_dir(&dir).unwrap();
        let a = socket_path(&dir, "pub").unwrap();
        let b = socket_path(&dir, "pub").unwrap();
        assert_ne!(a, b);
        assert!(a
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with(&format!("{}-", std::process::id())));
        fs::remove_dir_all(&dir).unwrap();
    }
}
