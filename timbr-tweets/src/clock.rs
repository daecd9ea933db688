//! Time: Twitter's date format, and a stream slowed to a rate.

use std::time::{Duration, Instant};

/// Formats a time (ms since the Unix epoch, UTC) as Twitter does:
/// `Wed Oct 10 20:19:24 +0000 2018`.
///
/// # Examples
///
/// ```
/// assert_eq!(timbr_tweets::twitter_time(1_539_202_764_000), "Wed Oct 10 20:19:24 +0000 2018");
/// ```
pub fn twitter_time(unix_ms: u64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = unix_ms / 1000;
    let days = secs / 86_400;
    let of_day = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{} {} {day:02} {:02}:{:02}:{:02} +0000 {year}",
        DAYS[((days + 4) % 7) as usize], // 1970-01-01 was a Thursday
        MONTHS[(month - 1) as usize],
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
    )
}

/// The (year, month 1–12, day 1–31) of a day counted from 1970-01-01, in the proleptic
/// Gregorian calendar (Howard Hinnant's `civil_from_days`, for days after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// An iterator that yields no faster than `per_second` items a second: item `k` (from 0)
/// comes no earlier than `k / per_second` seconds after the first was asked for. It sleeps
/// on the thread that calls `next` (a machine's source thread), so a slow consumer is not
/// made up for with bursts beyond what it missed.
///
/// A rate that is not positive and finite leaves the iterator unpaced.
///
/// # Examples
///
/// ```
/// use timbr_tweets::paced;
///
/// let items: Vec<u32> = paced(0..5, 1000.0).collect(); // about 4 ms
/// assert_eq!(items, [0, 1, 2, 3, 4]);
/// ```
pub fn paced<I: Iterator>(iter: I, per_second: f64) -> Paced<I> {
    let interval = if per_second.is_finite() && per_second > 0.0 {
        Duration::try_from_secs_f64(1.0 / per_second).ok()
    } else {
        None
    };
    Paced {
        iter,
        interval,
        start: None,
        yielded: 0,
    }
}

/// The iterator of [`paced`].
#[derive(Debug)]
pub struct Paced<I> {
    iter: I,
    interval: Option<Duration>,
    start: Option<Instant>,
    yielded: u32,
}

impl<I: Iterator> Iterator for Paced<I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        if let Some(interval) = self.interval {
            let start = *self.start.get_or_insert_with(Instant::now);
            if let Some(due) = interval
                .checked_mul(self.yielded)
                .and_then(|d| start.checked_add(d))
            {
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
            }
            // Restart the schedule before the count overflows (after 4 billion items).
            if self.yielded == u32::MAX {
                self.start = Some(Instant::now());
                self.yielded = 0;
            }
            self.yielded += 1;
        }
        self.iter.next()
    }
}
