//! What the workspace's tests run on: a `redis-server` of each test's own ([`Server`]: a
//! free loopback port, a temp dir, AOF on, that the test can kill and restart), waits that
//! end ([`until`], [`wait`], both bounded by [`PATIENCE`]), and a few questions to Redis
//! the tests ask ([`xlen`], [`pending_of`]).
//!
//! No mock: a test fails loudly when `redis-server` is missing (`.ci/test` installs it).
//! Used by timbr-redis's tests, timbr-cli's (the `timbr-fleet` program) and the examples'.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use redis;

/// The longest any wait in the tests may take before the test fails (debug builds on a
/// loaded 2-core machine are slow; a hang must still end).
pub const PATIENCE: Duration = Duration::from_secs(240);

/// A `redis-server` of the test's own, on a free loopback port with its data (an
/// append-only file, fsynced at every write) in a temp dir of its own. Killed and its dir
/// removed on drop.
pub struct Server {
    /// Its loopback port.
    pub port: u16,
    /// Its data directory (tests put their programs' output there too).
    pub dir: PathBuf,
    /// The arguments it was started with beyond the usual ones (`--requirepass …`).
    extra: Vec<String>,
    child: Option<Child>,
}

impl Server {
    /// Starts a server and waits until it answers.
    ///
    /// # Panics
    ///
    /// `redis-server` is not installed, or did not answer within [`PATIENCE`].
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// A server started with `extra` arguments (`--requirepass …`); [`Server::url`] carries
    /// no password: a test that set one builds its own URL.
    ///
    /// # Panics
    ///
    /// As [`Server::start`].
    pub fn start_with(extra: &[&str]) -> Server {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "timbr-test-redis-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temp dir");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut server = Server {
            port,
            dir,
            extra: extra.iter().map(|a| a.to_string()).collect(),
            child: None,
        };
        server.restart();
        server
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server again on the same port and data (after [`Server::kill`]), and
    /// waits until it answers (its AOF loaded).
    ///
    /// # Panics
    ///
    /// As [`Server::start`].
    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .args(["--save", "", "--daemonize", "no", "--protected-mode", "yes"])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "redis-server must be installed (apt-get install redis-server; .ci/test does it)",
            );
        self.child = Some(child);
        let password = self
            .extra
            .iter()
            .position(|a| a == "--requirepass")
            .and_then(|i| self.extra.get(i + 1));
        let url = match password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}", self.port),
            None => self.url(),
        };
        // Ready when it answers PING (and has loaded its AOF: LOADING errors until then).
        let deadline = Instant::now() + PATIENCE;
        loop {
            let ok = redis::Client::open(url.as_str())
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

    /// A connection to the server.
    ///
    /// # Panics
    ///
    /// The server does not answer within 5 s.
    pub fn con(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(5)))
            .expect("a connection to the test's redis-server")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Polls `cond` until it holds.
///
/// # Panics
///
/// `cond` did not hold within [`PATIENCE`] (the message names `what` was awaited).
pub fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for `child` (named `what`) to end; how it ended.
///
/// # Panics
///
/// It did not end within [`PATIENCE`]: it is killed, then the test fails.
pub fn wait(child: &mut Child, what: &str) -> ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().expect("the child's status") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not end in {PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The length of `stream`.
///
/// # Panics
///
/// Redis refused the question.
pub fn xlen(con: &mut redis::Connection, stream: &str) -> u64 {
    redis::cmd("XLEN").arg(stream).query(con).expect("XLEN")
}

/// How many entries consumer `who` has pending in group `timbr` of `stream`.
///
/// # Panics
///
/// Redis refused the question (no such stream or group).
pub fn pending_of(con: &mut redis::Connection, stream: &str, who: &str) -> u64 {
    let reply: redis::streams::StreamPendingCountReply = redis::cmd("XPENDING")
        .arg(stream)
        .arg("timbr")
        .arg("-")
        .arg("+")
        .arg(100_000)
        .arg(who)
        .query(con)
        .expect("XPENDING");
    reply.ids.len() as u64
}
