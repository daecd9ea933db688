//! Issue test 3: `redis-server` killed (SIGKILL) and restarted mid-run: the workers and the
//! producer report the outage, resume, lose nothing (AOF on) and add nothing twice.

mod common;

use common::*;
use timbr_redis::{Fleet, RedisOptions};

const N: u64 = 20_480; // round trips of 256 (the default batch)

fn log(dir: &std::path::Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{name}.err"))).unwrap_or_default()
}

#[test]
fn redis_killed_and_restarted_mid_run_loses_nothing() {
    killed_and_restarted(1);
}

#[test]
fn redis_killed_and_restarted_mid_run_loses_nothing_of_packed_entries() {
    killed_and_restarted(16);
}

/// The run, with the producer putting `pack` data to an entry.
fn killed_and_restarted(pack: u64) {
    let mut server = Server::start();
    let url = server.url();
    let dir = server.dir.clone();
    let worker = |name: &str| {
        fleet(
            &dir,
            name,
            &work_args(
                &url,
                name,
                &["--claim-after-ms", "2000", "--until-done", &N.to_string()],
            ),
        )
    };
    let mut producer = fleet(
        &dir,
        "producer",
        &produce_args(
            &url,
            N,
            &[
                "--capacity",
                &(5000 / pack).to_string(),
                "--pack",
                &pack.to_string(),
            ],
        ),
    );
    let mut w1 = worker("w1");
    let mut w2 = worker("w2");
    {
        let mut con = server.con();
        until("a quarter of the records", || {
            xlen(&mut con, "results") >= N / 4
        });
    }
    server.kill();
    // Every worker has seen the outage before the server comes back.
    until("both workers to report the outage", || {
        ["w1", "w2"]
            .iter()
            .all(|w| log(&dir, w).contains("Disconnected"))
    });
    server.restart();

    assert!(wait(&mut producer), "the producer failed");
    let mut statuses = Vec::new();
    for (name, w) in [("w1", &mut w1), ("w2", &mut w2)] {
        assert!(wait(w), "{name} failed");
        assert!(
            log(&dir, name).contains("Reconnected"),
            "{name} reports coming back"
        );
        let out = std::fs::read_to_string(dir.join(format!("{name}.out"))).unwrap();
        let status: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        statuses.push(status);
    }
    for status in &statuses {
        let redis = &status["plugins"]["redis"];
        assert!(
            redis["outages"].as_u64().unwrap() >= 1,
            "status shows the outage: {redis}"
        );
        assert_eq!(redis["connected"], true);
        let counts: timbr_core::Counts = serde_json::from_value(status["counts"].clone()).unwrap();
        assert!(counts.is_balanced(), "{counts:?}");
    }

    let mut con = server.con();
    let ids = result_seqs(&mut con, "results", N);
    assert_eq!(ids.len() as u64, N, "every datum has a record");
    let mut fleet = Fleet::connect(RedisOptions::new(url.clone(), "tweets")).unwrap();
    let balance = fleet.balance().unwrap();
    assert!(balance.is_balanced(), "{balance}");
    // Exactly once on the producer's side: a round trip of `XADD`s that Redis carried out
    // just before it was killed, but whose reply never came, is not applied again when the
    // producer retries once Redis is back (it asks Redis for its last round trip first).
    // Packed, N / pack entries (N is a multiple of the round trip, 256), and `pack` more
    // for each pack split when delivered again: one pack added twice would show.
    let packs = N / pack;
    assert_eq!((balance.produced - packs) % pack, 0, "{balance}");
    if pack == 1 {
        assert_eq!(balance.produced, N, "{balance}");
    }
    // Nothing left behind. (An entry redelivered past `max_deliveries` while Redis came
    // and went is a dead letter; `ids` shows its datum has a record all the same.)
    assert_eq!((balance.pending, balance.unread), (0, 0), "{balance}");
}

/// Issue 20, item 20: `timbr-fleet produce` printed nothing while Redis was away; it says
/// so as it happens, and that it is back, as `work` does.
#[test]
fn the_producer_reports_an_outage_as_it_happens() {
    let mut server = Server::start();
    let url = server.url();
    let dir = server.dir.clone();
    // A stream that stays full (no worker), so the producer is still at work when Redis goes.
    // Killed however the test ends: a failed assertion must not leave it running.
    let _producer = KillOnDrop(fleet(
        &dir,
        "producer",
        &produce_args(&url, 1_000_000, &["--capacity", "1000"]),
    ));
    {
        let mut con = server.con();
        until("the stream to fill", || xlen(&mut con, "tweets") >= 512);
    }
    server.kill();
    until("the producer to report the outage", || {
        log(&dir, "producer").contains("lost (retrying)")
    });
    server.restart();
    until("the producer to report it is back", || {
        log(&dir, "producer").contains("back")
    });
    // Said once, in the program's words: the library's `tracing` events of the same outage
    // stay off unless RUST_LOG asks for them.
    let err = log(&dir, "producer");
    assert!(!err.contains("timbr_redis"), "{err}");
    assert_eq!(err.matches("lost (retrying)").count(), 1, "{err}");
}

/// A child process killed (and reaped) when dropped.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
