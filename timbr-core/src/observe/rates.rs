//! The recent rate: data finished over a sliding window of samples.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Recent (time, data finished) samples, for the recent rate.
pub(crate) struct RateWindow {
    samples: VecDeque<(Instant, u64)>,
    window: Duration,
}

impl RateWindow {
    pub(crate) fn new(window: Duration) -> Self {
        RateWindow {
            samples: VecDeque::new(),
            window,
        }
    }

    pub(crate) fn window(&self) -> Duration {
        self.window
    }

    pub(crate) fn clear(&mut self) {
        self.samples.clear();
    }

    pub(crate) fn push(&mut self, at: Instant, done: u64) {
        self.samples.push_back((at, done));
        while self
            .samples
            .front()
            .is_some_and(|&(t, _)| at.duration_since(t) > self.window)
        {
            self.samples.pop_front();
        }
    }

    /// Data per second between the oldest sample and (`now`, `done`).
    pub(crate) fn rate(&self, now: Instant, done: u64) -> f64 {
        match self.samples.front() {
            Some(&(t, d)) if now > t => {
                done.saturating_sub(d) as f64 / now.duration_since(t).as_secs_f64()
            }
            _ => 0.0,
        }
    }
}
