//! The waits between reconnection attempts: exponential, with jitter.
//!
//! Without jitter every machine of a fleet that lost Redis at the same moment retries at the
//! same moments too (10 ms, 20 ms, 40 ms… after the outage began), so a restarted Redis
//! meets the whole fleet at once, again and again. Each wait is therefore drawn uniformly
//! between half its nominal length and the whole of it ("equal jitter"): retries spread
//! over the second half of each step, while the backoff still doubles and stays bounded.
//!
//! The draws come from a xorshift generator seeded per [`Backoff`] from the clock, the
//! process id and a count of the generators made: no dependency, and two connections (in
//! one process or in two) do not draw the same waits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The first wait after a failure; doubled up to the maximum.
pub(crate) const BACKOFF_MIN: Duration = Duration::from_millis(10);

/// Exponential backoff with equal jitter, from [`BACKOFF_MIN`] up to a maximum.
pub(crate) struct Backoff {
    /// The nominal length of the next wait (before jitter).
    nominal: Duration,
    max: Duration,
    rng: u64,
}

impl Backoff {
    /// A backoff whose nominal wait doubles up to `max`.
    pub(crate) fn new(max: Duration) -> Self {
        Backoff {
            nominal: BACKOFF_MIN.min(max),
            max,
            rng: seed(),
        }
    }

    /// The next wait: between half the nominal wait and all of it; the nominal wait then
    /// doubles (up to the maximum).
    pub(crate) fn next_wait(&mut self) -> Duration {
        let nominal = self.nominal;
        self.nominal = (nominal * 2).min(self.max);
        let half = nominal / 2;
        let spread = (nominal - half).as_nanos() as u64;
        // `spread` is at most 30 s in nanoseconds: the modulo's bias is negligible.
        half + Duration::from_nanos(self.draw() % (spread + 1))
    }

    /// xorshift64: a non-zero state stays non-zero.
    fn draw(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

/// A seed no other backoff of this process (nor, most likely, of another) has.
fn seed() -> u64 {
    static MADE: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let n = MADE.fetch_add(1, Ordering::Relaxed);
    let mixed = splitmix(nanos ^ splitmix(u64::from(std::process::id()) ^ splitmix(n)));
    // xorshift's one forbidden state.
    if mixed == 0 {
        0x9E37_79B9_7F4A_7C15
    } else {
        mixed
    }
}

/// splitmix64's finaliser: nearby inputs (consecutive counts, close clocks) give unrelated
/// outputs.
fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Backoff, BACKOFF_MIN};

    #[test]
    fn each_wait_lies_between_half_its_nominal_length_and_all_of_it() {
        let max = Duration::from_millis(300);
        for _ in 0..200 {
            let mut b = Backoff::new(max);
            let mut nominal = BACKOFF_MIN;
            for _ in 0..12 {
                let w = b.next_wait();
                assert!(w >= nominal / 2 && w <= nominal, "{w:?} for {nominal:?}");
                nominal = (nominal * 2).min(max);
            }
        }
    }

    #[test]
    fn two_backoffs_draw_different_waits() {
        let max = Duration::from_secs(2);
        let waits = |b: &mut Backoff| (0..16).map(|_| b.next_wait()).collect::<Vec<_>>();
        let (mut a, mut b) = (Backoff::new(max), Backoff::new(max));
        assert_ne!(waits(&mut a), waits(&mut b));
        // Nor do the waits of one backoff repeat a fixed pattern at the maximum.
        let at_max: Vec<_> = waits(&mut a);
        assert!(at_max.iter().any(|w| *w != at_max[0]), "{at_max:?}");
    }
}
