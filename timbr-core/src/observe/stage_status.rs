//! [`StageStatus`]: one stage's calls, errors, skips and latency, as the status shows them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::observe::status::secs;
use crate::observe::RetryCounts;

/// One stage's statistics (cumulative for its slot, across restarts and replacements).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StageStatus {
    /// The slot.
    pub slot: usize,
    /// The stage's name.
    pub name: String,
    /// How often it ran (errors included).
    pub calls: u64,
    /// How often it failed (returned an error or panicked).
    pub errors: u64,
    /// How often it did not run because something it reads had failed.
    pub skipped: u64,
    /// The keys it reads, in parameter order, as the graph names them (`in`, `oid`, `f3`,
    /// `f3_s`, …): `f{k}` is the output of slot `k`, so these are the stage's dependencies.
    #[serde(default)]
    pub reads: Vec<String>,
    /// How long it takes.
    pub latency: Latency,
    /// The same timed calls in fixed, coarse buckets (for exporters such as Prometheus, and
    /// for drawing the distribution).
    #[serde(default)]
    pub buckets: LatencyBuckets,
    /// What its [`RetryPolicy`](crate::RetryPolicy) did: retries scheduled, data recovered,
    /// data given up on. Each attempt is also one of `calls` (and a failed one one of
    /// `errors`).
    #[serde(default)]
    pub retries: RetryCounts,
}

/// A latency distribution in fixed buckets whose bounds are powers of two nanoseconds, from
/// 256 ns to about 17 s: edges of the machine's own histogram, so the counts are exact.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LatencyBuckets {
    /// The sum of the timed calls.
    #[serde(with = "secs")]
    pub sum: Duration,
    /// Cumulative: for each bound, in increasing order, how many timed calls took less.
    /// Calls above the last bound are counted only in [`Latency::samples`]. Empty when the
    /// status comes from a machine that did not report buckets.
    pub counts: Vec<LatencyBucket>,
}

/// One bucket of [`LatencyBuckets`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatencyBucket {
    /// The bound (exclusive).
    #[serde(with = "secs")]
    pub le: Duration,
    /// Timed calls faster than `le`, in all.
    pub count: u64,
}

impl StageStatus {
    /// The stage `name` at `slot`, not called yet (set the counts and latency afterwards).
    pub fn new(slot: usize, name: impl Into<String>) -> Self {
        StageStatus {
            slot,
            name: name.into(),
            calls: 0,
            errors: 0,
            skipped: 0,
            reads: Vec::new(),
            latency: Latency::default(),
            buckets: LatencyBuckets::default(),
            retries: RetryCounts::default(),
        }
    }
}

/// A latency distribution, from a log-linear histogram (values within about 3 % of the true
/// ones).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Latency {
    /// How many calls were timed (see [`Timing`](crate::Timing): by default a sample).
    pub samples: u64,
    /// The mean.
    #[serde(with = "secs")]
    pub mean: Duration,
    /// The median.
    #[serde(with = "secs")]
    pub p50: Duration,
    /// The 99th percentile.
    #[serde(with = "secs")]
    pub p99: Duration,
    /// The longest timed call.
    #[serde(with = "secs")]
    pub max: Duration,
}
