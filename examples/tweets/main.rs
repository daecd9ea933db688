//! The notebook's use case, end to end: a stream of tweets through a running machine that
//! scores their sentiment, remembers the last 50, and has a stage failing on every 31st
//! tweet. The notebook's machine died there; this one keeps going, counts the failures,
//! publishes every record on ZeroMQ and shows its status.
//!
//! ```text
//! cargo run --release --example tweets -- [--count N] [--seconds S] [--rate R] [--workers W]
//!     [--executor sync|threaded] [--endpoint E | --no-publish] [--subscribers N] [--seed S]
//!     [--json] [--http ADDR]
//! ```
//!
//! The tweets are made on this machine ([`TweetStream`] of the `timbr-tweets` crate: Twitter's
//! v1.1 JSON shape, English text with emoji, hashtags, mentions and links; the same for the
//! same `--seed`), fed by a source thread into a machine with four stages (slots 0, 1 and 3
//! are `timbr_tweets::stages`, shared with `timbr-fleet`; slot 2 is this example's display):
//!
//! | slot | stage | what |
//! |---|---|---|
//! | 0 | `text` | the tweet's text |
//! | 1 | `sentiment` | VADER's compound score, -1 to 1 (the `vader_sentiment` crate, made for social-media text) |
//! | 2 | `remember` | a closure keeping (score, text) of the last 50 tweets in a shared deque |
//! | 3 | `every_31st` | the tweet's mood, except for every 31st tweet (by its place in the stream), where it fails |
//!
//! The machine completes by itself when the source ends (`StopWhenDone`, with
//! `LogAndContinue` for the errors). While it runs, a progress bar is drawn on stderr when
//! it is a terminal; otherwise a status line is printed every second. At the end: the
//! status table, the last remembered tweets, the spread of scores, and the checks — the
//! machine completed, its counts balance, every tweet was accepted, and exactly one in 31
//! failed (`count / 31`); any mismatch makes the exit status 1.
//!
//! Flags (`--flag value` or `--flag=value`):
//!
//! - `--count N`: how many tweets (default 300,000: about 10 seconds with one worker on
//!   two cores). `0` is endless: until `--seconds` have passed, or until a signal.
//! - `--seconds S`: stop the source after `S` seconds (the machine then drains its queue
//!   and completes; the checks use the number of tweets the source produced).
//! - `--rate R`: at most `R` tweets a second (default: as fast as the machine takes them).
//! - `--workers W`: data processed at once, each on its own thread (default 1); records
//!   are published in stream order all the same.
//! - `--executor sync|threaded`: how each tweet's stage graph runs (default `sync`).
//! - `--endpoint E`: publish on `E` (`tcp://127.0.0.1:*`, `ipc://path`); by default on a
//!   private `ipc://` endpoint of its own. The endpoint is printed at the start; read it with
//!   `cargo run --release -p timbr-cli --bin timbr-sub -- ENDPOINT` (the hints name
//!   `--release` when this program was built with it, so that nothing builds twice) or any
//!   ZeroMQ SUB socket (pyzmq:
//!   `sub.connect(endpoint); sub.subscribe(b""); sub.recv_multipart()`).
//! - `--no-publish`: no ZeroMQ socket; records go nowhere (a `NullSink`).
//! - `--subscribers N`: before starting, wait (up to a minute) until `N` subscribers have
//!   connected, so that they see every record. The machine's endpoints are served (and
//!   printed, with the `timbr-sub … --status …` line to connect) during the wait, so a
//!   subscriber can follow its status from the start; a signal ends the wait (exit status
//!   128 + the signal).
//! - `--seed S`: which stream of tweets (default 1).
//! - `--json`: stdout gets exactly one line, the final `Status` as JSON
//!   (`serde_json::to_string(&status)`); everything for people goes to stderr instead.
//! - `--redis URL [--role produce|work|both] [--stream S] [--name N] [--pack P]`: run as
//!   one machine of a fleet sharing a Redis Stream (see `tweets_fleet.rs` and the README's
//!   "A fleet on Redis"): `produce` puts `--count` tweets on the stream (`--pack` to an
//!   entry), `work` processes them until a signal, `both` does both and completes. Records go to `<stream>:results`. A wrong URL
//!   or an unreachable server is an error at start (exit status 1).
//! - `--http ADDR [--http-allow-remote]`: serve Prometheus metrics, health endpoints and a
//!   live dashboard on `ADDR`; an address other hosts can reach only with
//!   `--http-allow-remote` (what it serves is read-only).
//! - `--version`: the program's version.
//! - `--help`: this usage, with every flag's bounds. An unknown flag or a value out of its
//!   bounds exits with status 2.
//!
//! Ctrl-C, SIGTERM and SIGQUIT stop the machine the way `stop` does: the queue drains, the
//! final status is printed (the checks are skipped), the socket files are removed, and the
//! exit status is 128 + the signal. A second signal ends the process at once. A `stop` sent
//! to the control endpoint (the "stop it with" line) is as deliberate: the queue drains, the
//! checks are skipped, and the exit status is 0. Either way, a stopped run still fails (exit
//! status 1) if its counts do not balance or a tweet was left queued.

mod fleet;
mod publish;
mod report;
mod stages;

use std::error::Error;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use timbr_cli::{bounded, Exit};
use timbr_core::machine::MAX_WORKERS;
use timbr_core::observe::human_count;
use timbr_core::{from_stages, sched, LogAndContinue, Machine, Progress, StopMode, StopWhenDone};
use timbr_tweets::stages::{every_31st, sentiment, text};
use timbr_tweets::{paced, Tweet, TweetStream};

use stages::{remember, Memory};

/// The default number of tweets: about 10 s with one worker on two cores (VADER takes some 20 µs
/// a tweet).
const DEFAULT_COUNT: u64 = 300_000;

/// How many tweets the `remember` stage keeps.
const REMEMBERED: usize = 50;

/// How long `--subscribers` waits.
const SUBSCRIBER_WAIT: Duration = Duration::from_secs(60);

/// How often the run looks for a signal.
const SIGNAL_CHECK: Duration = Duration::from_millis(50);

// ---- the flags -------------------------------------------------------------------------------

/// What the command line asked for.
#[derive(Clone, Debug, PartialEq)]
struct Options {
    /// Tweets to make; 0 for endless.
    count: u64,
    seconds: Option<f64>,
    rate: Option<f64>,
    workers: usize,
    threaded: bool,
    /// `None`: the default endpoint.
    endpoint: Option<String>,
    publish: bool,
    subscribers: u64,
    seed: u64,
    json: bool,
    /// Serve metrics, health and the dashboard over HTTP on this address.
    http: Option<std::net::SocketAddr>,
    /// `--http` may listen beyond loopback.
    http_allow_remote: bool,
    /// Run as one machine of a fleet on Redis.
    fleet: Option<fleet::FleetOptions>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            count: DEFAULT_COUNT,
            seconds: None,
            rate: None,
            workers: 1,
            threaded: false,
            endpoint: None,
            publish: true,
            subscribers: 0,
            seed: 1,
            json: false,
            http: None,
            http_allow_remote: false,
            fleet: None,
        }
    }
}

/// The command line, as clap reads it (`--help` lists every flag with its bounds).
#[derive(clap::Parser, Debug)]
#[command(
    name = "tweets",
    version,
    about = "The notebook's tweet pipeline, end to end"
)]
struct Cli {
    /// Tweets to generate (0 = endless; at most 10^12).
    #[arg(long, default_value_t = DEFAULT_COUNT, value_parser = clap::value_parser!(u64).range(0..=1_000_000_000_000))]
    count: u64,
    /// Stop the source after S seconds (0.001 to a year).
    #[arg(long, value_name = "S", value_parser = bounded(0.001, MAX_SECONDS))]
    seconds: Option<f64>,
    /// At most R tweets per second (0.001 to 10^9; default: unpaced).
    #[arg(long, value_name = "R", value_parser = bounded(0.001, 1e9))]
    rate: Option<f64>,
    /// Data processed at once (1 to timbr_core::machine::MAX_WORKERS).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=MAX_WORKERS as u64))]
    workers: u64,
    /// How each tweet's stage graph runs.
    #[arg(long, value_enum, default_value_t = ExecutorKind::Sync)]
    executor: ExecutorKind,
    /// Publish records on this ZeroMQ endpoint (default: a private ipc:// one).
    #[arg(long, value_name = "E", conflicts_with_all = ["no_publish", "redis"])]
    endpoint: Option<String>,
    /// Do not publish records.
    #[arg(long)]
    no_publish: bool,
    /// Wait (up to 60 s) for N subscribers before starting (at most 1000).
    #[arg(long, value_name = "N", default_value_t = 0, conflicts_with_all = ["no_publish", "redis"], value_parser = clap::value_parser!(u64).range(0..=1000))]
    subscribers: u64,
    /// Which stream of tweets.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print only the final status as one JSON line on stdout (the rest on stderr).
    #[arg(long)]
    json: bool,
    /// Serve Prometheus metrics, health endpoints and a live dashboard on ADDR
    /// (e.g. 127.0.0.1:9464; open http://ADDR/).
    #[arg(long, value_name = "ADDR", conflicts_with = "redis")]
    http: Option<std::net::SocketAddr>,
    /// Let `--http` listen on an address other hosts can reach (refused otherwise). What it
    /// serves is read-only: nothing there can change the machine.
    #[arg(long, requires = "http")]
    http_allow_remote: bool,
    /// A fleet on Redis.
    #[command(flatten)]
    fleet: fleet::FleetArgs,
}

/// `--executor`'s choices.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum ExecutorKind {
    Sync,
    Threaded,
}

/// The longest `--seconds`: a year (`Duration::from_secs_f64` panics on far larger values).
const MAX_SECONDS: f64 = 365.0 * 86_400.0;

impl From<Cli> for Options {
    fn from(c: Cli) -> Self {
        Options {
            count: c.count,
            seconds: c.seconds,
            rate: c.rate,
            // Bounded by the parser to MAX_WORKERS, which fits.
            workers: usize::try_from(c.workers).unwrap_or(MAX_WORKERS),
            threaded: matches!(c.executor, ExecutorKind::Threaded),
            endpoint: c.endpoint,
            publish: !c.no_publish,
            subscribers: c.subscribers,
            seed: c.seed,
            json: c.json,
            http: c.http,
            http_allow_remote: c.http_allow_remote,
            fleet: c.fleet.options(),
        }
    }
}

/// Parses the arguments (without the program name); an error is clap's (usage, or help).
#[cfg(test)]
fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, clap::Error> {
    use clap::Parser;
    Cli::try_parse_from(std::iter::once("tweets".to_owned()).chain(args)).map(Options::from)
}

// ---- the run ---------------------------------------------------------------------------------

fn main() -> ExitCode {
    timbr_cli::init_logs();
    let options = match timbr_cli::parse::<Cli>() {
        Ok(cli) => Options::from(cli),
        Err(exit) => return exit.into(),
    };
    // Ctrl-C, SIGTERM and SIGQUIT stop the machine the way `stop` does (drain, final status,
    // socket files removed); a second one ends the process at once.
    let signal = match timbr_cli::stop_signals() {
        Ok(signal) => signal,
        Err(e) => {
            eprintln!("tweets: cannot handle signals: {e}");
            return Exit::Failed.into();
        }
    };
    let (mut out, mut stdout, mut stderr) = (io::stdout(), io::stdout(), io::stderr());
    let human: &mut dyn Write = if options.json {
        &mut stderr
    } else {
        &mut stdout
    };
    let ended = run(&options, &mut out, human, &signal).map(|ended| match ended {
        Ended::Done | Ended::StoppedFromOutside => Exit::Success,
        // 128 + the signal, as a shell reports a process it ended.
        Ended::Interrupted(sig) => Exit::Signal(i32::try_from(sig).unwrap_or(0)),
    });
    timbr_cli::finish("tweets", ended)
}

/// How a run ended (when nothing went wrong).
#[derive(Debug, PartialEq)]
enum Ended {
    /// The machine completed and every check passed.
    Done,
    /// A signal stopped it (drained, final status printed; the checks do not apply).
    Interrupted(usize),
    /// A `stop` from the control endpoint ended it (drained; the checks do not apply).
    StoppedFromOutside,
}

/// Runs the machine as `o` says. With `--json` the final status goes to `out` as one line;
/// everything else goes to `human`.
///
/// # Errors
///
/// When the machine cannot be built, bound or started, or when a check fails (after
/// everything was printed).
fn run(
    o: &Options,
    out: &mut dyn Write,
    human: &mut dyn Write,
    signal: &AtomicUsize,
) -> Result<Ended, Box<dyn Error>> {
    if let Some(f) = &o.fleet {
        return fleet::run(o, f, out, human, signal);
    }
    let loading = Instant::now();
    let _ = sentiment("warm up"); // parses the lexicons now, not in the first tweet
    let loaded_in = loading.elapsed();

    let memory = Arc::new(Memory::default());
    let remember = remember(&memory);
    let mut builder = Machine::<Tweet>::builder()
        .name("tweets")
        .workers(o.workers)
        .ordered(true)
        .handler(StopWhenDone::new().and(LogAndContinue::default()));
    if o.threaded {
        builder = builder.executor(sched::Threaded::new());
    }
    if o.count > 0 {
        builder = builder.plugin(Progress::new(o.count).message("tweets"));
    }
    let (builder, publishing) = publish::sink(o, builder, human)?;
    let machine: Arc<Machine<Tweet>> = Arc::new(from_stages![
        builder => text, sentiment, { remember }, every_31st
    ]?);
    let (_http, remote) = publish::serve(o, &machine, human)?;
    let waited = publish::await_subscribers(
        o,
        &machine,
        &publishing,
        remote.as_ref(),
        out,
        human,
        signal,
    )?;
    if let Some(ended) = waited {
        return Ok(ended);
    }

    writeln!(
        human,
        "{} tweets (seed {}) → text → sentiment (VADER, lexicon loaded in {loaded_in:.0?}) → \
         remember → every_31st; {} worker(s), {} executor",
        match o.count {
            0 => "endless".to_owned(),
            n => human_count(n),
        },
        o.seed,
        o.workers,
        if o.threaded { "threaded" } else { "sync" },
    )?;
    machine.set_source(tweets(o)?);
    machine.start()?;
    let interrupted = follow(o, &machine, human, signal)?;
    machine.stop_drain();
    let status = machine.status();
    drop(machine); // closes the sink: queued messages go out (a second at most)
    report::finish(
        o,
        &status,
        &memory,
        publishing.zmq.as_ref(),
        interrupted,
        out,
        human,
    )
}

/// Follows the running machine until it ends: a bar on a terminal (when the total is
/// known), otherwise a status line every second; the first signal asks it to stop the way
/// `stop` does. Returns that signal (0 if none came).
fn follow(
    o: &Options,
    machine: &Machine<Tweet>,
    human: &mut dyn Write,
    signal: &AtomicUsize,
) -> io::Result<usize> {
    let bar = io::stderr().is_terminal() && o.count > 0;
    let mut interrupted = 0;
    let mut last_line = Instant::now();
    while machine.wait_timeout(SIGNAL_CHECK).is_active() {
        let sig = signal.load(Ordering::Acquire);
        if sig != 0 && interrupted == 0 {
            interrupted = sig;
            writeln!(
                human,
                "signal {sig}: stopping (draining the queue; again to force)"
            )?;
            machine.request_stop(StopMode::Drain);
        }
        if !bar && last_line.elapsed() >= Duration::from_secs(1) {
            last_line = Instant::now();
            let s = machine.status();
            writeln!(
                human,
                "{}: {:>9} processed, {:>7} failed, {:>5} queued ({}/s)",
                s.state,
                human_count(s.counts.processed),
                human_count(s.counts.failed),
                s.queue.depth,
                human_count(s.rate.recent as u64)
            )?;
        }
    }
    Ok(interrupted)
}

/// The command that runs the timbr-cli program `bin` from this checkout, in the profile this
/// program was built with: the other profile would compile every crate again (`--release` is
/// how the README runs `tweets`). The features resolve alike for `-p timbr-cli` and the
/// workspace (see `workspace-hack/Cargo.toml`), so only timbr-cli's own crates are left to build.
fn cli(bin: &str) -> String {
    let release = if cfg!(debug_assertions) {
        ""
    } else {
        " --release"
    };
    format!("cargo run{release} -p timbr-cli --bin {bin} --")
}

/// The tweets `o` asks for: `--count` of them (endless for 0), at `--rate`, for `--seconds`.
fn tweets(o: &Options) -> Result<Box<dyn Iterator<Item = Tweet> + Send>, Box<dyn Error>> {
    tweets_from(o, 0)
}

/// The tweets of the sequence `o` asks for, from the `from`th on: the skipped ones are
/// made (the sequence is the seed's) but not paced.
fn tweets_from(
    o: &Options,
    from: u64,
) -> Result<Box<dyn Iterator<Item = Tweet> + Send>, Box<dyn Error>> {
    let stream = TweetStream::starting_at(o.seed, from);
    let stream: Box<dyn Iterator<Item = Tweet> + Send> = match o.count {
        0 => Box::new(stream),
        n => Box::new(stream.take(usize::try_from(n.saturating_sub(from))?)),
    };
    let stream: Box<dyn Iterator<Item = Tweet> + Send> = match o.rate {
        Some(rate) => Box::new(paced(stream, rate)),
        None => stream,
    };
    Ok(match o.seconds {
        Some(secs) => {
            let deadline = Instant::now() + Duration::from_secs_f64(secs);
            Box::new(stream.take_while(move |_| Instant::now() < deadline))
        }
        None => stream,
    })
}

#[cfg(test)]
mod tests;
