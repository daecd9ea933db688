//! Issue 20, item 22: entries another program wrote that lie about themselves. A 5 MiB
//! undecodable entry is dead-lettered with a reason of a few hundred bytes (not the entry
//! copied whole into the dead letter and every event); an empty pack and a forged origin
//! field are dead-lettered as undecodable with the reason, not trusted.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use timbr_core::io::QueueEvent;
use timbr_core::io::Taken;
use timbr_core::Queue;
use timbr_redis::{redis, Fleet, RedisOptions, RedisQueue};
use timbr_testkit::*;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Item {
    n: u64,
}

#[test]
fn lying_entries_are_dead_lettered_with_a_bounded_reason() {
    let server = Server::start();
    let options = RedisOptions::new(server.url(), "items").consumer("w");
    let queue = RedisQueue::<Item>::connect(options.clone()).unwrap();
    let reasons = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
    let seen = std::sync::Arc::clone(&reasons);
    queue.on_event(move |e| {
        if let QueueEvent::DeadLettered { reason, .. } = e {
            seen.lock().push(reason.clone());
        }
    });
    let mut con = server.con();
    let add = |con: &mut redis::Connection, fields: &[(&str, &[u8])]| -> String {
        let mut cmd = redis::cmd("XADD");
        cmd.arg("items").arg("*");
        for (k, v) in fields {
            cmd.arg(*k).arg(*v);
        }
        cmd.query(con).unwrap()
    };
    // A string where an object is expected: serde_json's message quotes it whole.
    let huge = format!("\"{}\"", "x".repeat(5 << 20));
    let huge_id = add(&mut con, &[("d", huge.as_bytes())]);
    let empty_id = add(&mut con, &[("p", b"[]")]);
    let good = add(&mut con, &[("d", br#"{"n":1}"#)]);
    // Well-formed origins that no split wrote: this entry's own id, a later one, a wild index.
    let next = |id: &str| {
        let (ms, _) = id.split_once('-').unwrap();
        format!("{}-0", ms.parse::<u64>().unwrap() + 1_000_000)
    };
    let forged = [
        add(
            &mut con,
            &[
                ("d", br#"{"n":2}"#),
                ("o", format!("{}#0", next(&good)).as_bytes()),
            ],
        ),
        add(&mut con, &[("d", br#"{"n":3}"#), ("o", b"a>b")]),
        add(
            &mut con,
            &[
                ("d", br#"{"n":4}"#),
                ("o", format!("{good}#1000").as_bytes()),
            ],
        ),
    ];
    add(&mut con, &[("d", br#"{"n":9}"#)]);

    let mut got = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    while got.last() != Some(&9) {
        assert!(
            Instant::now() < deadline,
            "the last datum never came: {got:?}"
        );
        if let Taken::Datum(d) = queue.take_delivery(Some(Instant::now() + PATIENCE)) {
            got.push(d.datum.n);
            queue.ack(d.id.as_ref().unwrap());
        }
    }
    queue.flush();
    assert_eq!(got, [1, 9], "only the honest entries are delivered");

    let mut fleet = Fleet::connect(options).unwrap();
    let dead = fleet.dead_letters(10).unwrap();
    let ids: Vec<&str> = dead.iter().map(|d| d.id.as_str()).collect();
    let mut expected = vec![huge_id.as_str(), empty_id.as_str()];
    expected.extend(forged.iter().map(String::as_str));
    assert_eq!(ids, expected, "{dead:#?}");
    for d in &dead {
        assert!(d.reason.starts_with("undecodable"), "{}", d.reason);
        assert!(d.reason.len() < 400, "a reason of {} bytes", d.reason.len());
    }
    assert!(
        dead[0].reason.ends_with("bytes in all)"),
        "the cut reason says its length: {}",
        dead[0].reason
    );
    assert!(dead[1].reason.contains("empty pack"), "{}", dead[1].reason);
    for d in &dead[2..] {
        assert!(d.reason.contains("field `o`"), "{}", d.reason);
    }
    let events = reasons.lock().clone();
    assert_eq!(events.len(), 5);
    assert!(events.iter().all(|r| r.len() < 400));
    let balance = fleet.balance().unwrap();
    assert!(balance.is_balanced(), "{balance}");
    assert_eq!((balance.acked, balance.dead), (2, 5), "{balance}");
    assert_eq!(queue.report().undecodable, 5);
}
