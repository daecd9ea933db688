//! `timbr-fleet`: run and inspect a fleet of timbr machines on one Redis Stream.
//!
//! ```text
//! timbr-fleet produce --url U --stream S [--count N] [--start K] [--pack P] [--fresh]
//! timbr-fleet work    --url U --stream S --results R [--consumer C] [--workers W] [--until-done N] …
//! timbr-fleet balance --url U --stream S            exit 1 if the accounts do not add up
//! timbr-fleet dead    --url U --stream S list [--count N] [--json]
//! timbr-fleet dead    --url U --stream S requeue DEAD_ID | requeue-all | purge (DEAD_ID… | --all)
//! timbr-fleet failures --url U --stream S list [--stage NAME] [--error TEXT] [--json]
//! timbr-fleet failures --url U --stream S replay FAILURE_ID… | --all [--stage NAME] [--error TEXT]
//! timbr-fleet failures --url U --stream S purge (FAILURE_ID… | --all) [--yes]
//! timbr-fleet results --url U --stream S --results R
//! timbr-fleet records --url U --stream S --results R [--after ENTRY] [--count N]
//! timbr-fleet watch   --url U --stream S [--every SECS] [--once] [--json]
//! ```
//!
//! `timbr-fleet COMMAND --help` lists every flag. While `produce` and `work` run they print
//! a progress line to stderr every second (`--quiet`: none); Ctrl-C or SIGTERM stops them
//! (a worker drains what it fetched) with a final line, exit status 128 + the signal. A
//! producer continues where its last run under the same `--consumer` name stopped.
//! `watch` is `timbr-watch fleet`: every machine of the fleet as it announces itself, the
//! totals, the queue as Redis sees it and the balance.
//!
//! The data are small tweet-like records (`{"id":…,"user":…,"text":…}`); the worker's
//! stages are cheap (words, a checksum) so that a fleet's costs are Redis's and timbr's.

mod dead;
mod failures;
mod work;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use serde::{Deserialize, Serialize};
use signal_hook::consts::{SIGINT, SIGTERM};
use timbr_core::observe::human_count;
use timbr_redis::{Announce, Fleet, Producer, RedisOptions, Summary, WatchOptions, HEARTBEAT};

/// Run and inspect a fleet of timbr machines on one Redis Stream.
#[derive(Parser, Debug)]
#[command(name = "timbr-fleet", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Put tweet-like data on the stream, continuing where the last producer of the same
    /// --consumer name stopped.
    Produce(ProduceArgs),
    /// Run a worker: a machine processing what it takes from the stream.
    Work(work::WorkArgs),
    /// Print the fleet's balance: produced = acked + pending + unread + dead (plus failed
    /// and purged);
    /// exit status 1 if it does not add up.
    Balance(QueueArgs),
    /// List, re-queue or purge dead letters (data that crashed workers).
    Dead(dead::DeadArgs),
    /// List, replay or purge failures (data whose stage said no for good).
    Failures(failures::FailuresArgs),
    /// Count the records of a results stream, and duplicates by origin (as JSON).
    Results(ResultsArgs),
    /// Print the records of a results stream, one JSON object a line, packed result
    /// entries (work --pack-results) unpacked into their records.
    Records(RecordsArgs),
    /// Show every machine of the fleet, the totals, the queue and the balance (what
    /// `timbr-watch fleet` shows).
    Watch(WatchArgs),
}

/// The queue's options, which every command takes.
#[derive(Args, Debug, Clone)]
pub(crate) struct QueueArgs {
    /// The Redis server: `redis://[:password@]host:port[/db]`.
    #[arg(long, alias = "redis", value_name = "URL")]
    url: String,
    /// The fleet's stream.
    #[arg(long, value_name = "S")]
    stream: String,
    /// The consumer group.
    #[arg(long, value_name = "G", default_value = "timbr")]
    group: String,
    /// This process's name in the fleet (default host-pid). A producer continues where
    /// the last one of its name stopped; a worker first re-reads what it left pending.
    #[arg(long, value_name = "C")]
    consumer: Option<String>,
    /// Entries per read, data per write round trip.
    #[arg(long, value_name = "B", default_value_t = 256)]
    batch: usize,
    /// Data a producer puts in one entry (see RedisOptions::pack).
    #[arg(long, value_name = "P", default_value_t = 1)]
    pack: usize,
    /// The most entries unread or pending.
    #[arg(long, value_name = "C", default_value_t = 100_000)]
    capacity: usize,
    /// Claim entries another consumer left pending this long.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    claim_after_ms: u64,
    /// Dead-letter an entry delivered this many times without an acknowledgement.
    #[arg(long, value_name = "N", default_value_t = 5)]
    max_deliveries: u64,
}

impl QueueArgs {
    pub(crate) fn options(&self) -> RedisOptions {
        let o = RedisOptions::new(self.url.clone(), self.stream.clone())
            .group(self.group.clone())
            .batch(self.batch)
            .pack(self.pack)
            .capacity(self.capacity)
            .claim_after(Duration::from_millis(self.claim_after_ms))
            .max_deliveries(self.max_deliveries);
        match &self.consumer {
            Some(c) => o.consumer(c.clone()),
            None => o,
        }
    }

    pub(crate) fn fleet(&self) -> Result<Fleet, String> {
        Fleet::connect(self.options()).map_err(chain)
    }
}

#[derive(Args, Debug)]
struct ProduceArgs {
    #[command(flatten)]
    queue: QueueArgs,
    /// How many tweets in all (ids START to START+COUNT-1).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    count: u64,
    /// The first tweet's id.
    #[arg(long, value_name = "K", default_value_t = 0)]
    start: u64,
    /// Start the sequence again from its first tweet, forgetting where the last producer
    /// of this name stopped.
    #[arg(long)]
    fresh: bool,
    /// No progress lines.
    #[arg(long)]
    quiet: bool,
}

#[derive(Args, Debug)]
struct ResultsArgs {
    #[command(flatten)]
    queue: QueueArgs,
    /// The results stream.
    #[arg(long, value_name = "R")]
    results: String,
}

#[derive(Args, Debug)]
struct RecordsArgs {
    #[command(flatten)]
    queue: QueueArgs,
    /// The results stream.
    #[arg(long, value_name = "R")]
    results: String,
    /// Start after this entry of the results stream (the last line on stderr names the
    /// entry to continue after).
    #[arg(long, value_name = "ENTRY")]
    after: Option<String>,
    /// The most entries to read (a packed entry gives all its records).
    #[arg(long, value_name = "N", default_value_t = 100)]
    count: usize,
}

#[derive(Args, Debug)]
struct WatchArgs {
    #[command(flatten)]
    queue: QueueArgs,
    /// Seconds between two views (0.05 to 3600).
    #[arg(long, value_name = "SECS", default_value_t = 1.0, value_parser = every)]
    every: f64,
    /// Print one view and exit.
    #[arg(long)]
    once: bool,
    /// Print each view as one JSON line.
    #[arg(long)]
    json: bool,
}

/// Seconds between two views of a watch, within bounds.
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

/// A tweet-like datum.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Tweet {
    pub(crate) id: u64,
    pub(crate) user: String,
    pub(crate) text: String,
}

const WORDS: [&str; 12] = [
    "stream", "redis", "fleet", "machine", "happy", "sad", "great", "worst", "data", "timbr",
    "lost", "found",
];

fn tweet(id: u64) -> Tweet {
    let n = (id as usize).wrapping_mul(2654435761);
    let text = (0..6)
        .map(|i| WORDS[(n >> (i * 4)) % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ");
    Tweet {
        id,
        user: format!("user{}", id % 997),
        text,
    }
}

/// The signal that asked this process to stop (0: none yet).
pub(crate) struct Signals {
    pub(crate) got: Arc<AtomicUsize>,
}

impl Signals {
    /// Ctrl-C and SIGTERM set [`Signals::got`]; a second one ends the process at once.
    fn install() -> Result<Signals, String> {
        use signal_hook::flag;
        let got = Arc::new(AtomicUsize::new(0));
        let forced = Arc::new(AtomicBool::new(false));
        for sig in [SIGINT, SIGTERM] {
            flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&forced))
                .and_then(|_| flag::register(sig, Arc::clone(&forced)))
                .and_then(|_| flag::register_usize(sig, Arc::clone(&got), sig as usize))
                .map_err(|e| format!("cannot handle signal {sig}: {e}"))?;
        }
        Ok(Signals { got })
    }

    pub(crate) fn received(&self) -> usize {
        self.got.load(Ordering::Acquire)
    }

    /// The exit status of a run a signal stopped, or success.
    pub(crate) fn exit(&self) -> ExitCode {
        match self.received() {
            0 => ExitCode::SUCCESS,
            sig => ExitCode::from(128 + sig as u8),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("timbr-fleet: {e}");
            return ExitCode::FAILURE;
        }
    };
    let run = match cli.command {
        Command::Produce(a) => produce(&a, &signals),
        Command::Work(a) => work::work(&a, &signals),
        Command::Balance(q) => balance(&q),
        Command::Dead(a) => dead::dead(&a),
        Command::Failures(a) => failures::failures(&a),
        Command::Results(a) => results(&a),
        Command::Records(a) => records(&a),
        Command::Watch(a) => watch(&a, &signals),
    };
    run.unwrap_or_else(|e| {
        eprintln!("timbr-fleet: {e}");
        ExitCode::FAILURE
    })
}

pub(crate) fn chain(e: impl std::error::Error + 'static) -> String {
    timbr_core::error_chain(&e)
}

fn balance(q: &QueueArgs) -> Result<ExitCode, String> {
    let b = q.fleet()?.balance().map_err(chain)?;
    println!("{b}");
    Ok(if b.is_balanced() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn results(a: &ResultsArgs) -> Result<ExitCode, String> {
    let r = a.queue.fleet()?.results(&a.results).map_err(chain)?;
    println!("{}", serde_json::to_string(&r).map_err(|e| e.to_string())?);
    Ok(ExitCode::SUCCESS)
}

/// Prints the records of up to `--count` entries, one JSON line each; malformed entries and
/// where to continue go to stderr.
fn records(a: &RecordsArgs) -> Result<ExitCode, String> {
    let page = a
        .queue
        .fleet()?
        .result_records(&a.results, a.after.as_deref(), a.count)
        .map_err(chain)?;
    for r in &page.records {
        println!("{}", serde_json::to_string(r).map_err(|e| e.to_string())?);
    }
    for m in &page.malformed {
        eprintln!("entry {} is no record: {}", m.entry, m.reason);
    }
    match &page.last {
        Some(last) => eprintln!(
            "{} records; continue with --after {last}",
            page.records.len()
        ),
        None => eprintln!(
            "no entries after {}",
            a.after.as_deref().unwrap_or("the start")
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn watch(a: &WatchArgs, signals: &Signals) -> Result<ExitCode, String> {
    let options = WatchOptions {
        every: Duration::from_secs_f64(a.every),
        once: a.once,
        json: a.json,
        clear: std::io::stdout().is_terminal() && !a.json,
    };
    let mut stdout = std::io::stdout().lock();
    a.queue
        .fleet()?
        .watch(&options, &mut stdout, &|| signals.received() != 0)
        .map_err(chain)?;
    Ok(signals.exit())
}

/// Puts tweets START..START+COUNT on the stream from where the last producer of this name
/// stopped, a progress line a second; prints `{"produced":…}` (this run's puts) at the end.
fn produce(a: &ProduceArgs, signals: &Signals) -> Result<ExitCode, String> {
    let Some(end) = a.start.checked_add(a.count) else {
        eprintln!(
            "timbr-fleet: --start {} --count {}: the ids would pass {} (the largest tweet id); \
             lower one of them",
            a.start,
            a.count,
            u64::MAX
        );
        return Ok(ExitCode::from(2));
    };
    let mut producer = Producer::<Tweet>::connect(a.queue.options()).map_err(chain)?;
    // An outage or a refusal (Redis out of memory…) is said as it happens, as `work` does:
    // a put that waits for Redis would otherwise wait in silence.
    producer.on_event(|e| eprintln!("event: {}", timbr_core::io::QueueEvent::from(e)));
    if a.fresh {
        producer.reset().map_err(chain)?;
    }
    let name = producer.options().consumer_name().to_owned();
    let announce = Announce::for_producer(&producer, "producer").map_err(chain)?;
    let from = producer.position().min(a.count);
    if !a.quiet {
        eprintln!(
            "producer `{name}`: tweets {}..{end} on `{}`{}",
            a.start + from,
            a.queue.stream,
            if from > 0 {
                format!(
                    " (the first {} were put by an earlier run of `{name}`; --fresh starts over)",
                    human_count(from)
                )
            } else {
                String::new()
            }
        );
    }
    let summary = |state: &str, put_rate: f64| Summary {
        state: state.to_owned(),
        put_rate,
        ..Summary::default()
    };
    announce.beat(&summary("producing", 0.0));
    let t = Instant::now();
    let (mut put, mut last_put, mut last_line) = (0_u64, 0_u64, Instant::now());
    let mut next = a.start + from;
    // In chunks of a second's worth at most, so that progress and signals are seen.
    while next < end && signals.received() == 0 {
        let chunk_end = end.min(next.saturating_add(a.queue.batch.max(1) as u64 * 16));
        let stop = || signals.received() != 0;
        let n = producer
            .put_all((next..chunk_end).map(tweet), &stop)
            .map_err(chain)?;
        put += n;
        next += n;
        let elapsed = last_line.elapsed();
        if elapsed >= HEARTBEAT {
            let rate = (put - last_put) as f64 / elapsed.as_secs_f64();
            (last_put, last_line) = (put, Instant::now());
            announce.beat(&summary("producing", rate));
            if !a.quiet {
                eprintln!("{}", progress(&name, &producer, put, rate, end - a.start));
            }
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let end_state = if signals.received() != 0 {
        "stopped"
    } else {
        "completed"
    };
    announce.beat(&summary(end_state, 0.0));
    if !a.quiet || signals.received() != 0 {
        let why = match signals.received() {
            0 => String::new(),
            sig => format!("signal {sig}: "),
        };
        eprintln!(
            "{why}producer `{name}` {end_state}: {} put in {secs:.1}s, at {} of {} (run again under this name to continue)",
            human_count(put),
            human_count(producer.position()),
            human_count(a.count),
        );
    }
    println!(
        "{{\"produced\":{put},\"position\":{},\"seconds\":{secs:.3},\"per_second\":{:.0}}}",
        producer.position(),
        put as f64 / secs.max(1e-9)
    );
    Ok(signals.exit())
}

/// One progress line of a producer.
fn progress(name: &str, p: &Producer<Tweet>, put: u64, rate: f64, of: u64) -> String {
    let r = p.report();
    let g = &r.group_info;
    format!(
        "producer `{name}`: {} put ({}/s), at {} of {} | stream {} | pending {} | dead {}{}",
        human_count(put),
        human_count(rate as u64),
        human_count(p.position()),
        human_count(of),
        human_count(g.stream_length),
        human_count(g.pending),
        human_count(g.dead_letters),
        if r.connected {
            ""
        } else {
            " | REDIS UNREACHABLE"
        },
    )
}
