//! Property: with random transient failures (some retried to success, some running out),
//! data refused for good, and a worker killed at a random moment and started again, every
//! tweet ends exactly once as a success record or a failure-stream entry — but for the
//! duplicates the kill allows (what the killed worker held, counted), the outcome of each is
//! what its failures and the retry policy say, and the fleet balances with nothing left.

mod common;

use std::collections::HashMap;

use common::*;
use proptest::prelude::*;
use timbr_redis::{Fleet, RedisOptions};

/// One run: `n` tweets, `pack` to an entry; tweets that are multiples of `flaky` fail
/// transiently 1 + (seq / flaky) % 2 times; `retries` runs at most; multiples of `refuse`
/// fail for good; w1 killed once `kill_at` of the data are done, then started again.
fn run(n: u64, pack: u64, flaky: u64, retries: u32, refuse: Option<u64>, kill_at: f64) {
    let server = Server::start();
    let url = server.url();
    let dir = &server.dir;
    let mut con = server.con();
    let n_s = n.to_string();
    let (pack_s, flaky_s, retries_s) = (pack.to_string(), flaky.to_string(), retries.to_string());
    let refuse_s = refuse.map(|k| k.to_string());
    let mut flags = vec![
        "--until-done",
        &n_s,
        "--status-every-ms",
        "0",
        "--claim-after-ms",
        "1500",
        "--batch",
        "16",
        "--flaky",
        &flaky_s,
        "--retries",
        &retries_s,
        "--retry-backoff-ms",
        "20",
    ];
    if let Some(k) = &refuse_s {
        flags.extend(["--fail-every", k.as_str()]);
    }
    if pack > 1 {
        flags.push("--pack-results");
    }
    let worker = |name: &str| fleet(dir, name, &work_args(&url, name, &flags));
    let mut producer = fleet(
        dir,
        "producer",
        &produce_args(&url, n, &["--quiet", "--pack", &pack_s, "--batch", "16"]),
    );
    let mut w1 = worker("w1");
    let mut w2 = worker("w2");
    let mut fleet_view = Fleet::connect(RedisOptions::new(url.clone(), "tweets")).unwrap();
    let target = (n as f64 * kill_at) as u64;
    until("the moment of the kill", || {
        let b = fleet_view.balance().unwrap();
        b.acked_data + b.failed >= target
    });
    w1.kill().unwrap(); // SIGKILL: whatever it held, waiting for a retry or not
    w1.wait().unwrap();
    let held = pending_of(&mut con, "tweets", "w1");
    let done_at_kill = {
        let b = fleet_view.balance().unwrap();
        b.acked_data + b.failed
    };
    eprintln!("killed w1 at {done_at_kill} of {n} done, holding {held} entries of {pack}");
    let mut w1 = worker("w1");
    assert!(wait(&mut producer), "the producer failed");
    assert!(wait(&mut w1), "w1 (again) failed");
    assert!(wait(&mut w2), "w2 failed");

    let b = fleet_view.balance().unwrap();
    assert!(b.is_balanced(), "{b}");
    assert_eq!((b.pending, b.unread, b.dead), (0, 0, 0), "{b}");
    // Every way a tweet ended: success records and failure-stream entries.
    let mut ends: HashMap<u64, (u64, u64)> = HashMap::new();
    let seqs = seqs_by_id(n);
    let page = fleet_view
        .result_records("results", None, 1_000_000)
        .unwrap();
    for r in page.records.iter().filter(|r| r.failed.is_none()) {
        let array: Vec<serde_json::Value> = serde_json::from_str(&r.record).unwrap();
        ends.entry(seq_of(&array[0], &seqs)).or_default().0 += 1;
    }
    for f in fleet_view.failures(1_000_000).unwrap() {
        let tweet: serde_json::Value = serde_json::from_str(&f.datum).unwrap();
        ends.entry(seq_of(&tweet, &seqs)).or_default().1 += 1;
    }
    let mut duplicates = 0;
    for seq in 1..=n {
        let (ok, failed) = ends.get(&seq).copied().unwrap_or_default();
        assert!(ok + failed >= 1, "tweet {seq} lost");
        duplicates += ok + failed - 1;
        if ok + failed > 1 {
            continue; // run twice (the kill): either outcome may be there
        }
        let refused = refuse.is_some_and(|k| seq % k == 0);
        let fails = if seq % flaky == 0 {
            1 + (seq / flaky) % 2
        } else {
            0
        };
        let succeeds = !refused && fails < u64::from(retries);
        assert_eq!(
            (ok, failed),
            (u64::from(succeeds), u64::from(!succeeds)),
            "tweet {seq}"
        );
    }
    assert!(
        duplicates <= held * pack,
        "{duplicates} duplicates; w1 held {held} entries of {pack} when killed"
    );
    assert_eq!(b.failed, ends.values().map(|e| e.1).sum::<u64>(), "{b}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_datum_ends_once_as_a_success_record_or_a_failure(
        n in 1_500_u64..3_000,
        pack in prop_oneof![Just(1_u64), Just(4_u64)],
        flaky in 3_u64..8,
        retries in 1_u32..4,
        refuse in proptest::option::of(11_u64..17),
        kill_at in 0.2_f64..0.7,
    ) {
        run(n, pack, flaky, retries, refuse, kill_at);
    }
}
