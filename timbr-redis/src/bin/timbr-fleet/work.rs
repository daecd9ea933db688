//! `timbr-fleet work`: a worker of the fleet.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use timbr_core::observe::human_count;
use timbr_core::{Machine, Stage, Status, StopMode};
use timbr_redis::{Announce, RedisEvent, RedisQueue, RedisStatus};

use crate::{chain, QueueArgs, Signals, Tweet};

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
    /// Refuse every tweet whose id is a multiple of K (stage `poison` fails for good: the
    /// tweet goes to the failure stream); a worker started again without it is "fixed".
    #[arg(long, value_name = "K")]
    fail_every: Option<u64>,
    /// Abort the whole process on the tweet with this id (a poison datum, for tests).
    #[arg(long, value_name = "ID")]
    abort_on: Option<u64>,
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
    stages: Stages,
    /// With --stages cpu: microseconds of arithmetic per tweet.
    #[arg(long, value_name = "US", default_value_t = 50)]
    cpu_us: u64,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Stages {
    /// Eight empty slots: the cost of the queue, the sink and the machine alone.
    Identity8,
    /// Words, a checksum, the poison check.
    Tweet,
    /// As tweet, and a CPU-bound stage of --cpu-us (for scaling measurements).
    Cpu,
}

fn stages(a: &WorkArgs) -> Result<Vec<Stage>, String> {
    let words = Stage::new(0, "words", ["input"], |t: &Tweet| {
        t.text.split_whitespace().count()
    })
    .map_err(chain)?;
    let checksum = Stage::new(1, "checksum", ["input"], |t: &Tweet| {
        t.text
            .bytes()
            .fold(0_u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
    })
    .map_err(chain)?;
    let (abort_on, fail_every) = (a.abort_on, a.fail_every);
    let poison = Stage::try_new(2, "poison", ["input"], move |t: &Tweet| {
        if Some(t.id) == abort_on {
            // The datum that kills its worker, every time: what dead letters are for.
            std::process::abort();
        }
        match fail_every {
            Some(k) if k > 0 && t.id % k == 0 => Err(format!("tweet {} refused", t.id)),
            _ => Ok(t.id),
        }
    })
    .map_err(chain)?;
    let cpu_us = a.cpu_us;
    let spin = Stage::new(3, "spin", ["input"], move |t: &Tweet| {
        let end = Instant::now() + Duration::from_micros(cpu_us);
        let mut h = t.id;
        while Instant::now() < end {
            for _ in 0..64 {
                h = h
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
            }
        }
        h
    })
    .map_err(chain)?;
    Ok(match a.stages {
        Stages::Identity8 => vec![],
        Stages::Tweet => vec![words, checksum, poison],
        Stages::Cpu => vec![words, checksum, poison, spin],
    })
}

/// Runs a worker until a signal (or --until-done); prints its final status as JSON on
/// stdout and a last line on stderr.
pub(crate) fn work(a: &WorkArgs, signals: &Signals) -> Result<ExitCode, String> {
    let queue = RedisQueue::<Tweet>::connect(a.queue.options()).map_err(chain)?;
    queue.on_event(|e| match e {
        RedisEvent::Claimed { .. } => {}
        other => eprintln!("event: {other:?}"),
    });
    let name = queue.options().consumer_name().to_owned();
    let machine = Machine::<Tweet>::builder()
        .name(name.clone())
        .queue(queue.clone())
        .sink(queue.sink(a.results.clone()).packed(a.pack_results))
        .plugin(RedisStatus::new(&queue))
        // In the fleet's registry, so `timbr-watch fleet` lists it with the others.
        .plugin(Announce::for_queue(&queue, "worker").map_err(chain)?)
        .workers(a.workers)
        .stages(stages(a)?)
        .build()
        .map_err(chain)?;
    machine.start().map_err(chain)?;
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
            eprintln!("{}", line(&name, &machine.status()));
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
    eprintln!("{}", line(&name, &status));
    println!(
        "{}",
        serde_json::to_string(&status).map_err(|e| e.to_string())?
    );
    Ok(signals.exit())
}

/// One status line of a worker, with the shared queue as Redis showed it last.
fn line(name: &str, s: &Status) -> String {
    let redis = &s.plugins["redis"];
    let n = |v: &serde_json::Value| human_count(v.as_u64().unwrap_or(0));
    format!(
        "worker `{name}`: {}: {} processed, {} failed ({}/s) | acked {} | pending {} | dead {}{}",
        s.state,
        human_count(s.counts.processed),
        human_count(s.counts.failed),
        human_count(s.rate.recent as u64),
        n(&redis["acked"]),
        n(&redis["group_info"]["pending"]),
        n(&redis["group_info"]["dead_letters"]),
        if redis["connected"] == false {
            " | REDIS UNREACHABLE"
        } else {
            ""
        },
    )
}
