//! Issue 20, item 2: `try_put` and `put_until` on a handle of a queue shared (cloned) with a
//! thread in a blocking `put` or `put_all`. With `kill -9` of redis-server, neither
//! answered until Redis came back: the blocked put held the only writing connection
//! through the outage. Now `try_put` hands the datum back at once and `put_until` at its
//! deadline, while the blocked put goes on once Redis is back — and adds nothing twice.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use timbr_core::io::QueueEvent;
use timbr_core::{PutTimeoutError, Queue, TryPutError};
use timbr_redis::{RedisOptions, RedisQueue};
use timbr_testkit::*;

/// How a blocking thread puts `n` data from `from`.
type Blocking = fn(&RedisQueue<u64>, u64, u64);

fn one_by_one(q: &RedisQueue<u64>, from: u64, n: u64) {
    for i in from..from + n {
        q.put_until(i, None).unwrap();
    }
}

fn all_at_once(q: &RedisQueue<u64>, from: u64, n: u64) {
    q.put_all(from..from + n).unwrap();
}

/// Runs `f` on a thread and waits for its answer for a generous minute: a one-attempt
/// put against a killed server is refused at once; before the fix it waited for ever.
fn answered<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{what} did not answer while Redis was down"))
}

fn shared_handle_answers_during_an_outage(blocking: Blocking, chunk: u64) {
    let mut server = Server::start();
    let options = RedisOptions::new(server.url(), "items")
        .consumer("p")
        .backoff_max(Duration::from_millis(100));
    let queue = RedisQueue::<u64>::connect(options).unwrap();
    let writer_down = Arc::new(AtomicBool::new(false));
    let down = Arc::clone(&writer_down);
    queue.on_event(move |e| {
        if matches!(e, QueueEvent::Disconnected { link, .. } if link == "writer") {
            down.store(true, Ordering::Release);
        }
    });
    // A producer thread putting until told to stop; it counts what its puts returned.
    let (stop, put) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let producer = {
        let (q, stop, put) = (queue.clone(), Arc::clone(&stop), Arc::clone(&put));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Acquire) {
                let from = put.load(Ordering::Acquire);
                blocking(&q, from, chunk);
                put.fetch_add(chunk, Ordering::AcqRel);
            }
        })
    };
    until("the producer's first puts", || {
        put.load(Ordering::Acquire) >= 4 * chunk
    });
    server.kill();
    // The producer is now inside a put that cannot end before Redis is back.
    until("the writer to see the outage", || {
        writer_down.load(Ordering::Acquire)
    });

    let q = queue.clone();
    match answered("try_put", move || q.try_put(u64::MAX)) {
        Err(TryPutError::Full(d)) => assert_eq!(d, u64::MAX, "the datum comes back"),
        other => panic!("try_put during an outage: {other:?}"),
    }
    let q = queue.clone();
    let deadline = Instant::now() + Duration::from_millis(500);
    match answered("put_until", move || {
        q.put_until(u64::MAX - 1, Some(deadline))
    }) {
        Err(PutTimeoutError::Timeout(d)) => assert_eq!(d, u64::MAX - 1),
        other => panic!("put_until during an outage: {other:?}"),
    }

    server.restart();
    stop.store(true, Ordering::Release);
    let deadline = Instant::now() + PATIENCE;
    while !producer.is_finished() {
        assert!(Instant::now() < deadline, "the blocked put never ended");
        std::thread::sleep(Duration::from_millis(20));
    }
    producer.join().unwrap();
    // Everything the producer put is in once (its round trip in doubt was not sent
    // twice), and nothing handed back is.
    let mut con = server.con();
    let put = put.load(Ordering::Acquire);
    let entries = xlen(&mut con, "items");
    assert_eq!(
        entries, put,
        "entries in the stream vs. data put (one datum each)"
    );
    // The shared handle still puts, both ways.
    queue.try_put(7).unwrap();
    queue.put_until(8, Some(Instant::now() + PATIENCE)).unwrap();
    assert_eq!(xlen(&mut con, "items"), put + 2);
}

#[test]
fn try_put_and_put_until_answer_while_a_put_waits_out_an_outage() {
    shared_handle_answers_during_an_outage(one_by_one, 1);
}

#[test]
fn try_put_and_put_until_answer_while_a_put_all_waits_out_an_outage() {
    shared_handle_answers_during_an_outage(all_at_once, 50);
}
