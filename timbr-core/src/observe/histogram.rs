//! A log-linear latency histogram (the HDR idea, fixed precision): 16 buckets per power of two,
//! so any recorded value is known within 1/32 of itself. Single writer, any number of readers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::observe::stage_status::{Latency, LatencyBucket, LatencyBuckets};

const SUB_BITS: u32 = 4;
const SUB: u64 = 1 << SUB_BITS;
/// Values of 2^MAX_EXP ns (about 73 minutes) and more land in the last bucket.
const MAX_EXP: u32 = 42;
/// The exponents of the bounds [`Merged::buckets`] reports: 256 ns to about 17 s, doubling.
const BOUND_EXPS: std::ops::RangeInclusive<u32> = 8..=34;
pub(crate) const BUCKETS: usize = ((MAX_EXP - SUB_BITS + 1) as u64 * SUB) as usize;

/// The bucket of a value in nanoseconds.
pub(crate) fn bucket(ns: u64) -> usize {
    if ns < 2 * SUB {
        return ns as usize;
    }
    let exp = 63 - ns.leading_zeros();
    if exp >= MAX_EXP {
        return BUCKETS - 1;
    }
    let sub = (ns >> (exp - SUB_BITS)) & (SUB - 1);
    ((exp - SUB_BITS + 1) as u64 * SUB + sub) as usize
}

/// The middle of bucket `i`'s range, in nanoseconds.
pub(crate) fn midpoint(i: usize) -> u64 {
    let i = i as u64;
    if i < 2 * SUB {
        return i;
    }
    let exp = i / SUB + u64::from(SUB_BITS) - 1;
    let sub = i % SUB;
    let width = 1_u64 << (exp - u64::from(SUB_BITS));
    (SUB + sub) * width + width / 2
}

/// One stage's latency cells. Each is written by one thread at a time (the worker whose
/// shard this is, or a pool thread running that worker's datum), so a plain load and store
/// replaces a read-modify-write: no lock prefix on the hot path.
pub(crate) struct Histogram {
    count: AtomicU64,
    sum_ns: AtomicU64,
    max_ns: AtomicU64,
    buckets: Box<[AtomicU64]>,
}

#[inline]
pub(crate) fn bump(cell: &AtomicU64, by: u64) {
    cell.store(
        cell.load(Ordering::Relaxed).wrapping_add(by),
        Ordering::Relaxed,
    );
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            count: AtomicU64::new(0),
            sum_ns: AtomicU64::new(0),
            max_ns: AtomicU64::new(0),
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl Histogram {
    /// Records one value; only the cell's single writer may call this.
    pub(crate) fn record(&self, elapsed: Duration) {
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        bump(&self.buckets[bucket(ns)], 1);
        bump(&self.sum_ns, ns);
        if ns > self.max_ns.load(Ordering::Relaxed) {
            self.max_ns.store(ns, Ordering::Relaxed);
        }
        bump(&self.count, 1);
    }
}

/// Several histograms merged for reading.
#[derive(Default)]
pub(crate) struct Merged {
    count: u64,
    sum_ns: u64,
    max_ns: u64,
    buckets: Vec<u64>,
}

impl Merged {
    pub(crate) fn add(&mut self, h: &Histogram) {
        if self.buckets.is_empty() {
            self.buckets = vec![0; BUCKETS];
        }
        self.count += h.count.load(Ordering::Relaxed);
        self.sum_ns = self.sum_ns.wrapping_add(h.sum_ns.load(Ordering::Relaxed));
        self.max_ns = self.max_ns.max(h.max_ns.load(Ordering::Relaxed));
        for (total, cell) in self.buckets.iter_mut().zip(h.buckets.iter()) {
            *total += cell.load(Ordering::Relaxed);
        }
    }

    /// The value at quantile `q` (0–1): the middle of the bucket holding it, capped at the
    /// maximum seen.
    fn quantile(&self, q: f64) -> u64 {
        // The buckets were read one by one while being written: their sum may differ
        // slightly from `count`, so rank against the sum.
        let total: u64 = self.buckets.iter().sum();
        if total == 0 {
            return 0;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return midpoint(i).min(self.max_ns);
            }
        }
        self.max_ns
    }

    /// The counts below each bound 2^k ns, k in [`BOUND_EXPS`]: every such bound is the
    /// lower edge of a bucket, so the counts are exact.
    pub(crate) fn buckets(&self) -> LatencyBuckets {
        let mut counts = Vec::with_capacity(BOUND_EXPS.clone().count());
        if !self.buckets.is_empty() {
            let mut below = 0;
            let mut i = 0;
            for exp in BOUND_EXPS {
                let edge = bucket(1 << exp);
                while i < edge {
                    below += self.buckets[i];
                    i += 1;
                }
                counts.push(LatencyBucket {
                    le: Duration::from_nanos(1 << exp),
                    count: below,
                });
            }
        }
        LatencyBuckets {
            sum: Duration::from_nanos(self.sum_ns),
            counts,
        }
    }

    pub(crate) fn latency(&self) -> Latency {
        let ns = Duration::from_nanos;
        Latency {
            samples: self.count,
            mean: ns(self.sum_ns.checked_div(self.count).unwrap_or(0)),
            p50: ns(self.quantile(0.50)),
            p99: ns(self.quantile(0.99)),
            max: ns(self.max_ns),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_tight() {
        let mut last = 0;
        for ns in 0..100_000_u64 {
            let b = bucket(ns);
            assert!(b >= last, "bucket({ns}) went down");
            last = b;
        }
        let spread = (0..42).map(|e| (1_u64 << e) | 12345);
        for ns in (0..100_000_u64).chain(spread) {
            let b = bucket(ns);
            assert!(b < BUCKETS);
            let mid = midpoint(b);
            let err = (mid as f64 - ns as f64).abs() / (ns.max(1) as f64);
            assert!(err <= 1.0 / 32.0 + 1e-9, "{ns} -> {mid}: {err}");
        }
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn quantiles_of_a_known_distribution() {
        let h = Histogram::default();
        for us in 1..=1000_u64 {
            h.record(Duration::from_micros(us));
        }
        let mut m = Merged::default();
        m.add(&h);
        let l = m.latency();
        assert_eq!(l.samples, 1000);
        assert_eq!(l.max, Duration::from_micros(1000));
        let close = |d: Duration, us: f64| (d.as_secs_f64() * 1e6 - us).abs() / us < 0.04;
        assert!(close(l.mean, 500.5), "{:?}", l.mean);
        assert!(close(l.p50, 500.0), "{:?}", l.p50);
        assert!(close(l.p99, 990.0), "{:?}", l.p99);
    }

    #[test]
    fn coarse_buckets_count_exactly() {
        let h = Histogram::default();
        for ns in [100, 255, 256, 300, 1_000, 70_000, 1 << 40] {
            h.record(Duration::from_nanos(ns));
        }
        let mut m = Merged::default();
        m.add(&h);
        let b = m.buckets();
        assert_eq!(b.counts.len(), 27);
        assert_eq!(b.counts[0].le, Duration::from_nanos(256));
        assert_eq!(b.counts[0].count, 2); // 100 and 255
        assert_eq!(b.counts[1].count, 4); // < 512: and 256, 300
        assert_eq!(b.counts[2].count, 5); // < 1024: and 1000
        assert_eq!(b.counts[9].count, 6); // < 131 µs: and 70 µs
        assert_eq!(b.counts[26].count, 6); // 2^40 ns is above every bound
        assert!(b.counts.windows(2).all(|w| w[0].count <= w[1].count));
        assert_eq!(
            b.sum,
            Duration::from_nanos(100 + 255 + 256 + 300 + 1_000 + 70_000 + (1 << 40))
        );
    }

    #[test]
    fn empty_is_zero() {
        let mut m = Merged::default();
        m.add(&Histogram::default());
        assert_eq!(m.latency(), Latency::default());
    }
}
