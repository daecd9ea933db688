//! Where `ZmqSink::bind_default` puts its socket: a 0700 directory of the current user's,
//! stale files from a crashed run reclaimed, live ones skipped.
//!
//! One test in its own binary: it sets `XDG_RUNTIME_DIR`, which no other thread may read
//! meanwhile.
#![cfg(all(feature = "zmq", unix))]

use std::fs::{self, Permissions};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::Path;

use timbr_core::{BindError, ZmqSink};

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().mode() & 0o7777
}

#[test]
fn bind_default_uses_a_private_directory_and_reclaims_stale_sockets() {
    let runtime = std::env::temp_dir().join(format!("timbr-xdg-{}", std::process::id()));
    let _ = fs::remove_dir_all(&runtime);
    fs::create_dir(&runtime).unwrap();
    std::env::set_var("XDG_RUNTIME_DIR", &runtime);
    let dir = runtime.join("timbr");
    let pid = std::process::id();

    // Made with mode 0700.
    let first = ZmqSink::bind_default().unwrap();
    assert_eq!(
        first.last_endpoint(),
        format!("ipc://{}/{pid}-0.pub", dir.display())
    );
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(
        fs::metadata(&dir).unwrap().uid(),
        fs::metadata(&runtime).unwrap().uid()
    );
    drop(first);
    assert!(!dir.join(format!("{pid}-0.pub")).exists());

    // A wider mode is narrowed; a crashed run's file is reclaimed; a live socket is skipped.
    fs::set_permissions(&dir, Permissions::from_mode(0o755)).unwrap();
    drop(UnixListener::bind(dir.join(format!("{pid}-1.pub"))).unwrap()); // stale
    let _live = UnixListener::bind(dir.join(format!("{pid}-2.pub"))).unwrap();
    let second = ZmqSink::bind_default().unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert!(second.last_endpoint().ends_with(&format!("/{pid}-1.pub")));
    let third = ZmqSink::bind_default().unwrap();
    assert!(
        third.last_endpoint().ends_with(&format!("/{pid}-3.pub")),
        "{third:?}"
    );
    drop((second, third));

    // Someone else's directory is refused (needs root to make one).
    if std::os::unix::fs::chown(&dir, Some(65534), None).is_ok() {
        match ZmqSink::bind_default() {
            Err(BindError::NotOwned { owner: 65534, .. }) => {}
            other => panic!("expected NotOwned, got {other:?}"),
        }
    } else {
        println!("skipped the foreign-owner check: chown needs root");
    }

    // Neither a file nor a symbolic link passes for the directory.
    fs::remove_dir_all(&dir).unwrap();
    let elsewhere = runtime.join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &dir).unwrap();
    assert!(matches!(
        ZmqSink::bind_default(),
        Err(BindError::NotADirectory(_))
    ));
    fs::remove_file(&dir).unwrap();
    fs::write(&dir, b"").unwrap();
    assert!(matches!(
        ZmqSink::bind_default(),
        Err(BindError::NotADirectory(_))
    ));

    fs::remove_dir_all(&runtime).unwrap();
}
