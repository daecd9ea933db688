//! What the HTTP tests share: a plain HTTP client on std, machines that keep data flowing,
//! bounded polling, and the Debian tools the tests drive.

#![allow(dead_code)] // each test file uses a part

pub(crate) mod browser;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use timbr_core::{Machine, Stage};

/// A response: status code, head, body.
pub(crate) struct Reply {
    pub(crate) code: u16,
    pub(crate) head: String,
    pub(crate) body: String,
}

/// `GET path` with extra header lines, over HTTP/1.0 (the server closes after answering).
pub(crate) fn get(addr: SocketAddr, path: &str, headers: &str) -> Reply {
    request(
        addr,
        &format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n{headers}\r\n"),
    )
}

/// As [`get`], but `None` when nothing listens (yet) or the answer is cut short.
pub(crate) fn try_get(addr: SocketAddr, path: &str) -> Option<Reply> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    out.starts_with(b"HTTP/").then(|| parse(&out))
}

/// Sends `raw` and reads the whole answer.
pub(crate) fn request(addr: SocketAddr, raw: &str) -> Reply {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(raw.as_bytes()).expect("send");
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read");
    parse(&out)
}

pub(crate) fn parse(out: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    Reply {
        code,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// Polls `f` until it returns `Some`, for at most `limit` (a loaded machine may be slow;
/// the deadline only bounds a broken test).
pub(crate) fn eventually<R>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<R>) -> R {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(r) = f() {
            return r;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A free loopback port (bound, then released).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running machine named `name` with three stages (the last fails on every 7th datum),
/// fed by an endless source paced at about a thousand data a second.
pub(crate) fn flowing_machine(name: &str) -> Arc<Machine<u64>> {
    let double = Stage::new(0, "double", ["input"], |n: &u64| n * 2).unwrap();
    let text = Stage::new(1, "text", ["f0"], |n: &u64| format!("n={n}")).unwrap();
    let seventh = Stage::try_new(2, "every_7th", ["input", "f1"], |n: &u64, t: &String| {
        if n % 7 == 0 {
            Err(format!("{t} is a multiple of 7"))
        } else {
            Ok(t.len())
        }
    })
    .unwrap();
    let machine = Arc::new(
        Machine::<u64>::builder()
            .name(name)
            .stages([double, text, seventh])
            .timing(timbr_core::Timing::All)
            .tick(Duration::from_millis(20))
            .build()
            .unwrap(),
    );
    machine.set_source((1..).inspect(|_| std::thread::sleep(Duration::from_millis(1))));
    machine.start().unwrap();
    machine
}

/// A Debian tool the tests need; a missing one fails the test, saying how to get it.
pub(crate) fn tool(name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`{name}` not found: apt-get install -y {package} (.ci/test does)")
        })
}

/// A fresh directory under the target directory, for a service's files and test artifacts.
pub(crate) fn scratch(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Kills and reaps a child process when dropped, so a failing test leaves no service behind.
pub(crate) struct Reaper(pub(crate) std::process::Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running machine named `name` whose small queue stays full: its one stage takes `pace`
/// per datum, and `putters` threads `try_put` without pause, refused nearly always.
/// Dropping the [`Hammer`] stops the threads and ends the stage's wait.
pub(crate) fn refusing_machine(
    name: &str,
    putters: usize,
    pace: Duration,
) -> (Arc<Machine<u64>>, Hammer) {
    let (gate, wait) = timbr_core::crossbeam_channel::bounded::<()>(0);
    let slow = Stage::new(0, "slow", ["input"], move |n: &u64| {
        // The stage's own work: it keeps the queue full, and the counts still between
        // most scrapes.
        let _ = wait.recv_timeout(pace);
        *n
    })
    .unwrap();
    let machine = Arc::new(
        Machine::<u64>::builder()
            .name(name)
            .stage(slow)
            .capacity(2)
            .build()
            .unwrap(),
    );
    machine.start().unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let threads = (0..putters)
        .map(|t| {
            let (m, stop) = (Arc::clone(&machine), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut n = t as u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if m.try_put(n).is_err() {
                        std::thread::yield_now();
                    }
                    n += putters as u64;
                }
            })
        })
        .collect();
    (
        machine,
        Hammer {
            stop,
            threads,
            _gate: gate,
        },
    )
}

/// The threads of [`refusing_machine`]; dropping it stops and joins them.
pub(crate) struct Hammer {
    stop: Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
    /// Never sent on: dropped, it ends the stage's waits.
    _gate: timbr_core::crossbeam_channel::Sender<()>,
}

impl Drop for Hammer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// The counter samples of an exposition in the text format (`_total`, and a histogram's
/// `_count`, `_sum` and `_bucket`), by series (name and labels).
pub(crate) fn counter_samples(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let name = series.split('{').next()?;
            let counter = ["_total", "_count", "_sum", "_bucket"]
                .iter()
                .any(|s| name.ends_with(s));
            Some((series.to_owned(), value.parse().ok()?)).filter(|_| counter)
        })
        .collect()
}
