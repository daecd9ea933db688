//! `timbr-watch`: the live status table of a machine running in another process — the
//! `top` of timbr — and its remote control.
//!
//! ```text
//! timbr-watch STATUS_ENDPOINT [--once] [--timeout SECS] [--json]
//! timbr-watch --control CONTROL_ENDPOINT [status | ping | start | stop | stop now]
//! timbr-watch --http ADDR [--allow-remote] STATUS_ENDPOINT...
//! timbr-watch --redis URL --stream S [--group G] [--every SECS] [--once] [--json]
//! ```
//!
//! The first form subscribes to the status snapshots a `timbr_core::Remote` publishes and
//! redraws the table for each (on a terminal; elsewhere it prints one table after another).
//! It ends once the machine has stopped, completed or failed (a `Remote` publishes that last
//! snapshot), or after the first snapshot with `--once`. With `--json` it prints each
//! snapshot as one JSON line instead of a table.
//!
//! The second form sends one control request and prints the reply (the status as a table
//! for `status`).
//!
//! The third serves every watched machine over HTTP until the process is killed: the live
//! dashboard (one page, with totals), Prometheus metrics on `/metrics`, and health on
//! `/livez` and `/readyz` (`timbr-http`). `ADDR` must be a loopback address unless
//! `--allow-remote` is given.
//!
//! The fourth shows a whole fleet on a Redis Stream, refreshed every `--every` seconds
//! (default 1): each machine (worker or producer, on any host) as it announces itself in
//! Redis (`timbr_redis::Announce`) — role, state, processed, failed, errors, put, rate, and
//! how long ago it was heard from — the fleet's totals, the stream and group as Redis sees
//! them (length, lag, pending, consumers, dead letters) and the fleet's balance. A machine
//! shows how it ended (`stopped`, `completed`, `failed`: its last word, kept for a day) or
//! `GONE` (not heard from for 5 s without such a word: killed or cut off); one started
//! again under its name adds to its earlier lives' counts. `--once` prints one view;
//! `--json` prints each as a JSON line. Until Ctrl-C otherwise. It is `timbr-fleet watch`
//! (the same code). With `--http` it is refused: a fleet dashboard is planned (issue 24).
//!
//! Exit status: 0 when the machine stopped or completed (or the control reply says `ok`);
//! 3 when it failed; 1 when no snapshot arrived for `--timeout` seconds (default 10), no
//! reply came, or the reply says `ok: false`; 2 for a usage error.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use timbr_cli::{
    chain, connect, is_final, state_name, EXIT_FAILED, EXIT_MACHINE_FAILED, EXIT_USAGE,
};
use timbr_core::{zmq, Status, STATUS_TOPIC};

/// Watch or control a timbr machine in another process.
#[derive(Parser, Debug)]
#[command(name = "timbr-watch", version)]
struct Args {
    /// The status endpoint to watch; with --control, the request: status (default), ping,
    /// start, stop, stop now.
    #[arg(value_name = "STATUS_ENDPOINT | REQUEST", required_unless_present_any = ["control", "completions", "redis"])]
    words: Vec<String>,
    /// Send one control request to this endpoint instead of watching.
    #[arg(long, value_name = "CONTROL_ENDPOINT")]
    control: Option<String>,
    /// Exit after the first snapshot.
    #[arg(long, conflicts_with = "control")]
    once: bool,
    /// Give up when no snapshot (or reply) arrived for this many seconds (0.001 to 86400).
    #[arg(long, default_value_t = 10.0, value_parser = seconds)]
    timeout: f64,
    /// Print each snapshot as one JSON line.
    #[arg(long, conflicts_with = "control")]
    json: bool,
    /// Serve the dashboard, metrics and health of every STATUS_ENDPOINT over HTTP on ADDR
    /// (e.g. 127.0.0.1:9464) until killed.
    #[arg(long, value_name = "ADDR", conflicts_with_all = ["control", "once", "json"])]
    http: Option<std::net::SocketAddr>,
    /// With --http: allow an address other hosts can reach.
    #[arg(long, requires = "http")]
    allow_remote: bool,
    /// Watch the fleet on this Redis server (`redis://[:password@]host:port[/db]`): every
    /// machine that announces itself on --stream, with totals and Redis's view.
    #[arg(long, value_name = "URL", requires = "stream", conflicts_with_all = ["control", "words"])]
    redis: Option<String>,
    /// With --redis: the fleet's stream.
    #[arg(long, value_name = "S", requires = "redis")]
    stream: Option<String>,
    /// With --redis: the fleet's consumer group.
    #[arg(long, value_name = "G", requires = "redis", default_value = "timbr")]
    group: String,
    /// With --redis: seconds between two views (0.05 to 3600).
    #[arg(long, value_name = "SECS", requires = "redis", default_value_t = 1.0, value_parser = every)]
    every: f64,
    /// Print shell completions for SHELL and exit.
    #[arg(long, value_name = "SHELL", exclusive = true)]
    completions: Option<clap_complete::Shell>,
}

fn seconds(text: &str) -> Result<f64, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if (0.001..=86_400.0).contains(&secs) {
        Ok(secs)
    } else {
        Err(format!("{secs} is not between 0.001 and 86400 seconds"))
    }
}

fn every(text: &str) -> Result<f64, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if (0.05..=3600.0).contains(&secs) {
        Ok(secs)
    } else {
        Err(format!("{secs} is not between 0.05 and 3600 seconds"))
    }
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    if let Some(shell) = args.completions {
        let mut command = <Args as clap::CommandFactory>::command();
        clap_complete::generate(shell, &mut command, "timbr-watch", &mut std::io::stdout());
        return ExitCode::SUCCESS;
    }
    let timeout = Duration::from_secs_f64(args.timeout);
    if args.http.is_some() && args.redis.is_some() {
        eprintln!(
            "timbr-watch: --http with --redis (a fleet's dashboard, metrics and health over \
             HTTP) is not built yet: it is planned in issue 24. For now: \
             `timbr-watch --redis URL --stream S` shows the fleet in a terminal, and \
             `timbr-watch --http ADDR STATUS_ENDPOINT…` serves machines of this host"
        );
        return ExitCode::from(EXIT_USAGE);
    }
    if let Some(addr) = args.http {
        return match serve(addr, args.allow_remote, &args.words) {
            Ok(never) => match never {},
            Err(e) => {
                eprintln!("timbr-watch: {e}");
                ExitCode::from(EXIT_FAILED)
            }
        };
    }
    if let (Some(url), Some(stream)) = (&args.redis, &args.stream) {
        let options = timbr_redis::WatchOptions {
            every: Duration::from_secs_f64(args.every),
            once: args.once,
            json: args.json,
            clear: std::io::stdout().is_terminal() && !args.json,
        };
        return match watch_fleet(url, stream, &args.group, &options) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("timbr-watch: {e}");
                ExitCode::from(EXIT_FAILED)
            }
        };
    }
    let result = match (&args.control, &args.words[..]) {
        (Some(endpoint), words) => {
            let request = match words.join(" ") {
                r if r.is_empty() => "status".to_owned(),
                r => r,
            };
            control(endpoint, &request, timeout)
        }
        (None, [endpoint]) => watch(endpoint, args.once, timeout, args.json),
        (None, _) => {
            eprintln!("timbr-watch: give one status endpoint, or --control ENDPOINT REQUEST");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("timbr-watch: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// Serves the machines at `endpoints` over HTTP until the process is killed.
fn serve(
    addr: std::net::SocketAddr,
    allow_remote: bool,
    endpoints: &[String],
) -> Result<std::convert::Infallible, String> {
    let watch = timbr_http::FleetWatch::new(endpoints.to_vec()).map_err(|e| chain(&e))?;
    let options = timbr_http::HttpOptions::new()
        .addr(addr)
        .allow_remote(allow_remote);
    let server = timbr_http::HttpServer::start(watch.fleet(), options).map_err(|e| chain(&e))?;
    eprintln!(
        "timbr-watch: dashboard on {} (metrics: {}metrics)",
        server.url(),
        server.url()
    );
    // The server's threads do the work; this one only keeps them (and `watch`) alive.
    loop {
        std::thread::park();
    }
}

/// Shows the fleet on `stream` until killed (or once): the same view and loop as
/// `timbr-fleet watch` (`timbr_redis::Fleet::watch`).
fn watch_fleet(
    url: &str,
    stream: &str,
    group: &str,
    options: &timbr_redis::WatchOptions,
) -> Result<(), String> {
    let redis = timbr_redis::RedisOptions::new(url, stream).group(group);
    let mut fleet = timbr_redis::Fleet::connect(redis).map_err(|e| chain(&e))?;
    let mut stdout = std::io::stdout().lock();
    fleet
        .watch(options, &mut stdout, &|| false)
        .map_err(|e| chain(&e))
}

fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

fn watch(endpoint: &str, once: bool, timeout: Duration, json: bool) -> Result<u8, String> {
    let ctx = zmq::Context::new();
    let sub = ctx.socket(zmq::SUB).map_err(|e| e.to_string())?;
    sub.set_rcvtimeo(millis(timeout))
        .and_then(|()| sub.set_linger(0))
        .and_then(|()| sub.set_subscribe(STATUS_TOPIC.as_bytes()))
        .map_err(|e| format!("cannot subscribe to {endpoint}: {e}"))?;
    connect(&ctx, &sub, endpoint, timeout)?;
    let terminal = std::io::stdout().is_terminal() && !json;
    let mut stdout = std::io::stdout().lock();
    loop {
        let frames = match sub.recv_multipart(0) {
            Ok(frames) => frames,
            Err(zmq::Error::EAGAIN) => {
                return Err(format!(
                    "no status from {endpoint} for {timeout:.0?}; is the machine serving it?"
                ))
            }
            Err(e) => return Err(e.to_string()),
        };
        let [topic, body] = &frames[..] else {
            eprintln!("timbr-watch: ignoring a message of {} frames", frames.len());
            continue;
        };
        if topic.as_slice() != STATUS_TOPIC.as_bytes() {
            continue;
        }
        let value: serde_json::Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("timbr-watch: ignoring a snapshot that does not parse: {e}");
                continue;
            }
        };
        let state = state_name(&value).unwrap_or("unknown").to_owned();
        let shown = if json {
            writeln!(stdout, "{}", String::from_utf8_lossy(body))
        } else {
            match serde_json::from_value::<Status>(value) {
                // Clear the screen and draw the table from the top.
                Ok(status) if terminal => writeln!(stdout, "\x1b[2J\x1b[H{status}"),
                Ok(status) => writeln!(stdout, "{status}"),
                Err(_) => writeln!(stdout, "{}", String::from_utf8_lossy(body)),
            }
        };
        // A closed stdout (a pipe into `head`) ends the watch, quietly.
        if shown.and_then(|()| stdout.flush()).is_err() {
            return Ok(0);
        }
        if state == "failed" {
            return Ok(EXIT_MACHINE_FAILED);
        }
        if once || is_final(&state) {
            return Ok(0);
        }
    }
}

fn control(endpoint: &str, request: &str, timeout: Duration) -> Result<u8, String> {
    let ctx = zmq::Context::new();
    let req = ctx.socket(zmq::REQ).map_err(|e| e.to_string())?;
    req.set_rcvtimeo(millis(timeout))
        .and_then(|()| req.set_linger(0))
        .map_err(|e| format!("cannot connect to {endpoint}: {e}"))?;
    connect(&ctx, &req, endpoint, timeout)?;
    req.send(request, 0).map_err(|e| e.to_string())?;
    let reply = req
        .recv_bytes(0)
        .map_err(|e| format!("no reply from {endpoint} within {timeout:.0?}: {e}"))?;
    let value: serde_json::Value =
        serde_json::from_slice(&reply).map_err(|e| format!("the reply is not JSON: {e}"))?;
    match value
        .get("status")
        .map(|s| serde_json::from_value::<Status>(s.clone()))
    {
        Some(Ok(status)) => println!("{status}"),
        _ => println!("{value}"),
    }
    Ok(if value["ok"] == true { 0 } else { EXIT_FAILED })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("timbr-watch").chain(line.split_whitespace()))
    }

    #[test]
    fn arguments() {
        let a = args("ipc:///x --once --timeout 2.5").unwrap();
        assert_eq!((a.once, a.timeout), (true, 2.5));
        let r = args("--redis redis://127.0.0.1:6379 --stream tweets --once --json").unwrap();
        assert_eq!(r.redis.as_deref(), Some("redis://127.0.0.1:6379"));
        assert_eq!(
            (r.stream.as_deref(), r.group.as_str()),
            (Some("tweets"), "timbr")
        );
        let c = args("--control ipc:///c stop now").unwrap();
        assert_eq!(c.words, ["stop", "now"]);
        for bad in [
            "",
            "ipc:///x --timeout 0",
            "ipc:///x --timeout 1e19",
            "ipc:///x --bogus",
            "--control ipc:///c --once",
            "--redis redis://127.0.0.1:6379",
            "--stream tweets",
            "--redis redis://127.0.0.1:6379 --stream s ipc:///x",
            "--redis redis://127.0.0.1:6379 --stream s --every 0",
        ] {
            assert!(args(bad).is_err(), "{bad}");
        }
    }
}
