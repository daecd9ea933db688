//! `timbr-fleet produce`: the demo data onto the fleet's stream, continuing where the last
//! producer of the same name stopped.

use std::time::Instant;

use clap::Args;
use timbr_cli::Exit;
use timbr_core::observe::human_count;
use timbr_redis::{Announce, Producer, Summary, HEARTBEAT};

use crate::demo::{Tweet, TweetStream, DEFAULT_SEED};
use crate::{QueueArgs, Signals};

#[derive(Args, Debug)]
pub(crate) struct ProduceArgs {
    #[command(flatten)]
    queue: QueueArgs,
    /// How many tweets in all: the tweets START+1 to START+COUNT of the stream (their
    /// `seq`).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    count: u64,
    /// Tweets of the stream to pass over before the first one put.
    #[arg(long, value_name = "K", default_value_t = 0)]
    start: u64,
    /// Which stream of tweets (the `tweets` example's, for the same seed).
    #[arg(long, value_name = "S", default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Start the sequence again from its first tweet, forgetting where the last producer
    /// of this name stopped.
    #[arg(long)]
    fresh: bool,
    /// No progress lines.
    #[arg(long)]
    quiet: bool,
}

/// Puts the tweets START+1..=START+COUNT of the seed's stream on the fleet's stream, each
/// with its `seq`, from where the last producer of this name stopped, a progress line a
/// second; prints `{"produced":…}` (this run's puts) at the end.
pub(crate) fn produce(a: &ProduceArgs, signals: &Signals) -> anyhow::Result<Exit> {
    let Some(end) = a.start.checked_add(a.count) else {
        eprintln!(
            "timbr-fleet: --start {} --count {}: the tweets would pass number {}; lower one \
             of them",
            a.start,
            a.count,
            u64::MAX
        );
        return Ok(Exit::Usage);
    };
    let mut producer = Producer::<Tweet>::connect(a.queue.options())?;
    // An outage or a refusal (Redis out of memory…) is said as it happens, as `work` does:
    // a put that waits for Redis would otherwise wait in silence.
    producer.on_event(|e| eprintln!("event: {e}"));
    if a.fresh {
        producer.reset()?;
    }
    let name = producer.options().consumer_name().to_owned();
    let announce = Announce::for_producer(&producer, "producer")?;
    let from = producer.position().min(a.count);
    if !a.quiet {
        eprintln!(
            "producer `{name}`: tweets {}..={end} of seed {} on `{}`{}",
            a.start + from + 1,
            a.seed,
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
        // The stream starts at `next` at once: no tweets are made to be passed over.
        let tweets = TweetStream::starting_at(a.seed, next).take((chunk_end - next) as usize);
        let n = producer.put_all(tweets, &stop)?;
        if n == 0 && signals.received() == 0 {
            // Only past the stream's end (its 136 billionth tweet).
            eprintln!(
                "timbr-fleet: the stream of seed {} ends at tweet {next}",
                a.seed
            );
            break;
        }
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
