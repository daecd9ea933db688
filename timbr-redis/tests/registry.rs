//! The fleet's own story (issue 20, items 6 and 7): a machine's last word says how it
//! ended and the view keeps it (a completed producer and a stopped worker are not GONE like
//! a killed one, and stay listed past the liveness timeout); a worker started again under
//! its name adds to its earlier life's counts, so that the totals match the balance.

use serde::{Deserialize, Serialize};
use timbr_core::{Machine, Stage, StopMode};
use timbr_redis::{
    redis, Announce, Fleet, Producer, RedisOptions, RedisQueue, Summary, FORGET_AFTER, GONE_AFTER,
};
use timbr_testkit::*;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Item {
    n: u64,
}

/// A worker `w` (announced) that runs until the fleet acknowledged `acked` entries, then
/// stops cleanly.
fn worker_life(options: &RedisOptions, fleet: &mut Fleet, acked: u64) {
    let queue = RedisQueue::<Item>::connect(options.clone().consumer("w")).unwrap();
    let machine = Machine::<Item>::builder()
        .queue(queue.clone())
        .sink(queue.sink("results"))
        .plugin(Announce::for_queue(&queue, "worker").unwrap())
        .stage(Stage::new(0, "n", ["input"], |i: &Item| i.n).unwrap())
        .build()
        .unwrap();
    machine.start().unwrap();
    until("the worker to process its part", || {
        fleet.balance().unwrap().acked >= acked
    });
    machine.stop(StopMode::Drain);
}

#[test]
fn ended_machines_say_how_and_a_restarted_worker_keeps_its_earlier_counts() {
    let server = Server::start();
    let options = RedisOptions::new(server.url(), "items").batch(16);
    let mut fleet = Fleet::connect(options.clone()).unwrap();

    // A producer that completes, announced as the programs do.
    let mut producer = Producer::<Item>::connect(options.clone().consumer("p")).unwrap();
    let announce = Announce::for_producer(&producer, "producer").unwrap();
    announce.beat(&Summary {
        state: "producing".into(),
        ..Summary::default()
    });
    producer
        .put_all((0..300).map(|n| Item { n }), &|| false)
        .unwrap();

    // Two lives of worker `w`, each stopped cleanly: 300 data, then 200 more.
    worker_life(&options, &mut fleet, 300);
    producer
        .put_all((300..500).map(|n| Item { n }), &|| false)
        .unwrap();
    announce.beat(&Summary {
        state: "completed".into(),
        ..Summary::default()
    });
    worker_life(&options, &mut fleet, 500);

    // A machine killed: its last word was `running`.
    let killed = RedisQueue::<Item>::connect(options.clone().consumer("k")).unwrap();
    Announce::for_queue(&killed, "worker")
        .unwrap()
        .beat(&Summary {
            state: "running".into(),
            ..Summary::default()
        });
    drop(killed);

    // Past the liveness timeout, only the killed one is gone.
    until("the killed machine to be gone", || {
        let machines = fleet.machines().unwrap();
        machines.iter().any(|m| m.machine.name == "k" && m.gone)
    });
    let view = fleet.view().unwrap();
    let by_name = |name: &str| {
        view.machines
            .iter()
            .find(|m| m.machine.name == name)
            .unwrap()
    };
    let (p, w, k) = (by_name("p"), by_name("w"), by_name("k"));
    assert!(w.seen_ms_ago > GONE_AFTER.as_millis() as u64, "{w:?}");
    assert_eq!(
        (p.state(), p.gone, p.has_ended()),
        ("completed", false, true)
    );
    assert_eq!((w.state(), w.gone, w.has_ended()), ("stopped", false, true));
    assert_eq!((k.state(), k.gone, k.is_live()), ("GONE", true, false));
    let text = view.to_string();
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap()
            .to_owned()
    };
    assert!(line("p").contains("completed"), "{text}");
    assert!(
        line("w").contains("stopped") && line("w").ends_with("(2 lives)"),
        "{text}"
    );
    assert!(line("k").contains("GONE"), "{text}");

    // Every life counts: the totals match the balance under them.
    assert_eq!(w.earlier.lives, 1, "{w:?}");
    assert_eq!((w.machine.processed, w.processed()), (200, 500), "{w:?}");
    assert_eq!(view.totals.processed, 500);
    assert_eq!(view.balance.acked, 500);
    assert_eq!((p.put(), view.totals.put), (500, 500));
    assert_eq!(view.totals.live, 0);

    // Ended machines are kept longer than gone ones are.
    let mut con = server.con();
    let expire = |con: &mut redis::Connection, name: &str| -> u64 {
        redis::cmd("ZSCORE")
            .arg("items:machines:expire")
            .arg(name)
            .query::<f64>(con)
            .unwrap() as u64
    };
    let (w_until, k_until) = (expire(&mut con, "w"), expire(&mut con, "k"));
    assert!(
        w_until > k_until + FORGET_AFTER.as_millis() as u64,
        "{w_until} {k_until}"
    );
}
