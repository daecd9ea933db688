//! Numbers for people: durations, spans of time, rates and counts, as the text table, the
//! HTML fragment and the status plugins show them.

use std::time::Duration;

/// A latency or a short duration, in the largest unit that keeps it above 1 with about
/// three significant digits: `850ns`, `12.3µs`, `456µs`, `4.1ms`, `1.20s`, `345s`.
pub(crate) fn human_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    let ns = ns as f64;
    for (unit, scale) in [("µs", 1e3), ("ms", 1e6)] {
        let v = ns / scale;
        if v < 99.95 {
            return format!("{v:.1}{unit}");
        }
        if v < 999.5 {
            return format!("{v:.0}{unit}");
        }
    }
    let s = ns / 1e9;
    if s < 9.995 {
        format!("{s:.2}s")
    } else if s < 99.95 {
        format!("{s:.1}s")
    } else {
        format!("{s:.0}s")
    }
}

/// A span of wall-clock time, like an uptime: `4.2s`, `1m 05s`, `1h 02m 03s`, `2d 03h 04m`.
pub(crate) fn human_span(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 59.95 {
        format!("{secs:.1}s")
    } else {
        clock(secs.round() as u64)
    }
}

/// A span in whole seconds, rounded up (for estimates): `4s`, `1m 05s`, `1h 02m 03s`.
pub(crate) fn human_secs(d: Duration) -> String {
    let mut secs = d.as_secs();
    if d.subsec_nanos() > 0 {
        secs += 1;
    }
    clock(secs)
}

/// Whole seconds as `42s`, `1m 05s`, `1h 02m 03s`, `2d 03h 04m`.
fn clock(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h:02}h {m:02}m")
    } else if h > 0 {
        format!("{h}h {m:02}m {s:02}s")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

/// A rate per second with a k/M/G suffix: `0.25/s`, `12.3/s`, `850/s`, `12.3k/s`, `1.5M/s`.
/// Zero, negative and non-finite rates are `0/s`.
pub(crate) fn human_rate(per_sec: f64) -> String {
    if !per_sec.is_finite() || per_sec <= 0.0 {
        return "0/s".to_owned();
    }
    if per_sec < 0.995 {
        return format!("{per_sec:.2}/s");
    }
    let mut v = per_sec;
    for unit in ["", "k", "M", "G"] {
        if v < 99.95 {
            return format!("{v:.1}{unit}/s");
        }
        if v < 999.5 {
            return format!("{v:.0}{unit}/s");
        }
        v /= 1e3;
    }
    format!("{v:.0}T/s")
}

/// A count with thousands separators, as the status table writes them: `10,000`.
///
/// ```
/// assert_eq!(timbr_core::observe::human_count(1_234_567), "1,234,567");
/// ```
pub fn human_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A short span for a window: `10s` for whole seconds, else as [`human_duration`].
pub(super) fn human_span_short(d: Duration) -> String {
    if d.subsec_nanos() == 0 && d.as_secs() > 0 {
        clock(d.as_secs())
    } else {
        human_duration(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_pick_a_unit_with_three_digits() {
        let d = Duration::from_nanos;
        assert_eq!(human_duration(Duration::ZERO), "0ns");
        assert_eq!(human_duration(d(850)), "850ns");
        assert_eq!(human_duration(d(999)), "999ns");
        assert_eq!(human_duration(d(1_000)), "1.0µs");
        assert_eq!(human_duration(d(12_340)), "12.3µs");
        assert_eq!(human_duration(d(99_960)), "100µs");
        assert_eq!(human_duration(d(456_000)), "456µs");
        assert_eq!(human_duration(d(999_600)), "1.0ms");
        assert_eq!(human_duration(d(4_100_000)), "4.1ms");
        assert_eq!(human_duration(d(999_700_000)), "1.00s");
        assert_eq!(human_duration(Duration::from_millis(1_200)), "1.20s");
        assert_eq!(human_duration(Duration::from_millis(12_340)), "12.3s");
        assert_eq!(human_duration(Duration::from_secs(345)), "345s");
    }

    #[test]
    fn spans_read_like_clocks() {
        let s = Duration::from_secs;
        assert_eq!(human_span(Duration::ZERO), "0.0s");
        assert_eq!(human_span(Duration::from_millis(4_200)), "4.2s");
        assert_eq!(human_span(Duration::from_millis(59_960)), "1m 00s");
        assert_eq!(human_span(s(65)), "1m 05s");
        assert_eq!(human_span(s(3_723)), "1h 02m 03s");
        assert_eq!(
            human_span(s(2 * 86_400 + 3 * 3_600 + 4 * 60 + 5)),
            "2d 03h 04m"
        );
        assert_eq!(human_secs(Duration::from_millis(3_100)), "4s");
        assert_eq!(human_secs(s(0)), "0s");
        assert_eq!(human_secs(s(65)), "1m 05s");
        assert_eq!(human_span_short(s(10)), "10s");
        assert_eq!(human_span_short(Duration::from_millis(500)), "500ms");
    }

    #[test]
    fn rates_get_suffixes() {
        assert_eq!(human_rate(0.0), "0/s");
        assert_eq!(human_rate(-1.0), "0/s");
        assert_eq!(human_rate(f64::NAN), "0/s");
        assert_eq!(human_rate(f64::INFINITY), "0/s");
        assert_eq!(human_rate(0.25), "0.25/s");
        assert_eq!(human_rate(12.34), "12.3/s");
        assert_eq!(human_rate(850.0), "850/s");
        assert_eq!(human_rate(999.7), "1.0k/s");
        assert_eq!(human_rate(12_345.0), "12.3k/s");
        assert_eq!(human_rate(456_000.0), "456k/s");
        assert_eq!(human_rate(1_500_000.0), "1.5M/s");
        assert_eq!(human_rate(2.5e9), "2.5G/s");
        assert_eq!(human_rate(7e12), "7T/s");
    }

    #[test]
    fn counts_get_thousands_separators() {
        assert_eq!(human_count(0), "0");
        assert_eq!(human_count(999), "999");
        assert_eq!(human_count(1_000), "1,000");
        assert_eq!(human_count(4_500), "4,500");
        assert_eq!(human_count(1_234_567), "1,234,567");
        assert_eq!(human_count(u64::MAX), "18,446,744,073,709,551,615");
    }
}
