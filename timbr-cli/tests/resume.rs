//! A producer killed mid-run (SIGKILL) and started again under its name continues where it
//! stopped (issue 20, item 19): every tweet is put once, whatever the kill interrupted, so
//! every tweet gets exactly one record and `results` counts no duplicate. And a range of
//! tweets past the largest number is refused before anything is put (item 22).

mod common;

use std::process::Command;

use common::*;
use timbr_redis::{redis, Fleet, RedisOptions};

const N: u64 = 12_000;

fn position(con: &mut redis::Connection) -> u64 {
    redis::cmd("GET")
        .arg("tweets:position:p")
        .query::<Option<u64>>(con)
        .unwrap()
        .unwrap_or(0)
}

/// Entries ever added to the stream (the worker trims what it acknowledged); 0 before the
/// stream exists.
fn added(con: &mut redis::Connection) -> u64 {
    let info: redis::RedisResult<std::collections::HashMap<String, redis::Value>> =
        redis::cmd("XINFO").arg("STREAM").arg("tweets").query(con);
    info.ok()
        .and_then(|i| redis::from_redis_value(i.get("entries-added")?).ok())
        .unwrap_or(0)
}

#[test]
fn a_producer_killed_mid_run_continues_where_it_stopped() {
    let server = Server::start();
    let (url, dir) = (server.url(), server.dir.clone());
    let mut con = server.con();
    // A small capacity: the producer keeps pace with the worker, so it is killed mid-run.
    let produce = || {
        fleet(
            &dir,
            "producer",
            &produce_args(
                &url,
                N,
                &["--consumer", "p", "--capacity", "1000", "--batch", "64"],
            ),
        )
    };
    let mut worker = fleet(
        &dir,
        "worker",
        &work_args(&url, "w", &["--until-done", &N.to_string()]),
    );
    let mut producer = produce();
    // Killed three times, at different points of its run; started again each time.
    for quarter in 1..=3 {
        until("the producer to get further", || {
            added(&mut con) >= quarter * N / 4
        });
        producer.kill().unwrap(); // SIGKILL
        producer.wait().unwrap();
        producer = produce();
    }
    assert!(wait(&mut producer), "the last producer completes");
    assert!(
        wait(&mut worker),
        "the worker ends once every tweet is done"
    );

    let ids = result_seqs(&mut con, "results", N);
    assert_eq!(ids.len() as u64, N, "every tweet has a record");
    let twice: Vec<_> = ids.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "tweets put twice: {twice:?}");
    let mut fleet = Fleet::connect(RedisOptions::new(url, "tweets")).unwrap();
    let b = fleet.balance().unwrap();
    assert_eq!((b.produced, b.acked), (N, N), "{b}");
    let results = fleet.results("results").unwrap();
    assert_eq!((results.records, results.duplicates), (N, 0));
    assert_eq!(position(&mut con), N);
    let err = std::fs::read_to_string(dir.join("producer.err")).unwrap();
    assert!(
        err.contains("were put by an earlier run of `p`"),
        "a restarted producer says where it continues: {err}"
    );
}

#[test]
fn a_range_past_the_largest_tweet_number_is_refused_and_nothing_is_put() {
    let server = Server::start();
    let out = Command::new(env!("CARGO_BIN_EXE_timbr-fleet"))
        .args(produce_args(
            &server.url(),
            2,
            &["--start", &u64::MAX.to_string()],
        ))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("the tweets would pass number 18446744073709551615"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "no report of data put: {out:?}");
    assert_eq!(xlen(&mut server.con(), "tweets"), 0);
}
