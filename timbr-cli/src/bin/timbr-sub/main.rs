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
//! Exit status ([`timbr_cli::Exit`]; `--help` lists them): 0 when at least one message
//! arrived, every message was well formed, `--count` (if given) were received and nothing
//! was missed; 1 otherwise (including: no publisher at the endpoint, the wrong kind of socket
//! there, nothing received); 2 for a usage error; 128 + the signal when a signal ended it.

mod loss;
mod status;
mod tally;

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use timbr_cli::{connect, Exit};
use timbr_core::zmq;

use status::StatusChannel;
use tally::{Ending, Tally};

/// Read the records a timbr machine publishes, checking each.
#[derive(Parser, Debug)]
#[command(
    name = "timbr-sub",
    version,
    after_help = "Exit status:\n  \
        0    a message arrived, all were well formed, --count were received, none missed\n  \
        1    otherwise (no publisher there, the wrong kind of socket, nothing received)\n  \
        2    a usage error\n  \
        128+ the signal that ended the run (Ctrl-C: 130)"
)]
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
    timbr_cli::init_logs();
    let args = match timbr_cli::parse::<Args>() {
        Ok(args) => args,
        Err(exit) => return exit.into(),
    };
    if let Some(shell) = args.completions {
        timbr_cli::print_completions::<Args>(shell);
        return ExitCode::SUCCESS;
    }
    let outcome = timbr_cli::stop_signals()
        .context("cannot handle signals")
        .and_then(|signal| run(&args, &signal));
    timbr_cli::finish("timbr-sub", outcome)
}

/// Reads, checks and prints records until the run ends; how it ended.
fn run(args: &Args, signal: &AtomicUsize) -> anyhow::Result<Exit> {
    let context = zmq::Context::new();
    let socket = context.socket(zmq::SUB)?;
    socket.set_rcvhwm(0)?; // never the reason a message is lost here
    socket.set_linger(0)?;
    socket.set_subscribe(b"")?;
    let timeout = Duration::from_millis(args.connect_timeout_ms);
    // The status first: its first snapshot should come before the first record.
    let mut status = args
        .status
        .as_deref()
        .map(|endpoint| StatusChannel::open(&context, endpoint, timeout))
        .transpose()?;
    connect(&context, &socket, &args.endpoint, timeout)?;
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut tally = Tally::default();
    let mut last_message = Instant::now();
    let mut interrupted = 0;
    while args.count.is_none_or(|n| tally.received < n) {
        interrupted = signal.load(Ordering::Acquire);
        if interrupted != 0 || over(args, status.as_ref(), &tally, last_message) {
            break;
        }
        if !poll(&socket, status.as_mut(), tally.received)? {
            continue;
        }
        let frames = socket.recv_multipart(0)?;
        last_message = Instant::now();
        let shown = (!args.summary).then_some(&mut out);
        tally.take(&frames, shown).context("writing")?;
    }
    let (summary, ok) = tally.report(&Ending {
        endpoint: &args.endpoint,
        count: args.count,
        status: status.as_ref().map(|s| (&s.loss, s.went_away())),
        interrupted,
    });
    if args.summary {
        writeln!(out, "{summary}").context("writing")?;
    }
    out.flush().context("writing")?;
    Ok(match interrupted {
        0 if ok => Exit::Success,
        0 => Exit::Failed,
        sig => Exit::Signal(i32::try_from(sig).unwrap_or(0)),
    })
}

/// Whether the run is over before `--count`: the status says so, it fell silent, or no
/// message came for `--idle-timeout-ms`.
fn over(args: &Args, status: Option<&StatusChannel>, tally: &Tally, last: Instant) -> bool {
    if let Some(status) = status {
        if status.over(tally.received, last) {
            return true;
        }
        if status.silent() {
            eprintln!(
                "timbr-sub: no status for {:?}; stopping with what arrived",
                status::SILENCE
            );
            return true;
        }
    }
    args.idle_timeout_ms
        .is_some_and(|idle| last.elapsed() >= Duration::from_millis(idle))
}

/// Waits up to 100 ms for a record or a status message, reads the status's; whether a
/// record is ready.
fn poll(
    socket: &zmq::Socket,
    status: Option<&mut StatusChannel>,
    received: u64,
) -> anyhow::Result<bool> {
    let mut items = vec![socket.as_poll_item(zmq::POLLIN)];
    if let Some(status) = &status {
        items.extend(status.poll_items());
    }
    match zmq::poll(&mut items, 100) {
        Ok(_) | Err(zmq::Error::EINTR) => {}
        Err(e) => return Err(e.into()),
    }
    let ready = |i: usize| items.get(i).is_some_and(zmq::PollItem::is_readable);
    let (records, snapshots, gone) = (ready(0), ready(1), ready(2));
    drop(items);
    if let Some(status) = status {
        status.take(snapshots, gone, received)?;
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

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
