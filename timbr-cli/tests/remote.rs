//! Observing and controlling a machine from another process: status snapshots a watcher
//! subscribes to, a control endpoint answering `status`, `stop` and `start`, and bad
//! requests refused and counted without disturbing the machine.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use timbr_core::{
    machine::STATUS_TOPIC, zmq, BindError, Machine, MachineState, Remote, RemoteOptions, Stage,
    Status, StopMode,
};

const WATCH: &str = env!("CARGO_BIN_EXE_timbr-watch");

fn machine() -> Arc<Machine<u64>> {
    let double = Stage::new(0, "double", ["input"], |n: &u64| n * 2).unwrap();
    Arc::new(
        Machine::builder()
            .name("remote-test")
            .stage(double)
            .build()
            .unwrap(),
    )
}

fn client(endpoint: &str) -> zmq::Socket {
    let req = zmq::Context::new().socket(zmq::REQ).unwrap();
    req.set_rcvtimeo(10_000).unwrap();
    req.set_linger(0).unwrap();
    req.connect(endpoint).unwrap();
    req
}

fn ask(req: &zmq::Socket, request: &[u8]) -> Value {
    req.send(request, 0).unwrap();
    serde_json::from_slice(&req.recv_bytes(0).expect("a reply within 10 s")).unwrap()
}

#[test]
fn the_status_reply_round_trips() {
    let machine = machine();
    let remote = Remote::serve(&machine, RemoteOptions::new()).unwrap();
    assert!(remote.status_endpoint().starts_with("ipc://"));
    (1..=10).for_each(|n| machine.put(n).unwrap());
    machine.start().unwrap();
    machine.request_stop(StopMode::Drain);
    machine.wait();
    let req = client(remote.control_endpoint());
    let reply = ask(&req, b"status");
    assert_eq!(reply["ok"], true);
    assert_eq!(reply["state"], "stopped");
    let status: Status = serde_json::from_value(reply["status"].clone()).unwrap();
    assert_eq!(status.name, "remote-test");
    assert_eq!(status.counts.processed, 10);
    assert_eq!(status.stages[0].name, "double");
    assert_eq!(ask(&req, b"ping")["ok"], true);
    assert_eq!(remote.requests(), 2);
    assert_eq!(remote.bad_requests(), 0);
}

#[test]
fn another_process_stops_and_starts_the_machine() {
    let machine = machine();
    let remote = Remote::serve(&machine, RemoteOptions::new()).unwrap();
    machine.start().unwrap();
    let run = |args: &[&str]| {
        Command::new(WATCH)
            .arg("control")
            .arg(remote.control_endpoint())
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["stop"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        machine.wait_timeout(Duration::from_secs(30)),
        MachineState::Stopped
    );
    assert!(!machine.is_running());
    let out = run(&["start"]);
    assert!(out.status.success(), "{out:?}");
    assert!(machine.is_running());
    let out = run(&["status"]);
    assert!(out.status.success(), "{out:?}");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("remote-test") && table.contains("running"),
        "{table}"
    );
    let out = run(&["explode"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    machine.stop_drain();
}

#[test]
fn malformed_requests_get_an_error_reply_and_change_nothing() {
    let machine = machine();
    let remote = Remote::serve(&machine, RemoteOptions::new()).unwrap();
    machine.start().unwrap();
    let putter = machine.putter();
    let feeder = std::thread::spawn(move || (0..20_000).for_each(|n| putter.put(n).unwrap()));
    let req = client(remote.control_endpoint());
    // Deterministic garbage: random bytes of random lengths, none a valid command.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut bad = 0;
    for _ in 0..300 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 200) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|i| (x.rotate_left(i as u32 % 64) as u8) | 0x80)
            .collect();
        let reply = ask(&req, &bytes);
        assert_eq!(reply["ok"], false, "{reply}");
        assert!(reply["error"].is_string());
        bad += 1;
    }
    for request in [
        &b"stop everything now"[..],
        b"{\"cmd\": 7}",
        b"",
        b"\0\0\0",
        &vec![b's'; 200_000],
    ] {
        assert_eq!(ask(&req, request)["ok"], false);
        bad += 1;
    }
    // Several frames in one request.
    req.send_multipart([&b"status"[..], b"status"], 0).unwrap();
    let reply: Value = serde_json::from_slice(&req.recv_bytes(0).unwrap()).unwrap();
    assert_eq!(reply["ok"], false);
    bad += 1;
    assert_eq!(remote.bad_requests(), bad);
    // An oversized request (2 MiB) gets an error reply, not a dropped connection.
    let huge = client(remote.control_endpoint());
    let reply = ask(&huge, &vec![b'x'; 2 << 20]);
    assert_eq!(reply["ok"], false);
    assert!(
        reply["error"].as_str().unwrap().contains("at most"),
        "{reply}"
    );
    bad += 1;
    assert!(machine.is_running(), "garbage never stops the machine");
    feeder.join().unwrap();
    let reply = ask(&client(remote.control_endpoint()), b"status");
    assert_eq!(reply["ok"], true);
    assert_eq!(reply["remote"]["bad_requests"], bad);
    machine.stop_drain();
    let c = machine.counts();
    assert_eq!((c.processed, c.accepted), (20_000, 20_000));
}

#[test]
fn snapshots_are_published_and_the_watcher_follows_them_to_the_end() {
    let machine = machine();
    let options = RemoteOptions::new().interval(Duration::from_millis(20));
    let remote = Remote::serve(&machine, options).unwrap();
    // Our own subscriber: snapshots keep coming, each a whole status.
    let sub = zmq::Context::new().socket(zmq::SUB).unwrap();
    sub.set_rcvtimeo(10_000).unwrap();
    sub.set_subscribe(STATUS_TOPIC.as_bytes()).unwrap();
    sub.connect(remote.status_endpoint()).unwrap();
    let mut taken = Vec::new();
    while taken.len() < 3 {
        let frames = sub.recv_multipart(0).expect("a snapshot within 10 s");
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0], STATUS_TOPIC.as_bytes());
        let status: Status = serde_json::from_slice(&frames[1]).unwrap();
        assert_eq!(status.name, "remote-test");
        taken.push(status.taken_at);
    }
    assert!(taken.windows(2).all(|w| w[0] <= w[1]));
    assert!(remote.published() >= 3);

    // The watcher, in another process, exits by itself once the machine has stopped.
    machine.start().unwrap();
    let watcher = Command::new(WATCH)
        .arg("status")
        .arg(remote.status_endpoint())
        .args(["--timeout", "20"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    (1..=100).for_each(|n| machine.put(n).unwrap());
    machine.stop_drain();
    let out = watcher.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("stopped"), "{text}");

    let once = Command::new(WATCH)
        .arg("status")
        .arg(remote.status_endpoint())
        .args(["--once", "--json"])
        .output()
        .unwrap();
    assert!(once.status.success(), "{once:?}");
    let status: Status = serde_json::from_slice(&once.stdout).unwrap();
    assert_eq!(status.counts.processed, 100);
}

#[test]
fn endpoints_are_local_unless_allowed() {
    let machine = machine();
    let refused = Remote::serve(
        &machine,
        RemoteOptions::new().status_endpoint("tcp://0.0.0.0:*"),
    );
    assert!(matches!(refused, Err(BindError::Remote(_))), "{refused:?}");
    let local = Remote::serve(
        &machine,
        RemoteOptions::new()
            .status_endpoint("tcp://127.0.0.1:*")
            .control_endpoint("tcp://127.0.0.1:*"),
    )
    .unwrap();
    assert!(local.control_endpoint().starts_with("tcp://127.0.0.1:"));
    assert_eq!(ask(&client(local.control_endpoint()), b"ping")["ok"], true);
    let timeout = client(local.control_endpoint());
    timeout.set_rcvtimeo(10_000).unwrap();
    assert_eq!(ask(&timeout, br#"{"cmd":"status"}"#)["ok"], true);
}
