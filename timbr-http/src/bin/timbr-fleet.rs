//! `timbr-fleet`: the dashboard, metrics and health of machines running in other processes,
//! served over HTTP — what `timbr-watch --http ADDR` does once the command-line programs
//! live in a package that may depend on timbr-http (timbr-core's own binaries cannot: this
//! crate depends on timbr-core).
//!
//! ```text
//! timbr-fleet [--http ADDR] [--allow-remote] STATUS_ENDPOINT...
//! ```
//!
//! Subscribes to each status endpoint (`timbr_core::Remote`) and serves every machine on
//! one page with totals, on `ADDR` (default `127.0.0.1:9464`; an address other hosts can
//! reach only with `--allow-remote`), until killed. Exit status 2 is a usage error, 1 a
//! failure to subscribe or listen.

use std::net::SocketAddr;
use std::process::ExitCode;

const USAGE: &str = "usage: timbr-fleet [--http ADDR] [--allow-remote] STATUS_ENDPOINT...";

#[cfg(feature = "zmq")]
fn main() -> ExitCode {
    let mut addr: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 9464));
    let mut allow_remote = false;
    let mut endpoints = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--http" => match args.next().map(|v| v.parse()) {
                Some(Ok(a)) => addr = a,
                _ => return usage("--http needs an address such as 127.0.0.1:9464"),
            },
            "--allow-remote" => allow_remote = true,
            "-h" | "--help" => return usage(""),
            flag if flag.starts_with('-') => return usage(&format!("unknown flag `{flag}`")),
            _ => endpoints.push(arg),
        }
    }
    if endpoints.is_empty() {
        return usage("at least one status endpoint is needed");
    }
    let watch = match timbr_http::FleetWatch::new(endpoints) {
        Ok(w) => w,
        Err(e) => return fail(&e),
    };
    let options = timbr_http::HttpOptions::new()
        .addr(addr)
        .allow_remote(allow_remote);
    let server = match timbr_http::HttpServer::start(watch.fleet(), options) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    eprintln!(
        "timbr-fleet: dashboard on {} (metrics: {}metrics)",
        server.url(),
        server.url()
    );
    // Serves until the process is killed; the threads do the work.
    loop {
        std::thread::park();
    }
}

#[cfg(not(feature = "zmq"))]
fn main() -> ExitCode {
    eprintln!("timbr-fleet: built without the `zmq` feature of timbr-http");
    ExitCode::from(2)
}

fn usage(why: &str) -> ExitCode {
    if !why.is_empty() {
        eprintln!("timbr-fleet: {why}");
    }
    eprintln!("{USAGE}");
    ExitCode::from(2)
}

#[cfg(feature = "zmq")]
fn fail(e: &dyn std::error::Error) -> ExitCode {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    eprintln!("timbr-fleet: {message}");
    ExitCode::from(1)
}
