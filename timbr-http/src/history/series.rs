//! What the charts draw: the rates, shares and windowed latency percentiles between
//! consecutive points of the history, over a window (`/api/history/5m`, `/1h`, `/all`).

use serde::Serialize;

use super::{History, Point, StagePoint};

/// The most points one answer holds: a longer window keeps every k-th point (the values
/// between two kept points are still exact, only coarser).
pub(crate) const MAX_POINTS: usize = 600;

/// How far back a chart looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Window {
    /// The last 5 minutes.
    FiveMinutes,
    /// The last hour.
    Hour,
    /// Everything kept (since the start, or the last 24 hours or so).
    All,
}

impl Window {
    /// The window a path's last part names (`5m`, `1h`, `all`).
    pub(crate) fn parse(name: &str) -> Option<Window> {
        match name {
            "5m" => Some(Window::FiveMinutes),
            "1h" => Some(Window::Hour),
            "all" => Some(Window::All),
            _ => None,
        }
    }

    fn seconds(self) -> Option<f64> {
        match self {
            Window::FiveMinutes => Some(300.0),
            Window::Hour => Some(3600.0),
            Window::All => None,
        }
    }
}

/// A stage as the charts name it.
#[derive(Serialize)]
pub(crate) struct StageName<'a> {
    pub(crate) slot: usize,
    pub(crate) name: &'a str,
    pub(crate) reads: &'a [String],
}

/// One stage between two points.
#[derive(Serialize)]
pub(crate) struct StageRates {
    /// Calls per second.
    pub(crate) calls: f64,
    /// Errors per second.
    pub(crate) errors: f64,
    /// Errors per call (`None` without calls).
    pub(crate) error_rate: Option<f64>,
    /// The median of the calls timed in between, in seconds (`None` if none was timed).
    p50: Option<f64>,
    /// Their 99th percentile, in seconds.
    p99: Option<f64>,
}

/// The fleet between two points; `at` is the later one's time.
#[derive(Serialize)]
pub(crate) struct Rates {
    /// Seconds since the Unix epoch.
    pub(crate) at: f64,
    /// Data per second.
    pub(crate) processed: f64,
    pub(crate) failed: f64,
    pub(crate) dropped: f64,
    /// Data in the queues at `at`, and their capacity (0: unbounded).
    pub(crate) depth: u64,
    pub(crate) capacity: u64,
    /// Busy workers per worker of the running machines (`None` when none runs).
    pub(crate) busy: Option<f64>,
    pub(crate) stages: Vec<StageRates>,
}

/// An answer of `/api/history/…`.
#[derive(Serialize)]
pub(crate) struct Series<'a> {
    pub(crate) window: &'static str,
    /// The sampling interval, in seconds.
    pub(crate) interval: f64,
    /// Points kept in all, and the bytes they hold.
    pub(crate) kept: usize,
    pub(crate) memory_bytes: usize,
    pub(crate) stages: Vec<StageName<'a>>,
    pub(crate) points: Vec<Rates>,
}

impl History {
    /// The rates over `window`, ending at the newest point.
    pub(crate) fn series(&self, window: Window) -> Series<'_> {
        let all: Vec<&Point> = self.points().collect();
        let newest = all.last().map_or(0.0, |p| p.at);
        // The first point inside the window, and the one before it as the base of its rates.
        let first = match window.seconds() {
            Some(secs) => all
                .iter()
                .position(|p| p.at > newest - secs)
                .unwrap_or(all.len())
                .saturating_sub(1),
            None => 0,
        };
        let inside = &all[first..];
        let stride = inside.len().div_ceil(MAX_POINTS).max(1);
        // Every stride-th point, the newest always included.
        let mut kept: Vec<&Point> = inside.iter().rev().step_by(stride).copied().collect();
        kept.reverse();
        let points = kept
            .windows(2)
            .filter_map(|w| rates(w[0], w[1], self))
            .collect();
        Series {
            window: match window {
                Window::FiveMinutes => "5m",
                Window::Hour => "1h",
                Window::All => "all",
            },
            interval: self.interval().as_secs_f64(),
            kept: self.len(),
            memory_bytes: self.memory(),
            stages: self
                .stages()
                .iter()
                .map(|m| StageName {
                    slot: m.slot,
                    name: &m.name,
                    reads: &m.reads,
                })
                .collect(),
            points,
        }
    }
}

/// What happened between `a` and `b` (`None` if no time passed).
fn rates(a: &Point, b: &Point, history: &History) -> Option<Rates> {
    let dt = b.at - a.at;
    if dt <= 0.0 {
        return None;
    }
    // Counters only grow while a machine lives; a member that left or restarted makes the
    // sums fall, which is no negative rate.
    let per_s = |x: u64, y: u64| y.saturating_sub(x) as f64 / dt;
    let none = StagePoint::default();
    let stages = (0..history.stages().len())
        .map(|i| {
            let (x, y) = (
                a.stages.get(i).unwrap_or(&none),
                b.stages.get(i).unwrap_or(&none),
            );
            let calls = y.calls.saturating_sub(x.calls);
            let errors = y.errors.saturating_sub(x.errors);
            let bounds = &history.stages()[i].bounds;
            StageRates {
                calls: calls as f64 / dt,
                errors: errors as f64 / dt,
                error_rate: (calls > 0).then(|| errors as f64 / calls as f64),
                p50: quantile(0.5, &x.buckets, &y.buckets, bounds),
                p99: quantile(0.99, &x.buckets, &y.buckets, bounds),
            }
        })
        .collect();
    Some(Rates {
        at: b.at,
        processed: per_s(a.processed, b.processed),
        failed: per_s(a.failed, b.failed),
        dropped: per_s(a.dropped, b.dropped),
        depth: b.depth,
        capacity: b.capacity,
        busy: (b.workers > 0).then(|| f64::from(b.busy) / f64::from(b.workers)),
        stages,
    })
}

/// The `q`-quantile of the calls timed between two cumulative bucket counts, interpolated
/// linearly within its bucket (as Prometheus's `histogram_quantile` does); `None` if no call
/// was timed in between.
pub(crate) fn quantile(q: f64, before: &[u64], after: &[u64], bounds: &[f64]) -> Option<f64> {
    let diff = |i: usize| {
        after
            .get(i)
            .copied()
            .unwrap_or(0)
            .saturating_sub(before.get(i).copied().unwrap_or(0))
    };
    let n = bounds.len().min(after.len());
    let total = (0..n).map(diff).max().unwrap_or(0);
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let mut below = 0;
    for i in 0..n {
        let upto = diff(i).max(below);
        if upto as f64 >= rank {
            let lower = if i == 0 { 0.0 } else { bounds[i - 1] };
            let within = (upto - below) as f64;
            let part = if within > 0.0 {
                (rank - below as f64) / within
            } else {
                1.0
            };
            return Some(lower + (bounds[i] - lower) * part.clamp(0.0, 1.0));
        }
        below = upto;
    }
    bounds.get(n.checked_sub(1)?).copied()
}
