//! A real `redis-server` per test (a free loopback port, a temp dir, AOF on), that the test
//! can kill and restart; and the `timbr-fleet` program as worker and producer processes.
//!
//! No mock: a test fails loudly when `redis-server` is missing (`.ci/test` installs it).

#![allow(dead_code, unreachable_pub)] // each test binary uses a different part

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use timbr_redis::redis;

/// The longest any wait in these tests may take before the test fails (a loaded 2-core
/// machine running debug builds is slow; a hang must still end).
pub const PATIENCE: Duration = Duration::from_secs(240);

pub struct Server {
    pub port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
}

impl Server {
    pub fn start() -> Server {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "timbr-redis-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut server = Server {
            port,
            dir,
            child: None,
        };
        server.restart();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server again on the same port and data (after [`Server::kill`]).
    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&self.dir)
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .args(["--daemonize", "no", "--protected-mode", "yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "redis-server must be installed (apt-get install redis-server; .ci/test does it)",
            );
        self.child = Some(child);
        // Ready when it answers PING (and has loaded its AOF: LOADING errors until then).
        let deadline = Instant::now() + PATIENCE;
        loop {
            let ok = redis::Client::open(self.url())
                .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(1)))
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
            if ok.is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not come up: {ok:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no shutdown, no final save (the AOF is what survives).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn con(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .unwrap()
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The `timbr-fleet` program with `args`, its output to files in `dir`.
pub fn fleet(dir: &std::path::Path, name: &str, args: &[String]) -> Child {
    let out = std::fs::File::create(dir.join(format!("{name}.out"))).unwrap();
    let err = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{name}.err")))
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_timbr-fleet"))
        .args(args)
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("timbr-fleet")
}

/// The arguments of a worker `name` on the `tweets` stream writing to `results`, then `extra`.
pub fn work_args(url: &str, name: &str, extra: &[&str]) -> Vec<String> {
    let common = [
        "work",
        "--url",
        url,
        "--stream",
        "tweets",
        "--results",
        "results",
        "--consumer",
        name,
    ];
    args(&common).into_iter().chain(args(extra)).collect()
}

/// The arguments of the producer of `n` tweets on the `tweets` stream, then `extra`.
pub fn produce_args(url: &str, n: u64, extra: &[&str]) -> Vec<String> {
    let n = n.to_string();
    let common = ["produce", "--url", url, "--stream", "tweets", "--count", &n];
    args(&common).into_iter().chain(args(extra)).collect()
}

pub fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Waits for `child` to exit (failing the test past [`PATIENCE`]); returns whether it
/// succeeded.
pub fn wait(child: &mut Child) -> bool {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.success();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("a fleet process did not finish in {PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `cond` until it holds, failing the test past [`PATIENCE`].
pub fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The tweet ids in the records of a results stream, with how often each appears (packed
/// result entries unpacked, as `Fleet::result_records` does).
pub fn result_ids(
    con: &mut redis::Connection,
    stream: &str,
) -> std::collections::HashMap<u64, u64> {
    let mut ids = std::collections::HashMap::new();
    let mut from = "-".to_owned();
    loop {
        let page: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(stream)
            .arg(&from)
            .arg("+")
            .arg("COUNT")
            .arg(5000)
            .query(con)
            .unwrap();
        let Some(last) = page.ids.last() else { break };
        from = format!("({}", last.id);
        for e in &page.ids {
            let records: Vec<String> = match e.map.get("record") {
                Some(v) => vec![redis::from_redis_value(v).unwrap()],
                None => {
                    let lines: String = redis::from_redis_value(&e.map["records"]).unwrap();
                    lines.split('\n').map(str::to_owned).collect()
                }
            };
            for record in records {
                let array: Vec<serde_json::Value> = serde_json::from_str(&record).unwrap();
                let id = array[0]["id"]
                    .as_u64()
                    .expect("the record's `in` is a tweet");
                *ids.entry(id).or_default() += 1;
            }
        }
    }
    ids
}

pub fn xlen(con: &mut redis::Connection, stream: &str) -> u64 {
    redis::cmd("XLEN").arg(stream).query(con).unwrap()
}

/// How many entries consumer `who` has pending in group `timbr` of `stream`.
pub fn pending_of(con: &mut redis::Connection, stream: &str, who: &str) -> u64 {
    let reply: redis::streams::StreamPendingCountReply = redis::cmd("XPENDING")
        .arg(stream)
        .arg("timbr")
        .arg("-")
        .arg("+")
        .arg(100_000)
        .arg(who)
        .query(con)
        .unwrap();
    reply.ids.len() as u64
}
