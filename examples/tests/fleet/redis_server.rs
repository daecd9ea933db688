//! What the fleet test runs on: a `redis-server` of its own, and bounded waits.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use timbr_redis::redis;

/// The longest any wait here may take before the test fails (debug builds on a loaded
/// 2-core machine are slow; a hang must still end).
pub(crate) const PATIENCE: Duration = Duration::from_secs(240);

/// A `redis-server` of this test's own: a free loopback port, a temp dir, AOF on.
pub(crate) struct Server {
    /// Its loopback port.
    pub(crate) port: u16,
    /// Its data directory.
    pub(crate) dir: PathBuf,
    child: Child,
}

impl Server {
    pub(crate) fn start(name: &str) -> Server {
        Server::start_with(name, &[])
    }

    /// A server started with `extra` arguments (`--requirepass …`).
    pub(crate) fn start_with(name: &str, extra: &[&str]) -> Server {
        let dir = std::env::temp_dir().join(format!("timbr-fleet-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&dir)
            .args(["--appendonly", "yes", "--save", "", "--daemonize", "no"])
            .args(extra)
            .stdout(Stdio::null())
            .spawn()
            .expect(
                "redis-server must be installed (apt-get install redis-server; .ci/test does it)",
            );
        let server = Server { port, dir, child };
        let password = extra
            .iter()
            .position(|a| *a == "--requirepass")
            .map(|i| extra[i + 1]);
        let url = match password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}", server.port),
            None => server.url(),
        };
        until("redis-server to answer", || {
            redis::Client::open(url.as_str())
                .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(1)))
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
                .is_ok()
        });
        server
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits (at most [`PATIENCE`]) until `cond` holds.
pub(crate) fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits (at most [`PATIENCE`]) for `child` to end; kills it and fails after.
pub(crate) fn wait(child: &mut Child, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} did not end in {PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
