//! `timbr-fleet` says what it does while it works, and how it ended on SIGTERM (issue 20,
//! item 14): a worker prints a status line a second by default and, on SIGTERM, drains,
//! prints a final line and its final status, and exits 143; a producer blocked on a full
//! queue does the same.

mod common;

use std::process::{Child, Command};

use common::*;

fn term(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn read(dir: &std::path::Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_default()
}

#[test]
fn sigterm_stops_a_worker_and_a_producer_with_a_final_line() {
    let server = Server::start();
    let (url, dir) = (server.url(), server.dir.clone());

    // A producer with room for 100 entries and no worker: it waits for room.
    let mut producer = fleet(
        &dir,
        "producer",
        &produce_args(
            &url,
            1_000,
            &["--consumer", "p", "--capacity", "100", "--batch", "50"],
        ),
    );
    until("the producer to fill the queue", || {
        read(&dir, "producer.err").contains("producer `p`: ")
            && xlen(&mut server.con(), "tweets") >= 100
    });
    term(&producer);
    assert!(!wait(&mut producer));
    assert_eq!(producer.wait().unwrap().code(), Some(143));
    let err = read(&dir, "producer.err");
    assert!(
        err.contains("signal 15: producer `p` stopped: 100 put"),
        "{err}"
    );
    assert!(read(&dir, "producer.out").starts_with("{\"produced\":100,\"position\":100,"));

    let mut worker = fleet(&dir, "worker", &work_args(&url, "w", &[]));
    until("a status line by default", || {
        read(&dir, "worker.err").contains("worker `w`: running: ")
    });
    term(&worker);
    assert!(!wait(&mut worker));
    assert_eq!(worker.wait().unwrap().code(), Some(143));
    let err = read(&dir, "worker.err");
    assert!(
        err.contains("signal 15: stopping `w` (draining what it fetched)"),
        "{err}"
    );
    assert!(
        err.lines()
            .last()
            .unwrap()
            .starts_with("worker `w`: stopped: "),
        "{err}"
    );
    let status: serde_json::Value =
        serde_json::from_str(read(&dir, "worker.out").trim()).expect("the final status");
    assert_eq!(status["state"], "stopped");
}
