//! Dead letters as an operator handles them (issue 20, items 9 and 18): `dead list` names
//! each letter by the id `requeue` and `purge` take; a letter without a datum, or with one
//! that cannot be decoded, is never re-queued (and says why); `requeue-all` puts back each
//! letter there was once, and ends with a worker running; `purge` drops letters after
//! inspection and the balance still adds up.

mod common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::*;
use serde::{Deserialize, Serialize};
use timbr_core::io::Taken;
use timbr_core::{Machine, Queue, Stage, StopMode};
use timbr_redis::{dead_fields, redis, Fleet, RedisOptions, RedisQueue, Requeue};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Item {
    n: u64,
}

/// Letters that cannot be decoded, letters without a datum field, and decodable letters.
const UNDECODABLE: u64 = 300;
const NO_DATUM: u64 = 2;
const GOOD: u64 = 5;

/// A running worker (in this process) on stream `items`, and a fleet whose dead letters
/// are `UNDECODABLE` undecodable entries, `NO_DATUM` entries without a datum field, and
/// `GOOD` decodable data consumers took twice and never acknowledged.
struct Setup {
    server: Server,
    fleet: Fleet,
    machine: Machine<Item>,
    _queue: RedisQueue<Item>,
}

fn setup() -> Setup {
    let server = Server::start();
    let options = RedisOptions::new(server.url(), "items")
        .claim_after(Duration::from_millis(50))
        .max_deliveries(2);
    // Two consumers in turn take the good data and die without acknowledging them.
    let producer = RedisQueue::<Item>::connect(options.clone().consumer("p")).unwrap();
    producer.put_all((0..GOOD).map(|n| Item { n })).unwrap();
    for doomed in ["doomed1", "doomed2"] {
        let doomed = RedisQueue::<Item>::connect(options.clone().consumer(doomed)).unwrap();
        for _ in 0..GOOD {
            let deadline = Instant::now() + PATIENCE;
            assert!(matches!(
                doomed.take_delivery(Some(deadline)),
                Taken::Datum(_)
            ));
        }
    }
    // Another program writes what no worker can decode.
    let mut con = server.con();
    for i in 0..UNDECODABLE {
        redis::cmd("XADD")
            .arg("items")
            .arg("*")
            .arg("d")
            .arg(format!("not json {i}"))
            .query::<String>(&mut con)
            .unwrap();
    }
    for _ in 0..NO_DATUM {
        redis::cmd("XADD")
            .arg("items")
            .arg("*")
            .arg("other")
            .arg("no datum field")
            .query::<String>(&mut con)
            .unwrap();
    }
    let queue = RedisQueue::<Item>::connect(options.clone().consumer("w")).unwrap();
    let machine = Machine::<Item>::builder()
        .queue(queue.clone())
        .sink(queue.sink("results"))
        .stage(Stage::new(0, "n", ["input"], |i: &Item| i.n).unwrap())
        .build()
        .unwrap();
    machine.start().unwrap();
    let mut fleet = Fleet::connect(options).unwrap();
    until("every dead letter", || {
        fleet.balance().unwrap().dead == UNDECODABLE + NO_DATUM + GOOD
    });
    Setup {
        server,
        fleet,
        machine,
        _queue: queue,
    }
}

fn dead_cmd(url: &str, rest: &[&str]) -> Output {
    let mut args = vec!["dead", "--redis", url, "--stream", "items"];
    args.extend_from_slice(rest);
    Command::new(env!("CARGO_BIN_EXE_timbr-fleet"))
        .args(&args)
        .output()
        .expect("timbr-fleet")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn requeue_all_puts_back_each_letter_once_never_the_undecodable_and_ends() {
    let Setup {
        server,
        mut fleet,
        machine,
        ..
    } = setup();
    let url = server.url();
    let produced = fleet.balance().unwrap().produced;
    // With the worker running: what cannot be decoded would die again within milliseconds.
    let out = dead_cmd(&url, &["requeue-all"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        stdout.lines().last(),
        Some(
            format!(
                "{GOOD} requeued, {} skipped (they stay dead: `dead purge` drops them), 0 gone meanwhile",
                UNDECODABLE + NO_DATUM
            )
            .as_str()
        ),
        "{stdout}"
    );
    assert_eq!(
        stdout.matches("could not be decoded").count() as u64,
        UNDECODABLE,
        "each skipped letter says why: {stdout}"
    );
    assert_eq!(
        stdout.matches(": it has no datum (").count() as u64,
        NO_DATUM,
        "{stdout}"
    );
    let mut con = server.con();
    until("the re-queued data to be processed", || {
        let b = fleet.balance().unwrap();
        b.acked == GOOD && b.pending == 0 && b.unread == 0
    });
    let b = fleet.balance().unwrap();
    assert!(b.is_balanced(), "{b}");
    assert_eq!(
        (b.produced, b.dead),
        (produced, UNDECODABLE + NO_DATUM),
        "nothing undecodable went back on the stream: {b}"
    );
    assert_eq!(result_count(&mut con), GOOD);

    // Letters that die again while it runs are left for the next call: it ends.
    let mut calls = 0;
    let report = fleet
        .requeue_all(|d, done| {
            calls += 1;
            assert!(matches!(done, Requeue::Skipped(_)), "{d:?} {done:?}");
            // As though every letter it looked at had died again at once.
            redis::cmd("XADD")
                .arg("items:dead")
                .arg("*")
                .arg(dead_fields::ID)
                .arg("0-1")
                .arg(dead_fields::REASON)
                .arg("delivered 2 times without an acknowledgement")
                .arg(dead_fields::DATUM)
                .arg(r#"{"n":99}"#)
                .query::<String>(&mut con)
                .unwrap();
        })
        .unwrap();
    assert_eq!(
        (report.requeued, report.skipped),
        (0, UNDECODABLE + NO_DATUM)
    );
    assert_eq!(calls, UNDECODABLE + NO_DATUM);
    machine.stop(StopMode::Drain);
}

#[test]
fn dead_letters_are_listed_requeued_and_purged_by_one_id() {
    let Setup {
        server,
        mut fleet,
        machine,
        ..
    } = setup();
    let url = server.url();
    let letters = fleet.dead_letters(1000).unwrap();
    let out = dead_cmd(&url, &["list", "--count", "1000"]);
    assert!(out.status.success(), "{out:?}");
    let listed = text(&out.stdout);
    let ids: Vec<&str> = listed
        .lines()
        .skip(1)
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    let dead_ids: Vec<&str> = letters.iter().map(|d| d.dead_id.as_str()).collect();
    assert_eq!(
        ids, dead_ids,
        "the list's first column is what requeue and purge take"
    );
    assert!(listed.starts_with("DEAD_ID\t"), "{listed}");

    let no_datum = letters.iter().find(|d| d.datum.is_none()).unwrap();
    let undecodable = letters
        .iter()
        .find(|d| {
            d.datum
                .as_deref()
                .is_some_and(|t| t.starts_with("not json"))
        })
        .unwrap();
    let good = letters
        .iter()
        .find(|d| d.unrequeueable().is_none())
        .unwrap();
    for (d, why) in [
        (no_datum, "it has no datum"),
        (undecodable, "could not be decoded"),
    ] {
        let out = dead_cmd(&url, &["requeue", &d.dead_id]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(
            err.contains(&format!(
                "dead letter `{}` has no datum to requeue",
                d.dead_id
            )) && err.contains(why),
            "{err}"
        );
    }
    let out = dead_cmd(&url, &["requeue", "1-1"]);
    assert!(
        text(&out.stderr).contains("no dead letter `1-1`"),
        "{out:?}"
    );
    let out = dead_cmd(&url, &["requeue", &good.dead_id]);
    assert!(out.status.success(), "{out:?}");
    assert!(text(&out.stdout).starts_with(&format!("requeued {} as entry ", good.dead_id)));

    // Purged after inspection: out of the dead letters, counted in the balance.
    let out = dead_cmd(&url, &["purge", &no_datum.dead_id, "1-1"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "one of two was no letter: {out:?}"
    );
    assert_eq!(text(&out.stdout).trim(), "purged 1 of 2 dead letters");
    let b = fleet.balance().unwrap();
    assert!(b.is_balanced(), "{b}");
    assert_eq!(b.purged, 1, "{b}");
    assert!(b.to_string().contains("+ purged 1: balanced"), "{b}");
    let left = b.dead;
    let out = dead_cmd(&url, &["purge", "--all"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        text(&out.stdout).trim(),
        format!("purged {left} dead letters")
    );
    until("the re-queued datum to be processed", || {
        let b = fleet.balance().unwrap();
        b.pending == 0 && b.unread == 0
    });
    let b = fleet.balance().unwrap();
    assert!(b.is_balanced(), "{b}");
    assert_eq!((b.dead, b.purged), (0, 1 + left), "{b}");
    machine.stop(StopMode::Drain);
}

fn result_count(con: &mut redis::Connection) -> u64 {
    xlen(con, "results")
}
