//! A watch follows more machines than ZeroMQ's 1023 sockets per context, up to its bound;
//! past the bound it says so at once.

mod common;

use std::time::Duration;

use timbr_core::{Machine, Remote, RemoteOptions};
use timbr_http::{FleetWatch, StatusFeed, WatchError, MAX_ENDPOINTS};

use common::{eventually, scratch};

#[test]
fn a_watch_follows_more_endpoints_than_a_zeromq_context_holds() {
    let machine = std::sync::Arc::new(
        Machine::<u64>::builder()
            .name("the-1100th")
            .build()
            .unwrap(),
    );
    let remote = Remote::serve(
        &machine,
        RemoteOptions::new().interval(Duration::from_millis(100)),
    )
    .unwrap();
    // 1099 endpoints where nothing listens, then the real one.
    let dir = scratch("watch-many");
    let mut endpoints: Vec<String> = (0..1099)
        .map(|i| format!("ipc://{}/nobody-{i}", dir.display()))
        .collect();
    endpoints.push(remote.status_endpoint().to_owned());
    let watch = FleetWatch::new(endpoints).unwrap();
    let fleet = watch.fleet();
    assert_eq!(fleet.len(), 1100);
    let name = eventually(Duration::from_secs(60), "the last status", || {
        let observed = fleet.observe();
        observed.last()?.status.as_ref().map(|s| s.name.clone())
    });
    assert_eq!(name, "the-1100th");
    drop(watch);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn too_many_endpoints_are_refused_at_once() {
    let endpoints = (0..=MAX_ENDPOINTS).map(|i| format!("tcp://127.0.0.1:{}", 1 + i % 60_000));
    match FleetWatch::new(endpoints) {
        Err(e @ WatchError::TooManyEndpoints { given, max }) => {
            assert_eq!((given, max), (MAX_ENDPOINTS + 1, MAX_ENDPOINTS));
            assert!(e.to_string().contains("at most 4096"), "{e}");
        }
        Err(e) => panic!("expected TooManyEndpoints, got {e}"),
        Ok(_) => panic!("a watch of {} endpoints started", MAX_ENDPOINTS + 1),
    }
}
