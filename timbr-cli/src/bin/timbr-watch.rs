//! `timbr-watch`: the live status table of a machine running in another process — the
//! `top` of timbr.
//!
//! ```text
//! timbr-watch STATUS_ENDPOINT [--once] [--timeout SECS] [--json]
//! timbr-watch --control CONTROL_ENDPOINT [status | stop | stop return | start | ping]
//! ```
//!
//! The first form subscribes to the status snapshots a `timbr_core::Remote` publishes and
//! redraws the table for each (on a terminal; elsewhere it prints one table after another).
//! It exits 0 once the machine has stopped, completed or failed (after showing that last
//! status), or after the first snapshot with `--once`; it exits 1 if no snapshot arrived
//! for `--timeout` seconds (default 10). With `--json` it prints each snapshot as one JSON
//! line instead of a table.
//!
//! The second form sends one control request and prints the reply (the status as a table
//! for `status`); it exits 0 if the reply says `ok`, 1 otherwise.
//!
//! Exit status 2 is a usage error.

use std::process::ExitCode;

#[cfg(feature = "zmq")]
fn main() -> ExitCode {
    watch::main()
}

#[cfg(not(feature = "zmq"))]
fn main() -> ExitCode {
    eprintln!("timbr-watch: built without the `zmq` feature of timbr-core");
    ExitCode::from(2)
}

#[cfg(feature = "zmq")]
mod watch {
    use std::io::{IsTerminal, Write};
    use std::process::ExitCode;
    use std::time::Duration;

    use timbr_core::{zmq, Status, STATUS_TOPIC};

    const USAGE: &str = "usage: timbr-watch STATUS_ENDPOINT [--once] [--timeout SECS] [--json]\n       timbr-watch --control CONTROL_ENDPOINT [status | stop | stop return | start | ping]";

    enum Mode {
        Watch {
            endpoint: String,
            once: bool,
            timeout: Duration,
            json: bool,
        },
        Control {
            endpoint: String,
            request: String,
        },
    }

    fn parse(args: Vec<String>) -> Result<Mode, String> {
        if args.first().map(String::as_str) == Some("--control") {
            let endpoint = args.get(1).ok_or("--control needs an endpoint")?.clone();
            let request = match args[2..].join(" ") {
                r if r.is_empty() => "status".to_owned(),
                r => r,
            };
            return Ok(Mode::Control { endpoint, request });
        }
        let mut endpoint = None;
        let (mut once, mut json, mut timeout) = (false, false, Duration::from_secs(10));
        let mut it = args.into_iter();
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--once" => once = true,
                "--json" => json = true,
                "--timeout" => {
                    let secs: f64 = it
                        .next()
                        .and_then(|v| v.parse().ok())
                        .filter(|s: &f64| s.is_finite() && *s > 0.0)
                        .ok_or("--timeout needs a positive number of seconds")?;
                    timeout = Duration::from_secs_f64(secs);
                }
                "-h" | "--help" => return Err(String::new()),
                flag if flag.starts_with('-') => return Err(format!("unknown flag `{flag}`")),
                _ if endpoint.is_none() => endpoint = Some(arg),
                _ => return Err(format!("unexpected `{arg}`")),
            }
        }
        Ok(Mode::Watch {
            endpoint: endpoint.ok_or("a status endpoint is needed")?,
            once,
            timeout,
            json,
        })
    }

    pub(crate) fn main() -> ExitCode {
        let mode = match parse(std::env::args().skip(1).collect()) {
            Ok(mode) => mode,
            Err(e) => {
                if !e.is_empty() {
                    eprintln!("timbr-watch: {e}");
                }
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        };
        let result = match mode {
            Mode::Watch {
                endpoint,
                once,
                timeout,
                json,
            } => watch(&endpoint, once, timeout, json),
            Mode::Control { endpoint, request } => control(&endpoint, &request),
        };
        match result {
            Ok(code) => code,
            Err(e) => {
                eprintln!("timbr-watch: {e}");
                ExitCode::from(1)
            }
        }
    }

    fn millis(d: Duration) -> i32 {
        i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
    }

    fn watch(
        endpoint: &str,
        once: bool,
        timeout: Duration,
        json: bool,
    ) -> Result<ExitCode, String> {
        let ctx = zmq::Context::new();
        let sub = ctx.socket(zmq::SUB).map_err(|e| e.to_string())?;
        sub.set_rcvtimeo(millis(timeout))
            .and_then(|()| sub.set_linger(0))
            .and_then(|()| sub.set_subscribe(STATUS_TOPIC.as_bytes()))
            .and_then(|()| sub.connect(endpoint))
            .map_err(|e| format!("cannot subscribe to {endpoint}: {e}"))?;
        let terminal = std::io::stdout().is_terminal() && !json;
        let mut stdout = std::io::stdout().lock();
        loop {
            let frames = match sub.recv_multipart(0) {
                Ok(frames) => frames,
                Err(zmq::Error::EAGAIN) => {
                    return Err(format!(
                        "no status from {endpoint} for {:.0?}; is the machine serving it?",
                        timeout
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
            let status: Status = match serde_json::from_slice(body) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("timbr-watch: ignoring a snapshot that does not parse: {e}");
                    continue;
                }
            };
            let shown = if json {
                writeln!(stdout, "{}", String::from_utf8_lossy(body))
            } else if terminal {
                // Clear the screen and draw the table from the top.
                writeln!(stdout, "\x1b[2J\x1b[H{status}")
            } else {
                writeln!(stdout, "{status}")
            };
            // A closed stdout (a pipe into `head`) ends the watch, quietly.
            if shown.and_then(|()| stdout.flush()).is_err() {
                return Ok(ExitCode::SUCCESS);
            }
            if once || !status.state.is_active() && status.state.name() != "idle" {
                return Ok(ExitCode::SUCCESS);
            }
        }
    }

    fn control(endpoint: &str, request: &str) -> Result<ExitCode, String> {
        let ctx = zmq::Context::new();
        let req = ctx.socket(zmq::REQ).map_err(|e| e.to_string())?;
        req.set_rcvtimeo(10_000)
            .and_then(|()| req.set_linger(0))
            .and_then(|()| req.connect(endpoint))
            .map_err(|e| format!("cannot connect to {endpoint}: {e}"))?;
        req.send(request, 0).map_err(|e| e.to_string())?;
        let reply = req
            .recv_bytes(0)
            .map_err(|e| format!("no reply from {endpoint}: {e}"))?;
        let value: serde_json::Value =
            serde_json::from_slice(&reply).map_err(|e| format!("the reply is not JSON: {e}"))?;
        match value
            .get("status")
            .map(|s| serde_json::from_value::<Status>(s.clone()))
        {
            Some(Ok(status)) => println!("{status}"),
            _ => println!("{value}"),
        }
        Ok(if value["ok"] == true {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    }
}
