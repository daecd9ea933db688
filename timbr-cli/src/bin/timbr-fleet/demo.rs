//! The fleet's demo workload: the examples' tweets (`timbr_tweets`: the same generator,
//! `Tweet` type and stages as the `tweets` example), each put with its place in the stream
//! (`seq`), and the worker's stages — cheap ones by default, so that a fleet's costs are
//! Redis's and timbr's, or the notebook's own pipeline (`--stages sentiment`). In one place,
//! apart from the program's commands.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::ValueEnum;
use timbr_core::{Backoff, RetryPolicy, Stage};
use timbr_tweets::stages::{every_31st, sentiment, text};
pub(crate) use timbr_tweets::{Tweet, TweetStream};

use crate::work::WorkArgs;

/// The stream of tweets a producer puts when `--seed` is not given (the `tweets` example's).
pub(crate) const DEFAULT_SEED: u64 = 1;

/// The worker's stages (`work --stages`).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stages {
    /// Eight empty slots: the cost of the queue, the sink and the machine alone.
    Identity8,
    /// Words, a checksum, the poison check.
    Tweet,
    /// As tweet, and a CPU-bound stage of --cpu-us (for scaling measurements).
    Cpu,
    /// The `tweets` example's pipeline, the notebook's: the text, its VADER sentiment, the
    /// poison check, and a stage failing every 31st tweet for good (to the failure stream).
    Sentiment,
}

/// The stages `work`'s flags ask for.
pub(crate) fn stages(a: &WorkArgs) -> anyhow::Result<Vec<Stage>> {
    Ok(match a.stages {
        Stages::Identity8 => vec![],
        Stages::Tweet => vec![words()?, checksum()?, poison(a)?],
        Stages::Cpu => vec![words()?, checksum()?, poison(a)?, spin(a.cpu_us)?],
        Stages::Sentiment => vec![
            text::stage(),
            sentiment::stage(),
            poison(a)?,
            every_31st::stage(),
        ],
    })
}

/// Stage `words` (slot 0): the words of the text.
fn words() -> anyhow::Result<Stage> {
    Ok(Stage::new(0, "words", ["input"], |t: &Tweet| {
        t.text.split_whitespace().count()
    })?)
}

/// Stage `checksum` (slot 1): a hash of the text.
fn checksum() -> anyhow::Result<Stage> {
    Ok(Stage::new(1, "checksum", ["input"], |t: &Tweet| {
        t.text
            .bytes()
            .fold(0_u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
    })?)
}

/// Stage `spin` (slot 3): `cpu_us` microseconds of arithmetic per tweet.
fn spin(cpu_us: u64) -> anyhow::Result<Stage> {
    Ok(Stage::new(3, "spin", ["input"], move |t: &Tweet| {
        let end = Instant::now() + Duration::from_micros(cpu_us);
        let mut h = t.seq;
        while Instant::now() < end {
            for _ in 0..64 {
                h = h
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
            }
        }
        h
    })?)
}

/// Stage `poison` (slot 2): the tweet whose `seq` is --abort-on kills its worker; multiples
/// of --fail-every fail for good, multiples of --flaky transiently.
fn poison(a: &WorkArgs) -> anyhow::Result<Stage> {
    let (abort_on, fail_every, flaky) = (a.abort_on, a.fail_every, a.flaky);
    // Runs so far of each flaky tweet, in this process.
    let runs: Mutex<HashMap<u64, u64>> = Mutex::default();
    Ok(Stage::try_new(2, "poison", ["input"], move |t: &Tweet| {
        if Some(t.seq) == abort_on {
            // The datum that kills its worker, every time: what dead letters are for.
            std::process::abort();
        }
        match (fail_every, flaky) {
            (Some(k), _) if k > 0 && t.seq % k == 0 => Err(format!("tweet {} refused", t.seq)),
            (_, Some(k)) if k > 0 && t.seq % k == 0 => {
                let mut runs = runs.lock().unwrap_or_else(|e| e.into_inner());
                let run = runs.entry(t.seq).or_default();
                *run += 1;
                if *run <= 1 + (t.seq / k) % 2 {
                    Err(format!("tweet {} unavailable (transient)", t.seq))
                } else {
                    Ok(t.seq)
                }
            }
            _ => Ok(t.seq),
        }
    })?)
}

/// Stage `poison`'s retry policy: --retries runs, a fixed backoff, errors that say
/// `(transient)` (the --flaky ones) retried, the others (--fail-every) failing for good.
pub(crate) fn retry_policy(a: &WorkArgs) -> RetryPolicy {
    RetryPolicy::new(a.retries.unwrap_or(1))
        .backoff(Backoff::fixed(Duration::from_millis(a.retry_backoff_ms)))
        .transient_if(|e| e.to_string().contains("(transient)"))
}
