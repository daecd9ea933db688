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

#[test]
fn a_datum_that_kills_its_worker_ends_in_the_dead_letters() {
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
    let mut producer = fleet(dir, "producer", &produce_args(&url, N, &[]));
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
    assert!(deaths >= 1, "the poison killed a worker at least once");
    assert!(
        deaths as u64 <= MAX_DELIVERIES,
        "{deaths} deaths for {MAX_DELIVERIES} deliveries"
    );

    let mut fleet = Fleet::connect(RedisOptions::new(url.clone(), "tweets")).unwrap();
    let dead = fleet.dead_letters(10).unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    let datum: serde_json::Value = serde_json::from_str(dead[0].datum.as_deref().unwrap()).unwrap();
    assert_eq!(datum["id"], POISON);
    assert_eq!(dead[0].deliveries, MAX_DELIVERIES);
    assert!(
        dead[0].reason.contains("without an acknowledgement"),
        "{}",
        dead[0].reason
    );

    let ids = result_ids(&mut con, "results");
    assert!(!ids.contains_key(&POISON));
    assert_eq!(ids.len() as u64, N - 1, "every other datum is processed");
    let balance = fleet.balance().unwrap();
    assert!(balance.is_balanced(), "{balance}");
    assert_eq!(
        (balance.acked, balance.dead, balance.pending),
        (N - 1, 1, 0)
    );

    // The command line lists it, and says the fleet balances.
    let mut list = fleet_cmd(
        dir,
        "list",
        &args(&["dead", "--url", &url, "--stream", "tweets", "list"]),
    );
    assert!(wait(&mut list));
    let listed = std::fs::read_to_string(dir.join("list.out")).unwrap();
    assert!(listed.contains(&format!(r#"\"id\":{POISON}"#)), "{listed}");
    let mut balance_cmd = fleet_cmd(
        dir,
        "balance",
        &args(&["balance", "--url", &url, "--stream", "tweets"]),
    );
    assert!(wait(&mut balance_cmd), "balance exits 0 when balanced");

    // Re-queued from the command line's library: back on the stream, out of the dead letters.
    fleet.requeue(&dead[0].dead_id).unwrap();
    let balance = fleet.balance().unwrap();
    assert!(balance.is_balanced(), "{balance}");
    assert_eq!((balance.unread, balance.dead), (1, 0));
}
