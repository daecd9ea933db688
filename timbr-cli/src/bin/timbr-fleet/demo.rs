//! The fleet's demo workload: tweet-like data (`{"id":…,"user":…,"text":…}`) and the
//! worker's stages (cheap, so that a fleet's costs are Redis's and timbr's). In one place,
//! apart from the program's commands.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::ValueEnum;
use serde::{Deserialize, Serialize};
use timbr_core::{Backoff, RetryPolicy, Stage};

use crate::work::WorkArgs;

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

/// Tweet `id`: always the same user and text for the same id.
pub(crate) fn tweet(id: u64) -> Tweet {
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

/// The worker's stages (`work --stages`).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stages {
    /// Eight empty slots: the cost of the queue, the sink and the machine alone.
    Identity8,
    /// Words, a checksum, the poison check.
    Tweet,
    /// As tweet, and a CPU-bound stage of --cpu-us (for scaling measurements).
    Cpu,
}

/// The stages `work`'s flags ask for.
pub(crate) fn stages(a: &WorkArgs) -> anyhow::Result<Vec<Stage>> {
    let words = Stage::new(0, "words", ["input"], |t: &Tweet| {
        t.text.split_whitespace().count()
    })?;
    let checksum = Stage::new(1, "checksum", ["input"], |t: &Tweet| {
        t.text
            .bytes()
            .fold(0_u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
    })?;
    let (abort_on, fail_every, flaky) = (a.abort_on, a.fail_every, a.flaky);
    // Runs so far of each flaky tweet, in this process.
    let runs: Mutex<HashMap<u64, u64>> = Mutex::default();
    let poison = Stage::try_new(2, "poison", ["input"], move |t: &Tweet| {
        if Some(t.id) == abort_on {
            // The datum that kills its worker, every time: what dead letters are for.
            std::process::abort();
        }
        match (fail_every, flaky) {
            (Some(k), _) if k > 0 && t.id % k == 0 => Err(format!("tweet {} refused", t.id)),
            (_, Some(k)) if k > 0 && t.id % k == 0 => {
                let mut runs = runs.lock().unwrap_or_else(|e| e.into_inner());
                let run = runs.entry(t.id).or_default();
                *run += 1;
                if *run <= 1 + (t.id / k) % 2 {
                    Err(format!("tweet {} unavailable (transient)", t.id))
                } else {
                    Ok(t.id)
                }
            }
            _ => Ok(t.id),
        }
    })?;
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
    })?;
    Ok(match a.stages {
        Stages::Identity8 => vec![],
        Stages::Tweet => vec![words, checksum, poison],
        Stages::Cpu => vec![words, checksum, poison, spin],
    })
}

/// Stage `poison`'s retry policy: --retries runs, a fixed backoff, errors that say
/// `(transient)` (the --flaky ones) retried, the others (--fail-every) failing for good.
pub(crate) fn retry_policy(a: &WorkArgs) -> RetryPolicy {
    RetryPolicy::new(a.retries.unwrap_or(1))
        .backoff(Backoff::fixed(Duration::from_millis(a.retry_backoff_ms)))
        .transient_if(|e| e.to_string().contains("(transient)"))
}
