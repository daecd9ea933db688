//! How `timbr-sub` ends a run it cannot finish by itself: on a signal, after joining a
//! machine mid-run, and when the status endpoint goes away (issue 20, item 13). Loopback only;
//! every wait is bounded.
#![cfg(unix)]

use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use timbr_core::{
    io::{ZmqSinkOptions, ZmqStats},
    Machine, Remote, RemoteOptions, StopMode,
};

const SUB: &str = env!("CARGO_BIN_EXE_timbr-sub");

/// Waits (bounded) until `done` holds.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within 30 s");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A machine publishing on loopback tcp, with the sink's stats in its status, served by a
/// `Remote` that publishes a snapshot every 20 ms.
fn publishing() -> (Arc<Machine<u64>>, ZmqStats, Remote) {
    let sink = ZmqSinkOptions::new().bind("tcp://127.0.0.1:*").unwrap();
    let stats = sink.stats();
    let machine = Arc::new(
        Machine::<u64>::builder()
            .plugin(sink.stats())
            .sink(sink)
            .build()
            .unwrap(),
    );
    let remote = Remote::serve(
        &machine,
        RemoteOptions::new().interval(Duration::from_millis(20)),
    )
    .unwrap();
    (machine, stats, remote)
}

fn sub(args: &[&str]) -> Child {
    Command::new(SUB)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn summary(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"))
}

/// `timbr-sub --summary` printed nothing on Ctrl-C: the summary so far, then 130.
#[test]
fn ctrl_c_prints_the_summary_so_far() {
    let (machine, stats, _remote) = publishing();
    let child = sub(&[stats.endpoint(), "--summary"]);
    wait_for("the subscriber connects", || stats.connections() > 0);
    machine.start().unwrap();
    // Records until the subscription is in (the sink reads subscriptions as it sends).
    let mut n = 0;
    wait_for("the subscription arrives", || {
        machine.put(n).unwrap();
        n += 1;
        stats.subscriptions() > 0
    });
    machine.stop(StopMode::Drain);
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    let summary = summary(&out);
    assert_eq!(summary["interrupted"], 2, "{summary}");
    assert!(summary["received"].as_u64().unwrap() <= n, "{summary}");
}

/// Joining a running machine, `timbr-sub --status` claimed a loss "at most" N (loose, and
/// records in flight at its first snapshot made it claim one that did not happen). It cannot
/// know how many were published before it subscribed, and now says so.
#[test]
fn joining_mid_run_claims_no_loss_it_cannot_know() {
    let (machine, stats, remote) = publishing();
    machine.set_source(0_u64..);
    machine.start().unwrap();
    wait_for("records go out", || stats.sent() > 2_000);
    let child = sub(&[
        stats.endpoint(),
        "--status",
        remote.status_endpoint(),
        "--summary",
    ]);
    wait_for("the subscription arrives", || stats.subscriptions() > 0);
    let after = stats.sent() + 2_000;
    wait_for("more records go out", || stats.sent() > after);
    machine.stop(StopMode::Drain);
    let out = child.wait_with_output().unwrap();
    drop(remote);
    let summary = summary(&out);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(summary["joined_mid_run"], true, "{summary}");
    assert_eq!(summary["missed"], Value::Null, "{summary}");
    assert!(summary["received"].as_u64().unwrap() > 0, "{summary}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("joined mid-run: cannot know"),
        "{out:?}"
    );
}

/// When the status endpoint went away (its program ended) before a final snapshot,
/// `timbr-sub` waited ten seconds of silence for one that could not come.
#[test]
fn a_status_endpoint_gone_ends_the_wait() {
    let (machine, stats, remote) = publishing();
    machine.start().unwrap();
    let child = sub(&[
        stats.endpoint(),
        "--status",
        remote.status_endpoint(),
        "--summary",
    ]);
    let mut n = 0;
    wait_for("the subscription arrives", || {
        machine.put(n).unwrap();
        n += 1;
        stats.subscriptions() > 0
    });
    let published = remote.published();
    wait_for("snapshots go out", || remote.published() > published + 3);
    drop(remote); // the machine still runs: its last snapshot is not a final one
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("status endpoint went away"), "{out:?}");
    assert!(!stderr.contains("no status for"), "{out:?}");
    assert!(summary(&out)["received"].as_u64().unwrap() > 0, "{out:?}");
    machine.stop(StopMode::Drain);
}
