//! Issue tests 4 and 5, in process: undecodable entries written by another program become
//! dead letters with the reason; the queue is held to its capacity and `try_put` hands the
//! datum back; wrong URLs are clear errors at start.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use timbr_core::{ChannelSink, Machine, Queue, Stage, StopMode};
use timbr_redis::{redis, Fleet, RedisError, RedisOptions, RedisQueue, RedisStatus};
use timbr_testkit::*;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Item {
    n: u64,
}

#[test]
fn undecodable_entries_become_dead_letters_with_the_reason() {
    let server = Server::start();
    let options = RedisOptions::new(server.url(), "items")
        .consumer("w")
        .claim_after(Duration::from_millis(50));
    let queue = RedisQueue::<Item>::connect(options.clone()).unwrap();
    // Another program writes to the stream: good data and bytes that are no datum.
    let mut con = server.con();
    let add = |con: &mut redis::Connection, field: &str, value: &[u8]| {
        redis::cmd("XADD")
            .arg("items")
            .arg("*")
            .arg(field)
            .arg(value)
            .query::<String>(con)
            .unwrap();
    };
    add(&mut con, "d", br#"{"n":1}"#);
    add(&mut con, "d", b"\xff\xfe not json");
    add(&mut con, "d", br#"{"m":2}"#);
    add(&mut con, "other", b"no datum field");
    add(&mut con, "d", br#"{"n":5}"#);

    let dead_events = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&dead_events);
    queue.on_event(move |e| {
        if matches!(e, timbr_core::io::QueueEvent::DeadLettered { .. }) {
            seen.fetch_add(1, Ordering::Relaxed);
        }
    });
    let (sink, records) = ChannelSink::unbounded();
    let machine = Machine::<Item>::builder()
        .queue(queue.clone())
        .sink(sink)
        .plugin(RedisStatus::new(&queue))
        .stage(Stage::new(0, "n", ["input"], |i: &Item| i.n * 10).unwrap())
        .build()
        .unwrap();
    machine.start().unwrap();
    let got: Vec<_> = (0..2)
        .map(|_| records.recv_timeout(PATIENCE).unwrap())
        .collect();
    let mut fleet = Fleet::connect(options).unwrap();
    until("three dead letters", || fleet.balance().unwrap().dead == 3);
    machine.stop(StopMode::Drain);
    queue.flush();

    assert!(
        got.iter().all(|r| r.origin().is_some()),
        "records name their entry"
    );
    let values: Vec<&str> = got.iter().map(|r| r.json()).collect();
    assert_eq!(
        values,
        [
            r#"[{"n":1},10,10,10,10,10,10,10,10]"#,
            r#"[{"n":5},50,50,50,50,50,50,50,50]"#
        ]
    );
    let dead = fleet.dead_letters(10).unwrap();
    assert_eq!(dead.len(), 3);
    assert!(
        dead.iter().all(|d| d.reason.starts_with("undecodable")),
        "{dead:?}"
    );
    assert!(dead[0].reason.contains("not a datum"));
    assert!(dead[2].reason.contains("no field `d`"));
    assert!(
        dead[2].datum.is_none(),
        "the fields are kept as JSON instead"
    );
    assert_eq!(dead_events.load(Ordering::Relaxed), 3);

    let status = machine.status();
    let redis = &status.plugins["redis"];
    assert_eq!(redis["dead_lettered"], 3);
    assert_eq!(redis["undecodable"], 3);
    assert!(status.to_string().contains("dead-lettered 3"));
    assert!(status.counts.is_balanced());
    assert_eq!(status.counts.processed, 2);
    let balance = fleet.balance().unwrap();
    assert!(balance.is_balanced(), "{balance}");
    assert_eq!(
        (
            balance.produced,
            balance.acked,
            balance.dead,
            balance.pending
        ),
        (5, 2, 3, 0)
    );
}

#[test]
fn the_queue_is_held_to_its_capacity_and_try_put_hands_back() {
    let server = Server::start();
    let options = RedisOptions::new(server.url(), "items")
        .capacity(50)
        .check_every(8);
    let queue = RedisQueue::<Item>::connect(options.clone().consumer("p")).unwrap();
    for n in 0..50 {
        queue.try_put(Item { n }).unwrap();
    }
    let back = queue.try_put(Item { n: 50 }).unwrap_err();
    assert_eq!(back.into_inner(), Item { n: 50 }, "handed back, not lost");
    assert_eq!(queue.len(), 50);

    // A producer much faster than a worker whose stage is slow: held to the bound.
    let worker = RedisQueue::<Item>::connect(options.clone().consumer("w").batch(4)).unwrap();
    let (sink, records) = ChannelSink::unbounded();
    let machine = Machine::<Item>::builder()
        .queue(worker.clone())
        .sink(worker.sink("results"))
        .stage(
            Stage::new(0, "slow", ["input"], |i: &Item| {
                std::thread::sleep(Duration::from_micros(300));
                i.n
            })
            .unwrap(),
        )
        .build()
        .unwrap();
    drop(sink);
    drop(records);
    machine.start().unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let done = Arc::clone(&done);
        let mut con = server.con();
        std::thread::spawn(move || {
            let mut max = 0_u64;
            while !done.load(Ordering::Acquire) {
                let groups: Vec<Vec<redis::Value>> = redis::cmd("XINFO")
                    .arg("GROUPS")
                    .arg("items")
                    .query(&mut con)
                    .unwrap();
                let field = |row: &Vec<redis::Value>, name: &str| -> u64 {
                    let i = row
                        .iter()
                        .position(|v| {
                            redis::from_redis_value::<String>(v).ok().as_deref() == Some(name)
                        })
                        .unwrap();
                    redis::from_redis_value(&row[i + 1]).unwrap()
                };
                max = max.max(field(&groups[0], "lag") + field(&groups[0], "pending"));
            }
            max
        })
    };
    for n in 51..1_000 {
        queue
            .put_until(Item { n }, None)
            .unwrap_or_else(|_| unreachable!());
    }
    let mut fleet = Fleet::connect(options).unwrap();
    until("every item", || fleet.balance().unwrap().acked == 999);
    done.store(true, Ordering::Release);
    let max = watcher.join().unwrap();
    assert!(max <= 50, "the queue held {max} entries, capacity 50");
    machine.stop(StopMode::Drain);
    assert!(fleet.balance().unwrap().is_balanced());
}

#[test]
fn a_wrong_url_is_a_clear_error_at_start() {
    let server = Server::start();
    // Nothing listens on the port of a server that was stopped.
    let port = server.port;
    drop(server);
    let err =
        RedisQueue::<Item>::connect(RedisOptions::new(format!("redis://127.0.0.1:{port}"), "s"))
            .unwrap_err();
    assert!(matches!(err, RedisError::Connect { .. }), "{err}");
    assert!(err.to_string().contains("cannot connect to Redis"));
    let err = RedisQueue::<Item>::connect(RedisOptions::new("http://nowhere", "s")).unwrap_err();
    assert!(matches!(err, RedisError::BadUrl { .. }), "{err}");
    let err = RedisQueue::<Item>::connect(
        RedisOptions::new("redis://127.0.0.1:1", "s").max_deliveries(1),
    )
    .unwrap_err();
    assert!(matches!(err, RedisError::Setting(_)), "{err}");
}
