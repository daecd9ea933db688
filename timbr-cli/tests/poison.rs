//! Issue test 2: a stage that aborts the whole process on one datum; the test restarts
//! workers each time they die. That datum ends in the dead-letter stream after
//! `max_deliveries`; every other datum is processed; the dead letter can be re-queued.

mod common;

use std::time::Instant;

use common::fleet as fleet_cmd;
use common::*;
use timbr_redis::{Fleet, RedisOptions};

const N: u64 = 3_000;
const POISON: u64 = 1_234;
const MAX_DELIVERIES: u64 = 3;

/// What a run with a poisonous datum left.
struct Poisoned {
    server: Server,
    fleet: Fleet,
    /// Times a worker died (and was restarted).
    deaths: u64,
}

/// A producer of `N` tweets, `pack` to an entry, and two workers that abort on `POISON`,
/// restarted as a supervisor would each time they die, until the fleet is done. Checks
/// what holds for every pack size: the poison alone is dead-lettered, after exactly
/// `MAX_DELIVERIES` deliveries of it, and every other datum is processed.
fn poisoned(pack: u64) -> Poisoned {
    let server = Server::start();
    let url = server.url();
    let dir = &server.dir;
    let mut con = server.con();
    let spawn = |name: &str| {
        fleet(
            dir,
            name,
            &work_args(
                &url,
                name,
                &[
                    "--claim-after-ms",
                    "1000",
                    "--batch",
                    "64",
                    "--max-deliveries",
                    &MAX_DELIVERIES.to_string(),
                    "--abort-on",
                    &POISON.to_string(),
                    "--until-done",
                    &N.to_string(),
                ],
            ),
        )
    };
    let mut producer = fleet(
        dir,
        "producer",
        &produce_args(&url, N, &["--pack", &pack.to_string()]),
    );
    assert!(wait(&mut producer));

    let names = ["w1", "w2"];
    let mut workers: Vec<_> = names.iter().map(|n| spawn(n)).collect();
    let mut deaths = 0;
    let deadline = Instant::now() + PATIENCE;
    let mut done = [false; 2];
    while done.iter().any(|d| !d) {
        assert!(Instant::now() < deadline, "the fleet did not finish");
        for (i, w) in workers.iter_mut().enumerate() {
            if done[i] {
                continue;
            }
            if let Some(status) = w.try_wait().unwrap() {
                if status.success() {
                    done[i] = true;
                } else {
                    deaths += 1; // aborted on the poison: restart it, as a supervisor would
                    *w = spawn(names[i]);
                }
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }

    let mut fleet = Fleet::connect(RedisOptions::new(url.clone(), "tweets")).unwrap();
    let dead = fleet.dead_letters(10).unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    let datum: serde_json::Value = serde_json::from_str(dead[0].datum.as_deref().unwrap()).unwrap();
    assert_eq!(datum["seq"], POISON, "the entry as the producer put it");
    assert_eq!(dead[0].deliveries, MAX_DELIVERIES);
    assert!(
        dead[0].reason.contains("without an acknowledgement"),
        "{}",
        dead[0].reason
    );

    let ids = result_seqs(&mut con, "results", N);
    assert!(!ids.contains_key(&POISON));
    assert_eq!(ids.len() as u64, N - 1, "every other datum is processed");
    let balance = fleet.balance().unwrap();
    assert!(balance.is_balanced(), "{balance}");
    assert_eq!(
        (balance.acked_data, balance.dead, balance.pending),
        (N - 1, 1, 0)
    );
    Poisoned {
        server,
        fleet,
        deaths,
    }
}

#[test]
fn a_datum_that_kills_its_worker_ends_in_the_dead_letters() {
    let Poisoned {
        server,
        mut fleet,
        deaths,
    } = poisoned(1);
    assert!(deaths >= 1, "the poison killed a worker at least once");
    assert!(
        deaths <= MAX_DELIVERIES,
        "{deaths} deaths for {MAX_DELIVERIES} deliveries"
    );
    let (url, dir) = (server.url(), &server.dir);
    let dead = fleet.dead_letters(10).unwrap();
    let balance = fleet.balance().unwrap();
    assert_eq!(balance.acked, N - 1);

    // The command line lists it, and says the fleet balances.
    let mut list = fleet_cmd(
        dir,
        "list",
        &args(&["dead", "--redis", &url, "--stream", "tweets", "list"]),
    );
    assert!(wait(&mut list));
    let listed = std::fs::read_to_string(dir.join("list.out")).unwrap();
    let row = listed.lines().nth(1).unwrap_or_default();
    assert!(
        row.starts_with(&format!("{}\t", dead[0].dead_id))
            && dead[0]
                .datum
                .as_deref()
                .and_then(|d| d.get(..40))
                .is_some_and(|start| row.contains(start)),
        "{listed}"
    );
    let mut balance_cmd = fleet_cmd(
        dir,
        "balance",
        &args(&["balance", "--redis", &url, "--stream", "tweets"]),
    );
    assert!(wait(&mut balance_cmd), "balance exits 0 when balanced");

    // Re-queued from the command line's library: back on the stream, out of the dead letters.
    fleet.requeue(&dead[0].dead_id).unwrap();
    let balance = fleet.balance().unwrap();
    assert!(balance.is_balanced(), "{balance}");
    assert_eq!((balance.unread, balance.dead), (1, 0));
}

#[test]
fn a_poisonous_datum_in_a_pack_is_dead_lettered_alone() {
    let Poisoned {
        server: _server,
        deaths,
        ..
    } = poisoned(8);
    // Once in its pack (the pack is then split), then alone until dead.
    assert_eq!(deaths, MAX_DELIVERIES + 1);
}
