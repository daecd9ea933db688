//! `tweets --redis URL --role produce|work|both`: the same pipeline as a fleet on one Redis
//! Stream, so that one producer and any number of workers run in separate terminals (or on
//! separate hosts), and any of them can be killed and started again without losing a tweet.
//!
//! - `produce` puts `--count` tweets (0: endless) on the stream `--stream` (default
//!   `tweets`), `--pack` to an entry (default 1), at `--rate` if given, and ends when they
//!   are all put. A producer started again under the same `--name` (and `--seed`) continues
//!   where the last one stopped, killed or not: its place is kept in Redis with its puts
//!   (`timbr_redis::Producer`), so no tweet is put twice.
//! - `work` runs the machine of `text → sentiment → remember → every_31st` on what it takes
//!   from the stream, writing each record to `<stream>:results` (acknowledged only once the
//!   record is in Redis), until Ctrl-C or SIGTERM, which drain what it fetched and stop it.
//! - `both` does the two in one process, and completes once its tweets were all put and the
//!   fleet has none left unread or pending; it ends with the fleet's balance and what its
//!   producer put.
//!
//! Each machine announces itself in Redis (`timbr_redis::Announce`), so that
//! `timbr-watch fleet --redis URL --stream tweets` shows them all with the fleet's totals. A
//! worker also serves its status on a `Remote` endpoint (`timbr-watch status ENDPOINT`, this host).

use std::error::Error;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use timbr_core::io::QueueEvent;
use timbr_core::{
    from_stages, sched, Action, Event, LogAndContinue, Machine, Remote, RemoteOptions,
};
use timbr_redis::{
    redact_url, Announce, Fleet, Producer, RedisOptions, RedisQueue, RedisStatus, Summary,
    HEARTBEAT,
};
use timbr_tweets::Tweet;

use super::{every_31st, sentiment, text, Ended, Memory, Options, SIGNAL_CHECK};
use timbr_core::observe::human_count;

/// What `--role` asks this process to be.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// Put tweets on the stream.
    Produce,
    /// Process tweets from the stream.
    Work,
    /// Both, in one process.
    Both,
}

/// The fleet's flags, as clap reads them (part of the `tweets` command line).
#[derive(clap::Args, Debug)]
pub(crate) struct FleetArgs {
    /// Run as part of a fleet on the Redis server at URL (`redis://[:password@]host:port[/db]`)
    /// instead of alone.
    #[arg(long, value_name = "URL")]
    redis: Option<String>,
    /// With --redis: put tweets on the stream, process them, or both.
    #[arg(long, value_enum, requires = "redis", default_value_t = Role::Both)]
    role: Role,
    /// With --redis: the stream (records go to `<stream>:results`).
    #[arg(long, requires = "redis", default_value = "tweets")]
    stream: String,
    /// With --redis: this machine's name in the fleet (default: host-pid). A worker
    /// restarted under its old name first finishes what it had left pending; a producer
    /// continues where the last one of its name stopped.
    #[arg(long, requires = "redis")]
    name: Option<String>,
    /// With --redis: tweets the producer puts in one stream entry (1 to 1000). More makes
    /// a Redis-bound fleet faster (Redis then reads and acknowledges entries, not tweets);
    /// every datum still gets its own record, origin and dead letter.
    #[arg(long, requires = "redis", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pack: u16,
}

/// The fleet's settings, once parsed.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FleetOptions {
    pub(crate) url: String,
    pub(crate) role: Role,
    pub(crate) stream: String,
    pub(crate) name: Option<String>,
    pub(crate) pack: usize,
}

impl FleetArgs {
    pub(crate) fn options(self) -> Option<FleetOptions> {
        Some(FleetOptions {
            url: self.redis?,
            role: self.role,
            stream: self.stream,
            name: self.name,
            pack: self.pack.into(),
        })
    }
}

impl FleetOptions {
    fn redis(&self, suffix: &str) -> RedisOptions {
        let o = RedisOptions::new(self.url.clone(), self.stream.clone()).pack(self.pack);
        match &self.name {
            Some(name) => o.consumer(format!("{name}{suffix}")),
            None if suffix.is_empty() => o,
            None => {
                let default = o.consumer_name().to_owned();
                o.consumer(format!("{default}{suffix}"))
            }
        }
    }

    fn results(&self) -> String {
        format!("{}:results", self.stream)
    }
}

/// How long a `both` machine with nothing left to do waits before it completes.
const COMPLETE_CHECK: Duration = Duration::from_millis(200);

/// Tweets per round trip of the producer (the queue's default batch).
const PUT_BATCH: usize = 256;

/// Runs this process's part of the fleet.
pub(crate) fn run(
    o: &Options,
    f: &FleetOptions,
    out: &mut dyn Write,
    human: &mut dyn Write,
    signal: &AtomicUsize,
) -> Result<Ended, Box<dyn Error>> {
    match f.role {
        Role::Produce => {
            let produced = produce(o, f, "", human, signal, &AtomicBool::new(false))?;
            writeln!(
                human,
                "put {} tweets on `{}` (at {} of the sequence)",
                human_count(produced.put),
                f.stream,
                human_count(produced.position),
            )?;
            if o.json {
                writeln!(out, "{{\"produced\":{}}}", produced.put)?;
            }
            Ok(interrupted(signal))
        }
        Role::Work => work(o, f, out, human, signal, None),
        Role::Both => {
            // The producer's lines go to stderr; `quit` stops it if the worker ends first.
            let (done, quit) = (AtomicBool::new(false), AtomicBool::new(false));
            std::thread::scope(|scope| {
                let producer = scope.spawn(|| {
                    let mut stderr = std::io::stderr();
                    let produced = produce(o, f, "-producer", &mut stderr, signal, &quit)
                        .map_err(|e| e.to_string());
                    done.store(true, Ordering::Release);
                    produced
                });
                let worked = work(o, f, out, human, signal, Some(&done));
                quit.store(true, Ordering::Release);
                let produced = producer
                    .join()
                    .map_err(|_| "the producer thread panicked")??;
                let ended = worked?;
                // The worker's status counts what it processed; the fleet's balance, read
                // now, says where every tweet its producer put is.
                let balance = Fleet::connect(f.redis(""))?.balance()?;
                writeln!(
                    human,
                    "producer: put {} tweets | fleet: {balance}",
                    human_count(produced.put)
                )?;
                Ok(ended)
            })
        }
    }
}

fn interrupted(signal: &AtomicUsize) -> Ended {
    match signal.load(Ordering::Acquire) {
        0 => Ended::Done,
        sig => Ended::Interrupted(sig),
    }
}

/// What a producer did.
struct Produced {
    /// Tweets it put.
    put: u64,
    /// Where it is in the sequence (its earlier lives' puts included).
    position: u64,
}

/// A worker's handler: errors kept and counted; what happens to the queue shown as it
/// happens (a claim is routine); and, for `both`, completion at the first idle moment once
/// `finished` is set (the fleet has dealt with every tweet: nothing is left to take).
fn worker_handler(finished: &Arc<AtomicBool>) -> impl timbr_core::Handler {
    // What happens to the queue is shown as it happens; errors are kept and counted.
    let show_queue_events = |e: &Event| {
        if let Event::Queue(q) = e {
            if !matches!(q, QueueEvent::Claimed { .. }) {
                eprintln!("{e}");
            }
        }
        Action::Continue
    };
    // `both`: once the fleet has dealt with every tweet, the machine completes (at its next
    // idle moment, which comes at once: nothing is left to take).
    let complete_when_finished = {
        let finished = Arc::clone(finished);
        move |e: &Event| {
            if matches!(e, Event::Idle { .. }) && finished.load(Ordering::Acquire) {
                Action::Complete
            } else {
                Action::Continue
            }
        }
    };
    LogAndContinue::default()
        .and(show_queue_events)
        .and(complete_when_finished)
}

/// Puts the tweets `o` asks for on the stream, from where the last producer of this name
/// stopped. Stops early at a signal, or when `stop` is set (the worker of `both` failed).
fn produce(
    o: &Options,
    f: &FleetOptions,
    suffix: &str,
    human: &mut dyn Write,
    signal: &AtomicUsize,
    stop: &AtomicBool,
) -> Result<Produced, Box<dyn Error>> {
    let mut producer = Producer::<Tweet>::connect(f.redis(suffix))?;
    // Outages and refusals (Redis out of memory…) are shown as they happen, as a worker's
    // are: a put that waits for Redis would otherwise wait in silence.
    producer.on_event(|e| {
        if !matches!(e, QueueEvent::Claimed { .. }) {
            eprintln!("producer: {e}");
        }
    });
    let announce = Announce::for_producer(&producer, "producer")?;
    let from = producer.position();
    let name = producer.options().consumer_name().to_owned();
    writeln!(
        human,
        "producer `{name}`: putting tweets on `{}` at {}{}",
        f.stream,
        redact_url(&f.url),
        if from > 0 {
            format!(
                ", from tweet {} on (the earlier ones were put by an earlier run of `{name}`)",
                human_count(from)
            )
        } else {
            String::new()
        }
    )?;
    // Its puts are counted by its queue (and announced with the summary).
    let summary = |state: &str, put_rate: f64| Summary {
        state: state.to_owned(),
        put_rate,
        ..Summary::default()
    };
    announce.beat(&summary("producing", 0.0));
    let mut tweets = super::tweets_from(o, from)?;
    let (mut put, mut last_put, mut last_line) = (0_u64, 0_u64, Instant::now());
    let stopping = || signal.load(Ordering::Acquire) != 0 || stop.load(Ordering::Acquire);
    loop {
        if stopping() {
            break;
        }
        // Each with its place in the stream (`seq`), which `every_31st` reads.
        let chunk: Vec<Tweet> = tweets.by_ref().take(PUT_BATCH).collect();
        if chunk.is_empty() {
            break;
        }
        put += producer.put_all(chunk, &stopping)?;
        let elapsed = last_line.elapsed();
        if elapsed >= HEARTBEAT {
            let rate = (put - last_put) as f64 / elapsed.as_secs_f64();
            (last_put, last_line) = (put, Instant::now());
            announce.beat(&summary("producing", rate));
            let r = producer.report();
            writeln!(
                human,
                "producer: {:>9} put ({}/s) | stream {} | pending {} | dead {}",
                human_count(put),
                human_count(rate as u64),
                human_count(r.group_info.stream_length),
                human_count(r.group_info.pending),
                human_count(r.group_info.dead_letters),
            )?;
        }
    }
    let end = if stopping() { "stopped" } else { "completed" };
    announce.beat(&summary(end, 0.0));
    Ok(Produced {
        put,
        position: producer.position(),
    })
}

/// Runs a worker until a signal (or, in `both`, until the producer is `done` and the fleet
/// has nothing left unread or pending).
fn work(
    o: &Options,
    f: &FleetOptions,
    out: &mut dyn Write,
    human: &mut dyn Write,
    signal: &AtomicUsize,
    done: Option<&AtomicBool>,
) -> Result<Ended, Box<dyn Error>> {
    let _ = sentiment("warm up"); // parses the lexicons now, not in the first tweet
    let queue = RedisQueue::<Tweet>::connect(f.redis(""))?;
    let name = queue.options().consumer_name().to_owned();
    let announce = Announce::for_queue(&queue, "worker")?;
    let memory = Arc::new(Memory::default());
    let remember = super::remember(&memory);
    // `both`: once the fleet has dealt with every tweet, the machine completes.
    let finished = Arc::new(AtomicBool::new(false));
    let mut builder = Machine::<Tweet>::builder()
        .name(name.clone())
        .queue(queue.clone())
        .sink(queue.sink(f.results()))
        .workers(o.workers)
        .plugin(RedisStatus::new(&queue))
        .plugin(announce.clone())
        .handler(worker_handler(&finished));
    if done.is_some() {
        builder = builder.idle_after(COMPLETE_CHECK);
    }
    if o.threaded {
        builder = builder.executor(sched::Threaded::new());
    }
    let machine: Arc<Machine<Tweet>> = Arc::new(from_stages![
        builder => text, sentiment, { remember }, every_31st
    ]?);
    let remote = Remote::serve(&machine, RemoteOptions::new())?;
    announce.status_endpoint(remote.status_endpoint());
    writeln!(
        human,
        "worker `{name}`: taking tweets from `{}` at {}, records to `{}`\n  \
         watch the fleet with: cargo run -p timbr-cli --bin timbr-watch -- fleet --redis {} --stream {}\n  \
         this worker alone:    cargo run -p timbr-cli --bin timbr-watch -- status {}",
        f.stream,
        redact_url(&f.url),
        f.results(),
        redact_url(&f.url),
        f.stream,
        remote.status_endpoint(),
    )?;
    machine.start()?;
    let mut fleet = Fleet::connect(f.redis(""))?;
    let mut interrupted = 0;
    let mut last_line = Instant::now();
    let mut finished_at = None::<Instant>;
    while machine.wait_timeout(SIGNAL_CHECK).is_active() {
        let sig = signal.load(Ordering::Acquire);
        if sig != 0 && interrupted == 0 {
            interrupted = sig;
            writeln!(human, "signal {sig}: stopping (draining what was fetched)")?;
            machine.request_stop(timbr_core::StopMode::Drain);
        }
        if last_line.elapsed() >= Duration::from_secs(1) {
            last_line = Instant::now();
            writeln!(
                human,
                "{}",
                timbr_cli::worker_line(&name, &machine.status())
            )?;
            if done.is_some_and(|d| d.load(Ordering::Acquire)) && finished_at.is_none() {
                // `both`: everything is put; complete once the fleet has dealt with it.
                let b = fleet.balance()?;
                if b.unread == 0 && b.pending == 0 {
                    finished.store(true, Ordering::Release);
                    finished_at = Some(Instant::now());
                }
            }
        }
        // Should no idle moment come (a datum taken meanwhile keeps it busy), it stops.
        if finished_at.is_some_and(|at| at.elapsed() >= 10 * COMPLETE_CHECK) {
            machine.request_stop(timbr_core::StopMode::Drain);
        }
    }
    machine.stop_drain();
    let status = machine.status();
    drop(machine);
    writeln!(human, "\n{status}")?;
    if o.json {
        writeln!(out, "{}", serde_json::to_string(&status)?)?;
    }
    out.flush()?;
    if !status.counts.is_balanced() {
        return Err(format!("the counts do not balance: {:?}", status.counts).into());
    }
    Ok(if interrupted != 0 {
        Ended::Interrupted(interrupted)
    } else {
        Ended::Done
    })
}
