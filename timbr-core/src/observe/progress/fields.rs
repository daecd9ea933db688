//! The numbers of the progress plugin, [`ProgressFields`]: pure arithmetic on a [`Status`],
//! and the text line and HTML fragment they show as.

use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::observe::render::{escape_html, human_count, human_rate, human_secs, labelled};
use crate::observe::status::secs;
use crate::Status;

/// The progress of a machine towards a known number of data, as [`Progress`](crate::Progress)
/// adds it to [`Status::plugins`]: pure numbers computed from a [`Status`].
///
/// Serialized with serde, durations as seconds (floats), `eta` as `null` when unknown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProgressFields {
    /// The number of data expected.
    pub total: u64,
    /// Data that reached the end: `processed + failed + dropped` (may exceed `total` if more
    /// data came than announced).
    pub done: u64,
    /// Of those, processed.
    pub processed: u64,
    /// Of those, failed.
    pub failed: u64,
    /// Of those, dropped by a source's drop policy.
    pub dropped: u64,
    /// `total - done`, or 0 once `done` reaches `total`.
    pub remaining: u64,
    /// How much is done, from 0 to 100 (100 when `total` is 0).
    pub percent: f64,
    /// Data finished per second: the recent rate, or the overall one when nothing finished
    /// recently.
    pub rate: f64,
    /// How long the machine has run (its uptime).
    #[serde(with = "secs")]
    pub elapsed: Duration,
    /// When the rest will be done at the current rate: `None` when finished, when nothing
    /// is moving, or when the machine is not running (a stopped machine finishes nothing).
    #[serde(with = "opt_secs")]
    pub eta: Option<Duration>,
    /// Whether `done` reached `total`.
    pub finished: bool,
}

impl ProgressFields {
    /// The progress of the machine of `status` towards `total` data.
    ///
    /// The rate is `status.rate.recent`, or `status.rate.overall` when nothing finished
    /// recently; at 100 data a second with 4,000 of 10,000 done, the ETA is one minute. A
    /// machine that is not running has no ETA.
    pub fn compute(total: u64, status: &Status) -> ProgressFields {
        let c = &status.counts;
        let done = c
            .processed
            .saturating_add(c.failed)
            .saturating_add(c.dropped);
        let remaining = total.saturating_sub(done);
        let percent = if total == 0 {
            100.0
        } else {
            (done as f64 / total as f64 * 100.0).min(100.0)
        };
        let usable = |r: f64| r.is_finite() && r > 0.0;
        let rate = if usable(status.rate.recent) {
            status.rate.recent
        } else if usable(status.rate.overall) {
            status.rate.overall
        } else {
            0.0
        };
        let eta = if remaining == 0 || rate == 0.0 || !status.running {
            None
        } else {
            Duration::try_from_secs_f64(remaining as f64 / rate).ok()
        };
        ProgressFields {
            total,
            done,
            processed: c.processed,
            failed: c.failed,
            dropped: c.dropped,
            remaining,
            percent,
            rate,
            elapsed: status.uptime,
            eta,
            finished: remaining == 0,
        }
    }

    /// The percent for display, rounded down to a tenth so that 99.99 % does not show as
    /// 100.0 % before the end.
    fn shown_percent(&self) -> f64 {
        if self.finished {
            100.0
        } else {
            ((self.percent * 10.0).floor() / 10.0).min(99.9)
        }
    }

    /// `ETA 4s`, `done`, or `ETA -` when nothing is moving or the machine is not running.
    fn eta_text(&self) -> String {
        match self.eta {
            _ if self.finished => "done".to_owned(),
            Some(eta) => format!("ETA {}", human_secs(eta)),
            None => "ETA -".to_owned(),
        }
    }

    /// The bar's message: rate, ETA (while running), failures.
    pub(super) fn bar_message(&self, running: bool) -> String {
        let mut m = human_rate(self.rate);
        if running && !self.finished {
            let _ = write!(m, "  {}", self.eta_text());
        }
        if self.failed > 0 {
            let _ = write!(m, "  {} failed", human_count(self.failed));
        }
        m
    }

    /// The line for the text table: `progress   45.0%  4,500/10,000  1.2k/s  ETA 4s`.
    pub(super) fn text(&self, message: Option<&str>) -> String {
        let mut line = String::new();
        if let Some(m) = message {
            let _ = write!(line, "{m}  ");
        }
        let _ = write!(
            line,
            "{:.1}%  {}/{}  {}  {}",
            self.shown_percent(),
            human_count(self.done),
            human_count(self.total),
            human_rate(self.rate),
            self.eta_text()
        );
        if self.failed > 0 {
            let _ = write!(line, "  {} failed", human_count(self.failed));
        }
        labelled("progress", &line)
    }

    /// The HTML fragment: a `<progress>` element and the same numbers.
    pub(super) fn html(&self, message: Option<&str>) -> String {
        let (value, max) = if self.total == 0 {
            (1, 1)
        } else {
            (self.done.min(self.total), self.total)
        };
        let mut h = String::from("<div class=\"timbr-progress\">");
        if let Some(m) = message {
            let _ = write!(h, "<b>{}</b> ", escape_html(m));
        }
        let _ = write!(
            h,
            "<progress value=\"{value}\" max=\"{max}\" style=\"width:200px;\
             vertical-align:middle\"></progress> {:.1}% · {}/{} · {} · {}",
            self.shown_percent(),
            human_count(self.done),
            human_count(self.total),
            human_rate(self.rate),
            self.eta_text()
        );
        if self.failed > 0 {
            let _ = write!(
                h,
                " · <span style=\"color:#cf222e\">{} failed</span>",
                human_count(self.failed)
            );
        }
        h.push_str("</div>");
        h
    }
}

/// `Option<Duration>` as seconds (a float) or `null`.
mod opt_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<f64>::deserialize(d)?
            .map(|secs| Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::progress::tests::status;

    #[test]
    fn done_counts_processed_failed_and_dropped() {
        let f = ProgressFields::compute(10_000, &status(4_000, 400, 100, 100.0, 50.0));
        assert_eq!(
            (f.done, f.processed, f.failed, f.dropped),
            (4_500, 4_000, 400, 100)
        );
        assert_eq!(f.remaining, 5_500);
        assert_eq!(f.percent, 45.0);
        assert!(!f.finished);
        assert_eq!(f.elapsed, Duration::from_secs(5));
    }

    #[test]
    fn eta_is_the_rest_at_the_recent_rate() {
        let f = ProgressFields::compute(10_000, &status(4_000, 0, 0, 100.0, 50.0));
        assert_eq!(f.rate, 100.0);
        assert_eq!(f.eta, Some(Duration::from_secs(60)));
    }

    #[test]
    fn eta_falls_back_to_the_overall_rate() {
        let f = ProgressFields::compute(10_000, &status(4_000, 0, 0, 0.0, 50.0));
        assert_eq!(f.rate, 50.0);
        assert_eq!(f.eta, Some(Duration::from_secs(120)));
        let f = ProgressFields::compute(10_000, &status(4_000, 0, 0, f64::NAN, 50.0));
        assert_eq!(f.rate, 50.0);
    }

    #[test]
    fn no_eta_without_a_rate() {
        let f = ProgressFields::compute(10_000, &status(4_000, 0, 0, 0.0, 0.0));
        assert_eq!(f.rate, 0.0);
        assert_eq!(f.eta, None);
        assert!(f.text(None).contains("ETA -"), "{}", f.text(None));
    }

    #[test]
    fn a_total_of_zero_is_done_at_once() {
        let f = ProgressFields::compute(0, &status(0, 0, 0, 0.0, 0.0));
        assert_eq!(
            (f.percent, f.remaining, f.eta, f.finished),
            (100.0, 0, None, true)
        );
        assert!(f.html(None).contains("value=\"1\" max=\"1\""));
        assert!(f.text(None).contains("100.0%  0/0"), "{}", f.text(None));
    }

    #[test]
    fn more_than_total_is_capped() {
        let f = ProgressFields::compute(100, &status(150, 0, 0, 10.0, 10.0));
        assert_eq!((f.done, f.remaining, f.percent), (150, 0, 100.0));
        assert!(f.finished);
        assert_eq!(f.eta, None);
        assert!(f.html(None).contains("value=\"100\" max=\"100\""));
    }

    #[test]
    fn almost_done_does_not_show_as_done() {
        let f = ProgressFields::compute(10_000, &status(9_999, 0, 0, 10.0, 10.0));
        assert_eq!(f.shown_percent(), 99.9);
        assert!(f.text(None).contains(" 99.9%  9,999/10,000"));
    }

    #[test]
    fn the_text_part_reads_like_a_progress_line() {
        let f = ProgressFields::compute(10_000, &status(4_500, 0, 0, 1_200.0, 900.0));
        assert_eq!(
            f.text(None),
            "progress   45.0%  4,500/10,000  1.2k/s  ETA 5s"
        );
        let f = ProgressFields::compute(10_000, &status(4_000, 500, 0, 1_200.0, 900.0));
        assert_eq!(
            f.text(Some("tweets")),
            "progress   tweets  45.0%  4,500/10,000  1.2k/s  ETA 5s  500 failed"
        );
        let f = ProgressFields::compute(10, &status(10, 0, 0, 2.0, 2.0));
        assert_eq!(f.text(None), "progress   100.0%  10/10  2.0/s  done");
    }

    #[test]
    fn the_html_part_escapes_the_message() {
        let f = ProgressFields::compute(10_000, &status(4_500, 0, 0, 1_200.0, 900.0));
        let html = f.html(Some("<b>&\"'"));
        assert!(html.contains("&lt;b&gt;&amp;&quot;&#39;"), "{html}");
        assert!(!html.contains("<b>&\"'"));
        assert!(html.contains("<progress value=\"4500\" max=\"10000\""));
    }
}
