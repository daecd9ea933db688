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
//! The tweets are made on this machine ([`TweetStream`]: Twitter's v1.1 JSON shape, English
//! text with emoji, hashtags, mentions and links; the same for the same `--seed`), fed by a
//! source thread into a machine with four stages:
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

use std::collections::VecDeque;
use std::error::Error;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use signal_hook::consts::{SIGINT, SIGQUIT, SIGTERM};
use signal_hook::flag;
use timbr_core::observe::human_count;
use timbr_core::{
    from_stages, sched, stage, stage_fn, LogAndContinue, Machine, MachineState, NullSink, Progress,
    Remote, RemoteOptions, Sink, SinkError, Status, StopMode, StopWhenDone, ZmqSink, MAX_WORKERS,
};
use timbr_examples::{paced, Tweet, TweetStream};

#[path = "tweets_fleet.rs"]
mod fleet;
use vader_sentiment::SentimentIntensityAnalyzer;

/// The default number of tweets: about 10 s with one worker on two cores (VADER takes some 20 µs
/// a tweet).
const DEFAULT_COUNT: u64 = 300_000;

/// How many tweets the `remember` stage keeps.
const REMEMBERED: usize = 50;

/// How long `--subscribers` waits.
const SUBSCRIBER_WAIT: Duration = Duration::from_secs(60);

/// How often the run looks for a signal.
const SIGNAL_CHECK: Duration = Duration::from_millis(50);

// ---- the stages ------------------------------------------------------------------------------

/// VADER's analyser, made once: its first use parses the lexicons (about 7,500 words and
/// 3,500 emoji), which must not happen per tweet.
static VADER: LazyLock<SentimentIntensityAnalyzer<'static>> =
    LazyLock::new(SentimentIntensityAnalyzer::new);

/// Slot 0: the tweet's text.
#[stage(0)]
fn text(input: &Tweet) -> String {
    input.text.clone()
}

/// Slot 1: VADER's compound score of the text, from -1 (most negative) to 1 (most positive).
#[stage(1)]
fn sentiment(f0: &str) -> f64 {
    VADER
        .polarity_scores(f0)
        .get("compound")
        .copied()
        .unwrap_or(0.0)
}

/// What a tweet's score says, by VADER's usual thresholds (±0.05).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Mood {
    Positive,
    Neutral,
    Negative,
}

impl Mood {
    fn of(score: f64) -> Mood {
        if score >= 0.05 {
            Mood::Positive
        } else if score <= -0.05 {
            Mood::Negative
        } else {
            Mood::Neutral
        }
    }
}

/// Slot 3: the tweet's mood — but every 31st tweet of the stream fails, as the notebook's
/// last stage did. Decided by the tweet's place in the stream, so exactly `count / 31` fail
/// whatever the number of workers.
#[stage(3)]
fn every_31st(input: &Tweet, f1: &f64) -> Result<Mood, String> {
    if input.seq % 31 == 0 {
        return Err(format!("tweet #{} is a 31st", input.seq));
    }
    Ok(Mood::of(*f1))
}

/// What the `remember` stage shares with `main`: the last tweets and a tally of all moods.
#[derive(Default)]
struct Memory {
    recent: Mutex<VecDeque<(f64, String)>>,
    /// Positive, neutral, negative.
    moods: [AtomicU64; 3],
}

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
    /// Stop the source after S seconds (more than 0, at most a year).
    #[arg(long, value_name = "S", value_parser = bounded(0.0, MAX_SECONDS))]
    seconds: Option<f64>,
    /// At most R tweets per second (0.001 to 10^9; default: unpaced).
    #[arg(long, value_name = "R", value_parser = bounded(0.001, 1e9))]
    rate: Option<f64>,
    /// Data processed at once (1 to timbr_core::MAX_WORKERS).
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

/// A parser for a finite number in `(low, high]` (or `[low, high]` when `low > 0`).
fn bounded(low: f64, high: f64) -> impl Fn(&str) -> Result<f64, String> + Clone {
    move |text| {
        let x: f64 = text
            .parse()
            .map_err(|_| format!("`{text}` is not a number"))?;
        let above = if low == 0.0 { x > 0.0 } else { x >= low };
        if x.is_finite() && above && x <= high {
            Ok(x)
        } else {
            Err(format!("{text} is out of range: {low} to {high}"))
        }
    }
}

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
fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, clap::Error> {
    use clap::Parser;
    Cli::try_parse_from(std::iter::once("tweets".to_owned()).chain(args)).map(Options::from)
}

// ---- the run ---------------------------------------------------------------------------------

fn main() -> ExitCode {
    timbr_cli::init_logs();
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    // Ctrl-C, SIGTERM and SIGQUIT stop the machine the way `stop` does (drain, final status,
    // socket files removed); a second one ends the process at once.
    let signal = Arc::new(AtomicUsize::new(0));
    let forced = Arc::new(AtomicBool::new(false));
    for sig in TERM_SIGNALS {
        let registered = flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&forced))
            .and_then(|_| flag::register(sig, Arc::clone(&forced)))
            .and_then(|_| flag::register_usize(sig, Arc::clone(&signal), sig as usize));
        if let Err(e) = registered {
            eprintln!("tweets: cannot handle signal {sig}: {e}");
            return ExitCode::FAILURE;
        }
    }
    let (mut out, mut stdout, mut stderr) = (io::stdout(), io::stdout(), io::stderr());
    let human: &mut dyn Write = if options.json {
        &mut stderr
    } else {
        &mut stdout
    };
    match run(&options, &mut out, human, &signal) {
        Ok(Ended::Done | Ended::StoppedFromOutside) => ExitCode::SUCCESS,
        // 128 + the signal, as a shell reports a process it ended.
        Ok(Ended::Interrupted(sig)) => ExitCode::from(u8::try_from(128 + sig).unwrap_or(130)),
        Err(e) => {
            eprintln!("tweets: {}", timbr_core::error_chain(&*e));
            ExitCode::FAILURE
        }
    }
}

/// The signals that stop the run the way `stop` does.
const TERM_SIGNALS: [i32; 3] = [SIGINT, SIGTERM, SIGQUIT];

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
    let mut zmq = None;
    let mut waiting = None;
    if o.publish {
        let sink = match &o.endpoint {
            Some(endpoint) => ZmqSink::bind(endpoint)?,
            None => ZmqSink::bind_default()?,
        };
        let endpoint = sink.last_endpoint().to_owned();
        writeln!(human, "publishing every record on {endpoint}")?;
        writeln!(human, "  read them with: {} {endpoint}", cli("timbr-sub"))?;
        zmq = Some(sink.stats());
        // The sink's counts in every status, so subscribers can compare (`timbr-sub --status`).
        builder = builder.plugin(sink.stats());
        if o.subscribers > 0 {
            // The machine (and its status endpoint) exists while the subscribers are awaited,
            // so they can follow its status from the start; the wait needs the sink itself.
            let shared = Arc::new(Mutex::new(sink));
            waiting = Some(Arc::clone(&shared));
            builder = builder.sink(SharedSink(shared));
        } else {
            builder = builder.sink(sink);
        }
    } else {
        builder = builder.sink(NullSink);
    }
    let machine: Arc<Machine<Tweet>> = Arc::new(from_stages![
        builder => text, sentiment, { remember }, every_31st
    ]?);
    // Metrics, health and the dashboard in a browser (loopback only).
    let _http = match o.http {
        Some(addr) => {
            let options = timbr_http::HttpOptions::new()
                .addr(addr)
                .allow_remote(o.http_allow_remote);
            let server = timbr_http::serve(&machine, options).map_err(|e| match e {
                // The library's advice names its option; this program's is a flag.
                timbr_http::ServeError::NotLoopback(addr) => format!(
                    "{addr} is reachable from other hosts: add --http-allow-remote to serve \
                     there anyway (read-only), or use 127.0.0.1"
                )
                .into(),
                e => Box::<dyn Error>::from(e),
            })?;
            writeln!(
                human,
                "dashboard:      {}  (metrics: {}metrics)",
                server.url(),
                server.url()
            )?;
            Some(server)
        }
        None => None,
    };
    // Watchable from a second terminal: status snapshots and a control endpoint.
    let remote = if o.publish {
        let remote = Remote::serve(&machine, RemoteOptions::new())?;
        writeln!(
            human,
            "watch it with:  {} status {}",
            cli("timbr-watch"),
            remote.status_endpoint()
        )?;
        writeln!(
            human,
            "stop it with:   {} control {} stop",
            cli("timbr-watch"),
            remote.control_endpoint()
        )?;
        Some(remote)
    } else {
        None
    };

    if let (Some(sink), Some(zmq), Some(remote)) = (waiting, &zmq, &remote) {
        writeln!(
            human,
            "waiting (up to {SUBSCRIBER_WAIT:?}) for {} subscriber(s); each can follow along with: \
             {} {} --status {} --summary",
            o.subscribers,
            cli("timbr-sub"),
            zmq.endpoint(),
            remote.status_endpoint()
        )?;
        human.flush()?;
        match wait_for_subscribers(&sink, o.subscribers, signal) {
            Waited::Arrived => {}
            Waited::TimedOut => {
                return Err(format!(
                    "{} subscriber(s) did not connect within {SUBSCRIBER_WAIT:?}",
                    o.subscribers
                )
                .into())
            }
            Waited::Signal(sig) => {
                let status = machine.status();
                writeln!(
                    human,
                    "signal {sig} while waiting for subscribers: nothing was started\n\n{status}"
                )?;
                if o.json {
                    writeln!(out, "{}", serde_json::to_string(&status)?)?;
                }
                out.flush()?;
                human.flush()?;
                return Ok(Ended::Interrupted(sig));
            }
        }
    }

    let stream = tweets(o)?;
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

    machine.set_source(stream);
    machine.start()?;
    // A bar shows the way on a terminal (when the total is known); otherwise a status line
    // every second.
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
    machine.stop_drain();
    let status = machine.status();
    drop(machine); // closes the sink: queued messages go out (a second at most)

    writeln!(human, "\n{status}")?;
    let recent = memory.recent.lock().map_err(|_| "the memory is poisoned")?;
    writeln!(human, "\nlast remembered (VADER compound, text):")?;
    for (score, text) in recent.iter().rev().take(5) {
        writeln!(human, "  {score:+.3}  {text}")?;
    }
    let moods: Vec<u64> = memory
        .moods
        .iter()
        .map(|m| m.load(Ordering::Relaxed))
        .collect();
    let scored: u64 = moods.iter().sum();
    let share = |n: u64| 100.0 * n as f64 / scored.max(1) as f64;
    writeln!(
        human,
        "\nsentiment of {} tweets: {:.1}% positive, {:.1}% neutral, {:.1}% negative",
        human_count(scored),
        share(moods[0]),
        share(moods[1]),
        share(moods[2]),
    )?;
    if let Some(zmq) = &zmq {
        // What a slow subscriber lost at its high-water mark is not known here: ZeroMQ drops
        // per subscriber, silently. `timbr-sub --status` tells a subscriber its own loss.
        writeln!(
            human,
            "published on {}: {} sent ({} to no subscriber); a slow subscriber's loss is \
             counted by the subscriber (timbr-sub --status)",
            zmq.endpoint(),
            human_count(zmq.sent()),
            human_count(zmq.unrouted()),
        )?;
    }
    let expected = expected_count(o, &status);
    writeln!(
        human,
        "{} tweets in {:.2?} ({}/s); {} failed (every 31st: {})",
        human_count(status.counts.accepted),
        status.uptime,
        human_count(status.rate.overall as u64),
        human_count(status.errors.stage),
        human_count(expected / 31),
    )?;
    if o.json {
        writeln!(out, "{}", serde_json::to_string(&status)?)?;
    }
    out.flush()?;
    human.flush()?;

    // Stopped on purpose (a signal, or a `stop` from the control endpoint: no handler of
    // this machine stops it otherwise): the run's checks do not apply, but what was taken
    // must have been drained.
    if interrupted != 0 || status.state == MachineState::Stopped {
        let ended = if interrupted != 0 {
            writeln!(
                human,
                "interrupted by signal {interrupted}: stopped, checks skipped"
            )?;
            Ended::Interrupted(interrupted)
        } else {
            writeln!(human, "stopped from outside: checks skipped")?;
            Ended::StoppedFromOutside
        };
        let c = &status.counts;
        if !c.is_balanced() || c.processed + c.failed != c.accepted {
            return Err(format!("the stop did not drain the queue: {c:?}").into());
        }
        return Ok(ended);
    }
    let problems = check(o, &status, recent.len());
    if problems.is_empty() {
        Ok(Ended::Done)
    } else {
        Err(format!("checks failed:\n  {}", problems.join("\n  ")).into())
    }
}

/// The ZeroMQ sink, shared by the machine and the wait for subscribers (which needs the
/// sink's socket before any record goes out, while the machine already exists).
struct SharedSink(Arc<Mutex<ZmqSink>>);

impl SharedSink {
    fn sink(&self) -> std::sync::MutexGuard<'_, ZmqSink> {
        // A panic while sending is the machine's to report; the sink itself is still whole.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Sink for SharedSink {
    fn send(&mut self, record: timbr_core::Record) -> Result<(), SinkError> {
        self.sink().send(record)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.sink().flush()
    }

    fn describe(&self) -> String {
        self.sink().describe()
    }
}

/// How the wait for subscribers ended.
enum Waited {
    Arrived,
    TimedOut,
    /// A signal came first (its number).
    Signal(usize),
}

/// Waits up to [`SUBSCRIBER_WAIT`] for `n` subscribers, looking for a signal every
/// [`SIGNAL_CHECK`].
fn wait_for_subscribers(sink: &Mutex<ZmqSink>, n: u64, signal: &AtomicUsize) -> Waited {
    let deadline = Instant::now() + SUBSCRIBER_WAIT;
    let mut sink = sink
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    loop {
        let sig = signal.load(Ordering::Acquire);
        if sig != 0 {
            return Waited::Signal(sig);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if sink.wait_for_subscribers(n, left.min(SIGNAL_CHECK)) {
            return Waited::Arrived;
        }
        if left <= SIGNAL_CHECK {
            return Waited::TimedOut;
        }
    }
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

/// Slot 2: a closure keeping the last tweets (score, text) in `memory`, and a tally of moods.
fn remember(memory: &Arc<Memory>) -> timbr_core::Stage {
    let memory = Arc::clone(memory);
    stage_fn!(2, name = "remember", move |f1: &f64,
                                          f0: &String|
          -> Result<
        usize,
        &'static str,
    > {
        memory.moods[Mood::of(*f1) as usize].fetch_add(1, Ordering::Relaxed);
        let mut recent = memory.recent.lock().map_err(|_| "poisoned")?;
        if recent.len() == REMEMBERED {
            recent.pop_front();
        }
        recent.push_back((*f1, f0.clone()));
        Ok(recent.len())
    })
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
    let stream = TweetStream::new(o.seed).skip(usize::try_from(from)?);
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

/// How many tweets the run should have taken: `--count`, unless the stream was endless or
/// cut short by `--seconds`, when it is what the source produced.
fn expected_count(o: &Options, status: &Status) -> u64 {
    if o.count == 0 || o.seconds.is_some() {
        status.counts.accepted
    } else {
        o.count
    }
}

/// What is wrong with the end of a run (nothing, if it went as it should).
fn check(o: &Options, status: &Status, remembered: usize) -> Vec<String> {
    let mut problems = Vec::new();
    let expected = expected_count(o, status);
    let c = &status.counts;
    if status.state != MachineState::Completed {
        problems.push(format!("the machine did not complete: {}", status.state));
    }
    if !c.is_balanced() {
        problems.push(format!("the counts do not balance: {c:?}"));
    }
    if c.accepted != expected || (o.count > 0 && c.accepted > o.count) {
        problems.push(format!("{} tweets accepted, not {expected}", c.accepted));
    }
    if c.processed + c.failed != c.accepted {
        problems.push(format!("not every tweet went through: {c:?}"));
    }
    let every_31st = expected / 31;
    if status.errors.stage != every_31st || c.failed != every_31st {
        problems.push(format!(
            "{} stage errors and {} failed tweets, not one in 31 ({every_31st})",
            status.errors.stage, c.failed
        ));
    }
    for stage in &status.stages {
        let want = if stage.name == "every_31st" {
            every_31st
        } else {
            0
        };
        if stage.errors != want || stage.calls != expected {
            problems.push(format!(
                "stage `{}`: {} calls and {} errors, not {expected} and {want}",
                stage.name, stage.calls, stage.errors
            ));
        }
    }
    let e = &status.errors;
    if e.serialization + e.sink + e.source + e.handler > 0 {
        problems.push(format!("unexpected errors: {e:?}"));
    }
    if remembered != REMEMBERED.min(expected as usize) {
        problems.push(format!("{remembered} tweets remembered"));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    fn options(line: &str) -> Options {
        match parse(args(line)) {
            Ok(o) => o,
            Err(e) => panic!("{line}: {e}"),
        }
    }

    /// Runs as the command line would; the JSON line (if any) and the human output.
    fn run_line(line: &str) -> (Result<(), String>, String, String) {
        let (mut out, mut human) = (Vec::new(), Vec::new());
        let result = run(&options(line), &mut out, &mut human, &AtomicUsize::new(0))
            .map(|ended| assert_eq!(ended, Ended::Done))
            .map_err(|e| e.to_string());
        (
            result,
            String::from_utf8(out).unwrap(),
            String::from_utf8(human).unwrap(),
        )
    }

    /// What CI runs: `cargo run --release --example tweets -- --count 5000 --json`.
    #[test]
    fn the_ci_smoke_run_passes_its_checks_and_prints_one_json_status() {
        let (result, out, human) = run_line("--count 5000 --json");
        assert_eq!(result, Ok(()), "{human}");
        assert_eq!(out.lines().count(), 1, "{out}");
        let status: Status = serde_json::from_str(out.trim_end()).unwrap();
        assert_eq!(status.state, MachineState::Completed);
        assert_eq!(status.counts.accepted, 5000);
        assert_eq!(status.counts.failed, 5000 / 31);
        assert_eq!(status.errors.stage, 161);
        assert_eq!(status.plugins["progress"]["percent"], 100.0);
        let names: Vec<&str> = status.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["text", "sentiment", "remember", "every_31st"]);
        assert!(human.contains("publishing every record on "), "{human}");
        // The hints reuse this build: its profile, and `-p timbr-cli` shares its features.
        let hint = if cfg!(debug_assertions) {
            "read them with: cargo run -p timbr-cli --bin timbr-sub -- ipc://"
        } else {
            "read them with: cargo run --release -p timbr-cli --bin timbr-sub -- ipc://"
        };
        assert!(human.contains(hint), "{human}");
        assert!(human.contains("last remembered"), "{human}");
    }

    #[test]
    fn an_endless_stream_stops_after_its_seconds_and_still_checks_out() {
        let (result, out, human) =
            run_line("--count 0 --seconds 0.5 --rate 4000 --no-publish --workers 2");
        assert_eq!(result, Ok(()), "{human}");
        assert!(out.is_empty());
        assert!(!human.contains("publishing"));
        assert!(human.contains("completed"), "{human}");
    }

    #[test]
    fn two_workers_on_the_threaded_executor_fail_the_same_tweets() {
        let (result, out, human) = run_line(
            "--count 3100 --workers 2 --executor threaded --endpoint tcp://127.0.0.1:* --json",
        );
        assert_eq!(result, Ok(()), "{human}");
        let status: Status = serde_json::from_str(out.trim_end()).unwrap();
        assert_eq!(status.errors.stage, 100);
        assert!(status.sink.description.starts_with("tcp://127.0.0.1:"));
    }

    /// Regression (issue 20, item 22): the refusal advised `allow_remote`, which is the
    /// library's option: this program's is `--http-allow-remote`. (Nothing binds beyond
    /// loopback here: the address is refused before it is bound.)
    #[test]
    fn a_remote_http_address_is_refused_naming_the_flag() {
        let (result, _, _) = run_line("--count 10 --no-publish --http 0.0.0.0:0");
        let error = result.unwrap_err();
        assert!(error.contains("--http-allow-remote"), "{error}");
        assert!(!error.contains("(allow_remote)"), "{error}");
    }

    #[test]
    fn the_stages_are_plain_functions() {
        let tweet = TweetStream::new(5).nth(30).unwrap();
        assert_eq!(tweet.seq, 31);
        assert_eq!(text(&tweet), tweet.text);
        assert!(sentiment("what a great, lovely day") > 0.5);
        assert!(sentiment("this is awful and sad") < -0.5);
        assert_eq!(sentiment("the train leaves at noon"), 0.0);
        assert_eq!(
            every_31st(&tweet, &0.9),
            Err("tweet #31 is a 31st".to_owned())
        );
        let next = TweetStream::new(5).nth(31).unwrap();
        assert_eq!(every_31st(&next, &0.9), Ok(Mood::Positive));
        assert_eq!(every_31st(&next, &0.0), Ok(Mood::Neutral));
        assert_eq!(every_31st(&next, &-0.3), Ok(Mood::Negative));
    }

    #[test]
    fn flags_parse_and_mistakes_are_usage_errors() {
        assert_eq!(options(""), Options::default());
        let o = options(
            "--count=10 --seconds 2.5 --rate 100 --workers 3 --executor threaded \
             --endpoint tcp://127.0.0.1:5555 --subscribers 2 --seed 9 --json --http 127.0.0.1:9464",
        );
        assert_eq!(
            o,
            Options {
                count: 10,
                seconds: Some(2.5),
                rate: Some(100.0),
                workers: 3,
                threaded: true,
                endpoint: Some("tcp://127.0.0.1:5555".into()),
                publish: true,
                subscribers: 2,
                seed: 9,
                json: true,
                http: Some(([127, 0, 0, 1], 9464).into()),
                http_allow_remote: false,
                fleet: None,
            }
        );
        let f = options("--redis redis://127.0.0.1:6379 --role work --name w1 --count 0")
            .fleet
            .unwrap();
        assert_eq!(
            (f.url.as_str(), f.role, f.stream.as_str(), f.name.as_deref()),
            (
                "redis://127.0.0.1:6379",
                fleet::Role::Work,
                "tweets",
                Some("w1")
            )
        );
        assert_eq!(f.pack, 1, "one tweet to an entry unless asked");
        assert_eq!(
            options("--redis redis://h:1").fleet.unwrap().role,
            fleet::Role::Both
        );
        assert_eq!(
            options("--redis redis://h:1 --pack 64").fleet.unwrap().pack,
            64
        );
        assert_eq!(
            parse(args("--json --help")).unwrap_err().kind(),
            clap::error::ErrorKind::DisplayHelp
        );
        assert_eq!(
            parse(args("--version")).unwrap_err().kind(),
            clap::error::ErrorKind::DisplayVersion
        );
        assert!(
            options("--http 0.0.0.0:9464 --http-allow-remote").http_allow_remote,
            "the flag the refusal names exists"
        );
        for bad in [
            "--seconds 1e19",
            "--rate 1e-300",
            "--workers 20000",
            "--workers 1000000",
            "--count 1e3",
            "--subscribers 100000",
            "--http not-an-address",
            "--frobnicate",
            "extra",
            "--count",
            "--count ten",
            "--count -1",
            "--rate 0",
            "--seconds nan",
            "--workers 0",
            "--executor rayon",
            "--json=yes",
            "--no-publish --endpoint tcp://127.0.0.1:*",
            "--role work",
            "--stream s",
            "--redis redis://h:1 --role dance",
            "--redis redis://h:1 --pack 0",
            "--redis redis://h:1 --pack 1001",
            "--redis redis://h:1 --http 127.0.0.1:9464",
            "--redis redis://h:1 --endpoint tcp://127.0.0.1:*",
            "--http-allow-remote",
        ] {
            assert!(parse(args(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(human_count(0), "0");
        assert_eq!(human_count(999), "999");
        assert_eq!(human_count(1000), "1,000");
        assert_eq!(human_count(1_234_567), "1,234,567");
    }
}
