//! Item 4 of the process-edges issue: SIGINT, SIGTERM and SIGQUIT ended the tweets program
//! at once (no final status, accepted tweets never delivered, socket files left behind).
//! Now a signal stops the machine the way `stop` does: the queue drains, the final status is
//! printed, the exit status is 128 + the signal, and the socket files are gone.
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::tweets;
use rustix::process::{kill_process, Pid, Signal};
use timbr_core::{machine::STATUS_TOPIC, zmq, MachineState, Status};

/// How a test stops the endless run.
enum Stop {
    Signal(Signal),
    /// The `stop` request the program's "stop it with" line names.
    Control,
}

fn interrupt_with(signal: Signal, code: i32) {
    stop_with(Stop::Signal(signal), "20000", code);
}

/// Runs `tweets --count 0 --rate RATE --json`, stops it `how`, and checks the exit status,
/// the final status (stopped, drained, balanced) and that the socket files are gone.
fn stop_with(how: Stop, rate: &str, code: i32) {
    let mut child = Command::new(tweets())
        .args(["--count", "0", "--rate", rate, "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the tweets example (built by `cargo test -p timbr-examples`)");
    // The endpoints are printed before the machine starts; the first status line after.
    let mut endpoints = Vec::new();
    let mut control = None;
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in stderr.by_ref() {
        let line = line.unwrap();
        if line.starts_with("stop it with:") {
            control = line
                .split_whitespace()
                .find(|w| w.starts_with("ipc://"))
                .map(str::to_owned);
        }
        endpoints.extend(
            line.split_whitespace()
                .filter(|w| w.starts_with("ipc://"))
                .map(|w| PathBuf::from(w.trim_start_matches("ipc://"))),
        );
        if line.contains("processed") {
            break;
        }
    }
    endpoints.sort();
    endpoints.dedup();
    assert_eq!(endpoints.len(), 3, "{endpoints:?}");
    assert!(endpoints.iter().all(|p| p.exists()), "{endpoints:?}");
    match how {
        Stop::Signal(signal) => {
            let pid = Pid::from_raw(child.id() as i32).unwrap();
            kill_process(pid, signal).unwrap();
        }
        Stop::Control => {
            let control = control.expect("a \"stop it with\" line naming the control endpoint");
            let req = zmq::Context::new().socket(zmq::REQ).unwrap();
            req.set_rcvtimeo(20_000).unwrap();
            req.connect(&control).unwrap();
            req.send("stop", 0).unwrap();
            let reply = req.recv_string(0).expect("a reply in 20 s").unwrap();
            assert!(reply.contains("\"ok\":true"), "{reply}");
        }
    }
    let rest: Vec<String> = stderr.map(|l| l.unwrap()).collect();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(code), "{rest:?}");
    let status: Status = serde_json::from_slice(&out.stdout).expect("the final status");
    assert_eq!(status.state, MachineState::Stopped);
    let c = &status.counts;
    assert!(c.is_balanced(), "{c:?}");
    assert_eq!(c.processed + c.failed, c.accepted, "drained: {c:?}");
    assert!(c.accepted > 0);
    for path in &endpoints {
        assert!(!path.exists(), "{} left behind", path.display());
    }
}

#[test]
fn ctrl_c_stops_like_stop() {
    interrupt_with(Signal::INT, 130);
}

#[test]
fn sigterm_stops_like_stop() {
    interrupt_with(Signal::TERM, 143);
}

#[test]
fn sigquit_stops_like_stop() {
    interrupt_with(Signal::QUIT, 131);
}

/// Regression (issue 20, item 1): the program's own "stop it with" request ended the endless
/// run with "checks failed" and exit status 1, and often `queued 1` (the source put a tweet
/// after the drain ended). A deliberate stop drains everything and exits 0.
#[test]
fn the_stop_it_names_drains_and_is_not_a_failure() {
    for _ in 0..3 {
        stop_with(Stop::Control, "2000", 0);
    }
}

/// Regression (issue 20, item 13): `tweets --subscribers N` waited silently, served no
/// status meanwhile (so `timbr-sub --status` had nothing to follow), and did not end on
/// SIGTERM. Now it prints where to connect, its status endpoint answers during the wait, and
/// a signal ends the wait with 128 + the signal and the (idle) final status.
#[test]
fn the_wait_for_subscribers_says_where_serves_status_and_ends_on_sigterm() {
    let mut child = Command::new(tweets())
        .args(["--subscribers", "1", "--count", "10", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut endpoints = Vec::new();
    let waiting = loop {
        let line = stderr
            .next()
            .expect("a line saying what it waits for")
            .unwrap();
        endpoints.extend(
            line.split_whitespace()
                .filter(|w| w.starts_with("ipc://"))
                .map(|w| PathBuf::from(w.trim_start_matches("ipc://"))),
        );
        if line.starts_with("waiting") {
            break line;
        }
    };
    let words: Vec<&str> = waiting.split_whitespace().collect();
    let status = words
        .iter()
        .position(|w| *w == "--status")
        .and_then(|i| words.get(i + 1))
        .unwrap_or_else(|| panic!("no --status endpoint in {waiting:?}"));
    assert!(waiting.contains("timbr-sub"), "{waiting}");
    // The status endpoint answers while it waits.
    let sub = zmq::Context::new().socket(zmq::SUB).unwrap();
    sub.set_rcvtimeo(20_000).unwrap();
    sub.set_subscribe(STATUS_TOPIC.as_bytes()).unwrap();
    sub.connect(status).unwrap();
    let snapshot = sub
        .recv_multipart(0)
        .expect("a status snapshot within 20 s");
    let snapshot: Status = serde_json::from_slice(&snapshot[1]).unwrap();
    assert_eq!(snapshot.state, MachineState::Idle);
    drop(sub);

    let pid = Pid::from_raw(child.id() as i32).unwrap();
    kill_process(pid, Signal::TERM).unwrap();
    let rest: Vec<String> = stderr.map(|l| l.unwrap()).collect();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143), "{rest:?}");
    let last: Status = serde_json::from_slice(&out.stdout).expect("the final status");
    assert_eq!(last.state, MachineState::Idle);
    endpoints.sort();
    endpoints.dedup();
    assert_eq!(endpoints.len(), 3, "{endpoints:?}");
    for path in &endpoints {
        assert!(!path.exists(), "{} left behind", path.display());
    }
}
