//! Issue test 1: one producer, three worker processes, one of them killed with SIGKILL
//! mid-run and restarted later: every tweet has a record, duplicates are no more than what
//! the killed worker had fetched and not acknowledged, and nothing is pending at the end.
//! The same with packed entries (`--pack 32`): the killed worker's packs are split.

mod common;

use common::*;
use timbr_redis::{Fleet, RedisOptions};

const N: u64 = 100_000;

/// What a run with one worker killed and restarted left.
struct Killed {
    /// The server, kept running for the test's own checks (bind it: `..` would drop it).
    server: Server,
    fleet: Fleet,
    /// Entries the killed worker had pending (fetched, not acknowledged) when it died.
    at_kill: u64,
}

/// One producer of `n` tweets, `pack` to an entry, and workers `names`; `w2` is killed with
/// SIGKILL at a third of the records and restarted at two thirds. Checks what holds for
/// every pack size: every tweet has a record, duplicates are no more than what the killed
/// worker held (`pack` data to each entry it had pending), recognised by origin; the fleet
/// balances with nothing left pending, unread or dead.
fn kill_and_restart(n: u64, names: &[&str], pack: u64, extra: &[&str]) -> Killed {
    let server = Server::start();
    let url = server.url();
    let dir = &server.dir;
    let mut con = server.con();
    let worker = |name: &str| {
        let until = n.to_string();
        let mut args = vec!["--until-done", until.as_str()];
        args.extend_from_slice(extra);
        fleet(dir, name, &work_args(&url, name, &args))
    };
    let capacity = (20_000 / pack).to_string();
    let mut producer = fleet(
        dir,
        "producer",
        &produce_args(
            &url,
            n,
            &["--capacity", &capacity, "--pack", &pack.to_string()],
        ),
    );
    let mut workers: Vec<_> = names.iter().map(|w| (*w, worker(w))).collect();

    until("a third of the records", || {
        xlen(&mut con, "results") >= n / 3
    });
    let w2 = &mut workers.iter_mut().find(|(w, _)| *w == "w2").unwrap().1;
    w2.kill().unwrap(); // SIGKILL
    w2.wait().unwrap();
    // What it had fetched and not acknowledged: the most that can be processed twice.
    let at_kill = pending_of(&mut con, "tweets", "w2");
    until("two thirds of the records", || {
        xlen(&mut con, "results") >= 2 * n / 3
    });
    *w2 = worker("w2"); // the same consumer, restarted

    assert!(wait(&mut producer), "the producer failed");
    for (_, w) in &mut workers {
        assert!(wait(w), "a worker failed");
    }

    let ids = result_seqs(&mut con, "results", n);
    assert_eq!(ids.len() as u64, n, "every tweet has a record");
    assert!((1..=n).all(|i| ids.contains_key(&i)));
    let duplicates: u64 = ids.values().map(|d| d - 1).sum();
    assert!(
        duplicates <= at_kill * pack,
        "{duplicates} duplicates, {at_kill} entries of {pack} pending at the kill"
    );

    let mut fleet = Fleet::connect(RedisOptions::new(url.clone(), "tweets")).unwrap();
    let results = fleet.results("results").unwrap();
    assert_eq!(
        (results.distinct, results.duplicates),
        (n, duplicates),
        "duplicates are counted, by origin"
    );
    let balance = fleet.balance().unwrap();
    assert!(balance.is_balanced(), "{balance}");
    assert_eq!((balance.pending, balance.unread, balance.dead), (0, 0, 0));
    assert_eq!(balance.acked_data, n, "each datum counted once");
    Killed {
        server,
        fleet,
        at_kill,
    }
}

#[test]
fn a_worker_killed_mid_run_loses_nothing() {
    let Killed {
        server: _server,
        mut fleet,
        ..
    } = kill_and_restart(N, &["w1", "w2", "w3"], 1, &["--claim-after-ms", "5000"]);
    let balance = fleet.balance().unwrap();
    assert_eq!((balance.produced, balance.acked), (N, N));
    let mut members: Vec<_> = fleet
        .members()
        .unwrap()
        .into_iter()
        .map(|m| (m.name, m.pending))
        .collect();
    members.sort();
    assert_eq!(
        members,
        [("w1".into(), 0), ("w2".into(), 0), ("w3".into(), 0)]
    );
    // Each worker announced itself, and its last word is that it ended (the killed w2's
    // restart, under the same name, said so last); so did the producer.
    let machines = fleet.machines().unwrap();
    let mut announced: Vec<_> = machines
        .iter()
        .filter(|m| m.machine.role == "worker")
        .map(|m| (m.machine.name.clone(), m.state().to_owned(), m.is_live()))
        .collect();
    announced.sort();
    assert_eq!(
        announced,
        ["w1", "w2", "w3"].map(|w| (w.to_owned(), "stopped".to_owned(), false))
    );
    let producers: Vec<_> = machines
        .iter()
        .filter(|m| m.machine.role == "producer")
        .map(|m| (m.state(), m.put()))
        .collect();
    assert_eq!(producers, [("completed", N)]);
    // Every life of every worker counts: w2's killed life's last announced counts too.
    let w2 = machines.iter().find(|m| m.machine.name == "w2").unwrap();
    assert_eq!(w2.earlier.lives, 1, "{w2:?}");
}

#[test]
fn a_worker_killed_mid_run_loses_nothing_of_packed_entries() {
    const N: u64 = 30_720; // round trips of 256 (the default batch): every pack full
    const PACK: u64 = 32;
    let Killed {
        server: _server,
        mut fleet,
        at_kill,
    } = kill_and_restart(N, &["w1", "w2"], PACK, &["--claim-after-ms", "3000"]);
    // Every pack holds 32, and each one split (the killed worker's, delivered again) added
    // its 32 pieces.
    let balance = fleet.balance().unwrap();
    let pieces = balance.produced - N / PACK;
    assert_eq!(pieces % PACK, 0, "{balance}");
    assert!(
        pieces >= at_kill * PACK,
        "the killed worker's {at_kill} packs were split: {balance}"
    );
}
