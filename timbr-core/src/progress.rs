//! The progress plugin: percent done, rate and ETA when the number of data is known, and an
//! `indicatif` progress bar in a terminal.

use std::fmt::Write as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::render::{escape_html, human_count, human_rate, human_secs, labelled};
use crate::status::secs;
use crate::{DisplayPart, Status, StatusPlugin};

/// The bar's layout: `[=====>    ] 4,500/10,000 45%  1.2k/s  ETA 4s`.
const BAR_TEMPLATE: &str = "{prefix}[{bar:30}] {human_pos}/{human_len} {percent:>3}%  {msg}";

/// A [`StatusPlugin`] for when the number of data is known: how much is done, at what rate,
/// and when it will be finished; in a terminal, an [`indicatif`] progress bar on stderr.
///
/// A datum is **done** once it has reached the end of the machine: processed, failed, or
/// dropped by a source's drop policy (a dropped datum will never be processed, so waiting
/// for it would never end). Data handed back by a stop, or still queued, are not done.
///
/// Its fields (under `"progress"` in [`Status::plugins`]) are a [`ProgressFields`]; its
/// display part is one line such as
/// `progress   45.0%  4,500/10,000  1.2k/s  ETA 4s`.
///
/// The bar is drawn only when stderr is a terminal (and `TERM` is not `dumb`): piped or
/// redirected, nothing is drawn and no bar is even made. When the machine stops, the bar
/// stays on screen at its final position, with `done` or `stopped` after it.
///
/// # Examples
///
/// ```
/// use timbr_core::{Progress, StatusPlugin};
///
/// let progress = Progress::new(10_000).bar(false).message("tweets");
/// assert_eq!(progress.name(), "progress");
/// assert_eq!(progress.total(), 10_000);
/// ```
pub struct Progress {
    total: u64,
    bar: bool,
    message: Option<String>,
    /// The terminal bar, between `started` and `stopped`, if one is drawn.
    drawn: Mutex<Option<ProgressBar>>,
}

impl Progress {
    /// Follows a machine that will see `total` data, with a terminal bar.
    pub fn new(total: u64) -> Self {
        Progress {
            total,
            bar: true,
            message: None,
            drawn: Mutex::new(None),
        }
    }

    /// Whether to draw a progress bar on stderr when it is a terminal (default `true`).
    pub fn bar(mut self, bar: bool) -> Self {
        self.bar = bar;
        self
    }

    /// A label shown before the numbers, in the bar and in the display part.
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// The number of data expected.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The numbers for `status`.
    pub fn compute(&self, status: &Status) -> ProgressFields {
        ProgressFields::compute(self.total, status)
    }

    /// Makes the bar on `target`, unless nothing would be drawn there.
    fn start_on(&self, target: ProgressDrawTarget, status: &Status) {
        if target.is_hidden() {
            // Not a terminal: nothing would be drawn, so nothing is made.
            return;
        }
        let style = ProgressStyle::with_template(BAR_TEMPLATE)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let prefix = match &self.message {
            Some(m) => format!("{m} "),
            None => String::new(),
        };
        let bar = ProgressBar::with_draw_target(Some(self.total), target)
            .with_style(style)
            .with_prefix(prefix);
        self.update(&bar, &self.compute(status), status.uptime);
        // A bar left from an earlier run is dropped, which clears it.
        *self.drawn.lock() = Some(bar);
    }

    /// Brings the bar (if one is drawn) up to date with `fields`.
    fn update(&self, bar: &ProgressBar, fields: &ProgressFields, uptime: Duration) {
        bar.set_length(fields.total);
        bar.set_position(fields.done.min(fields.total));
        bar.set_elapsed(uptime);
        bar.set_message(fields.bar_message(true));
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("total", &self.total)
            .field("bar", &self.bar)
            .field("message", &self.message)
            .field("drawing", &self.drawn.lock().is_some())
            .finish()
    }
}

impl StatusPlugin for Progress {
    fn name(&self) -> &str {
        "progress"
    }

    fn fields(&self, status: &Status) -> serde_json::Value {
        serde_json::to_value(self.compute(status)).unwrap_or(serde_json::Value::Null)
    }

    fn part(&self, status: &Status, fields: &serde_json::Value) -> Option<DisplayPart> {
        let fields = ProgressFields::deserialize(fields).unwrap_or_else(|_| self.compute(status));
        Some(DisplayPart {
            plugin: self.name().to_owned(),
            text: fields.text(self.message.as_deref()),
            html: fields.html(self.message.as_deref()),
        })
    }

    fn started(&self, status: &Status) {
        if self.bar {
            self.start_on(ProgressDrawTarget::stderr(), status);
        }
    }

    fn tick(&self, status: &Status) {
        if let Some(bar) = &*self.drawn.lock() {
            self.update(bar, &self.compute(status), status.uptime);
        }
    }

    fn stopped(&self, status: &Status) {
        if let Some(bar) = self.drawn.lock().take() {
            let fields = self.compute(status);
            self.update(&bar, &fields, status.uptime);
            let end = if fields.finished { "done" } else { "stopped" };
            let message = format!("{}  {end}", fields.bar_message(false));
            // Leave the bar where it is: the final table printed after it then follows it.
            bar.abandon_with_message(message);
        }
    }
}

/// The progress of a machine towards a known number of data, as [`Progress`] adds it to
/// [`Status::plugins`]: pure numbers computed from a [`Status`].
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
    /// When the rest will be done at the current rate: `None` when finished or when nothing
    /// is moving.
    #[serde(with = "opt_secs")]
    pub eta: Option<Duration>,
    /// Whether `done` reached `total`.
    pub finished: bool,
}

impl ProgressFields {
    /// The progress of the machine of `status` towards `total` data.
    ///
    /// The rate is `status.rate.recent`, or `status.rate.overall` when nothing finished
    /// recently; at 100 data a second with 4,000 of 10,000 done, the ETA is one minute.
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
        let eta = if remaining == 0 || rate == 0.0 {
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

    /// `ETA 4s`, `done`, or `ETA -` when nothing is moving.
    fn eta_text(&self) -> String {
        match self.eta {
            _ if self.finished => "done".to_owned(),
            Some(eta) => format!("ETA {}", human_secs(eta)),
            None => "ETA -".to_owned(),
        }
    }

    /// The bar's message: rate, ETA (while running), failures.
    fn bar_message(&self, running: bool) -> String {
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
    fn text(&self, message: Option<&str>) -> String {
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
    fn html(&self, message: Option<&str>) -> String {
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
    use std::collections::BTreeMap;

    use super::*;
    use crate::{Counts, ErrorCounts, MachineState, QueueStatus, Rates, SinkReport, Timestamp};

    fn status(processed: u64, failed: u64, dropped: u64, recent: f64, overall: f64) -> Status {
        let queued = 3;
        Status {
            name: "test".to_owned(),
            state: MachineState::Running,
            running: true,
            taken_at: Timestamp::now(),
            started_at: Some(Timestamp::now()),
            uptime: Duration::from_secs(5),
            counts: Counts {
                accepted: processed + failed + dropped + queued,
                processed,
                failed,
                queued,
                dropped,
                ..Counts::default()
            },
            queue: QueueStatus {
                depth: queued,
                capacity: Some(10),
            },
            rate: Rates {
                recent,
                overall,
                window: Duration::from_secs(10),
            },
            current: Vec::new(),
            last_oid: None,
            stages: Vec::new(),
            source: None,
            sink: SinkReport {
                description: "null".to_owned(),
                errors: 0,
            },
            errors: ErrorCounts::default(),
            last_error: None,
            plugins: BTreeMap::new(),
            parts: Vec::new(),
        }
    }

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

    #[test]
    fn fields_round_trip_through_json_with_seconds() {
        let progress = Progress::new(10_000).bar(false);
        let s = status(4_000, 0, 0, 100.0, 50.0);
        let value = progress.fields(&s);
        assert_eq!(value["eta"], serde_json::json!(60.0));
        assert_eq!(value["elapsed"], serde_json::json!(5.0));
        assert_eq!(value["percent"], serde_json::json!(40.0));
        let back: ProgressFields = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(back, progress.compute(&s));

        let none = progress.fields(&status(0, 0, 0, 0.0, 0.0));
        assert_eq!(none["eta"], serde_json::Value::Null);
    }

    #[test]
    fn the_plugin_part_uses_its_fields() {
        let progress = Progress::new(10_000).bar(false).message("tweets");
        let s = status(4_500, 0, 0, 1_200.0, 900.0);
        let part = progress.part(&s, &progress.fields(&s)).unwrap();
        assert_eq!(part.plugin, "progress");
        assert!(
            part.text.starts_with("progress   tweets  45.0%"),
            "{}",
            part.text
        );
        assert!(part.html.contains("<progress"));
        // Fields that are not its own: computed from the status instead.
        let part = progress.part(&s, &serde_json::Value::Null).unwrap();
        assert!(part.text.contains("4,500/10,000"));
    }

    #[test]
    fn without_a_bar_the_hooks_do_nothing() {
        let progress = Progress::new(10).bar(false);
        let s = status(5, 0, 0, 1.0, 1.0);
        progress.started(&s);
        progress.tick(&s);
        assert!(progress.drawn.lock().is_none());
        progress.stopped(&s);
    }

    /// A terminal that keeps what is written to it.
    #[derive(Clone, Debug, Default)]
    struct Screen(std::sync::Arc<Mutex<String>>);

    impl indicatif::TermLike for Screen {
        fn width(&self) -> u16 {
            100
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            let mut screen = self.0.lock();
            screen.push_str(s);
            screen.push('\n');
            Ok(())
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.0.lock().push_str(s);
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            self.0.lock().clear();
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Screen {
        fn shows(&self) -> String {
            self.0.lock().trim_end().to_owned()
        }
    }

    #[test]
    fn a_bar_follows_the_machine_in_a_terminal() {
        let screen = Screen::default();
        let progress = Progress::new(10).message("tweets");
        let target = ProgressDrawTarget::term_like(Box::new(screen.clone()));
        progress.start_on(target, &status(2, 0, 0, 1.0, 1.0));
        assert!(
            screen.shows().starts_with("tweets [======>"),
            "{}",
            screen.shows()
        );
        assert!(
            screen.shows().contains("] 2/10  20%  1.0/s  ETA 8s"),
            "{}",
            screen.shows()
        );

        progress.tick(&status(5, 1, 0, 1.0, 1.0));
        {
            let drawn = progress.drawn.lock();
            let bar = drawn.as_ref().unwrap();
            assert_eq!((bar.position(), bar.length()), (6, Some(10)));
        }
        assert!(
            screen
                .shows()
                .contains("6/10  60%  1.0/s  ETA 4s  1 failed"),
            "{}",
            screen.shows()
        );

        progress.stopped(&status(7, 0, 0, 1.0, 1.0));
        assert!(progress.drawn.lock().is_none());
        assert!(
            screen.shows().ends_with("7/10  70%  1.0/s  stopped"),
            "{}",
            screen.shows()
        );

        progress.start_on(
            ProgressDrawTarget::term_like(Box::new(screen.clone())),
            &status(7, 0, 0, 1.0, 1.0),
        );
        progress.stopped(&status(10, 0, 0, 1.0, 1.0));
        assert!(
            screen.shows().ends_with("10/10 100%  1.0/s  done"),
            "{}",
            screen.shows()
        );
    }

    #[test]
    fn no_bar_is_made_where_nothing_would_be_drawn() {
        let progress = Progress::new(10);
        progress.start_on(ProgressDrawTarget::hidden(), &status(2, 0, 0, 1.0, 1.0));
        assert!(progress.drawn.lock().is_none());
    }
}
