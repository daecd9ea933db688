//! Producer-side exactly once: a round trip of `XADD`s that Redis applied but whose reply
//! never reached the producer is sent again, and adds nothing twice.
//!
//! A proxy between the producer and a real `redis-server` forwards everything, except that
//! it cuts the connection right after Redis answered an `EXEC` (so Redis applied it) and
//! before the producer sees the answer — the lost reply of a Redis killed at that moment,
//! made to happen on purpose, many times.
//!
//! And a producer alone (no worker has read yet) measures its room without reading the
//! stream back.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

use serde::{Deserialize, Serialize};
use timbr_core::{Queue, TryPutError};
use timbr_redis::{redis, Fleet, RedisOptions, RedisQueue};
use timbr_testkit::*;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Item {
    n: u64,
}

/// What the proxy is to do and did.
struct Cuts {
    /// `EXEC`s still to cut.
    left: AtomicI64,
    /// Connections cut after Redis answered an `EXEC`.
    done: AtomicU64,
}

/// Forwards loopback connections to `upstream`; cuts the connection of each of the first
/// `cuts` `EXEC`s once Redis has begun answering it. Returns its port and its counts.
fn cutting_proxy(upstream: u16, cuts: i64) -> (u16, Arc<Cuts>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let counts = Arc::new(Cuts {
        left: AtomicI64::new(cuts),
        done: AtomicU64::new(0),
    });
    let shared = Arc::clone(&counts);
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let server = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
            let counts = Arc::clone(&shared);
            thread::spawn(move || relay(client, server, &counts));
        }
    });
    (port, counts)
}

/// Relays one connection: requests on this thread, replies on another; a request with an
/// `EXEC`, while cuts are left, makes the reply side drop the connection once Redis has
/// answered the `EXEC` (the answer is an array after the `+QUEUED`s).
fn relay(mut client: TcpStream, mut server: TcpStream, counts: &Arc<Cuts>) {
    let cut_next = Arc::new(AtomicU64::new(0));
    let replies = {
        let mut client = client.try_clone().unwrap();
        let mut server = server.try_clone().unwrap();
        let cut_next = Arc::clone(&cut_next);
        let counts = Arc::clone(counts);
        thread::spawn(move || {
            let mut buf = vec![0_u8; 1 << 16];
            let mut seen = Vec::new();
            loop {
                let n = match server.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                if cut_next.load(Ordering::Acquire) == 1 {
                    seen.extend_from_slice(&buf[..n]);
                    // The EXEC's answer begins with `*` at the start of a line.
                    if seen.windows(3).any(|w| w == b"\r\n*") || seen.starts_with(b"*") {
                        cut_next.store(2, Ordering::Release);
                        counts.done.fetch_add(1, Ordering::AcqRel);
                        let _ = client.shutdown(Shutdown::Both);
                        let _ = server.shutdown(Shutdown::Both);
                        break;
                    }
                }
                if client.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        })
    };
    let mut buf = vec![0_u8; 1 << 16];
    loop {
        let n = match client.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let request = &buf[..n];
        if cut_next.load(Ordering::Acquire) == 0
            && request.windows(4).any(|w| w == b"EXEC")
            && counts.left.fetch_sub(1, Ordering::AcqRel) > 0
        {
            cut_next.store(1, Ordering::Release);
        }
        if server.write_all(request).is_err() {
            break;
        }
    }
    let _ = server.shutdown(Shutdown::Both);
    let _ = replies.join();
}

#[test]
fn a_round_trip_applied_but_unanswered_adds_nothing_twice() {
    let server = Server::start();
    const CUTS: i64 = 6;
    let (port, cuts) = cutting_proxy(server.port, CUTS);
    let options = RedisOptions::new(format!("redis://127.0.0.1:{port}"), "items")
        .consumer("p")
        .batch(50);
    let queue = RedisQueue::<Item>::connect(options).unwrap();
    let n = 1_000_u64;
    queue.put_all((0..n).map(|n| Item { n })).unwrap();
    // Single puts go the same way.
    for n in n..n + 20 {
        queue.put_until(Item { n }, None).unwrap();
    }
    let total = n + 20;
    // Every cut happened with Redis's answer under way: the round trip was applied.
    assert_eq!(
        cuts.done.load(Ordering::Acquire),
        CUTS as u64,
        "replies cut"
    );

    let mut con = server.con();
    assert_eq!(xlen(&mut con, "items"), total, "each datum added once");
    let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg("items")
        .arg("-")
        .arg("+")
        .query(&mut con)
        .unwrap();
    let got: Vec<u64> = entries
        .ids
        .iter()
        .map(|e| {
            let json: String = redis::from_redis_value(&e.map["d"]).unwrap();
            serde_json::from_str::<Item>(&json).unwrap().n
        })
        .collect();
    assert_eq!(got, (0..total).collect::<Vec<_>>(), "in order, none twice");
    let mut fleet = Fleet::connect(RedisOptions::new(server.url(), "items")).unwrap();
    let balance = fleet.balance().unwrap();
    assert_eq!((balance.produced, balance.unread), (total, total));
    assert_eq!(queue.report().put, total);
}

/// Redis's count of calls of `command` since its start (0 if never called).
fn calls(con: &mut redis::Connection, command: &str) -> u64 {
    let stats: String = redis::cmd("INFO").arg("commandstats").query(con).unwrap();
    stats
        .lines()
        .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:calls=")))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |n| n.parse().unwrap())
}

/// Before any worker reads, Redis gives the group no `entries-read` and so does not vouch
/// for its lag; the producer's room check used to count the unread entries one `XRANGE`
/// page after another (up to 10 000 entries read back per round trip: ~20 µs of producer
/// CPU per datum). A group that has delivered nothing has the whole stream unread.
#[test]
fn a_producer_alone_measures_its_room_without_reading_the_stream_back() {
    let server = Server::start();
    let options = RedisOptions::new(server.url(), "alone")
        .consumer("p")
        .batch(500);
    let mut producer = timbr_redis::Producer::<Item>::connect(options).unwrap();
    let n = 12_000_u64;
    let put = producer
        .put_all((0..n).map(|n| Item { n }), &|| false)
        .unwrap();
    assert_eq!(put, n);
    let mut con = server.con();
    assert_eq!(calls(&mut con, "xrange"), 0, "the stream was read back");
    let balance = Fleet::connect(RedisOptions::new(server.url(), "alone"))
        .unwrap()
        .balance()
        .unwrap();
    assert_eq!((balance.produced, balance.unread), (n, n));
    assert!(balance.is_balanced(), "{balance}");
}

#[derive(Debug)]
struct Unencodable;

impl Serialize for Unencodable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("no JSON for this one"))
    }
}

impl<'de> Deserialize<'de> for Unencodable {
    fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Ok(Unencodable)
    }
}

#[test]
fn a_datum_that_cannot_be_encoded_is_rejected_with_the_reason_not_closed() {
    let server = Server::start();
    let queue = RedisQueue::<Unencodable>::connect(RedisOptions::new(server.url(), "u")).unwrap();
    let err = queue.try_put(Unencodable).unwrap_err();
    assert!(
        err.is_rejected() && !err.is_closed() && !err.is_full(),
        "{err:?}"
    );
    assert!(err.to_string().contains("no JSON for this one"), "{err}");
    let TryPutError::Rejected { datum, reason } = err else {
        unreachable!("checked above")
    };
    let _: Unencodable = datum; // handed back
    assert!(reason.contains("cannot encode"), "{reason}");
    let err = queue.put_until(Unencodable, None).unwrap_err();
    assert!(err.is_rejected(), "{err:?}");
    assert_eq!(xlen(&mut server.con(), "u"), 0, "nothing was added");
}
