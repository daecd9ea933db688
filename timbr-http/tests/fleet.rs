//! The fleet view adds up what is true now: a queue its machines share counts once, a
//! stopped member adds no rate, and a member that stopped on purpose and then went quiet
//! (its process ended) keeps `/livez` at 200, saying so, while one that vanished without a
//! word does not.

mod common;

use std::time::Duration;

use serde_json::Value;
use timbr_core::observe::{QueueStatus, Rates};
use timbr_core::{MachineState, Status};
use timbr_http::{FleetFeed, HttpOptions, HttpServer};

use common::{eventually, get};

const SHARED: &str = "redis://127.0.0.1:6379 stream tweets group timbr";

/// A member's status: `state`, a recent rate of `rate`, on the shared stream (40 deep, room
/// for 1000) if `shared`, else on a queue of its own 5 deep (room for 10).
fn member(name: &str, state: MachineState, rate: f64, shared: bool) -> Status {
    let mut s = Status::new(name, state);
    s.rate = Rates::new(rate, rate, Duration::from_secs(10));
    s.queue = if shared {
        QueueStatus::new(40, Some(1000)).shared_as(SHARED)
    } else {
        QueueStatus::new(5, Some(10))
    };
    s
}

fn status(addr: std::net::SocketAddr) -> Value {
    serde_json::from_str(&get(addr, "/api/status", "").body).unwrap()
}

#[test]
fn a_shared_queue_counts_once_and_a_stopped_member_adds_no_rate() {
    let fleet = std::sync::Arc::new(FleetFeed::default());
    fleet.update("w1", member("w1", MachineState::Running, 100.0, true));
    fleet.update("w2", member("w2", MachineState::Running, 50.0, true));
    // Stopped: its status still has the rate it had when it stopped.
    fleet.update("w3", member("w3", MachineState::Stopped, 70.0, true));
    fleet.update("solo", member("solo", MachineState::Running, 10.0, false));
    let server = HttpServer::start(std::sync::Arc::clone(&fleet), HttpOptions::new()).unwrap();
    let totals = status(server.addr())["totals"].clone();
    assert_eq!(totals["machines"], 4);
    assert_eq!(totals["rate_recent"], 160.0, "{totals}");
    assert_eq!(totals["rate_overall"], 160.0, "{totals}");
    // The stream once (40 deep, 1000 room), plus the solo machine's own queue.
    assert_eq!(totals["queue_depth"], 45, "{totals}");
    assert_eq!(totals["queue_capacity"], 1010, "{totals}");
    // The member's own row keeps its status as it came.
    let rows = status(server.addr())["machines"].clone();
    assert_eq!(rows[2]["status"]["queue"]["shared"], SHARED, "{rows}");
}

#[test]
fn a_member_that_stopped_cleanly_and_went_quiet_stays_live() {
    let fleet = std::sync::Arc::new(FleetFeed::default().stale_after(Duration::from_millis(100)));
    let server = HttpServer::start(std::sync::Arc::clone(&fleet), HttpOptions::new()).unwrap();
    let addr = server.addr();
    // w2's last word: stopped. Then nothing (its process ended).
    fleet.update("w2", member("w2", MachineState::Stopped, 70.0, true));
    let limit = Duration::from_secs(60);
    let body = eventually(limit, "w2 to go quiet", || {
        fleet.update("w1", member("w1", MachineState::Running, 100.0, true));
        let r = get(addr, "/livez", "");
        (r.code == 200 && r.body.contains("no status since")).then_some(r.body)
    });
    let v: Value = serde_json::from_str(&body).unwrap();
    let w2 = &v["machines"][0];
    assert_eq!(w2["source"], "w2");
    assert_eq!(w2["ok"], true, "{body}");
    assert!(
        w2["note"].as_str().unwrap().contains("stopped on purpose"),
        "{body}"
    );
    // Not running: not ready, whatever it said.
    assert_eq!(get(addr, "/readyz", "").code, 503);
    // A member that goes quiet while running (killed) is not live.
    fleet.update("w4", member("w4", MachineState::Running, 1.0, true));
    let body = eventually(limit, "w4 to go quiet", || {
        fleet.update("w1", member("w1", MachineState::Running, 100.0, true));
        let r = get(addr, "/livez", "");
        (r.code == 503).then_some(r.body)
    });
    assert!(body.contains("did not say the machine ended"), "{body}");
}
