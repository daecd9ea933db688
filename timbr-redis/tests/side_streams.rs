//! The dead letters and the failures are both side streams of the fleet's stream, handled by
//! one module (`side.rs`): past a page (1 000 entries), every entry there was is re-queued,
//! replayed or purged exactly once, the pick deciding which, and what is put back keeps its
//! datum and origin.

use timbr_redis::{dead_fields, failure_fields, redis, Fleet, RedisOptions, Requeue};
use timbr_testkit::*;

/// More than two pages of each.
const N: u64 = 2_500;

/// Writes `N` entries to `stream`, entry `n` with datum `n` (origin `n-1` for even `n`)
/// and the other fields `fields` gives it.
fn write(
    con: &mut redis::Connection,
    stream: &str,
    fields: impl Fn(u64) -> Vec<(&'static str, String)>,
) {
    let mut pipe = redis::pipe();
    for n in 0..N {
        let cmd = pipe.cmd("XADD").arg(stream).arg("*");
        cmd.arg(dead_fields::DATUM).arg(n.to_string());
        if n % 2 == 0 {
            cmd.arg(dead_fields::ORIGIN).arg(format!("{n}-1"));
        }
        for (k, v) in fields(n) {
            cmd.arg(k).arg(v);
        }
        cmd.ignore();
    }
    pipe.query::<()>(con).unwrap();
}

/// The data on the fleet's stream, and how many have an origin, in the order they are.
fn queued(con: &mut redis::Connection) -> (Vec<u64>, usize) {
    let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg("items")
        .arg("-")
        .arg("+")
        .query(con)
        .unwrap();
    let datum = |e: &redis::streams::StreamId| -> u64 {
        let d: String = e.get(dead_fields::DATUM).unwrap();
        d.parse().unwrap()
    };
    let with_origin = reply
        .ids
        .iter()
        .filter(|e| e.get::<String>(dead_fields::ORIGIN) == Some(format!("{}-1", datum(e))))
        .count();
    (reply.ids.iter().map(datum).collect(), with_origin)
}

#[test]
fn dead_letters_past_a_page_are_requeued_once_with_their_origins_then_purged() {
    let server = Server::start();
    let mut con = server.con();
    let mut fleet = Fleet::connect(RedisOptions::new(server.url(), "items")).unwrap();
    let letter = |n: u64| {
        vec![
            (dead_fields::ID, format!("{n}-0")),
            (dead_fields::REASON, "too many deliveries".to_owned()),
            (dead_fields::CONSUMER, "w".to_owned()),
            (dead_fields::DELIVERIES, "3".to_owned()),
        ]
    };
    write(&mut con, "items:dead", letter);
    let mut seen = Vec::new();
    let report = fleet
        .requeue_all(|d, done| {
            assert!(matches!(done, Requeue::Requeued(_)), "{d:?}: {done:?}");
            seen.push(d.datum.clone().unwrap().parse::<u64>().unwrap());
        })
        .unwrap();
    assert_eq!((report.requeued, report.skipped, report.gone), (N, 0, 0));
    assert_eq!(seen, (0..N).collect::<Vec<_>>(), "each once, oldest first");
    assert_eq!(queued(&mut con), ((0..N).collect(), (N / 2) as usize));
    assert_eq!(xlen(&mut con, "items:dead"), 0);

    write(&mut con, "items:dead", letter);
    assert_eq!(fleet.purge_all().unwrap(), N);
    assert_eq!(xlen(&mut con, "items:dead"), 0);
    assert_eq!(fleet.balance().unwrap().purged, N);
}

#[test]
fn failures_past_a_page_are_purged_and_replayed_once_as_picked() {
    let server = Server::start();
    let mut con = server.con();
    let mut fleet = Fleet::connect(RedisOptions::new(server.url(), "items")).unwrap();
    write(&mut con, "items:failures", |n| {
        vec![
            (failure_fields::ID, format!("{n}-0")),
            (failure_fields::STAGE, "check".to_owned()),
            (failure_fields::SLOT, "0".to_owned()),
            (failure_fields::ERROR, format!("{n} is odd")),
            (failure_fields::ATTEMPTS, "1".to_owned()),
        ]
    });
    assert_eq!(fleet.failure_count().unwrap(), N);
    let multiple_of_3 = |datum: &str| datum.parse::<u64>().unwrap() % 3 == 0;

    // The multiples of 3 purged, then the even ones of the rest replayed, then the others.
    let purged = fleet
        .purge_failures_all(|f| multiple_of_3(&f.datum))
        .unwrap();
    let threes = (0..N).filter(|n| n % 3 == 0).count() as u64;
    assert_eq!(purged, threes);
    assert_eq!(fleet.failure_count().unwrap(), N - threes);
    let mut replayed = Vec::new();
    let even = |f: &timbr_redis::Failure| f.datum.parse::<u64>().unwrap() % 2 == 0;
    let first = fleet
        .replay_all(even, |f, _| replayed.push(f.datum.parse::<u64>().unwrap()))
        .unwrap();
    let rest = fleet
        .replay_all(
            |_| true,
            |f, _| replayed.push(f.datum.parse::<u64>().unwrap()),
        )
        .unwrap();
    let evens = (0..N).filter(|n| n % 3 != 0 && n % 2 == 0).count() as u64;
    let odds = N - threes - evens;
    assert_eq!((first.replayed, first.left, first.gone), (evens, odds, 0));
    assert_eq!((rest.replayed, rest.left, rest.gone), (odds, 0, 0));

    let expected: Vec<u64> = (0..N)
        .filter(|n| n % 3 != 0 && n % 2 == 0)
        .chain((0..N).filter(|n| n % 3 != 0 && n % 2 == 1))
        .collect();
    assert_eq!(replayed, expected, "each once, oldest first");
    assert_eq!(queued(&mut con), (expected, evens as usize));
    assert_eq!(fleet.failure_count().unwrap(), 0);
    let b = fleet.balance().unwrap();
    assert_eq!(b.purged, threes, "{b}");
}
