//! `timbr-fleet work`: a worker of the fleet.

use std::time::{Duration, Instant};

use clap::Args;
use timbr_cli::Exit;
use timbr_core::io::QueueEvent;
use timbr_core::{Machine, StopMode};
use timbr_redis::{Announce, RedisFailureStore, RedisQueue, RedisStatus};

use crate::demo::{retry_policy, stages, Stages, Tweet};
use crate::{QueueArgs, Signals};

/// How often the worker looks at signals and at the fleet.
const LOOK: Duration = Duration::from_millis(50);

#[derive(Args, Debug)]
pub(crate) struct WorkArgs {
    #[command(flatten)]
    queue: QueueArgs,
    /// The stream records go to.
    #[arg(long, value_name = "R")]
    results: String,
    /// Threads processing data.
    #[arg(long, value_name = "W", default_value_t = 1)]
    workers: usize,
    /// Stop (draining) once the fleet has dealt with N data: acknowledged, dead, failed or
    /// purged.
    #[arg(long, value_name = "N")]
    until_done: Option<u64>,
    /// Refuse every tweet whose place in the stream (`seq`) is a multiple of K (stage
    /// `poison` fails for good: the tweet goes to the failure stream); a worker started
    /// again without it is "fixed".
    #[arg(long, value_name = "K")]
    pub(crate) fail_every: Option<u64>,
    /// Tweets whose `seq` is a multiple of K fail transiently in stage `poison`: the first
    /// 1 + (seq / K) % 2 runs of each in this process (so they succeed on their 2nd or 3rd
    /// attempt if --retries allows).
    #[arg(long, value_name = "K")]
    pub(crate) flaky: Option<u64>,
    /// Run stage `poison` up to N times for a datum whose error is transient (N - 1
    /// retries, each after --retry-backoff-ms; the datum waits aside, its entry pending).
    #[arg(long, value_name = "N")]
    pub(crate) retries: Option<u32>,
    /// Milliseconds between two runs of a retried datum.
    #[arg(long, value_name = "MS", default_value_t = 100)]
    pub(crate) retry_backoff_ms: u64,
    /// Abort the whole process on the tweet with this `seq` (a poison datum, for tests).
    #[arg(long, value_name = "SEQ")]
    pub(crate) abort_on: Option<u64>,
    /// Milliseconds between two status lines on stderr (0: none).
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    status_every_ms: u64,
    /// Write the records of the data of one input pack (--pack on the producer) as one
    /// entry of the results stream (fields oids, origins, records: one line per record);
    /// `timbr-fleet records` and `results` unpack them.
    #[arg(long)]
    pack_results: bool,
    /// The stages.
    #[arg(long, value_enum, default_value_t = Stages::Tweet)]
    pub(crate) stages: Stages,
    /// With --stages cpu: microseconds of arithmetic per tweet.
    #[arg(long, value_name = "US", default_value_t = 50)]
    pub(crate) cpu_us: u64,
}

/// Runs a worker until a signal (or --until-done); prints its final status as JSON on
/// stdout and a last line on stderr.
pub(crate) fn work(a: &WorkArgs, signals: &Signals) -> anyhow::Result<Exit> {
    let queue = RedisQueue::<Tweet>::connect(a.queue.options())?;
    queue.on_event(|e| match e {
        QueueEvent::Claimed { .. } => {}
        other => eprintln!("event: {other:?}"),
    });
    let name = queue.options().consumer_name().to_owned();
    // How the status lines name this worker.
    let label = format!("worker `{name}`");
    let machine = Machine::<Tweet>::builder()
        .name(name.clone())
        .queue(queue.clone())
        .sink(queue.sink(a.results.clone()).packed(a.pack_results))
        .plugin(RedisStatus::new(&queue))
        // In the fleet's registry, so `timbr-watch fleet` lists it with the others.
        .plugin(Announce::for_queue(&queue, "worker")?)
        .workers(a.workers)
        .stages(stages(a)?)
        .retry("poison", retry_policy(a))
        // Its status's failures are the fleet's failure stream.
        .failure_store(RedisFailureStore::connect(a.queue.options())?)
        .build()?;
    machine.start()?;
    let every = Duration::from_millis(a.status_every_ms);
    if !every.is_zero() {
        eprintln!(
            "worker `{name}`: taking from `{}`, records to `{}`",
            a.queue.stream, a.results
        );
    }
    let mut fleet = a.queue.fleet()?;
    let mut last_line = Instant::now();
    loop {
        std::thread::sleep(LOOK);
        if signals.received() != 0 {
            break;
        }
        if !every.is_zero() && last_line.elapsed() >= every {
            last_line = Instant::now();
            eprintln!("{}", timbr_cli::worker_line(&label, &machine.status()));
        }
        if let Some(n) = a.until_done {
            // Done when the fleet has dealt with every datum: acknowledged, dead, failed
            // or purged (data, not entries: a packed entry holds many).
            if let Ok(b) = fleet.balance() {
                let dealt = b.acked_data + b.dead + b.failed + b.purged;
                if dealt >= n && b.pending == 0 && b.unread == 0 {
                    break;
                }
            }
        }
    }
    if signals.received() != 0 {
        eprintln!(
            "signal {}: stopping `{name}` (draining what it fetched)",
            signals.received()
        );
    }
    machine.stop(StopMode::Drain);
    let status = machine.status();
    eprintln!("{}", timbr_cli::worker_line(&label, &status));
    println!("{}", serde_json::to_string(&status)?);
    Ok(signals.exit())
}
