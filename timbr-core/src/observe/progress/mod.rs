//! The progress plugin: percent done, rate and ETA when the number of data is known, and an
//! `indicatif` progress bar in a terminal.
//!
//! The plugin and its hooks are here; the numbers it adds to a status ([`ProgressFields`])
//! are in `fields.rs`, the terminal bar in `bar.rs`.

use indicatif::{ProgressBar, ProgressDrawTarget};
use parking_lot::Mutex;
use serde::Deserialize;

use crate::{observe::DisplayPart, Status, StatusPlugin};

mod bar;
mod fields;

pub use self::fields::ProgressFields;

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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::{
        datum::Timestamp,
        observe::{ErrorCounts, QueueStatus, Rates, SinkReport},
        Counts, MachineState,
    };

    /// A running machine's status with these counts and rates, 5 s after its start.
    pub(super) fn status(
        processed: u64,
        failed: u64,
        dropped: u64,
        recent: f64,
        overall: f64,
    ) -> Status {
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
            queue: QueueStatus::new(queued, Some(10)),
            rate: Rates {
                recent,
                overall,
                window: Duration::from_secs(10),
            },
            current: Vec::new(),
            workers: 1,
            last_oid: None,
            stages: Vec::new(),
            source: None,
            sink: SinkReport {
                description: "null".to_owned(),
                errors: 0,
            },
            errors: ErrorCounts::default(),
            last_error: None,
            failures: Default::default(),
            events: BTreeMap::new(),
            plugins: BTreeMap::new(),
            plugin_counters: BTreeMap::new(),
            parts: Vec::new(),
        }
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
}
