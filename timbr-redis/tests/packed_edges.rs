//! Packed entries at their edges (found in review): a pack's acknowledgement never outruns
//! the records of its data, even when a stop during an outage drops records and hands the
//! rest of the pack back; a pack whose split failed is split, not dead-lettered whole; and
//! another program's `o` field cannot make the queue acknowledge what is no entry.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use timbr_core::{Machine, Stage, StopMode};
use timbr_redis::{redis, RedisOptions, RedisQueue};
use timbr_testkit::*;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Item {
    n: u64,
}

static GATE: AtomicBool = AtomicBool::new(false);
static ENTERED: AtomicBool = AtomicBool::new(false);

#[test]
fn a_pack_is_not_acknowledged_when_a_record_of_it_was_dropped() {
    // Unpacked, the datum whose record was dropped stays pending (the control)...
    assert_eq!(stop_returning_during_an_outage(1), (0, 1));
    // ...packed, it must too: its record, or its entry pending.
    let (records, pending) = stop_returning_during_an_outage(4);
    assert!(
        records == 1 || pending == 1,
        "datum 0 lost: {records} records, {pending} pending (its pack was acknowledged)"
    );
}

/// One machine (one worker) on 4 data, `pack` to an entry: datum 0 in the stage when Redis
/// is killed and the machine stopped with `StopMode::Return`; Redis back once the sink's
/// flush gave up. Returns the records written and the entries pending.
fn stop_returning_during_an_outage(pack: usize) -> (u64, u64) {
    GATE.store(false, Ordering::SeqCst);
    ENTERED.store(false, Ordering::SeqCst);
    let mut server = Server::start();
    let options = RedisOptions::new(server.url(), "items")
        .consumer("w")
        .pack(pack)
        .batch(4)
        .backoff_max(Duration::from_millis(200));
    let queue = RedisQueue::<Item>::connect(options.clone()).unwrap();
    queue.put_all((0..4).map(|n| Item { n })).unwrap();
    let machine = Machine::<Item>::builder()
        .queue(queue.clone())
        .sink(queue.sink("results"))
        .workers(1)
        .stage(
            Stage::new(0, "n", ["input"], |i: &Item| {
                ENTERED.store(true, Ordering::SeqCst);
                while !GATE.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(5));
                }
                i.n
            })
            .unwrap(),
        )
        .build()
        .unwrap();
    machine.start().unwrap();
    let deadline = Instant::now() + PATIENCE;
    while !ENTERED.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    // Datum 0 of the pack is in the stage; 1..3 are fetched, in the queue's buffer, once
    // all 4 are pending (a first read takes one entry, to learn the producers' pack size).
    let mut con = server.con();
    let entries = 4_u64.div_ceil(pack as u64);
    until("every entry fetched", || {
        pending_of(&mut con, "items", "w") == entries
    });
    drop(con);
    server.kill();
    std::thread::scope(|s| {
        let stopping = s.spawn(|| machine.stop(StopMode::Return));
        std::thread::sleep(Duration::from_millis(200));
        GATE.store(true, Ordering::SeqCst); // datum 0 finishes: its record cannot be written
        let returned = stopping.join().unwrap(); // the sink's flush gave up (10 s)
        assert_eq!(returned.len(), 3, "data 1..3 handed back to the caller");
    });
    std::thread::sleep(Duration::from_secs(1)); // the outage outlasts the flush
    server.restart();
    queue.flush();

    let mut con = server.con();
    let records: u64 = redis::cmd("XLEN").arg("results").query(&mut con).unwrap();
    let summary: redis::Value = redis::cmd("XPENDING")
        .arg("items")
        .arg(options.group_name())
        .query(&mut con)
        .unwrap();
    let pending: u64 = match &summary {
        redis::Value::Array(v) => redis::from_redis_value(&v[0]).unwrap(),
        _ => panic!("{summary:?}"),
    };
    (records, pending)
}

/// A packed entry is never handed to a stage after its first delivery (it is split), so its
/// delivery count reaches `max_deliveries` only through splits that did not happen: a
/// consumer killed between its `XCLAIM` and the split's `EXEC`, or a split given up (the
/// queue dropped during an outage). It must then be split, not dead-lettered whole (its
/// dead letter has no `d` field: `Fleet::requeue` cannot put its data back).
#[test]
fn a_pack_whose_split_failed_once_is_split_not_dead_lettered_whole() {
    use timbr_core::io::Taken;
    use timbr_core::Queue;
    let server = Server::start();
    let options = RedisOptions::new(server.url(), "items")
        .pack(4)
        .batch(4)
        .max_deliveries(2)
        .claim_after(Duration::from_millis(10));
    let producer = RedisQueue::<Item>::connect(options.clone().consumer("producer")).unwrap();
    producer.put_all((0..4).map(|n| Item { n })).unwrap();
    let mut con = server.con();
    // Consumer a reads the pack (delivery 1) and dies with it.
    let a = RedisQueue::<Item>::connect(options.clone().consumer("a")).unwrap();
    let first = a.take_delivery(Some(Instant::now() + PATIENCE));
    assert!(matches!(first, Taken::Datum(_)));
    drop(a);
    // Consumer b claims it (delivery 2) and dies before its split's transaction.
    let id: String = {
        let page: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg("items")
            .arg("-")
            .arg("+")
            .query(&mut con)
            .unwrap();
        page.ids[0].id.clone()
    };
    let _: redis::Value = redis::cmd("XCLAIM")
        .arg("items")
        .arg(options.group_name())
        .arg("b")
        .arg(0)
        .arg(&id)
        .query(&mut con)
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    // Consumer c finds it stale.
    let c = RedisQueue::<Item>::connect(options.clone().consumer("c")).unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    while got.len() < 4 && Instant::now() < deadline {
        if let Taken::Datum(d) = c.take_delivery(Some(Instant::now() + Duration::from_millis(200)))
        {
            got.push(d.datum.n);
            c.ack(d.id.as_ref().unwrap());
        }
    }
    c.flush();
    let mut fleet = timbr_redis::Fleet::connect(options).unwrap();
    let dead = fleet.dead_letters(10).unwrap();
    assert!(
        dead.is_empty() && got.len() == 4,
        "the pack's 4 data dead-lettered as one (requeue impossible: {:?}); delivered {got:?}",
        dead.iter()
            .map(|d| (&d.reason, &d.datum))
            .collect::<Vec<_>>()
    );
}

/// Another program's entry with an `o` field holding a `>` once got the delivery id
/// `a>b>S`, which `Handle::of` splits at the *first* `>`: the queue then acknowledged `b>S`,
/// no entry id, Redis refused that `XACK` inside the outbox's transaction, and every
/// acknowledgement of the batch (and after it) waited behind it. Now such an entry is
/// dead-lettered as undecodable (its `o` field is no origin a split writes), and the
/// acknowledgement of the other goes through.
#[test]
fn a_foreign_origin_field_does_not_wedge_the_acknowledgements() {
    use timbr_core::io::Taken;
    use timbr_core::Queue;
    let server = Server::start();
    let options = RedisOptions::new(server.url(), "items").consumer("w");
    let mut con = server.con();
    for (d, o) in [(r#"{"n":1}"#, None), (r#"{"n":2}"#, Some("a>b"))] {
        let mut cmd = redis::cmd("XADD");
        cmd.arg("items").arg("*").arg("d").arg(d);
        if let Some(o) = o {
            cmd.arg("o").arg(o);
        }
        cmd.query::<String>(&mut con).unwrap();
    }
    let q = RedisQueue::<Item>::connect(options.clone()).unwrap();
    let mut ids = Vec::new();
    while ids.is_empty() {
        if let Taken::Datum(d) = q.take_delivery(Some(Instant::now() + PATIENCE)) {
            ids.push(d.id.unwrap());
        }
    }
    for id in &ids {
        q.ack(id);
    }
    // `flush` waits until Redis applied them: on a thread of its own, never joined.
    let flushing = q.clone();
    std::thread::spawn(move || flushing.flush());
    let mut fleet = timbr_redis::Fleet::connect(options).unwrap();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let b = fleet.balance().unwrap();
        if (b.acked, b.dead) == (1, 1) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "acknowledgements stuck: {b}; delivery ids {:?}",
            ids.iter().map(|i| i.as_str()).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
