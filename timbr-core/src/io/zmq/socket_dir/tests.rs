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
fn a_path_is_locked_once_and_its_lock_is_released_on_drop() {
    let dir = scratch("lock");
    private_dir(&dir).unwrap();
    let path = dir.join("x.pub");
    let held = lock(&path).unwrap();
    assert!(matches!(lock(&path), Err(BindError::InUse(_))));
    drop(held);
    assert!(!lock_path(&path).exists());
    let again = lock(&path).unwrap();
    drop(again);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_sweep_removes_dead_sockets_and_keeps_live_ones() {
    let dir = scratch("sweep");
    private_dir(&dir).unwrap();
    // Dead, with a lock file nobody holds (a killed process's).
    let dead = dir.join("1-0.pub");
    drop(UnixListener::bind(&dead).unwrap());
    fs::write(lock_path(&dead), b"").unwrap();
    // Dead, without a lock file.
    let old = dir.join("1-1.pub");
    drop(UnixListener::bind(&old).unwrap());
    // Live and locked.
    let live = dir.join("2-0.pub");
    let _held = lock(&live).unwrap();
    let _listener = UnixListener::bind(&live).unwrap();
    // A lock file a killed process made and never linked into place; and one of ours
    // (this process is alive: it may be linking it now).
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let gone = child.id();
    child.wait().unwrap();
    let abandoned = dir.join(format!(".3-0.pub.lock.{gone}-7{NEW_LOCK}"));
    fs::write(&abandoned, b"").unwrap();
    let linking = dir.join(format!(".4-0.pub.lock.{}-8{NEW_LOCK}", std::process::id()));
    fs::write(&linking, b"").unwrap();
    assert_eq!(sweep(&dir), 2);
    assert!(!dead.exists() && !lock_path(&dead).exists() && !old.exists());
    assert!(live.exists() && lock_path(&live).exists());
    assert!(!abandoned.exists() && linking.exists());
    fs::remove_dir_all(&dir).unwrap();
}

/// Regression (issue 20, item 21): starters sharing one directory, each sweeping it
/// first as `default_endpoint` does. A sweep took another starter's lock file between
/// its creation and its `flock`, and that starter failed with "in use" (8 of 800 starts,
/// 16 at once). Threads stand for processes: `flock` locks belong to open files, so two
/// opens in one process exclude each other as two processes do.
#[test]
fn starters_sweeping_one_directory_never_take_each_others_locks() {
    const STARTERS: usize = 16;
    const STARTS: usize = 300;
    let dir = scratch("starters");
    private_dir(&dir).unwrap();
    std::thread::scope(|s| {
        for starter in 0..STARTERS {
            let dir = &dir;
            s.spawn(move || {
                for start in 0..STARTS {
                    sweep(dir);
                    let path = socket_path(dir, "pub").unwrap();
                    let held = lock(&path)
                        .unwrap_or_else(|e| panic!("starter {starter}, start {start}: {e}"));
                    let listener = UnixListener::bind(&path).unwrap();
                    drop(listener);
                    if start % 2 == 0 {
                        fs::remove_file(&path).unwrap();
                        drop(held);
                    } else {
                        // Half the starts "die": the socket file and an unheld lock
                        // file stay, for the others' sweeps to remove.
                        drop(held);
                        fs::write(lock_path(&path), b"").unwrap();
                    }
                }
            });
        }
    });
    sweep(&dir);
    let left: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
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
