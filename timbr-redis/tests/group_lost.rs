//! A stream deleted under a queue (a user's `DEL`, a Redis restarted without its data): the
//! queue looks at it without an error (no stream, no groups), puts on it, and creates its
//! group again at its next read, so that what was put since is processed. Redis says "no
//! such key" and `NOGROUP` here; the queue tells them by the stream's length and the error's
//! code (`group.rs`), never by their words.

use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use timbr_core::io::Taken;
use timbr_core::Queue;
use timbr_redis::{redis, RedisOptions, RedisQueue};
use timbr_testkit::*;

#[test]
fn a_deleted_stream_is_seen_empty_and_its_group_comes_back() {
    let server = Server::start();
    let q =
        RedisQueue::<u64>::connect(RedisOptions::new(server.url(), "items").consumer("w")).unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&events);
    q.on_event(move |e| seen.lock().push(e.to_string()));
    let mut con = server.con();
    redis::cmd("DEL")
        .arg("items")
        .query::<()>(&mut con)
        .unwrap();

    // The put measures the queue first: `XINFO GROUPS` of a stream that is not there.
    q.try_put(7).expect("a missing stream has room");
    let report = q.report();
    assert_eq!(report.last_error, None, "{report:?}");
    assert_eq!(
        report.group_info.stream_length, 0,
        "as measured before the put"
    );
    assert!(report.connected);

    // The read finds no group (`NOGROUP`), creates it from the stream's start, and gets 7.
    let deadline = Instant::now() + PATIENCE;
    let got = loop {
        match q.take(Some(deadline)) {
            Taken::Datum(d) => break d,
            Taken::Woken => continue,
            Taken::TimedOut => panic!("7 was never read"),
        }
    };
    assert_eq!(got, 7);
    assert_eq!(q.report().last_error, None);
    assert!(events.lock().is_empty(), "{:?}", events.lock());
}
