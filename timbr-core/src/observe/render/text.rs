//! The plain-text table for terminals: `impl Display for Status`.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use super::human::human_span_short;
use super::{
    human_count, human_duration, human_rate, human_span, labelled, latency_cell, machine_name,
};
use crate::Status;

/// Stage names (and other names in table cells) longer than this many characters are cut,
/// ending in `…`.
const NAME_WIDTH: usize = 24;
/// The machine's name in the header is cut after this many characters.
const HEADER_NAME_WIDTH: usize = 48;
/// Messages (the last error, a failure reason) are cut after this many characters.
const MESSAGE_WIDTH: usize = 200;
/// The text queue bar's width, in characters.
const BAR_WIDTH: usize = 10;
/// How many in-flight data the text table lists before it says `+N more`.
const CURRENT_SHOWN: usize = 4;

/// What begins the evcxr kernel's display markers (`EVCXR_BEGIN_CONTENT`,
/// `EVCXR_END_CONTENT`): a notebook prints the table to stdout, which the kernel reads.
const EVCXR_MARKER: &str = "EVCXR_";

/// The marker's prefix, neutralised: a word joiner (U+2060, invisible) after `EVCXR`.
const EVCXR_NEUTRAL: &str = "EVCXR\u{2060}_";

/// User data for one line of the terminal: whitespace controls become spaces, other control
/// characters (escape sequences included) `�`; the evcxr kernel's display markers get an
/// invisible word joiner, so that a stage name or an error message quoting them cannot open
/// or close a display in a notebook (and hang its cell); then cut to `max` characters,
/// ending in `…`.
fn fit(text: &str, max: usize) -> Cow<'_, str> {
    let clean = !text.chars().any(char::is_control) && !text.contains(EVCXR_MARKER);
    if clean && text.chars().count() <= max {
        return Cow::Borrowed(text);
    }
    let mut out: String = text
        .chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            c if c.is_control() => '\u{FFFD}',
            c => c,
        })
        .collect();
    if out.contains(EVCXR_MARKER) {
        out = out.replace(EVCXR_MARKER, EVCXR_NEUTRAL);
    }
    if out.chars().count() > max {
        out = out.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
    }
    Cow::Owned(out)
}

/// An oid shortened for lists: its last 8 hex digits, which differ between data made in the
/// same second (the first 8 are the time).
fn short_oid(oid: &str) -> String {
    let n = oid.chars().count();
    if n <= 9 {
        return fit(oid, 9).into_owned();
    }
    let tail: String = oid.chars().skip(n - 8).collect();
    format!("…{}", fit(&tail, 8))
}

/// The queue bar: `[########..]`.
fn text_bar(fill: f64) -> String {
    let filled = ((fill.clamp(0.0, 1.0) * BAR_WIDTH as f64).round() as usize).min(BAR_WIDTH);
    format!("[{}{}]", "#".repeat(filled), ".".repeat(BAR_WIDTH - filled))
}

/// Pairs laid out in aligned columns, one row per line: labels left, values right-aligned.
fn grid(rows: &[&[(&str, String)]]) -> Vec<String> {
    let columns = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let width = |col: usize, part: fn(&(&str, String)) -> usize| {
        rows.iter()
            .filter_map(|r| r.get(col))
            .map(part)
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<(usize, usize)> = (0..columns)
        .map(|c| {
            (
                width(c, |p| p.0.chars().count()),
                width(c, |p| p.1.chars().count()),
            )
        })
        .collect();
    rows.iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|((label, value), (lw, vw))| format!("{label:<lw$} {value:>vw$}"))
                .collect();
            cells.join("   ")
        })
        .collect()
}

impl Status {
    /// The per-stage table's lines: a header, then one line per stage.
    fn stage_lines(&self) -> Vec<String> {
        const HEADER: [&str; 9] = [
            "slot", "stage", "calls", "errors", "skipped", "mean", "p50", "p99", "max",
        ];
        let mut rows: Vec<[String; 9]> = vec![HEADER.map(str::to_owned)];
        for s in &self.stages {
            let l = &s.latency;
            rows.push([
                s.slot.to_string(),
                fit(&s.name, NAME_WIDTH).into_owned(),
                human_count(s.calls),
                human_count(s.errors),
                human_count(s.skipped),
                latency_cell(l.samples, l.mean),
                latency_cell(l.samples, l.p50),
                latency_cell(l.samples, l.p99),
                latency_cell(l.samples, l.max),
            ]);
        }
        let mut widths = [0; 9];
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        rows.iter()
            .map(|row| {
                let mut line = String::new();
                for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
                    if i > 0 {
                        line.push_str("  ");
                    }
                    if i == 1 {
                        // The stage column is text: left-aligned.
                        let _ = write!(line, "{cell:<w$}");
                    } else {
                        let _ = write!(line, "{cell:>w$}");
                    }
                }
                line.trim_end().to_owned()
            })
            .collect()
    }

    /// The text table's lines.
    fn text_lines(&self) -> Vec<String> {
        let mut lines = Vec::with_capacity(16);
        self.head_lines(&mut lines);
        self.flow_lines(&mut lines);
        // The stages.
        if !self.stages.is_empty() {
            for (i, line) in self.stage_lines().iter().enumerate() {
                lines.push(labelled(if i == 0 { "stages" } else { "" }, line));
            }
        }

        // Source and sink.
        if let Some(source) = &self.source {
            let state = fit(&source.state.to_string(), MESSAGE_WIDTH).into_owned();
            let produced = human_count(source.produced);
            lines.push(labelled("source", &format!("{state}  produced {produced}")));
        }
        let sink = format!(
            "{}  errors {}",
            fit(&self.sink.description, MESSAGE_WIDTH),
            human_count(self.sink.errors)
        );
        lines.push(labelled("sink", &sink));

        self.error_lines(&mut lines);

        // What the plugins add (their own text, but it may quote user data: no markers).
        for part in &self.parts {
            lines.extend(
                part.text
                    .lines()
                    .map(|l| l.replace(EVCXR_MARKER, EVCXR_NEUTRAL)),
            );
        }
        lines
    }

    /// The header (name, state, uptime, start) and where every datum is.
    fn head_lines(&self, lines: &mut Vec<String>) {
        // Header: name, state, uptime, start.
        let mut head = format!(
            "{}  {}",
            fit(machine_name(self), HEADER_NAME_WIDTH),
            fit(&self.state.to_string(), MESSAGE_WIDTH)
        );
        if let Some(started) = self.started_at {
            let _ = write!(head, "  up {}  started {started}", human_span(self.uptime));
        }
        lines.push(labelled("machine", &head));

        // Where every datum is.
        let c = &self.counts;
        let counts = grid(&[
            &[
                ("accepted", human_count(c.accepted)),
                ("processed", human_count(c.processed)),
                ("failed", human_count(c.failed)),
                ("dropped", human_count(c.dropped)),
            ],
            &[
                ("queued", human_count(c.queued)),
                ("in-flight", human_count(c.in_flight)),
                ("returned", human_count(c.returned)),
                ("rejected", human_count(c.rejected)),
            ],
        ]);
        for (i, line) in counts.iter().enumerate() {
            lines.push(labelled(if i == 0 { "counts" } else { "" }, line));
        }
    }

    /// The queue and the rate, and what is being processed now.
    fn flow_lines(&self, lines: &mut Vec<String>) {
        // The queue and the rate.
        let q = &self.queue;
        let mut queue = match (q.capacity, q.fill()) {
            (Some(cap), Some(fill)) => format!(
                "{}/{}  {:.1}% {}",
                human_count(q.depth),
                human_count(cap as u64),
                fill * 100.0,
                text_bar(fill)
            ),
            (Some(cap), None) => format!("{}/{}", human_count(q.depth), human_count(cap as u64)),
            (None, _) => format!("{} (unbounded)", human_count(q.depth)),
        };
        let _ = write!(
            queue,
            "  rate {} recent ({}), {} overall",
            human_rate(self.rate.recent),
            human_span_short(self.rate.window),
            human_rate(self.rate.overall)
        );
        lines.push(labelled("queue", &queue));

        // What is being processed now.
        let mut current = if self.current.is_empty() {
            "none".to_owned()
        } else {
            let mut shown: Vec<String> = self
                .current
                .iter()
                .take(CURRENT_SHOWN)
                .map(|d| format!("{} {}", short_oid(&d.oid), human_duration(d.elapsed)))
                .collect();
            if self.current.len() > CURRENT_SHOWN {
                shown.push(format!("+{} more", self.current.len() - CURRENT_SHOWN));
            }
            shown.join(", ")
        };
        if let Some(last) = &self.last_oid {
            let _ = write!(current, "  last {}", fit(last, 32));
        }
        lines.push(labelled("current", &current));
    }

    /// The error counts and the last error.
    fn error_lines(&self, lines: &mut Vec<String>) {
        // Errors.
        let e = &self.errors;
        let errors = format!(
            "stage {}  serialization {}  sink {}  source {}  handler {}",
            human_count(e.stage),
            human_count(e.serialization),
            human_count(e.sink),
            human_count(e.source),
            human_count(e.handler)
        );
        lines.push(labelled("errors", &errors));
        if let Some(err) = &self.last_error {
            let mut what = err.kind.to_string();
            if let Some(stage) = &err.stage {
                let _ = write!(what, "  {}", fit(stage, NAME_WIDTH));
            }
            if let Some(slot) = err.slot {
                let _ = write!(what, " (slot {slot})");
            }
            if let Some(oid) = &err.oid {
                let _ = write!(what, "  oid {}", fit(oid, 32));
            }
            let _ = write!(what, "  at {}", err.at);
            lines.push(labelled("last error", &what));
            lines.push(labelled("", &fit(&err.message, MESSAGE_WIDTH)));
        }
    }
}

/// A readable table for terminals, without colors (clean when piped): the header (name,
/// state, uptime), where every datum is, the queue and the rate, what is in flight, one line
/// per stage, the source, the sink, the errors, and what the status plugins add.
///
/// Long names are cut with `…` and control characters in user data are replaced, so every
/// line stays a line.
impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, line) in self.text_lines().iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            f.write_str(line)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_cuts_long_names_and_replaces_controls() {
        assert!(matches!(fit("short", 24), Cow::Borrowed("short")));
        let long = "é".repeat(30);
        let cut = fit(&long, 24);
        assert_eq!(cut.chars().count(), 24);
        assert!(cut.ends_with('…'));
        assert_eq!(fit("a\nb\tc\x1b[31m", 24), "a b c\u{FFFD}[31m");
    }

    #[test]
    fn fit_neutralises_the_evcxr_markers() {
        let fitted = fit("EVCXR_END_CONTENT", 24);
        assert_eq!(fitted, "EVCXR\u{2060}_END_CONTENT");
        assert!(!fitted.contains("EVCXR_"));
    }

    #[test]
    fn short_oids_keep_the_distinguishing_end() {
        assert_eq!(short_oid("65f1a2b3c4d5e6f7a8b9c0d1"), "…a8b9c0d1");
        assert_eq!(short_oid("abc"), "abc");
    }

    #[test]
    fn grids_align_labels_and_values() {
        let lines = grid(&[
            &[("a", "1".to_owned()), ("bb", "22".to_owned())],
            &[("ccc", "333".to_owned()), ("d", "4".to_owned())],
        ]);
        assert_eq!(lines, ["a     1   bb 22", "ccc 333   d   4"]);
    }

    #[test]
    fn text_bars_fill_proportionally() {
        assert_eq!(text_bar(0.0), "[..........]");
        assert_eq!(text_bar(0.8), "[########..]");
        assert_eq!(text_bar(1.7), "[##########]");
        assert_eq!(text_bar(f64::NAN), "[..........]");
    }
}
