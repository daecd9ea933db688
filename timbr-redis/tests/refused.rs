//! Issue 20, item 20: Redis answers but refuses — out of memory under `maxmemory` with
//! `noeviction`, or a results key of the wrong type. Once, workers showed "REDIS
//! UNREACHABLE" and producers said nothing. Now the queue says what Redis said (a
//! `Refused` event and `QueueReport::refused`, while `connected` stays true), records and
//! their acknowledgements wait without losing anything, acknowledgements that wait for no
//! record go through even out of memory (with their count: the balance adds up), and
//! everything flows once the cause is removed.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use timbr_core::io::QueueEvent;
use timbr_core::{ChannelSink, Machine, PutTimeoutError, Queue, Stage, StopMode};
use timbr_redis::{redis, Fleet, RedisOptions, RedisQueue};
use timbr_testkit::*;

const N: u64 = 600;

/// Every `Refused` event's message, and every other event's name.
fn listen<T>(q: &RedisQueue<T>) -> Arc<Mutex<Vec<String>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    q.on_event(move |e| {
        let line = match e {
            QueueEvent::Refused { error, .. } => format!("refused: {error}"),
            QueueEvent::Disconnected { .. } => "disconnected".to_owned(),
            QueueEvent::Reconnected { .. } => "reconnected".to_owned(),
            _ => return,
        };
        s.lock().push(line);
    });
    seen
}

fn machine(q: &RedisQueue<u64>, sink: impl timbr_core::Sink + 'static) -> Machine<u64> {
    Machine::<u64>::builder()
        .queue(q.clone())
        .sink(sink)
        .stage(Stage::new(0, "x", ["input"], |n: &u64| n * 2).unwrap())
        .build()
        .unwrap()
}

#[test]
fn out_of_memory_is_named_nothing_is_lost_and_acknowledgements_go_through() {
    let server = Server::start();
    let mut con = server.con();
    let options = |name: &str| {
        RedisOptions::new(server.url(), "items")
            .consumer(name)
            .batch(32)
    };
    let producer = RedisQueue::<u64>::connect(options("p")).unwrap();
    let producer_events = listen(&producer);
    producer.put_all(0..N).unwrap();
    // (Connecting creates the group if need be: that needs memory too.)
    let w1 = RedisQueue::<u64>::connect(options("w1")).unwrap();
    let w2 = RedisQueue::<u64>::connect(options("w2")).unwrap();
    let mut fleet = Fleet::connect(options("fleet")).unwrap();

    // Out of memory: anything that needs memory is refused from now on.
    let config = |con: &mut redis::Connection, k: &str, v: &str| {
        redis::cmd("CONFIG")
            .arg("SET")
            .arg(k)
            .arg(v)
            .query::<()>(con)
            .unwrap()
    };
    config(&mut con, "maxmemory-policy", "noeviction");
    config(&mut con, "maxmemory", "1");

    // A worker writing records to Redis: they are refused, named, and wait.
    let w1_events = listen(&w1);
    let m1 = machine(&w1, w1.sink("results"));
    m1.start().unwrap();
    until("w1 to name the refusal", || {
        w1.report().refused.is_some_and(|r| r.contains("OOM"))
    });
    assert!(w1.report().connected, "Redis answers: not unreachable");
    assert!(w1_events
        .lock()
        .iter()
        .any(|e| e.starts_with("refused: OOM")));
    assert!(!w1_events.lock().iter().any(|e| e == "disconnected"));
    let status = m1.status();
    assert!(status.events["queue_refused"] >= 1 || !w1_events.lock().is_empty());

    // A producer says so too.
    let put = producer.put_until(N, Some(Instant::now() + Duration::from_millis(300)));
    assert!(matches!(put, Err(PutTimeoutError::Timeout(_))), "{put:?}");
    assert!(
        producer.report().refused.is_some_and(|r| r.contains("OOM")),
        "{:?}",
        producer.report()
    );
    assert!(producer_events
        .lock()
        .iter()
        .any(|e| e.starts_with("refused: OOM")));

    // A worker whose records go elsewhere: its acknowledgements need no record, free
    // memory, and go through — counted.
    let (sink, records) = ChannelSink::unbounded();
    let m2 = machine(&w2, sink);
    m2.start().unwrap();
    // (The fleet's balance is one `MULTI`, refused whole out of memory: the counter read
    // alone is not.)
    until("w2's acknowledgements out of memory", || {
        let acked: Option<u64> = redis::cmd("GET")
            .arg("items:acked:timbr")
            .query(&mut con)
            .unwrap();
        acked.unwrap_or(0) >= 64
    });
    assert!(
        w1.report().refused.is_some(),
        "still out of memory meanwhile"
    );

    // Memory back: everything flows, nothing lost, the accounts add up.
    config(&mut con, "maxmemory", "0");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let b = fleet.balance().unwrap();
        if b.unread == 0 && b.pending == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "never settled: {b}");
        std::thread::sleep(Duration::from_millis(50));
    }
    m1.stop(StopMode::Drain);
    m2.stop(StopMode::Drain);
    w1.flush();
    w2.flush();
    let b = fleet.balance().unwrap();
    assert!(b.is_balanced(), "{b}");
    assert_eq!(b.acked, N, "{b}");
    let mut done: HashSet<String> = HashSet::new();
    for r in records.try_iter() {
        done.insert(r.origin().unwrap().to_owned());
    }
    let in_redis: u64 = redis::cmd("XLEN").arg("results").query(&mut con).unwrap();
    assert!(
        in_redis + done.len() as u64 >= N,
        "every datum has a record"
    );
    until("w1 to see Redis accept again", || {
        w1.report().refused.is_none()
    });
    assert!(w1_events.lock().iter().any(|e| e == "reconnected"));
}

#[test]
fn a_results_key_of_the_wrong_type_is_named() {
    let server = Server::start();
    let mut con = server.con();
    redis::cmd("SET")
        .arg("results")
        .arg("not a stream")
        .query::<()>(&mut con)
        .unwrap();
    let q =
        RedisQueue::<u64>::connect(RedisOptions::new(server.url(), "items").consumer("w")).unwrap();
    let events = listen(&q);
    q.put_all(0..10).unwrap();
    let m = machine(&q, q.sink("results"));
    m.start().unwrap();
    until("the refusal to be named", || {
        q.report().refused.is_some_and(|r| r.contains("WRONGTYPE"))
    });
    assert!(q.report().connected);
    assert!(events.lock().iter().any(|e| e.contains("WRONGTYPE")));
    redis::cmd("DEL")
        .arg("results")
        .query::<()>(&mut con)
        .unwrap();
    until("every record written", || xlen(&mut con, "results") == 10);
    m.stop(StopMode::Drain);
    q.flush();
    let b = Fleet::connect(RedisOptions::new(server.url(), "items"))
        .unwrap()
        .balance()
        .unwrap();
    assert!(b.is_balanced() && b.acked == 10, "{b}");
}
