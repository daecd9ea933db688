//! The queue's two threads (reading ahead, sending records and acknowledgements) across many
//! starts, stops and drops of machines with several consumers: whatever was fetched ahead or
//! buffered when a machine stopped, every datum ends with exactly one record, the fleet
//! balances, and dropping a queue returns (its threads are joined).

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use timbr_core::{Machine, Stage, StopMode};
use timbr_redis::{Fleet, RedisOptions, RedisQueue};
use timbr_testkit::*;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Item {
    n: u64,
}

#[test]
fn machines_stopped_and_dropped_mid_stream_leave_every_datum_one_record() {
    let server = Server::start();
    let options = RedisOptions::new(server.url(), "tweets").batch(16);
    let producer = RedisQueue::<Item>::connect(options.clone().consumer("producer")).unwrap();
    let mut fleet = Fleet::connect(options.clone()).unwrap();
    const ROUNDS: u64 = 15;
    const PER_ROUND: u64 = 300;
    let deadline = Instant::now() + PATIENCE;
    for round in 0..ROUNDS {
        producer
            .put_all((round * PER_ROUND..(round + 1) * PER_ROUND).map(|n| Item { n }))
            .unwrap();
        // One consumer name throughout: each machine first re-reads what the last one left
        // fetched and unprocessed.
        let queue = RedisQueue::<Item>::connect(options.clone().consumer("w")).unwrap();
        let machine = Machine::<Item>::builder()
            .queue(queue.clone())
            .sink(queue.sink("results"))
            .workers(3)
            .stage(Stage::new(0, "n", ["input"], |i: &Item| i.n).unwrap())
            .build()
            .unwrap();
        machine.start().unwrap();
        // Stop at various points: early, midway, after all (the last round finishes all).
        let total = (round + 1) * PER_ROUND;
        let stop_at = if round + 1 == ROUNDS {
            total
        } else {
            round * PER_ROUND + (round % 3) * PER_ROUND / 3
        };
        while fleet.balance().unwrap().acked < stop_at {
            assert!(Instant::now() < deadline, "round {round}: stuck");
            std::thread::sleep(Duration::from_millis(5));
        }
        machine.stop(StopMode::Drain);
        let status = machine.status();
        assert!(
            status.counts.is_balanced(),
            "round {round}: {:?}",
            status.counts
        );
        drop(machine);
        drop(queue); // joins the queue's threads: a hang fails the test by its timeout
    }
    drop(producer);

    let total = ROUNDS * PER_ROUND;
    let balance = fleet.balance().unwrap();
    assert!(balance.is_balanced(), "{balance}");
    assert_eq!(
        (
            balance.produced,
            balance.acked,
            balance.pending,
            balance.unread
        ),
        (total, total, 0, 0),
        "{balance}"
    );
    let results = fleet.results("results").unwrap();
    assert_eq!(
        (results.records, results.duplicates),
        (total, 0),
        "one record per datum: {:?}",
        results.repeated
    );
}
