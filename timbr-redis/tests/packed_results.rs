//! Packed result entries (`RedisSink::packed`): the records of one input pack in one entry
//! of the results stream, every record keeping its origin, unpacked by the crate's readers
//! (`Fleet::result_records`, `Fleet::results`; `timbr-fleet records` in timbr-cli's tests).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use timbr_core::{Machine, Stage, StopMode};
use timbr_redis::{redis, Fleet, RedisOptions, RedisQueue};
use timbr_testkit::*;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Item {
    n: u64,
    text: String,
}

#[test]
fn the_records_of_a_pack_share_an_entry_and_read_back_one_per_datum() {
    const N: u64 = 3_000;
    const PACK: u64 = 20;
    let server = Server::start();
    let options = RedisOptions::new(server.url(), "items")
        .consumer("w")
        .pack(PACK as usize)
        .batch(200);
    let queue = RedisQueue::<Item>::connect(options.clone()).unwrap();
    // A text with a line break: escaped in JSON, so its record is packed all the same.
    let item = |n| Item {
        n,
        text: format!("line {n}\nnext"),
    };
    queue.put_all((0..N).map(item)).unwrap();
    let machine = Machine::<Item>::builder()
        .queue(queue.clone())
        .sink(queue.sink("results").packed(true))
        .workers(2)
        .stage(Stage::new(0, "n", ["input"], |i: &Item| i.n * 10).unwrap())
        .build()
        .unwrap();
    machine.start().unwrap();
    let mut fleet = Fleet::connect(options).unwrap();
    until("every datum acknowledged", || {
        fleet.balance().unwrap().acked_data == N
    });
    machine.stop(StopMode::Drain);

    // One entry per pack, or a few more where a pack's records went out in two batches
    // or two threads interleaved: far fewer than one per datum.
    let mut con = server.con();
    let entries = xlen(&mut con, "results");
    assert!(
        (N / PACK..=N / 4).contains(&entries),
        "{entries} result entries for {N} data in packs of {PACK}"
    );

    let mut by_origin: HashMap<String, (String, String)> = HashMap::new();
    let (mut after, mut pages) = (None, 0);
    loop {
        let page = fleet
            .result_records("results", after.as_deref(), 7)
            .unwrap();
        pages += 1;
        assert!(page.malformed.is_empty(), "{:?}", page.malformed);
        let Some(last) = page.last else { break };
        after = Some(last);
        for r in page.records {
            assert_eq!(r.consumer, "w");
            assert_eq!(r.oid.len(), 24, "{r:?}");
            let old = by_origin.insert(r.origin.clone(), (r.record, r.entry));
            assert!(old.is_none(), "{} recorded twice", r.origin);
        }
    }
    assert!(pages > 1 && pages < 1000, "{pages} pages of 7 entries");
    assert_eq!(by_origin.len() as u64, N);
    for (origin, (record, _)) in &by_origin {
        let array: Vec<serde_json::Value> = serde_json::from_str(record).unwrap();
        let n = array[0]["n"].as_u64().unwrap();
        assert_eq!(array[0]["text"], format!("line {n}\nnext"));
        assert_eq!(array[1], n * 10, "{record}");
        // The datum's place in its pack: data were put in order, PACK to an entry.
        let index: u64 = origin.rsplit('#').next().unwrap().parse().unwrap();
        assert_eq!(index, n % PACK, "{origin}: {record}");
    }
    // The records of one entry come from one input pack.
    let mut pack_of_entry: HashMap<&str, &str> = HashMap::new();
    for (origin, (_, entry)) in &by_origin {
        let pack = origin.split('#').next().unwrap();
        assert_eq!(*pack_of_entry.entry(entry).or_insert(pack), pack);
    }

    let results = fleet.results("results").unwrap();
    assert_eq!(
        (results.records, results.distinct, results.duplicates),
        (N, N, 0)
    );
}

#[test]
fn a_foreign_entry_in_a_results_stream_is_counted_as_malformed() {
    let server = Server::start();
    let mut con = server.con();
    for fields in [
        &[
            ("oids", "a"),
            ("origins", "1-0#0\n1-0#1"),
            ("records", "[1]\n[2]"),
        ][..],
        &[("something", "else")],
        &[("oid", "b"), ("origin", "2-0"), ("record", "[3]")],
    ] {
        let mut cmd = redis::cmd("XADD");
        cmd.arg("results").arg("*");
        for (k, v) in fields {
            cmd.arg(*k).arg(*v);
        }
        cmd.query::<String>(&mut con).unwrap();
    }
    let mut fleet = Fleet::connect(RedisOptions::new(server.url(), "items")).unwrap();
    let results = fleet.results("results").unwrap();
    assert_eq!((results.records, results.malformed), (1, 2));
    let page = fleet.result_records("results", None, 10).unwrap();
    assert_eq!(page.malformed.len(), 2);
    assert!(page.malformed[0].reason.contains("disagree"), "{page:?}");
}
