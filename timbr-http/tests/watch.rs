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

/// A watch's endpoints change as it runs (issue 20, item 14: a fleet dashboard follows the
/// machines its Redis registry lists): one that joins later is followed, one that leaves is
/// no longer a member, and a later status of it does not bring it back.
#[test]
fn a_watch_follows_endpoints_that_join_and_leave() {
    let serve = |name: &str| {
        let machine = std::sync::Arc::new(Machine::<u64>::builder().name(name).build().unwrap());
        let remote = Remote::serve(
            &machine,
            RemoteOptions::new().interval(Duration::from_millis(50)),
        )
        .unwrap();
        (machine, remote)
    };
    let (_a, ra) = serve("a");
    let (_b, rb) = serve("b");
    let (ea, eb) = (ra.status_endpoint(), rb.status_endpoint());
    let watch = FleetWatch::start(timbr_http::FleetFeed::default()).unwrap();
    let fleet = watch.fleet();
    assert!(fleet.is_empty());
    let names = || -> Vec<Option<String>> {
        fleet
            .observe()
            .into_iter()
            .map(|o| o.status.map(|s| s.name))
            .collect()
    };
    let m = watch.follow([ea, ea]).unwrap();
    assert_eq!((m.joined, m.left), (vec![ea.to_owned()], vec![]));
    assert_eq!(fleet.len(), 1, "a member at once, before its first status");
    eventually(Duration::from_secs(60), "a's status", || {
        (names() == [Some("a".to_owned())]).then_some(())
    });
    // b joins later: both are followed.
    let m = watch.follow([ea, eb]).unwrap();
    assert_eq!((m.joined, m.left), (vec![eb.to_owned()], vec![]));
    eventually(Duration::from_secs(60), "b's status beside a's", || {
        let mut n = names();
        n.sort();
        (n == [Some("a".to_owned()), Some("b".to_owned())]).then_some(())
    });
    // a leaves; it keeps publishing, and stays out.
    let m = watch.follow([eb]).unwrap();
    assert_eq!((m.joined, m.left), (vec![], vec![ea.to_owned()]));
    eventually(Duration::from_secs(60), "a to leave", || {
        (names() == [Some("b".to_owned())]).then_some(())
    });
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(names(), [Some("b".to_owned())], "a came back");
    }
    // Nothing followed, then a again: the watch still works.
    watch.follow(Vec::<String>::new()).unwrap();
    eventually(Duration::from_secs(60), "an empty fleet", || {
        fleet.is_empty().then_some(())
    });
    watch.follow([ea]).unwrap();
    eventually(Duration::from_secs(60), "a again", || {
        (names() == [Some("a".to_owned())]).then_some(())
    });
    // A refused follow changes nothing.
    assert!(watch.follow(["not-an-endpoint"]).is_err());
    assert_eq!(names(), [Some("a".to_owned())]);
}
