//! Issue 20, item 17: a fleet whose Redis is killed (`kill -9`) and restarted from its AOF,
//! several times while one consumer reads. Once, Redis's `lag` stayed thousands of entries
//! above the truth after such restarts (or was nil) and timbr took it as "unread", so the
//! balance never added up and `--until-done` never finished; entries whose read reply was
//! lost in the kill stayed pending under a consumer that never got them; and the first
//! balance after a restart failed ("Redis refused `XINFO`: unexpected end of file").
//! Now every datum comes, nothing stays unread or pending, and the balance adds up.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use timbr_core::io::Taken;
use timbr_core::Queue;
use timbr_redis::{Fleet, RedisOptions, RedisQueue};
use timbr_testkit::*;

const N: u64 = 8_000;
const RESTARTS: u64 = 5;

#[test]
fn a_fleet_restarted_from_its_aof_gets_everything_and_balances() {
    let mut server = Server::start();
    let options = RedisOptions::new(server.url(), "items")
        .consumer("w")
        .batch(64)
        .pack(4)
        .backoff_max(Duration::from_millis(50));
    let producer = {
        let p = RedisQueue::<u64>::connect(options.clone().consumer("p")).unwrap();
        std::thread::spawn(move || {
            for c in 0..N / 100 {
                p.put_all(c * 100..(c + 1) * 100).unwrap();
            }
        })
    };
    let queue = RedisQueue::<u64>::connect(options.clone()).unwrap();
    let got = Arc::new(Mutex::new(HashSet::new()));
    let quit = Arc::new(AtomicBool::new(false));
    let consumer = {
        let (q, got, quit) = (queue.clone(), Arc::clone(&got), Arc::clone(&quit));
        std::thread::spawn(move || {
            while !quit.load(Ordering::Acquire) && (got.lock().len() as u64) < N {
                let deadline = Instant::now() + Duration::from_millis(100);
                if let Taken::Datum(d) = q.take_delivery(Some(deadline)) {
                    got.lock().insert(d.datum);
                    q.ack(d.id.as_ref().unwrap());
                }
            }
        })
    };
    let mut fleet = Fleet::connect(options).unwrap();
    for k in 1..=RESTARTS {
        until("the consumer to read on", || {
            got.lock().len() as u64 >= k * N / (RESTARTS + 2)
        });
        server.kill();
        server.restart();
        // Restarts are retried: the first balance after one is an answer, not an error.
        let b = fleet.balance();
        assert!(b.is_ok(), "the balance after restart {k}: {b:?}");
    }
    producer.join().unwrap();
    let deadline = Instant::now() + PATIENCE;
    while !consumer.is_finished() {
        if Instant::now() > deadline {
            quit.store(true, Ordering::Release);
            let b = fleet.balance();
            panic!("{} of {N} data came; {b:?}", got.lock().len());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    consumer.join().unwrap();
    assert_eq!(got.lock().len() as u64, N);
    queue.flush();
    let mut last = None;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let b = fleet.balance().unwrap();
        if b.unread == 0 && b.pending == 0 {
            assert!(b.is_balanced(), "{b}");
            assert_eq!(b.acked_data, N, "{b}");
            break;
        }
        assert!(Instant::now() < deadline, "left unread or pending: {b}");
        last = Some(b);
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = last;
}

/// After a restart from the AOF, Redis no longer knows how many entries the group read
/// (`entries-read` nil) and gives no `lag`, or a wrong one: what is unread is then counted.
#[test]
fn unread_entries_are_counted_where_redis_lost_its_lag() {
    let mut server = Server::start();
    let options = RedisOptions::new(server.url(), "items").consumer("w");
    let producer = RedisQueue::<u64>::connect(options.clone().consumer("p")).unwrap();
    producer.put_all(0..200).unwrap();
    // Read 150 (left pending), then kill and restart Redis.
    let mut con = server.con();
    let _: timbr_redis::redis::Value = timbr_redis::redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("timbr")
        .arg("w")
        .arg("COUNT")
        .arg(150)
        .arg("STREAMS")
        .arg("items")
        .arg(">")
        .query(&mut con)
        .unwrap();
    drop(con);
    server.kill();
    server.restart();
    let mut fleet = Fleet::connect(options).unwrap();
    let b = fleet.balance().unwrap();
    assert_eq!((b.produced, b.pending, b.unread), (200, 150, 50), "{b}");
    assert!(b.is_balanced(), "{b}");
    // The queue's own look at the group agrees (the capacity and `len` use it).
    let q = RedisQueue::<u64>::connect(
        RedisOptions::new(server.url(), "items")
            .consumer("other")
            .capacity(250),
    )
    .unwrap();
    q.try_put(200).unwrap(); // measures the queue first: 200 of 250
    assert_eq!(q.report().group_info.lag, Some(50));
    for n in 201..250 {
        q.try_put(n).unwrap();
    }
    assert!(
        q.try_put(250).is_err(),
        "held to its capacity by what is unread"
    );
}
