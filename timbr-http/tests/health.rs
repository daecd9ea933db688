//! Health endpoints flip as they should: readiness follows the machine's state, liveness
//! catches a hanging stage after the configured time and recovers when it moves again.

mod common;

use std::sync::Arc;
use std::time::Duration;

use timbr_core::crossbeam_channel::bounded;
use timbr_core::{Machine, Stage, StopMode};
use timbr_http::{HttpOptions, ServeHttp};

use common::{eventually, get};

const LIMIT: Duration = Duration::from_secs(60);

fn code(addr: std::net::SocketAddr, path: &str) -> u16 {
    get(addr, path, "").code
}

#[test]
fn readiness_follows_the_state_and_a_dropped_machine_is_gone() {
    let machine = Arc::new(Machine::<u64>::new());
    let server = machine.serve_http(HttpOptions::new()).unwrap();
    let addr = server.addr();
    // Idle: live (nothing is wrong) but not ready.
    let r = get(addr, "/readyz", "");
    assert_eq!(r.code, 503, "{}", r.body);
    assert!(r.body.contains("state is idle"), "{}", r.body);
    assert_eq!(code(addr, "/livez"), 200);
    machine.start().unwrap();
    assert_eq!(code(addr, "/readyz"), 200);
    assert_eq!(code(addr, "/healthz"), 200);
    machine.stop(StopMode::Drain);
    let r = get(addr, "/readyz", "");
    assert_eq!(r.code, 503);
    assert!(r.body.contains("state is stopped"), "{}", r.body);
    assert_eq!(code(addr, "/livez"), 200, "a stopped machine is not wedged");
    machine.start().unwrap();
    assert_eq!(code(addr, "/readyz"), 200, "ready again after a restart");
    drop(machine);
    let r = get(addr, "/readyz", "");
    assert_eq!(r.code, 503);
    assert!(r.body.contains("no status"), "{}", r.body);
    assert_eq!(code(addr, "/livez"), 503);
}

#[test]
fn a_hanging_stage_is_reported_not_live_after_the_configured_time() {
    let (release, wait) = bounded::<()>(0);
    let hang = Stage::new(0, "hang", ["input"], move |n: &u64| {
        if *n == 3 {
            // Blocks until the test lets it go: a stage wedged on I/O.
            let _ = wait.recv();
        }
        *n
    })
    .unwrap();
    let machine = Arc::new(
        Machine::<u64>::builder()
            .stage(hang)
            .tick(Duration::from_millis(10))
            .build()
            .unwrap(),
    );
    let server = machine
        .serve_http(HttpOptions::new().stall_after(Duration::from_millis(300)))
        .unwrap();
    let addr = server.addr();
    machine.start().unwrap();
    (1..=10).for_each(|n| machine.put(n).unwrap());
    let body = eventually(LIMIT, "livez to fail", || {
        let r = get(addr, "/livez", "");
        (r.code == 503).then_some(r.body)
    });
    assert!(body.contains("in flight on worker 0"), "{body}");
    // Still running and accepting: ready, though not live.
    assert_eq!(code(addr, "/readyz"), 200);
    let metrics = get(addr, "/metrics", "").body;
    let oldest = metrics
        .lines()
        .find(|l| l.starts_with("timbr_oldest_in_flight_seconds{"))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .unwrap();
    assert!(oldest >= 0.3, "{oldest}");
    release.send(()).unwrap();
    eventually(LIMIT, "livez to recover", || {
        (code(addr, "/livez") == 200).then_some(())
    });
    machine.stop(StopMode::Drain);
    assert_eq!(machine.counts().processed, 10);
}

#[test]
fn data_waiting_without_progress_is_not_live() {
    // One worker, the first datum hangs: the others wait in the queue and none finishes.
    let (release, wait) = bounded::<()>(0);
    let hang = Stage::new(0, "hang", ["input"], move |n: &u64| {
        if *n == 1 {
            let _ = wait.recv();
        }
        *n
    })
    .unwrap();
    let machine = Arc::new(Machine::<u64>::builder().stage(hang).build().unwrap());
    let server = machine
        .serve_http(HttpOptions::new().stall_after(Duration::from_millis(200)))
        .unwrap();
    let addr = server.addr();
    machine.start().unwrap();
    (1..=5).for_each(|n| machine.put(n).unwrap());
    let body = eventually(LIMIT, "livez to fail", || {
        let r = get(addr, "/livez", "");
        (r.code == 503).then_some(r.body)
    });
    assert!(
        body.contains("in flight") || body.contains("none finished"),
        "{body}"
    );
    release.send(()).unwrap();
    eventually(LIMIT, "livez to recover", || {
        (code(addr, "/livez") == 200).then_some(())
    });
    machine.stop(StopMode::Drain);
}

#[test]
fn a_failed_machine_is_neither_live_nor_ready() {
    let fail = Stage::try_new(0, "fail", ["input"], |_: &u64| Err::<u64, _>("always")).unwrap();
    let machine = Arc::new(
        Machine::<u64>::builder()
            .stage(fail)
            .handler(timbr_core::StageDebugger)
            .build()
            .unwrap(),
    );
    let server = machine.serve_http(HttpOptions::new()).unwrap();
    machine.start().unwrap();
    machine.put(1).unwrap();
    machine.wait();
    let r = get(server.addr(), "/livez", "");
    assert_eq!(r.code, 503);
    assert!(r.body.contains("failed"), "{}", r.body);
    assert_eq!(code(server.addr(), "/readyz"), 503);
}
