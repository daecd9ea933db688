//! The server's own memory of the past: a bounded ring of snapshots of what it serves, so a
//! dashboard opened late, reloaded, or in a second tab draws the last minutes and hours too.
//!
//! A sampling thread takes one [`Point`] per [`history_interval`](crate::HttpOptions::history_interval)
//! (1 s by default): the fleet's sums (counts, queue, busy workers) and, per stage (by slot
//! and name, summed over the machines that run it), calls, errors and the cumulative latency
//! buckets. Everything cumulative stays cumulative, so any two points give the rates and the
//! latency percentiles *between* them (windowed, not since the start), and dropping points in
//! between loses resolution, never counts.
//!
//! Three tiers, each a ring: the last [`FINE`] points at the sampling interval (10 minutes at
//! 1 s), then one point per [`MEDIUM_STEP`] intervals for [`MEDIUM`] points (2 hours), then one
//! per [`COARSE_STEP`] for [`COARSE`] points (24 hours). A point leaving a tier is offered to
//! the next one, which keeps it if it is at least that tier's step after its newest. At most
//! 2 760 points, whatever the run's length: for a machine of three stages about 0.9 KiB each,
//! 2.4 MiB in all (`history_memory` in the tests measures it after 10⁵ snapshots).

mod series;

use std::collections::VecDeque;
use std::time::Duration;

use timbr_core::Status;

use crate::feed::Observed;

pub(crate) use series::Window;

/// Points kept at the sampling interval.
pub(crate) const FINE: usize = 600;
/// Points kept at [`MEDIUM_STEP`] intervals.
pub(crate) const MEDIUM: usize = 720;
/// Sampling intervals between two points of the medium tier.
pub(crate) const MEDIUM_STEP: u32 = 10;
/// Points kept at [`COARSE_STEP`] intervals.
pub(crate) const COARSE: usize = 1440;
/// Sampling intervals between two points of the coarse tier.
pub(crate) const COARSE_STEP: u32 = 60;

/// One stage, summed over the machines that run it, at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct StagePoint {
    pub(crate) calls: u64,
    pub(crate) errors: u64,
    /// Cumulative: timed calls below each bound of [`StageMeta::bounds`].
    pub(crate) buckets: Box<[u64]>,
}

/// Everything the charts need from one moment.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Point {
    /// Seconds since the Unix epoch (the wall clock of the server).
    pub(crate) at: f64,
    pub(crate) processed: u64,
    pub(crate) failed: u64,
    pub(crate) dropped: u64,
    pub(crate) depth: u64,
    /// Of the bounded queues (0: all unbounded).
    pub(crate) capacity: u64,
    pub(crate) busy: u32,
    pub(crate) workers: u32,
    /// Indexed as [`History::stages`]; shorter when stages were added since.
    pub(crate) stages: Box<[StagePoint]>,
}

impl Point {
    /// The bytes this point holds, on the heap included.
    fn size(&self) -> usize {
        std::mem::size_of::<Point>()
            + self
                .stages
                .iter()
                .map(|s| std::mem::size_of::<StagePoint>() + std::mem::size_of_val(&*s.buckets))
                .sum::<usize>()
    }
}

/// A stage the history has seen.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StageMeta {
    pub(crate) slot: usize,
    pub(crate) name: String,
    /// The keys it reads.
    pub(crate) reads: Vec<String>,
    /// The latency buckets' upper bounds, in seconds.
    pub(crate) bounds: Vec<f64>,
}

/// One ring of points at one step.
#[derive(Debug)]
struct Tier {
    points: VecDeque<Point>,
    capacity: usize,
    /// The least time between two of its points, in seconds (0: every point).
    step: f64,
    /// Half the sampling interval: samples come a little late or early, and a tier that
    /// wanted its full step to the microsecond would keep one point in two steps.
    slack: f64,
}

impl Tier {
    fn new(capacity: usize, step: f64, slack: f64) -> Self {
        Tier {
            points: VecDeque::with_capacity(capacity),
            capacity,
            step,
            slack,
        }
    }

    /// Keeps `p` if it is a step after the newest; returns the point pushed out, if any.
    fn offer(&mut self, p: Point) -> Option<Point> {
        if let Some(last) = self.points.back() {
            if p.at - last.at < self.step - self.slack {
                return None;
            }
        }
        self.points.push_back(p);
        if self.points.len() > self.capacity {
            self.points.pop_front()
        } else {
            None
        }
    }
}

/// The bounded memory of the past (see the module's docs).
#[derive(Debug)]
pub(crate) struct History {
    /// Oldest first: coarse, medium, fine.
    tiers: [Tier; 3],
    stages: Vec<StageMeta>,
    interval: Duration,
}

impl History {
    /// A history sampled every `interval`.
    pub(crate) fn new(interval: Duration) -> Self {
        let secs = interval.as_secs_f64();
        History {
            tiers: [
                Tier::new(COARSE, secs * f64::from(COARSE_STEP), secs / 2.0),
                Tier::new(MEDIUM, secs * f64::from(MEDIUM_STEP), secs / 2.0),
                Tier::new(FINE, 0.0, 0.0),
            ],
            stages: Vec::new(),
            interval,
        }
    }

    /// Records what `observed` says at `at` (seconds since the Unix epoch).
    pub(crate) fn record(&mut self, observed: &[Observed], at: f64) {
        let statuses: Vec<&Status> = observed.iter().filter_map(|o| o.status.as_ref()).collect();
        let point = self.point(&statuses, at);
        self.push(point);
    }

    /// Adds `p` as the newest point, moving older ones down the tiers.
    pub(crate) fn push(&mut self, p: Point) {
        let [coarse, medium, fine] = &mut self.tiers;
        if let Some(out) = fine.offer(p) {
            if let Some(out) = medium.offer(out) {
                coarse.offer(out);
            }
        }
    }

    /// The sums of `statuses` as one point; new stages join [`History::stages`].
    fn point(&mut self, statuses: &[&Status], at: f64) -> Point {
        let mut p = Point {
            at,
            processed: 0,
            failed: 0,
            dropped: 0,
            depth: 0,
            capacity: 0,
            busy: 0,
            workers: 0,
            stages: Box::default(),
        };
        let mut stages: Vec<StagePoint> = vec![StagePoint::default(); self.stages.len()];
        let mut shared: Vec<&str> = Vec::new();
        for s in statuses {
            p.processed += s.counts.processed;
            p.failed += s.counts.failed;
            p.dropped += s.counts.dropped;
            // A queue several machines share counts once (its depth is the same for all).
            let once = match &s.queue.shared {
                Some(name) if shared.contains(&name.as_str()) => false,
                Some(name) => {
                    shared.push(name);
                    true
                }
                None => true,
            };
            if once {
                p.depth += s.queue.depth;
                p.capacity += s.queue.capacity.unwrap_or(0) as u64;
            }
            if s.running {
                p.busy += s.current.len() as u32;
                p.workers += s.workers as u32;
            }
            for st in &s.stages {
                let i = self.stage_index(st);
                if stages.len() <= i {
                    stages.resize(i + 1, StagePoint::default());
                }
                let sp = &mut stages[i];
                sp.calls += st.calls;
                sp.errors += st.errors;
                if sp.buckets.len() < st.buckets.counts.len() {
                    let mut b = sp.buckets.to_vec();
                    b.resize(st.buckets.counts.len(), 0);
                    sp.buckets = b.into();
                }
                for (sum, b) in sp.buckets.iter_mut().zip(&st.buckets.counts) {
                    *sum += b.count;
                }
            }
        }
        p.stages = stages.into();
        p
    }

    /// The index of `st` in [`History::stages`], added if new.
    fn stage_index(&mut self, st: &timbr_core::observe::StageStatus) -> usize {
        let bounds = || {
            st.buckets
                .counts
                .iter()
                .map(|b| b.le.as_secs_f64())
                .collect()
        };
        match self
            .stages
            .iter()
            .position(|m| m.slot == st.slot && m.name == st.name)
        {
            Some(i) => {
                let meta = &mut self.stages[i];
                if meta.bounds.len() < st.buckets.counts.len() {
                    meta.bounds = bounds();
                }
                i
            }
            None => {
                self.stages.push(StageMeta {
                    slot: st.slot,
                    name: st.name.clone(),
                    reads: st.reads.clone(),
                    bounds: bounds(),
                });
                self.stages.len() - 1
            }
        }
    }

    /// Every point kept, oldest first.
    pub(crate) fn points(&self) -> impl Iterator<Item = &Point> {
        self.tiers.iter().flat_map(|t| t.points.iter())
    }

    /// How many points it keeps now.
    pub(crate) fn len(&self) -> usize {
        self.tiers.iter().map(|t| t.points.len()).sum()
    }

    /// The stages seen so far.
    pub(crate) fn stages(&self) -> &[StageMeta] {
        &self.stages
    }

    /// The bytes it holds now: the rings' room (used or not), and each point's stages on
    /// the heap.
    pub(crate) fn memory(&self) -> usize {
        let rings: usize = self
            .tiers
            .iter()
            .map(|t| {
                std::mem::size_of::<Tier>() + t.points.capacity() * std::mem::size_of::<Point>()
            })
            .sum();
        let heap: usize = self
            .points()
            .map(|p| p.size() - std::mem::size_of::<Point>())
            .sum();
        rings + heap
    }

    /// The sampling interval.
    pub(crate) fn interval(&self) -> Duration {
        self.interval
    }
}

#[cfg(test)]
mod tests;
