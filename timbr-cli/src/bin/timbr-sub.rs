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
//! sink sent and reports `expected` and `missed`, exactly, when it was there from the start:
//! its first snapshot says nothing was sent yet, or no more than it had received. Joined
//! mid-run, it cannot know how many records went out before it subscribed, and says so
//! (`"joined_mid_run": true`, no `missed`) rather than guess. It stops waiting for
//! snapshots when the status endpoint goes away (the machine's program ended).
//!
//! Ctrl-C, SIGTERM and SIGQUIT end the run with what arrived so far (the summary included,
//! with `"interrupted"`: the signal); the exit status is then 128 + the signal. A second
//! signal ends the process at once.
//!
//! Exit status: 0 when at least one message arrived, every message was well formed, `--count`
//! (if given) were received and nothing was missed; 1 otherwise (including: no publisher at
//! the endpoint, the wrong kind of socket there, nothing received); 2 for a usage error;
//! 128 + the signal when a signal ended it.

use std::collections::HashSet;
use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use timbr_cli::{connect, is_final, state_name, EXIT_FAILED, EXIT_USAGE};
use timbr_core::{machine::STATUS_TOPIC, zmq};

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
    let signal = Arc::new(AtomicUsize::new(0));
    let forced = Arc::new(AtomicBool::new(false));
    for sig in signal_hook::consts::TERM_SIGNALS {
        use signal_hook::flag;
        let registered = flag::register_conditional_shutdown(*sig, 128 + *sig, Arc::clone(&forced))
            .and_then(|_| flag::register(*sig, Arc::clone(&forced)))
            .and_then(|_| flag::register_usize(*sig, Arc::clone(&signal), *sig as usize));
        if let Err(e) = registered {
            eprintln!("timbr-sub: cannot handle signal {sig}: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    }
    match run(&args, &signal) {
        Ok(Ended::Interrupted(sig)) => ExitCode::from(u8::try_from(128 + sig).unwrap_or(130)),
        Ok(Ended::Checked(true)) => ExitCode::SUCCESS,
        Ok(Ended::Checked(false)) => ExitCode::from(EXIT_FAILED),
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

/// How a run ended.
enum Ended {
    /// It ran its course: whether every check passed.
    Checked(bool),
    /// A signal ended it (its number).
    Interrupted(usize),
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

/// What this subscriber can say of its loss.
#[derive(Debug, PartialEq)]
enum Account {
    /// No snapshot yet.
    Unknown,
    /// There from the start: of `expected` records the sink sent, `missed` did not arrive.
    Exact { expected: u64, missed: u64 },
    /// Joined mid-run: the records sent before it subscribed are unknown, so no loss can be
    /// told. What was sent and received since the first snapshot, for people.
    MidRun {
        sent_since: u64,
        received_since: u64,
    },
}

impl Loss {
    /// What can be said of the loss once `received` records arrived.
    ///
    /// The first snapshot tells whether this subscriber was there from the start: nothing
    /// sent yet, or exactly as many as it had received. Then every record sent was one it
    /// should get, and the figure is exact (a snapshot travels apart from the records, so a
    /// record may overtake it: counting from zero, that changes nothing). Otherwise records
    /// went out before it subscribed, how many nobody knows: the numbers since the first
    /// snapshot cannot tell a loss from records already in flight then.
    fn account(&self, received: u64) -> Account {
        let (Some((base_sent, base_received)), Some(last_sent)) = (self.base, self.last_sent)
        else {
            return Account::Unknown;
        };
        if base_sent == 0 || base_sent == base_received {
            Account::Exact {
                expected: last_sent,
                missed: last_sent.saturating_sub(received),
            }
        } else {
            Account::MidRun {
                sent_since: last_sent.saturating_sub(base_sent),
                received_since: received - base_received,
            }
        }
    }

    /// Whether nothing more is to be waited for: the machine ended and every record it sent
    /// arrived.
    fn all_in(&self, received: u64) -> bool {
        self.ended && matches!(self.account(received), Account::Exact { missed: 0, .. })
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

/// Watches `socket` for its peer going away: a PAIR socket receiving the monitor's
/// `DISCONNECTED` events (the status endpoint's program ended: no snapshot will come).
fn watch_disconnect(context: &zmq::Context, socket: &zmq::Socket) -> Result<zmq::Socket, String> {
    let address = format!("inproc://timbr-sub-status-gone-{}", std::process::id());
    let zmq_error = |e: zmq::Error| format!("cannot watch the status endpoint: {e}");
    socket
        .monitor(&address, i32::from(zmq::SocketEvent::DISCONNECTED.to_raw()))
        .map_err(zmq_error)?;
    let monitor = context.socket(zmq::PAIR).map_err(zmq_error)?;
    monitor.set_linger(0).map_err(zmq_error)?;
    monitor.connect(&address).map_err(zmq_error)?;
    Ok(monitor)
}

fn run(args: &Args, signal: &AtomicUsize) -> Result<Ended, String> {
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
            let gone = watch_disconnect(&context, &status)?;
            Some((status, gone))
        }
        None => None,
    };
    // When the status endpoint went away (its program ended: no snapshot will come).
    let mut status_gone: Option<Instant> = None;
    let mut interrupted = 0;
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
        interrupted = signal.load(Ordering::Acquire);
        if interrupted != 0 {
            break;
        }
        let gone = status_gone.is_some_and(|at| at.elapsed() >= GRACE);
        if loss.all_in(received) || ((loss.ended || gone) && last_message.elapsed() >= GRACE) {
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
        if let Some((status, gone)) = &status {
            items.push(status.as_poll_item(zmq::POLLIN));
            items.push(gone.as_poll_item(zmq::POLLIN));
        }
        match zmq::poll(&mut items, 100) {
            Ok(_) | Err(zmq::Error::EINTR) => {}
            Err(e) => return Err(e.to_string()),
        }
        let (records_ready, status_ready, gone_ready) = (
            items[0].is_readable(),
            items.get(1).is_some_and(zmq::PollItem::is_readable),
            items.get(2).is_some_and(zmq::PollItem::is_readable),
        );
        drop(items);
        if gone_ready {
            if let Some((_, gone)) = &status {
                while gone.recv_multipart(zmq::DONTWAIT).is_ok() {}
            }
            // The records' last messages may still be on their way: `GRACE` for them.
            status_gone.get_or_insert_with(Instant::now);
        }
        if status_ready {
            if let Some((status, _)) = &status {
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
    let account = loss.account(received);
    let (expected, missed) = match account {
        Account::Exact { expected, missed } => (Some(expected), Some(missed)),
        _ => (None, None),
    };
    let lost = missed.is_some_and(|m| m > 0);
    if interrupted != 0 {
        eprintln!("timbr-sub: signal {interrupted}: stopped with what arrived");
    }
    if args.status.is_some() && !loss.ended {
        eprintln!(
            "timbr-sub: the machine had not ended{}; `expected` counts to the last snapshot",
            if status_gone.is_some() {
                " when its status endpoint went away"
            } else {
                ""
            }
        );
    }
    if received == 0 {
        eprintln!("timbr-sub: received nothing from {}", args.endpoint);
    }
    if let Some(m) = missed.filter(|&m| m > 0) {
        eprintln!(
            "timbr-sub: missed {m} of {} records the sink sent (dropped at this subscriber's \
             high-water mark)",
            expected.unwrap_or(0)
        );
    }
    let mid_run = match account {
        Account::MidRun {
            sent_since,
            received_since,
        } => {
            eprintln!(
                "timbr-sub: joined mid-run: cannot know how many records were published before \
                 it subscribed, so no loss is counted ({sent_since} sent and {received_since} \
                 received since its first status snapshot)"
            );
            Some((sent_since, received_since))
        }
        _ => None,
    };
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
            "missed_exact": missed.map(|_| true),
            "joined_mid_run": mid_run.is_some(),
            "sent_since_first_status": mid_run.map(|(sent, _)| sent),
            "received_since_first_status": mid_run.map(|(_, received)| received),
            "interrupted": (interrupted != 0).then_some(interrupted),
        });
        writeln!(out, "{summary}").map_err(write_error)?;
    }
    out.flush().map_err(write_error)?;
    Ok(if interrupted != 0 {
        Ended::Interrupted(interrupted)
    } else {
        Ended::Checked(ok)
    })
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
    fn loss_is_exact_from_the_start_and_untold_mid_run() {
        let loss = |base: (u64, u64), last_sent: u64| Loss {
            base: Some(base),
            last_sent: Some(last_sent),
            ended: true,
        };
        assert_eq!(Loss::default().account(5), Account::Unknown);
        // There before the first record, records overtaking the first snapshot included.
        assert_eq!(
            loss((0, 0), 100).account(90),
            Account::Exact {
                expected: 100,
                missed: 10
            }
        );
        assert_eq!(
            loss((0, 7), 100).account(100),
            Account::Exact {
                expected: 100,
                missed: 0
            }
        );
        assert!(loss((0, 7), 100).all_in(100));
        // Had every record sent up to its first snapshot.
        assert_eq!(
            loss((40, 40), 100).account(95),
            Account::Exact {
                expected: 100,
                missed: 5
            }
        );
        // Joined mid-run: 40 were sent, it had 3 (the rest went before it subscribed, or are
        // in flight: nobody can tell), so no loss is claimed either way.
        assert_eq!(
            loss((40, 3), 100).account(63),
            Account::MidRun {
                sent_since: 60,
                received_since: 60
            }
        );
        assert!(!loss((40, 3), 100).all_in(1000));
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
