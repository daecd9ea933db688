//! Many data per entry (`RedisOptions::pack`): what a fleet promises per datum still holds
//! per datum — every datum processed, each record naming its place in its pack, a killed
//! worker's packs split and nothing lost, a poisonous datum dead-lettered alone, undecodable
//! packs dead-lettered with the reason — and the fleet's balance adds up.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::*;
use serde::{Deserialize, Serialize};
use timbr_core::{Machine, Stage, StopMode};
use timbr_redis::{redis, Fleet, RedisOptions, RedisQueue, RedisStatus};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Item {
    n: u64,
}

/// The origins of the records of `stream`, in order.
fn origins(con: &mut redis::Connection, stream: &str) -> Vec<String> {
    let page: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(stream)
        .arg("-")
        .arg("+")
        .query(con)
        .unwrap();
    page.ids
        .iter()
        .map(|e| redis::from_redis_value(&e.map["origin"]).unwrap())
        .collect()
}

#[test]
fn packed_data_are_processed_once_each_and_undecodable_packs_are_dead_letters() {
    const N: u64 = 2_000;
    let server = Server::start();
    let options = RedisOptions::new(server.url(), "items")
        .consumer("w")
        .pack(16)
        .batch(64);
    let queue = RedisQueue::<Item>::connect(options.clone()).unwrap();
    queue.put_all((0..N).map(|n| Item { n })).unwrap();
    let mut con = server.con();
    assert_eq!(xlen(&mut con, "items"), N / 16, "16 data to an entry");
    // Another program's packs: one that is no array, one with a datum that is no `Item`.
    for value in [&b"not json"[..], br#"[{"n":9001},{"m":2},{"n":9003}]"#] {
        redis::cmd("XADD")
            .arg("items")
            .arg("*")
            .arg("p")
            .arg(value)
            .query::<String>(&mut con)
            .unwrap();
    }

    let machine = Machine::<Item>::builder()
        .queue(queue.clone())
        .sink(queue.sink("results"))
        .plugin(RedisStatus::new(&queue))
        .stage(Stage::new(0, "n", ["input"], |i: &Item| i.n * 10).unwrap())
        .build()
        .unwrap();
    machine.start().unwrap();
    let mut fleet = Fleet::connect(options).unwrap();
    until("every datum acknowledged or dead", || {
        let b = fleet.balance().unwrap();
        b.acked_data == N + 2 && b.dead == 2
    });
    machine.stop(StopMode::Drain);

    let results = fleet.results("results").unwrap();
    assert_eq!((results.records, results.duplicates), (N + 2, 0));
    let origins = origins(&mut con, "results");
    assert!(
        origins[..N as usize].iter().all(|o| o.contains('#')),
        "a packed datum's origin is its entry and place: {:?}",
        &origins[..3]
    );
    let distinct: HashSet<&String> = origins.iter().collect();
    assert_eq!(distinct.len() as u64, N + 2);
    // The split pack's good data name their place in it (0 and 2), through their own entries.
    let tail: Vec<&str> = origins[N as usize..]
        .iter()
        .map(|o| o.rsplit('#').next().unwrap())
        .collect();
    assert_eq!(tail, ["0", "2"]);

    let dead = fleet.dead_letters(10).unwrap();
    assert_eq!(dead.len(), 2, "{dead:?}");
    assert!(
        dead[0].reason.contains("not a JSON array"),
        "{}",
        dead[0].reason
    );
    assert!(dead[1].reason.contains("not a datum"), "{}", dead[1].reason);
    assert_eq!(dead[1].datum.as_deref(), Some(r#"{"m":2}"#));

    let status = machine.status();
    assert_eq!(status.plugins["redis"]["split"], 1);
    assert_eq!(status.counts.processed, N + 2);
    assert!(status.counts.is_balanced());
    let balance = fleet.balance().unwrap();
    assert!(balance.is_balanced(), "{balance}");
    // Entries: N/16 packs and the two foreign ones acknowledged or dead, the split one's
    // three pieces produced (two acknowledged, one dead).
    assert_eq!(
        (
            balance.produced,
            balance.acked,
            balance.dead,
            balance.pending
        ),
        (N / 16 + 2 + 3, N / 16 + 1 + 2, 2, 0)
    );
    assert!(
        balance.to_string().contains("2002 data acknowledged"),
        "{balance}"
    );
}

#[test]
fn a_killed_worker_s_packs_are_split_and_nothing_is_lost() {
    const N: u64 = 30_720; // round trips of 256 (the default batch): every pack full
    const PACK: u64 = 32;
    let server = Server::start();
    let url = server.url();
    let dir = &server.dir;
    let mut con = server.con();
    let worker = |name: &str| {
        fleet(
            dir,
            name,
            &work_args(
                &url,
                name,
                &["--claim-after-ms", "3000", "--until-done", &N.to_string()],
            ),
        )
    };
    let pack = PACK.to_string();
    let mut producer = fleet(
        dir,
        "producer",
        &produce_args(&url, N, &["--capacity", "200", "--pack", &pack]),
    );
    let mut w1 = worker("w1");
    let mut w2 = worker("w2");
    until("a third of the records", || {
        xlen(&mut con, "results") >= N / 3
    });
    w2.kill().unwrap(); // SIGKILL
    w2.wait().unwrap();
    let at_kill = pending_of(&mut con, "tweets", "w2");
    until("two thirds of the records", || {
        xlen(&mut con, "results") >= 2 * N / 3
    });
    let mut w2 = worker("w2");
    assert!(wait(&mut producer), "the producer failed");
    for w in [&mut w1, &mut w2] {
        assert!(wait(w), "a worker failed");
    }

    let ids = result_ids(&mut con, "results");
    assert_eq!(ids.len() as u64, N, "every tweet has a record");
    let duplicates: u64 = ids.values().map(|n| n - 1).sum();
    assert!(
        duplicates <= at_kill * PACK,
        "{duplicates} duplicates, {at_kill} packs pending at the kill"
    );
    let mut fleet = Fleet::connect(RedisOptions::new(url.clone(), "tweets")).unwrap();
    let results = fleet.results("results").unwrap();
    assert_eq!(
        (results.distinct, results.duplicates),
        (N, duplicates),
        "duplicates are recognised by origin, packed or split"
    );
    let balance = fleet.balance().unwrap();
    assert!(balance.is_balanced(), "{balance}");
    assert_eq!((balance.pending, balance.unread, balance.dead), (0, 0, 0));
    assert_eq!(balance.acked_data, N, "each datum counted once");
    // Every pack holds 32, and each split one added its 32 pieces.
    let packs = N / PACK;
    let pieces = balance.produced - packs;
    assert_eq!(pieces % PACK, 0, "{balance}");
    assert!(
        pieces >= at_kill * PACK,
        "the killed worker's {at_kill} packs were split: {balance}"
    );
}

#[test]
fn a_poisonous_datum_in_a_pack_is_dead_lettered_alone() {
    const N: u64 = 2_000;
    const POISON: u64 = 1_234;
    const MAX_DELIVERIES: u64 = 3;
    let server = Server::start();
    let url = server.url();
    let dir = &server.dir;
    let spawn = |name: &str| {
        fleet(
            dir,
            name,
            &work_args(
                &url,
                name,
                &[
                    "--claim-after-ms",
                    "1000",
                    "--batch",
                    "64",
                    "--max-deliveries",
                    &MAX_DELIVERIES.to_string(),
                    "--abort-on",
                    &POISON.to_string(),
                    "--until-done",
                    &N.to_string(),
                ],
            ),
        )
    };
    let mut producer = fleet(dir, "producer", &produce_args(&url, N, &["--pack", "8"]));
    assert!(wait(&mut producer));
    let mut w = spawn("w1");
    let mut deaths = 0;
    let deadline = Instant::now() + PATIENCE;
    loop {
        assert!(Instant::now() < deadline, "the fleet did not finish");
        if let Some(status) = w.try_wait().unwrap() {
            if status.success() {
                break;
            }
            deaths += 1; // aborted on the poison: restart it, as a supervisor would
            w = spawn("w1");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Once packed, then alone until dead.
    assert_eq!(deaths, MAX_DELIVERIES + 1);

    let mut fleet = Fleet::connect(RedisOptions::new(url.clone(), "tweets")).unwrap();
    let dead = fleet.dead_letters(10).unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    let datum: serde_json::Value = serde_json::from_str(dead[0].datum.as_deref().unwrap()).unwrap();
    assert_eq!(datum["id"], POISON);
    assert_eq!(dead[0].deliveries, MAX_DELIVERIES);
    let mut con = server.con();
    let ids = result_ids(&mut con, "results");
    assert!(!ids.contains_key(&POISON));
    assert_eq!(ids.len() as u64, N - 1, "every other datum is processed");
    let balance = fleet.balance().unwrap();
    assert!(balance.is_balanced(), "{balance}");
    assert_eq!(
        (balance.acked_data, balance.dead, balance.pending),
        (N - 1, 1, 0)
    );
}
