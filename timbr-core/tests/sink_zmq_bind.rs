//! Binding explicit endpoints under attack: two processes (here threads; the lock is per
//! open file, so they contend the same way) binding one path at once, and endpoints that
//! are not what they seem.
#![cfg(all(feature = "zmq", unix))]

use timbr_core::ZmqSink;

/// Item 8: two binds of one explicit ipc path at the same moment both succeeded (2 of 10
/// tries; the first then published to nobody). The path is locked: exactly one wins.
#[test]
fn two_binds_of_one_path_at_once_never_both_win() {
    use std::sync::{Arc, Barrier};
    let dir = std::env::temp_dir().join(format!("timbr-race-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for round in 0..20 {
        let endpoint = format!("ipc://{}/r{round}.pub", dir.display());
        let barrier = Arc::new(Barrier::new(2));
        let binders: Vec<_> = (0..2)
            .map(|_| {
                let (barrier, endpoint) = (Arc::clone(&barrier), endpoint.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    ZmqSink::bind(&endpoint)
                })
            })
            .collect();
        let results: Vec<_> = binders.into_iter().map(|b| b.join().unwrap()).collect();
        let won = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(won, 1, "round {round}: {results:?}");
        assert!(
            results
                .iter()
                .any(|r| matches!(r, Err(timbr_core::BindError::InUse(_)))),
            "round {round}: {results:?}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Item 9: an abstract socket is readable by every local user; a port past 65535 used to
/// wrap around (99999 became 34463).
#[test]
fn abstract_sockets_and_impossible_ports_are_refused() {
    use timbr_core::BindError;
    assert!(matches!(
        ZmqSink::bind("ipc://@timbr-abstract-test"),
        Err(BindError::Abstract(_))
    ));
    assert!(matches!(
        ZmqSink::bind("tcp://127.0.0.1:99999"),
        Err(BindError::Port(_))
    ));
}
