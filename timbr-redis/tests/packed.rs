//! Many data per entry (`RedisOptions::pack`), in process: every datum processed once, each
//! record naming its place in its pack, undecodable packs dead-lettered with the reason, and
//! the fleet's balance adds up. (A killed worker's packs: `kill_worker.rs`; a poisonous
//! datum in a pack: `poison.rs`; outages: `outage.rs`; the edges: `packed_edges.rs`.)

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use timbr_core::{Machine, Stage, StopMode};
use timbr_redis::{redis, Fleet, RedisOptions, RedisQueue, RedisStatus};
use timbr_testkit::*;

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
