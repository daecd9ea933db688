use std::time::Duration;

use super::series::{quantile, MAX_POINTS};
use super::*;

/// 27 bounds, as a machine's status has them (256 ns to about 17 s, powers of two).
fn bounds() -> Vec<f64> {
    (8..35).map(|k| 2f64.powi(k) * 1e-9).collect()
}

/// A point at `at` after `n` data, with three stages of full buckets.
fn point(at: f64, n: u64) -> Point {
    let stage = StagePoint {
        calls: n,
        errors: n / 10,
        buckets: (0..27).map(|i| n * (i + 1) / 27).collect(),
    };
    Point {
        at,
        processed: n,
        failed: n / 10,
        dropped: 0,
        depth: 5,
        capacity: 100,
        busy: 1,
        workers: 2,
        stages: vec![stage; 3].into(),
    }
}

fn history_of_three_stages() -> History {
    let mut h = History::new(Duration::from_secs(1));
    h.stages = (0..3)
        .map(|slot| StageMeta {
            slot,
            name: format!("s{slot}"),
            reads: vec!["in".to_owned()],
            bounds: bounds(),
        })
        .collect();
    h
}

#[test]
fn history_memory_after_a_hundred_thousand_snapshots_is_bounded() {
    let mut h = history_of_three_stages();
    for i in 0..100_000_u64 {
        h.push(point(i as f64, i * 100));
    }
    assert_eq!(h.len(), FINE + MEDIUM + COARSE);
    let bytes = h.memory();
    println!(
        "history_memory: {} points, {bytes} bytes ({:.2} MiB), {:.0} bytes a point, three stages",
        h.len(),
        bytes as f64 / (1 << 20) as f64,
        bytes as f64 / h.len() as f64
    );
    assert!(bytes <= 3 << 20, "{bytes} bytes");
    // It reaches a day back (and a little more), at 1 s for the last 10 minutes.
    let points: Vec<&Point> = h.points().collect();
    let newest = points.last().unwrap().at;
    assert!(
        newest - points[0].at >= 86_400.0,
        "{}",
        newest - points[0].at
    );
    let fine = &points[points.len() - FINE..];
    assert!(fine.windows(2).all(|w| w[1].at - w[0].at == 1.0));
    // Oldest first, throughout.
    assert!(points.windows(2).all(|w| w[0].at < w[1].at));
}

#[test]
fn each_window_holds_its_span_and_at_most_max_points() {
    let mut h = history_of_three_stages();
    for i in 0..20_000_u64 {
        h.push(point(i as f64, i * 100));
    }
    let five = h.series(Window::FiveMinutes);
    assert_eq!(five.points.len(), 300);
    let all = h.series(Window::All);
    assert!(all.points.len() <= MAX_POINTS && all.points.len() > 100);
    // 100 data a second, whatever the spacing of the points kept.
    for series in [&five, &h.series(Window::Hour), &all] {
        for p in &series.points {
            assert!((p.processed - 100.0).abs() < 1e-9, "{}", p.processed);
            assert_eq!(p.busy, Some(0.5));
            assert_eq!(p.stages.len(), 3);
            assert_eq!(p.stages[0].error_rate, Some(0.1));
        }
    }
}

#[test]
fn latency_percentiles_are_of_the_calls_in_between_not_since_the_start() {
    let b = [1.0, 2.0, 4.0, 8.0];
    // A thousand slow calls first (all between 4 and 8), then ten fast ones (below 1).
    let before = [0, 0, 0, 1000];
    let after = [10, 10, 10, 1010];
    let p50 = quantile(0.5, &before, &after, &b).unwrap();
    assert!(p50 <= 1.0, "{p50}");
    let since_start = quantile(0.5, &[0; 4], &after, &b).unwrap();
    assert!(since_start > 4.0, "{since_start}");
    assert_eq!(quantile(0.5, &after, &after, &b), None);
}

#[test]
fn a_member_leaving_makes_no_negative_rate() {
    let mut h = history_of_three_stages();
    h.push(point(0.0, 1000));
    h.push(point(1.0, 10));
    let s = h.series(Window::All);
    assert_eq!(s.points[0].processed, 0.0);
}
