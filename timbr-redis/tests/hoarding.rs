//! Issue 20, item 4: a consumer reads about `batch` data at a time whatever the producers'
//! pack size. Once, a consumer with the default batch (256) and pack 1 took all 150 entries
//! (4 800 data) of a `pack(32)` stream on its first read, while other workers idled and a
//! crash would have delivered all of it again.

use std::time::Instant;

use timbr_core::io::Taken;
use timbr_core::Queue;
use timbr_redis::{RedisOptions, RedisQueue};
use timbr_testkit::*;

const PACK: u64 = 32;
const ENTRIES: u64 = 150;

#[test]
fn a_consumer_holds_about_a_batch_of_packed_data_whatever_its_own_pack() {
    let server = Server::start();
    let options = |name: &str| RedisOptions::new(server.url(), "items").consumer(name);
    let producer = RedisQueue::<u64>::connect(options("producer").pack(PACK as usize)).unwrap();
    producer.put_all(0..PACK * ENTRIES).unwrap();
    let mut con = server.con();
    assert_eq!(xlen(&mut con, "items"), ENTRIES);

    let take = |q: &RedisQueue<u64>| loop {
        if let Taken::Datum(d) = q.take_delivery(Some(Instant::now() + PATIENCE)) {
            return d;
        }
    };
    // Default batch (256) and pack (1): its first read may not take the stream.
    let w1 = RedisQueue::<u64>::connect(options("w1")).unwrap();
    assert_eq!(w1.options().consumer_name(), "w1");
    let first = take(&w1);
    // Fetched and not yet processed: at most 1½ batches (the next batch is read while the
    // last half of this one is processed), i.e. 384 data, 12 entries of 32.
    let bound = 256 * 3 / 2 / PACK;
    let held = pending_of(&mut con, "items", "w1");
    assert!(
        (1..=bound).contains(&held),
        "w1 holds {held} entries ({} data) after taking its first datum",
        held * PACK
    );
    // Another worker gets work of its own (not claimed from w1: claims wait 30 s).
    let w2 = RedisQueue::<u64>::connect(options("w2")).unwrap();
    let second = take(&w2);
    assert_ne!(first.id, second.id);
    assert_eq!(w2.report().claimed, 0);
    // However far w1 gets, it holds at most what a crash may deliver again: 4½ batches
    // (1½ fetched, 3 processed whose acknowledgements are not yet applied), 36 entries.
    let crash_bound = 256 * 9 / 2 / PACK;
    for _ in 0..1000 {
        let d = take(&w1);
        w1.ack(d.id.as_ref().unwrap());
        let held = pending_of(&mut con, "items", "w1");
        assert!(held <= crash_bound, "w1 holds {held} entries");
    }
}
