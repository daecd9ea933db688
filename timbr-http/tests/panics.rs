//! A status feed is user code: when it panics, the request gets `500` saying so, the panic
//! is counted, and the connection's slot is released — far more panics than slots leave
//! the server answering.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use timbr_http::{HttpOptions, HttpServer, Observed, StatusFeed, MIN_CONNECTIONS};

use common::get;

/// A feed of one machine that panics while `panicking` is set.
struct Fragile {
    panicking: Arc<AtomicBool>,
}

impl StatusFeed for Fragile {
    fn observe(&self) -> Vec<Observed> {
        assert!(
            !self.panicking.load(Ordering::Relaxed),
            "the feed is broken"
        );
        vec![Observed {
            source: "fragile".to_owned(),
            status: Some(timbr_core::Status::new(
                "fragile",
                timbr_core::MachineState::Running,
            )),
            age: Duration::ZERO,
            stale: false,
        }]
    }
}

#[test]
fn a_panicking_feed_never_leaks_a_connection_slot() {
    let panicking = Arc::new(AtomicBool::new(true));
    let feed = Fragile {
        panicking: Arc::clone(&panicking),
    };
    // The history takes its first sample at once (a panic, counted too), then one a
    // minute: none more while the requests below run.
    let options = HttpOptions::new()
        .max_connections(MIN_CONNECTIONS)
        .history_interval(Duration::from_secs(60));
    let server = HttpServer::start(feed, options).unwrap();
    let addr = server.addr();
    common::eventually(
        Duration::from_secs(30),
        "the history's first sample",
        || (server.panics() == 1).then_some(()),
    );
    let paths = [
        "/metrics",
        "/livez",
        "/readyz",
        "/api/status",
        "/api/events",
    ];
    let rounds = 5 * MIN_CONNECTIONS;
    for _ in 0..rounds {
        for path in paths {
            let r = get(addr, path, "");
            if path == "/api/events" {
                // The stream's head is sent; then the feed panics and the stream ends.
                assert_eq!(r.code, 200, "{path}: {}", r.body);
            } else {
                assert_eq!(r.code, 500, "{path}: {}", r.body);
                assert!(r.body.contains("the feed is broken"), "{}", r.body);
            }
        }
    }
    assert_eq!(server.panics(), 1 + (rounds * paths.len()) as u64);
    assert!(server.last_panic().unwrap().contains("the feed is broken"));
    assert_eq!(server.refused(), 0);
    panicking.store(false, Ordering::Relaxed);
    for path in ["/metrics", "/livez", "/api/status"] {
        let r = get(addr, path, "");
        assert_eq!(r.code, 200, "{path}: {}", r.body);
    }
}
