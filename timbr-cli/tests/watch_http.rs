//! `timbr-watch http ADDR ENDPOINT…`: the dashboard, metrics and health of machines in
//! other processes, served over HTTP by the watcher; a non-loopback address is refused
//! unless asked for.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use timbr_core::{Machine, Remote, RemoteOptions, Stage};

const WATCH: &str = env!("CARGO_BIN_EXE_timbr-watch");

/// A port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.1 GET; the whole response (status line, headers, body), or `None` if the
/// connection failed.
fn get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

/// Kills the watcher however the test ends.
struct Watcher(Child);

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_watcher_serves_metrics_and_the_dashboard_of_the_machines_it_watches() {
    let double = Stage::new(0, "double", ["input"], |n: &u64| n * 2).unwrap();
    let machine = Arc::new(
        Machine::<u64>::builder()
            .name("watched-over-http")
            .stage(double)
            .build()
            .unwrap(),
    );
    let remote = Remote::serve(
        &machine,
        RemoteOptions::new().interval(Duration::from_millis(20)),
    )
    .unwrap();
    machine.start().unwrap();
    (1..=10).for_each(|n| machine.put(n).unwrap());

    let port = free_port();
    let mut child = Command::new(WATCH)
        .args(["http", &format!("127.0.0.1:{port}")])
        .arg(remote.status_endpoint())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let watcher = Watcher(child);
    let first = BufReader::new(stderr).lines().next().unwrap().unwrap();
    assert!(first.contains("dashboard on"), "{first}");

    // The watcher learns the machine from its snapshots: wait (bounded) until it shows.
    let deadline = Instant::now() + Duration::from_secs(30);
    let metrics = loop {
        let response = get(port, "/metrics").unwrap_or_default();
        if response.contains("watched-over-http") && response.contains("timbr_data_processed") {
            break response;
        }
        assert!(
            Instant::now() < deadline,
            "no metrics of the machine: {response}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    let page = get(port, "/").unwrap();
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(
        page.contains("<html") || page.contains("<!DOCTYPE"),
        "{page}"
    );
    assert!(get(port, "/no-such-page")
        .unwrap()
        .starts_with("HTTP/1.1 404"));
    drop(watcher);
    machine.stop_drain();
}

#[test]
fn the_watcher_refuses_an_address_other_hosts_can_reach_unless_allowed() {
    let out = Command::new(WATCH)
        .args(["http", "0.0.0.0:0", "ipc:///nonexistent/timbr-test.status"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("reachable from other hosts"), "{said}");
    let usage = Command::new(WATCH)
        .args(["status", "ipc:///x", "--allow-remote"])
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(2), "--allow-remote is http's");
}
