//! `timbr-sub`: subscribes to the ZeroMQ endpoint of a machine's `ZmqSink` and prints what
//! arrives, checking every message's shape and, with `--status`, counting what it missed.
//!
//! Each message must be two frames, the oid as 24 hex characters and a JSON array; each is
//! printed as the JSON line `{"oid":"…","record":[…]}` (malformed ones are described on
//! stderr). It stops after `--count` messages, when none arrived for `--idle-timeout-ms`, or
//! (with `--status`) once the machine has ended and its last records are in.
//!
//! Loss: ZeroMQ drops records for a subscriber that falls behind (at its high-water mark)
//! without telling the publisher. With `--status STATUS_ENDPOINT` (a `Remote`'s status
//! endpoint, on a machine with the `ZmqStats` plugin) this program reads how many records the
//! sink sent and reports `expected` and `missed`: exact when it subscribed before the first
//! record went out, an upper bound otherwise.
//!
//! Exit status: 0 when at least one message arrived, every message was well formed, `--count`
//! (if given) were received and nothing was missed; 1 otherwise (including: no publisher at
//! the endpoint, the wrong kind of socket there, nothing received); 2 for a usage error.

use std::collections::HashSet;
use std::io::{self, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use timbr_cli::{connect, is_final, state_name, EXIT_FAILED, EXIT_USAGE};
use timbr_core::{zmq, STATUS_TOPIC};

const KEPT_PROBLEMS: usize = 10;

/// With `--status`: how long without a snapshot before giving up on the machine.
const STATUS_SILENCE: Duration = Duration::from_secs(10);

/// Read the records a timbr machine publishes, checking each.
#[derive(Parser, Debug)]
#[command(name = "timbr-sub", version)]
struct Args {
    /// The records endpoint (`ipc://path` or `tcp://127.0.0.1:port`).
    endpoint: String,
    /// Stop after this many messages.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
    /// Stop when no message arrived for this long (milliseconds, up to one day).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    idle_timeout_ms: Option<u64>,
    /// How long to wait for the publisher to answer at all (milliseconds).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    connect_timeout_ms: u64,
    /// A `Remote`'s status endpoint: count what was sent and report what was missed; stop
    /// once the machine has ended.
    #[arg(long, value_name = "STATUS_ENDPOINT")]
    status: Option<String>,
    /// Print only one JSON summary at the end.
    #[arg(long)]
    summary: bool,
    /// Print shell completions for SHELL and exit.
    #[arg(long, value_name = "SHELL", exclusive = true)]
    completions: Option<clap_complete::Shell>,
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
        clap_complete::generate(shell, &mut command, "timbr-sub", &mut io::stdout());
        return ExitCode::SUCCESS;
    }
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(EXIT_FAILED),
        Err(e) => {
            eprintln!("timbr-sub: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// What one message should be: `[oid hex, JSON array]`; the oid, or why not.
fn check(frames: &[Vec<u8>]) -> Result<&str, String> {
    let [oid, record] = frames else {
        return Err(format!("{} frames instead of 2", frames.len()));
    };
    let oid = std::str::from_utf8(oid)
        .ok()
        .filter(|o| o.len() == 24 && o.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| format!("frame 1 is not 24 hex characters: {oid:?}"))?;
    match serde_json::from_slice::<serde_json::Value>(record) {
        Ok(serde_json::Value::Array(_)) => Ok(oid),
        Ok(other) => Err(format!("frame 2 is JSON but not an array: {other}")),
        Err(e) => Err(format!("frame 2 is not JSON: {e}")),
    }
}

/// What the status channel said: the sink's `sent` count when first seen (and how many
/// records this subscriber had then) and at the end.
#[derive(Default)]
struct Loss {
    /// `(sent, received)` at the first snapshot.
    base: Option<(u64, u64)>,
    last_sent: Option<u64>,
    ended: bool,
}

impl Loss {
    /// Records the sink sent since the first snapshot that this subscriber did not get, and
    /// whether that is exact: it is when the subscriber had every record sent up to the first
    /// snapshot (otherwise some may have been in flight then, and the figure is a bound).
    fn missed(&self, received: u64) -> Option<(u64, u64, bool)> {
        let (base_sent, base_received) = self.base?;
        let expected = self.last_sent?.saturating_sub(base_sent);
        let got = received - base_received;
        Some((
            expected,
            expected.saturating_sub(got),
            base_sent == base_received,
        ))
    }
}

impl Loss {
    fn note(&mut self, snapshot: &serde_json::Value, received: u64) -> Result<(), String> {
        let sent = snapshot
            .pointer("/plugins/zmq/sent")
            .and_then(serde_json::Value::as_u64)
            .ok_or(
                "the status has no `plugins.zmq.sent`: add the sink's stats to the machine \
                 (`builder.plugin(sink.stats())`) to count loss",
            )?;
        if self.base.is_none() {
            self.base = Some((sent, received));
        }
        self.last_sent = Some(sent);
        self.ended = state_name(snapshot).is_some_and(is_final);
        Ok(())
    }
}

fn run(args: &Args) -> Result<bool, String> {
    let context = zmq::Context::new();
    let zmq_error = |e: zmq::Error| e.to_string();
    let socket = context.socket(zmq::SUB).map_err(zmq_error)?;
    socket.set_rcvhwm(0).map_err(zmq_error)?; // never the reason a message is lost here
    socket.set_linger(0).map_err(zmq_error)?;
    socket.set_subscribe(b"").map_err(zmq_error)?;
    let timeout = Duration::from_millis(args.connect_timeout_ms);
    // The status first: its first snapshot should come before the first record.
    let status = match &args.status {
        Some(endpoint) => {
            let status = context.socket(zmq::SUB).map_err(zmq_error)?;
            status.set_linger(0).map_err(zmq_error)?;
            status
                .set_subscribe(STATUS_TOPIC.as_bytes())
                .map_err(zmq_error)?;
            connect(&context, &status, endpoint, timeout)?;
            Some(status)
        }
        None => None,
    };
    connect(&context, &socket, &args.endpoint, timeout)?;
    let mut last_status = Instant::now();
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let (mut received, mut well_formed) = (0_u64, 0_u64);
    let mut oids = HashSet::new();
    let (mut first_oid, mut last_oid) = (None, None);
    let mut problems = Vec::new();
    let mut loss = Loss::default();
    let mut last_message = Instant::now();
    // After the machine ended, its last records may still be on their way.
    const GRACE: Duration = Duration::from_millis(500);
    let write_error = |e: io::Error| format!("writing: {e}");
    while args.count.is_none_or(|n| received < n) {
        if loss.ended
            && (loss
                .missed(received)
                .is_some_and(|(_, missed, _)| missed == 0)
                || last_message.elapsed() >= GRACE)
        {
            break;
        }
        if status.is_some() && last_status.elapsed() >= STATUS_SILENCE {
            eprintln!("timbr-sub: no status for {STATUS_SILENCE:?}; stopping with what arrived");
            break;
        }
        if let Some(idle) = args.idle_timeout_ms {
            if last_message.elapsed() >= Duration::from_millis(idle) {
                break;
            }
        }
        let mut items = vec![socket.as_poll_item(zmq::POLLIN)];
        if let Some(status) = &status {
            items.push(status.as_poll_item(zmq::POLLIN));
        }
        match zmq::poll(&mut items, 100) {
            Ok(_) | Err(zmq::Error::EINTR) => {}
            Err(e) => return Err(e.to_string()),
        }
        let (records_ready, status_ready) = (
            items[0].is_readable(),
            items.get(1).is_some_and(zmq::PollItem::is_readable),
        );
        drop(items);
        if status_ready {
            if let Some(status) = &status {
                while let Ok(frames) = status.recv_multipart(zmq::DONTWAIT) {
                    if let [_, body] = &frames[..] {
                        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
                            loss.note(&v, received)?;
                            last_status = Instant::now();
                        }
                    }
                }
            }
        }
        if !records_ready {
            continue;
        }
        let frames = socket.recv_multipart(0).map_err(zmq_error)?;
        last_message = Instant::now();
        received += 1;
        match check(&frames) {
            Ok(oid) => {
                well_formed += 1;
                if first_oid.is_none() {
                    first_oid = Some(oid.to_owned());
                }
                last_oid = Some(oid.to_owned());
                oids.insert(oid.to_owned());
                if !args.summary {
                    out.write_all(b"{\"oid\":\"")
                        .and_then(|()| out.write_all(oid.as_bytes()))
                        .and_then(|()| out.write_all(b"\",\"record\":"))
                        .and_then(|()| out.write_all(&frames[1]))
                        .and_then(|()| out.write_all(b"}\n"))
                        .map_err(write_error)?;
                }
            }
            Err(problem) => {
                let problem = format!("message {received}: {problem}");
                eprintln!("timbr-sub: {problem}");
                if problems.len() < KEPT_PROBLEMS {
                    problems.push(problem);
                }
            }
        }
    }
    let complete = args.count.is_none_or(|n| received == n);
    let accounted = loss.missed(received);
    let expected = accounted.map(|(e, _, _)| e);
    let missed = accounted.map(|(_, m, _)| m);
    let exact = accounted.is_some_and(|(_, _, exact)| exact);
    let lost = missed.is_some_and(|m| m > 0);
    if args.status.is_some() && !loss.ended {
        eprintln!("timbr-sub: the machine had not ended; `expected` counts to the last snapshot");
    }
    if received == 0 {
        eprintln!("timbr-sub: received nothing from {}", args.endpoint);
    }
    if let Some(m) = missed.filter(|&m| m > 0) {
        eprintln!(
            "timbr-sub: missed {} {m} of {} records the sink sent since the first status \
             (dropped at this subscriber's high-water mark)",
            if exact { "exactly" } else { "at most" },
            expected.unwrap_or(0)
        );
    }
    let ok = received > 0 && complete && well_formed == received && !lost;
    if args.summary {
        let summary = serde_json::json!({
            "endpoint": args.endpoint,
            "received": received,
            "well_formed": well_formed,
            "distinct_oids": oids.len(),
            "first_oid": first_oid,
            "last_oid": last_oid,
            "problems": problems,
            "complete": complete,
            "expected": expected,
            "missed": missed,
            "missed_exact": expected.map(|_| exact),
        });
        writeln!(out, "{summary}").map_err(write_error)?;
    }
    out.flush().map_err(write_error)?;
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_checked() {
        let oid = b"0123456789abcdef01234567".to_vec();
        assert!(check(&[oid.clone(), b"[1,2]".to_vec()]).is_ok());
        assert!(check(std::slice::from_ref(&oid)).is_err());
        assert!(check(&[oid.clone(), b"{}".to_vec()]).is_err());
        assert!(check(&[oid.clone(), b"[1,".to_vec()]).is_err());
        assert!(check(&[b"xyz".to_vec(), b"[]".to_vec()]).is_err());
        assert!(check(&[oid.clone(), b"[]".to_vec(), b"[]".to_vec()]).is_err());
    }

    #[test]
    fn arguments() {
        let args = |s: &str| {
            Args::try_parse_from(std::iter::once("timbr-sub").chain(s.split_whitespace()))
        };
        let a = args("tcp://127.0.0.1:1 --count 5 --summary").unwrap();
        assert_eq!(
            (a.count, a.summary, a.idle_timeout_ms),
            (Some(5), true, None)
        );
        assert!(args("--count 5").is_err());
        assert!(args("ipc:///x --count").is_err());
        assert!(args("ipc:///x --count 0").is_err());
        assert!(args("ipc:///x --idle-timeout-ms 1e19").is_err());
        assert!(args("ipc:///x --bogus").is_err());
        assert_eq!(
            args("--version").unwrap_err().kind(),
            clap::error::ErrorKind::DisplayVersion,
            "--version needs no endpoint"
        );
    }
}
