//! The tweets pipeline as a fleet, with the real programs: a test-started `redis-server`,
//! one `tweets --role produce` and two `tweets --role work` processes, and `timbr-watch
//! fleet` showing them all. Every tweet ends with a record, nothing is left pending, the
//! fleet balances, and the watch sees each machine and the totals.
//!
//! `timbr-watch http ADDR --redis …` serves the workers the fleet's registry lists over
//! HTTP, a worker started after it included.
//!
//! The tests build the programs they run (`common`); a missing `redis-server` fails loudly.
#![cfg(unix)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output};
use std::time::Duration;

use common::{timbr_watch, tweets};
use rustix::process::{kill_process, Pid, Signal};
use timbr_core::{MachineState, Status};
use timbr_redis::{redis, Fleet, FleetView, RedisOptions};
use timbr_testkit::{until, wait, Server};

/// Tweets the producer puts: a few seconds at its rate.
const N: u64 = 3000;

/// `tweets ARGS`, its stdout and stderr to files `name.out` and `name.err` in `dir`.
fn spawn(dir: &Path, name: &str, args: &[&str]) -> Reaped {
    let file = |ext: &str| std::fs::File::create(dir.join(format!("{name}.{ext}"))).unwrap();
    Reaped(
        Command::new(tweets())
            .args(args)
            .stdout(file("out"))
            .stderr(file("err"))
            .spawn()
            .expect("the tweets example"),
    )
}

/// A program the test started, killed and reaped however the test ends: a failed assert
/// must not leave workers running after the test (they outlived a failing run once).
struct Reaped(Child);

impl std::ops::Deref for Reaped {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Reaped {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        // Already exited (the usual end): both calls are harmless no-ops then.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_default()
}

fn watch(url: &str) -> Output {
    Command::new(timbr_watch())
        .args([
            "fleet", "--redis", url, "--stream", "tweets", "--once", "--json",
        ])
        .output()
        .expect("timbr-watch")
}

fn view(url: &str) -> FleetView {
    let out = watch(url);
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).expect("one fleet view as JSON")
}

// One story from start to end (~115 lines, over the ~100 the project allows without a
// reason): each step needs the fleet the steps before it built, so apart they would repeat it.
#[test]
fn one_producer_and_two_workers_process_every_tweet_and_the_watch_sees_them_all() {
    let server = Server::start();
    let url = server.url();
    let dir = server.dir.clone();
    let worker = |name: &str| {
        spawn(
            &dir,
            name,
            &["--redis", &url, "--role", "work", "--name", name, "--json"],
        )
    };
    let mut workers = [("w1", worker("w1")), ("w2", worker("w2"))];
    // The workers announce themselves once they run (after loading VADER's lexicons).
    until("the watch to show both workers running", || {
        let v = view(&url);
        v.machines.len() == 2 && v.machines.iter().all(|m| m.machine.state == "running")
    });
    let count = N.to_string();
    let mut producer = spawn(
        &dir,
        "producer",
        &[
            "--redis", &url, "--role", "produce", "--name", "p", "--count", &count, "--rate",
            "1000", "--json",
        ],
    );

    // While it runs: every machine, live, with its role.
    until("the watch to show the three machines running", || {
        let v = view(&url);
        let roles: Vec<(&str, &str, &str)> = v
            .machines
            .iter()
            .map(|m| {
                let a = &m.machine;
                (a.name.as_str(), a.role.as_str(), a.state.as_str())
            })
            .collect();
        roles
            == [
                ("p", "producer", "producing"),
                ("w1", "worker", "running"),
                ("w2", "worker", "running"),
            ]
            && v.totals.live == 3
    });
    let text = Command::new(timbr_watch())
        .args(["fleet", "--redis", &url, "--stream", "tweets", "--once"])
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.starts_with("fleet `tweets` (group `timbr`): 3 machines"),
        "{text}"
    );
    assert!(text.contains("\nredis: stream "), "{text}");

    let status = wait(&mut producer, "the producer");
    assert!(status.success(), "{}", read(&dir, "producer.err"));
    assert_eq!(
        read(&dir, "producer.out").trim(),
        format!("{{\"produced\":{N}}}")
    );

    // The fleet deals with every tweet; the watch's totals follow (each machine announces
    // itself once a second).
    let mut fleet = Fleet::connect(RedisOptions::new(url.clone(), "tweets")).unwrap();
    until("every tweet to be acknowledged", || {
        let b = fleet.balance().unwrap();
        b.acked == N && b.pending == 0 && b.unread == 0
    });
    until("the watch's totals to count every tweet", || {
        let v = view(&url);
        v.totals.processed + v.totals.failed == N
    });
    let v = view(&url);
    assert!(v.balance.is_balanced(), "{:?}", v.balance);
    // Every 31st tweet failed for good: it sits in the failure stream, a datum to deal with
    // again, counted produced once more (see timbr_redis::Balance).
    assert_eq!(
        (v.balance.produced, v.balance.failed, v.balance.dead),
        (N + N / 31, N / 31, 0)
    );
    assert_eq!(v.queue.pending, 0);
    assert_eq!(v.totals.put, N, "the producer's puts");
    assert_eq!(v.totals.failed, N / 31, "every 31st tweet fails, once");
    let p = &v.machines[0];
    assert_eq!((p.machine.state.as_str(), p.machine.put), ("completed", N));
    assert!(v.machines[1..]
        .iter()
        .all(|w| w.machine.status_endpoint.is_some()));

    // SIGTERM stops a worker the way `stop` does; its final status balances.
    let mut done = 0;
    for (name, child) in &mut workers {
        let pid = Pid::from_raw(child.id() as i32).unwrap();
        kill_process(pid, Signal::TERM).unwrap();
        let status = wait(child, name);
        let err = read(&dir, &format!("{name}.err"));
        assert_eq!(status.code(), Some(128 + 15), "{err}");
        assert!(
            err.contains(&format!("{name}: running:")),
            "status lines as it runs: {err}"
        );
        let out = read(&dir, &format!("{name}.out"));
        let status: Status = serde_json::from_str(out.trim()).expect("the final status");
        assert_eq!(status.state, MachineState::Stopped);
        assert!(status.counts.is_balanced(), "{:?}", status.counts);
        done += status.counts.processed + status.counts.failed;
    }
    assert_eq!(done, N, "each tweet processed once: no worker was killed");

    let results = fleet.results("tweets:results").unwrap();
    assert_eq!(
        (results.records, results.distinct),
        (N, N),
        "a record per tweet"
    );
    let v = view(&url);
    assert!(v.machines.iter().all(|m| !m.is_live()), "all ended: {v:?}");
}

#[test]
fn a_wrong_url_is_a_clear_error_not_a_panic() {
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    for role in ["work", "produce", "both"] {
        let out = Command::new(tweets())
            .args(["--redis", &url, "--role", role])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{role}: {err}");
        assert!(err.contains("cannot connect to Redis at"), "{role}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let out = Command::new(tweets())
        .args(["--redis", "http://not-redis", "--role", "work"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("is not a valid Redis URL"), "{err}");
    let out = watch(&url);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot connect to Redis at"), "{err}");
}

/// `both` completes by itself, and its last words agree with each other: the final status
/// shows the queue as Redis shows it after the last acknowledgements, and the fleet's
/// balance is printed with what its producer put (issue 20, item 8).
#[test]
fn both_completes_with_a_final_view_that_agrees_with_its_balance() {
    let server = Server::start();
    let url = server.url();
    let dir = server.dir.clone();
    let count = N.to_string();
    let mut both = spawn(
        &dir,
        "both",
        &[
            "--redis", &url, "--role", "both", "--name", "b", "--count", &count, "--json",
        ],
    );
    let status = wait(&mut both, "tweets --role both");
    let err = read(&dir, "both.err");
    assert!(status.success(), "{err}");
    let status: Status = serde_json::from_str(read(&dir, "both.out").trim()).expect("the status");
    assert_eq!(status.state, MachineState::Completed, "{err}");
    let group = &status.plugins["redis"]["group_info"];
    assert_eq!(
        (group["pending"].as_u64(), group["lag"].as_u64()),
        (Some(0), Some(0)),
        "{status}"
    );
    assert!(
        err.contains(&format!(
            "producer: put 3,000 tweets | fleet: produced {} = acked {N} + pending 0 + unread 0 + dead 0 + failed {}: balanced",
            N + N / 31,
            N / 31
        )),
        "{err}"
    );
}

/// A producer killed (SIGKILL) mid-run and started again under its name continues where it
/// stopped: every tweet is on the stream once (issue 20, item 19).
#[test]
fn a_producer_killed_and_started_again_puts_every_tweet_once() {
    let server = Server::start();
    let url = server.url();
    let dir = server.dir.clone();
    let count = N.to_string();
    let args = [
        "--redis", &url, "--role", "produce", "--name", "p", "--count", &count, "--rate", "3000",
        "--json",
    ];
    let mut con = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    // No worker: every entry stays on the stream, to be counted.
    let mut on_stream = || -> u64 { redis::cmd("XLEN").arg("tweets").query(&mut con).unwrap() };
    let mut producer = spawn(&dir, "p1", &args);
    until("the producer to be a third of the way", || {
        on_stream() >= N / 3
    });
    producer.kill().unwrap(); // SIGKILL
    producer.wait().unwrap();
    let mut producer = spawn(&dir, "p2", &args);
    assert!(wait(&mut producer, "the second producer").success());
    assert!(
        read(&dir, "p2.err").contains("were put by an earlier run of `p`"),
        "{}",
        read(&dir, "p2.err")
    );
    let put: serde_json::Value = serde_json::from_str(read(&dir, "p2.out").trim()).unwrap();
    assert!(put["produced"].as_u64().unwrap() < N, "{put}");
    let mut con = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg("tweets")
        .arg("-")
        .arg("+")
        .query(&mut con)
        .unwrap();
    let mut seqs: Vec<u64> = entries
        .ids
        .iter()
        .map(|e| {
            let d: String = redis::from_redis_value(&e.map["d"]).unwrap();
            serde_json::from_str::<serde_json::Value>(&d).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    seqs.sort_unstable();
    let expected: Vec<u64> = (1..=N).collect();
    assert_eq!(seqs.len() as u64, N, "every tweet once, none twice");
    assert_eq!(seqs, expected);
}

/// Issue 20, item 22: the password of a Redis URL appeared in clear in the start banners and
/// hints (errors redacted it).
#[test]
fn the_password_never_shows() {
    const PASSWORD: &str = "s3cret-pw";
    let server = Server::start_with(&["--requirepass", PASSWORD]);
    let url = format!("redis://:{PASSWORD}@127.0.0.1:{}", server.port);
    let out = Command::new(tweets())
        .args(["--redis", &url, "--role", "both", "--count", "20"])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let all = format!("{stdout}\n{stderr}");
    assert!(!all.contains(PASSWORD), "{all}");
    assert!(
        all.contains("redis://…@127.0.0.1"),
        "the banners still say where: {all}"
    );
}

/// `GET path` over plain TCP (HTTP/1.0: the server closes after answering): the status code
/// and the body, or `None` while nothing answers.
fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    let code = head.split(' ').nth(1)?.parse().ok()?;
    Some((code, body.to_owned()))
}

/// Issue 20, item 14: `timbr-watch http ADDR --redis URL --stream S` (refused before) serves
/// every worker that announces a status endpoint in the registry: one running when it
/// started and one started after, in `/metrics` and `/livez`; a worker that stopped keeps
/// its last status (live, not ready).
#[test]
fn the_http_dashboard_serves_the_workers_the_registry_lists() {
    let server = Server::start();
    let url = server.url();
    let dir = server.dir.clone();
    let worker = |name: &str| {
        spawn(
            &dir,
            name,
            &["--redis", &url, "--role", "work", "--name", name, "--json"],
        )
    };
    let endpoint = |name: &str| -> Option<String> {
        view(&url)
            .machines
            .into_iter()
            .find(|m| m.machine.name == name && m.machine.state == "running")?
            .machine
            .status_endpoint
    };
    let mut w1 = worker("w1");
    let mut e1 = None;
    until("w1 to announce its status endpoint", || {
        e1 = endpoint("w1");
        e1.is_some()
    });
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let log = std::fs::File::create(dir.join("watch.err")).unwrap();
    let mut watcher = Command::new(timbr_watch())
        .args([
            "http",
            &addr.to_string(),
            "--redis",
            &url,
            "--stream",
            "tweets",
        ])
        .stderr(log)
        .spawn()
        .expect("timbr-watch http --redis");
    // Killed whatever happens below (it serves until killed).
    struct Reap<'a>(&'a mut Child);
    impl Drop for Reap<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let watcher = Reap(&mut watcher);
    let mut w2 = worker("w2");
    let mut e2 = None;
    until("w2 to announce its status endpoint", || {
        e2 = endpoint("w2");
        e2.is_some()
    });
    let (e1, e2) = (e1.unwrap(), e2.unwrap());
    // Labelled by name: the endpoints are paths named after the workers' process ids, which
    // would make new series at every restart.
    let serves = |name: &str, body: &str| {
        body.contains(&format!("machine=\"{name}\"")) && !body.contains(&e1) && !body.contains(&e2)
    };
    until("both workers in /metrics, and /livez 200", || {
        let metrics = get(addr, "/metrics");
        let livez = get(addr, "/livez");
        matches!((&metrics, &livez), (Some((200, m)), Some((200, _))) if serves("w1", m) && serves("w2", m))
    });
    let (_, livez) = get(addr, "/livez").unwrap();
    let health: serde_json::Value = serde_json::from_str(&livez).unwrap();
    assert_eq!(
        health["machines"].as_array().map(Vec::len),
        Some(2),
        "{health}"
    );

    // w1 stops (SIGTERM): it says so in its last status, which the page keeps.
    kill_process(Pid::from_raw(w1.id() as i32).unwrap(), Signal::TERM).unwrap();
    assert_eq!(wait(&mut w1, "w1").code(), Some(128 + 15));
    until(
        "/readyz 503 for the stopped worker, /livez still 200",
        || {
            let ready = get(addr, "/readyz");
            let live = get(addr, "/livez");
            matches!((&ready, &live), (Some((503, r)), Some((200, _))) if r.contains("stopped"))
        },
    );
    let (code, metrics) = get(addr, "/metrics").unwrap();
    assert_eq!(code, 200);
    assert!(
        serves("w1", &metrics) && serves("w2", &metrics),
        "{metrics}"
    );
    let err = read(&dir, "watch.err");
    assert!(err.contains("following `w1` (worker)"), "{err}");
    assert!(err.contains("following `w2` (worker)"), "{err}");
    assert!(!err.contains(&url), "no Redis URL in its banner: {err}");

    kill_process(Pid::from_raw(w2.id() as i32).unwrap(), Signal::TERM).unwrap();
    assert_eq!(wait(&mut w2, "w2").code(), Some(128 + 15));
    drop(watcher);
}
