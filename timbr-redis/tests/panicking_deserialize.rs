//! Issue 20, item 5: the user's `Deserialize` runs on the queue's fetching thread. A panic
//! in it once ended that thread, and the machine then waited for ever with no event. Now it
//! is caught as timbr-core catches a stage's: counted, reported (a dead-letter event with
//! the panic's message), the entry dead-lettered, and the rest of the stream processed —
//! for entries of one datum and for packs (split so that the datum that panics is alone).

use std::collections::BTreeSet;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Deserializer, Serialize};
use timbr_core::io::QueueEvent;
use timbr_core::{ChannelSink, Machine, Stage, StopMode};
use timbr_redis::{Fleet, RedisOptions, RedisQueue};
use timbr_testkit::*;

const N: u64 = 64;

/// A number whose decoding panics for every one that is 3 modulo 7.
#[derive(Clone, Debug, Serialize)]
#[serde(transparent)]
struct Touchy(u64);

impl<'de> Deserialize<'de> for Touchy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u64::deserialize(d)?;
        assert!(n % 7 != 3, "touchy about {n}");
        Ok(Touchy(n))
    }
}

fn touchy(n: u64) -> bool {
    n % 7 == 3
}

fn run(pack: usize) {
    let server = Server::start();
    let options = RedisOptions::new(server.url(), "items")
        .consumer("w")
        .pack(pack)
        .batch(16);
    let queue = RedisQueue::<Touchy>::connect(options.clone()).unwrap();
    let reasons = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&reasons);
    queue.on_event(move |e| {
        if let QueueEvent::DeadLettered { reason, .. } = e {
            seen.lock().push(reason.clone());
        }
    });
    queue.put_all((0..N).map(Touchy)).unwrap();
    let (sink, records) = ChannelSink::unbounded();
    let machine = Machine::<Touchy>::builder()
        .queue(queue.clone())
        .sink(sink)
        .stage(Stage::new(0, "n", ["input"], |t: &Touchy| t.0).unwrap())
        .build()
        .unwrap();
    machine.start().unwrap();
    let expected: BTreeSet<u64> = (0..N).filter(|n| !touchy(*n)).collect();
    let mut got = BTreeSet::new();
    while got.len() < expected.len() {
        let record = records
            .recv_timeout(PATIENCE)
            .expect("the machine stopped getting data: the fetching thread died?");
        let array: Vec<serde_json::Value> = serde_json::from_str(record.json()).unwrap();
        got.insert(array[0].as_u64().unwrap());
    }
    assert_eq!(got, expected);
    let panics = (0..N).filter(|n| touchy(*n)).count() as u64;
    let mut fleet = Fleet::connect(options).unwrap();
    until("every touchy datum dead-lettered", || {
        fleet.balance().unwrap().dead == panics
    });
    machine.stop(StopMode::Drain);
    let report = queue.report();
    assert_eq!((report.panicked, report.undecodable), (panics, panics));
    let reasons = reasons.lock().clone();
    assert_eq!(reasons.len() as u64, panics, "{reasons:?}");
    assert!(
        reasons
            .iter()
            .all(|r| r.contains("`Deserialize` panicked: touchy about")),
        "{reasons:?}"
    );
    let dead = fleet.dead_letters(100).unwrap();
    let mut values: Vec<u64> = dead
        .iter()
        .map(|d| d.datum.as_deref().unwrap().parse().unwrap())
        .collect();
    values.sort_unstable();
    assert_eq!(values, (0..N).filter(|n| touchy(*n)).collect::<Vec<_>>());
}

#[test]
fn a_panicking_deserialize_dead_letters_its_entry() {
    run(1);
}

#[test]
fn a_panicking_deserialize_in_a_pack_dead_letters_that_datum_alone() {
    run(8);
}
