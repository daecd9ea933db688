//! Issue test 1: one producer, three worker processes, one of them killed with SIGKILL
//! mid-run and restarted later: every tweet has a record, duplicates are no more than what
//! the killed worker had fetched and not acknowledged, and nothing is pending at the end.

mod common;

use common::*;
use timbr_redis::{Fleet, RedisOptions};

const N: u64 = 100_000;

#[test]
fn a_worker_killed_mid_run_loses_nothing() {
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
                &["--claim-after-ms", "5000", "--until-done", &N.to_string()],
            ),
        )
    };
    let mut producer = fleet(
        dir,
        "producer",
        &produce_args(&url, N, &["--capacity", "20000"]),
    );
    let mut w1 = worker("w1");
    let mut w2 = worker("w2");
    let mut w3 = worker("w3");

    until("a third of the records", || {
        xlen(&mut con, "results") >= N / 3
    });
    w2.kill().unwrap(); // SIGKILL
    w2.wait().unwrap();
    // What it had fetched and not acknowledged: the most that can be processed twice.
    let at_kill = pending_of(&mut con, "tweets", "w2");
    until("two thirds of the records", || {
        xlen(&mut con, "results") >= 2 * N / 3
    });
    let mut w2 = worker("w2"); // the same consumer, restarted

    assert!(wait(&mut producer), "the producer failed");
    for w in [&mut w1, &mut w2, &mut w3] {
        assert!(wait(w), "a worker failed");
    }

    let ids = result_ids(&mut con, "results");
    assert_eq!(ids.len() as u64, N, "every tweet has a record");
    assert!((0..N).all(|i| ids.contains_key(&i)));
    let duplicates: u64 = ids.values().map(|n| n - 1).sum();
    assert!(
        duplicates <= at_kill,
        "{duplicates} duplicates, {at_kill} pending at the kill"
    );

    let mut fleet = Fleet::connect(RedisOptions::new(url.clone(), "tweets")).unwrap();
    let results = fleet.results("results").unwrap();
    assert_eq!(
        results.duplicates, duplicates,
        "duplicates are counted, by origin"
    );
    let balance = fleet.balance().unwrap();
    assert!(balance.is_balanced(), "{balance}");
    assert_eq!((balance.produced, balance.acked), (N, N));
    assert_eq!((balance.pending, balance.unread, balance.dead), (0, 0, 0));
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
    // restart, under the same name, said so last).
    let mut announced: Vec<_> = fleet
        .machines()
        .unwrap()
        .into_iter()
        .map(|m| (m.machine.name.clone(), m.machine.role.clone(), m.is_live()))
        .collect();
    announced.sort();
    assert_eq!(
        announced,
        ["w1", "w2", "w3"].map(|w| (w.to_owned(), "worker".to_owned(), false))
    );
}
