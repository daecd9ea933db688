//! Retries in a fleet: a transient failure succeeds on its 2nd or 3rd attempt (counted in the
//! worker's status, its record says how many), retries that run out end in the failure
//! stream (attempts said), and a worker killed while a datum waits for its retry loses
//! nothing — its entry stays its own while it waits (never claimed, never run by two
//! workers at once) and is claimed once it is dead.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::*;
use timbr_redis::{redis, Fleet, RedisOptions};

/// The records of `results`, unpacked.
fn records(fleet: &mut Fleet) -> Vec<timbr_redis::ResultRecord> {
    fleet
        .result_records("results", None, 1_000_000)
        .unwrap()
        .records
}

/// The place in the stream of the tweet a record is of (`seqs` from `seqs_by_id`).
fn tweet_seq(r: &timbr_redis::ResultRecord, seqs: &HashMap<u64, u64>) -> u64 {
    let array: Vec<serde_json::Value> = serde_json::from_str(&r.record).unwrap();
    seq_of(&array[0], seqs)
}

/// A worker's final status (its stdout's JSON).
fn final_status(dir: &std::path::Path, name: &str) -> serde_json::Value {
    let out = std::fs::read_to_string(dir.join(format!("{name}.out"))).unwrap();
    serde_json::from_str(out.trim()).unwrap()
}

/// One producer of `n` tweets and one worker with `extra`; returns the fleet view.
fn run(server: &Server, n: u64, extra: &[&str]) -> Fleet {
    let url = server.url();
    let until = n.to_string();
    let mut producer = fleet(
        &server.dir,
        "producer",
        &produce_args(&url, n, &["--quiet"]),
    );
    let mut args = vec!["--until-done", until.as_str(), "--status-every-ms", "0"];
    args.extend_from_slice(extra);
    let mut worker = fleet(&server.dir, "w", &work_args(&url, "w", &args));
    assert!(wait(&mut producer));
    assert!(wait(&mut worker), "the worker failed");
    Fleet::connect(RedisOptions::new(url, "tweets")).unwrap()
}

#[test]
fn transient_failures_succeed_on_their_2nd_or_3rd_attempt_counted() {
    const N: u64 = 200;
    let server = Server::start();
    let retry = [
        "--flaky",
        "10",
        "--retries",
        "3",
        "--retry-backoff-ms",
        "20",
    ];
    let mut fleet = run(&server, N, &retry);
    let b = fleet.balance().unwrap();
    assert!(b.is_balanced() && b.failed == 0 && b.acked_data == N, "{b}");
    let records = records(&mut fleet);
    assert_eq!(records.len() as u64, N);
    let seqs = seqs_by_id(N);
    for r in &records {
        let seq = tweet_seq(r, &seqs);
        // Multiples of 10 fail 1 + (seq / 10) % 2 times, then succeed.
        let expected = if seq % 10 == 0 { 2 + (seq / 10) % 2 } else { 1 };
        assert_eq!(u64::from(r.attempts), expected, "tweet {seq}: {r:?}");
        assert!(r.failed.is_none(), "{r:?}");
    }
    let status = final_status(&server.dir, "w");
    let poison = status["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "poison")
        .unwrap();
    // 20 flaky tweets: 10 retried once, 10 twice; all recovered, none exhausted.
    let retries = &poison["retries"];
    assert_eq!(retries["retried"], 30, "{retries}");
    assert_eq!(retries["recovered"], 20, "{retries}");
    assert_eq!(retries["exhausted"], 0, "{retries}");
}

#[test]
fn retries_that_run_out_end_in_the_failure_stream_with_their_attempts() {
    const N: u64 = 200;
    let server = Server::start();
    let retry = [
        "--flaky",
        "10",
        "--retries",
        "2",
        "--retry-backoff-ms",
        "20",
    ];
    let mut fleet = run(&server, N, &retry);
    let b = fleet.balance().unwrap();
    assert!(b.is_balanced(), "{b}");
    // Tweets 10, 30, 50… fail twice: two attempts are not enough.
    assert_eq!(b.failed, 10, "{b}");
    let failures = fleet.failures(100).unwrap();
    let seqs = seqs_by_id(N);
    for f in &failures {
        let tweet: serde_json::Value = serde_json::from_str(&f.datum).unwrap();
        let seq = seq_of(&tweet, &seqs);
        assert_eq!((seq % 20, f.attempts), (10, 2), "{f:?}");
        assert_eq!(f.stage, "poison");
        assert!(f.error.contains("(transient)"), "{f:?}");
    }
    let results = fleet.results("results").unwrap();
    assert_eq!((results.records, results.failed), (N, 10), "{results:?}");
    for r in records(&mut fleet) {
        let seq = tweet_seq(&r, &seqs);
        if seq % 20 == 0 {
            assert_eq!((r.attempts, r.failed.as_deref()), (2, None), "{r:?}");
        } else if seq % 20 == 10 {
            assert_eq!(
                (r.attempts, r.failed.as_deref()),
                (2, Some("poison")),
                "{r:?}"
            );
        }
    }
}

/// Who holds the first entry of `tweets` and how often it was delivered.
fn holder(con: &mut redis::Connection) -> Option<(String, usize)> {
    let reply: redis::streams::StreamPendingCountReply = redis::cmd("XPENDING")
        .arg("tweets")
        .arg("timbr")
        .arg("-")
        .arg("+")
        .arg(1)
        .query(con)
        .unwrap();
    reply
        .ids
        .first()
        .map(|p| (p.consumer.clone(), p.times_delivered))
}

#[test]
fn a_datum_waiting_for_its_retry_stays_its_workers_and_survives_its_kill() {
    const N: u64 = 50;
    let server = Server::start();
    let url = server.url();
    let n = N.to_string();
    let mut con = server.con();
    let mut producer = fleet(
        &server.dir,
        "producer",
        &produce_args(&url, N, &["--quiet", "--start", "999"]),
    );
    assert!(wait(&mut producer));
    // Tweets 1000 to 1049. w1: tweet 1000, the first, fails transiently and waits a minute
    // for its retry; claims after 900 ms.
    let common = [
        "--until-done",
        &n,
        "--status-every-ms",
        "0",
        "--claim-after-ms",
        "900",
    ];
    let mut w1_args = common.to_vec();
    w1_args.extend([
        "--flaky",
        "1000",
        "--retries",
        "3",
        "--retry-backoff-ms",
        "60000",
    ]);
    let mut w1 = fleet(&server.dir, "w1", &work_args(&url, "w1", &w1_args));
    until("every other tweet done, tweet 1000 waiting in w1", || {
        xlen(&mut con, "results") == N - 1 && holder(&mut con).is_some_and(|(c, _)| c == "w1")
    });
    // A second worker (fixed) runs meanwhile: tweet 1000's entry stays w1's, delivered once,
    // for over three claim periods.
    let mut w2 = fleet(&server.dir, "w2", &work_args(&url, "w2", &common));
    let watch_until = Instant::now() + Duration::from_millis(3_000);
    while Instant::now() < watch_until {
        assert_eq!(
            holder(&mut con),
            Some(("w1".to_owned(), 1)),
            "claimed while waiting"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(xlen(&mut con, "results"), N - 1, "tweet 1000 not run by w2");
    w1.kill().unwrap(); // SIGKILL while tweet 1000 waits for its retry
    w1.wait().unwrap();
    assert!(wait(&mut w2), "w2 failed");
    let mut fleet = Fleet::connect(RedisOptions::new(url, "tweets")).unwrap();
    let b = fleet.balance().unwrap();
    assert!(b.is_balanced() && b.failed == 0 && b.pending == 0, "{b}");
    let records = records(&mut fleet);
    assert_eq!(records.len() as u64, N, "nothing lost, nothing twice");
    let seqs = seqs_by_id(999 + N);
    let flaky: Vec<_> = records
        .iter()
        .filter(|r| tweet_seq(r, &seqs) == 1000)
        .collect();
    assert_eq!(flaky.len(), 1);
    assert_eq!((flaky[0].consumer.as_str(), flaky[0].attempts), ("w2", 1));
}
