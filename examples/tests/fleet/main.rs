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

#[path = "../common/mod.rs"]
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

/// `tweets --role work` named `name` on the fleet at `url`, its status as JSON.
fn worker(dir: &Path, url: &str, name: &str) -> Reaped {
    spawn(
        dir,
        name,
        &["--redis", url, "--role", "work", "--name", name, "--json"],
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

mod http;
mod pipeline;
mod urls;
