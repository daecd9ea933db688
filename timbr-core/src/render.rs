//! How a [`Status`] looks: a plain-text table for terminals (`Display`), an HTML fragment for
//! notebooks ([`Status::to_html`]), and the evcxr Jupyter kernel's display protocol
//! ([`Status::evcxr_display`]).
//!
//! Everything that comes from user data (names, messages, oids, descriptions) is cleaned of
//! control characters in the text table, so that no stage name can move the cursor or paint
//! the terminal, and escaped in HTML.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::time::Duration;

use crate::{MachineState, Status};

/// Stage names (and other names in table cells) longer than this many characters are cut,
/// ending in `…`.
const NAME_WIDTH: usize = 24;
/// The machine's name in the header is cut after this many characters.
const HEADER_NAME_WIDTH: usize = 48;
/// Messages (the last error, a failure reason) are cut after this many characters.
const MESSAGE_WIDTH: usize = 200;
/// The text table's first column (`queue`, `last error`…): its width, the space included.
pub(crate) const LABEL_WIDTH: usize = 11;
/// The text queue bar's width, in characters.
const BAR_WIDTH: usize = 10;
/// How many in-flight data the text table lists before it says `+N more`.
const CURRENT_SHOWN: usize = 4;

/// A line of the text table: `label` padded to the label column, then `content`.
pub(crate) fn labelled(label: &str, content: &str) -> String {
    format!("{label:<width$}{content}", width = LABEL_WIDTH)
}

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

/// A count with thousands separators: `10,000`.
pub(crate) fn human_count(n: u64) -> String {
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

/// `text` made safe for HTML text and attribute values: `&`, `<`, `>`, `"` and `'` become
/// entities. Line breaks become character references too (`&#10;`, which still break a line
/// where `white-space: pre-wrap` applies), so that user data never starts a line of the
/// output: the evcxr protocol is line-based.
pub(crate) fn escape_html(text: &str) -> Cow<'_, str> {
    let special = |c: char| matches!(c, '&' | '<' | '>' | '"' | '\'' | '\n' | '\r');
    if !text.contains(special) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// User data for one line of the terminal: whitespace controls become spaces, other control
/// characters (escape sequences included) `�`; then cut to `max` characters, ending in `…`.
fn fit(text: &str, max: usize) -> Cow<'_, str> {
    let clean = !text.chars().any(char::is_control);
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

/// A latency cell: `-` when nothing was timed.
fn latency_cell(samples: u64, d: Duration) -> String {
    if samples == 0 {
        "-".to_owned()
    } else {
        human_duration(d)
    }
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

/// The name shown for the machine.
fn machine_name(status: &Status) -> &str {
    if status.name.is_empty() {
        "machine"
    } else {
        &status.name
    }
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

        // What the plugins add.
        for part in &self.parts {
            lines.extend(part.text.lines().map(str::to_owned));
        }
        lines
    }

    /// The status as a self-contained HTML fragment: one `<div>` with inline styles, no
    /// scripts and no external CSS, for notebooks and web pages.
    ///
    /// Everything that comes from user data (names, messages, oids, the sink's description)
    /// is escaped; the plugins' [`html`](crate::DisplayPart::html) parts are inserted as
    /// they are (each plugin escapes its own).
    pub fn to_html(&self) -> String {
        let mut h = String::with_capacity(4096);
        let _ = self.write_html(&mut h);
        h
    }

    fn write_html(&self, h: &mut String) -> fmt::Result {
        const TH: &str = "text-align:left;padding:1px 10px 1px 0;font-weight:600;\
                          vertical-align:top;white-space:nowrap";
        const TD: &str = "text-align:left;padding:1px 10px 1px 0;vertical-align:top";
        const NUM: &str = "text-align:right;padding:1px 0 1px 12px;white-space:nowrap";
        const MUTED: &str = "opacity:0.65";

        writeln!(
            h,
            "<div class=\"timbr-status\" style=\"font-family:ui-monospace,SFMono-Regular,Menlo,\
             Consolas,monospace;font-size:12px;line-height:1.45\">"
        )?;

        // Header.
        let (bg, fg) = state_colors(&self.state);
        write!(
            h,
            "<div style=\"margin-bottom:4px\"><b>{}</b> <span style=\"background:{bg};\
             color:{fg};padding:0 6px;border-radius:3px\">{}</span>",
            escape_html(machine_name(self)),
            escape_html(&self.state.to_string())
        )?;
        if let Some(started) = self.started_at {
            write!(
                h,
                " <span style=\"{MUTED}\">up {} · started {}</span>",
                human_span(self.uptime),
                started
            )?;
        }
        writeln!(h, "</div>")?;

        // Key/value table.
        writeln!(
            h,
            "<table style=\"border-collapse:collapse;margin-bottom:6px\">"
        )?;
        let row = |h: &mut String, key: &str, value: &str| {
            writeln!(
                h,
                "<tr><th style=\"{TH}\">{key}</th><td style=\"{TD}\">{value}</td></tr>"
            )
        };
        let c = &self.counts;
        let counts = [
            ("accepted", c.accepted),
            ("processed", c.processed),
            ("failed", c.failed),
            ("queued", c.queued),
            ("in-flight", c.in_flight),
            ("dropped", c.dropped),
            ("returned", c.returned),
            ("rejected", c.rejected),
        ]
        .iter()
        .map(|(k, v)| format!("{k} <b>{}</b>", human_count(*v)))
        .collect::<Vec<_>>()
        .join(" · ");
        row(h, "counts", &counts)?;

        let q = &self.queue;
        let queue = match (q.capacity, q.fill()) {
            (Some(cap), Some(fill)) => format!(
                "{}/{} ({:.1}%) <span style=\"display:inline-block;width:120px;height:8px;\
                 background:#d0d7de;border-radius:2px;vertical-align:middle\"><span \
                 style=\"display:block;width:{:.1}%;height:100%;background:{};\
                 border-radius:2px\"></span></span>",
                human_count(q.depth),
                human_count(cap as u64),
                fill * 100.0,
                fill.clamp(0.0, 1.0) * 100.0,
                if fill >= 0.9 { "#cf222e" } else { "#0969da" }
            ),
            (Some(cap), None) => format!("{}/{}", human_count(q.depth), human_count(cap as u64)),
            (None, _) => format!("{} (unbounded)", human_count(q.depth)),
        };
        row(h, "queue", &queue)?;
        let rate = format!(
            "{} recent ({}) · {} overall",
            human_rate(self.rate.recent),
            human_span_short(self.rate.window),
            human_rate(self.rate.overall)
        );
        row(h, "rate", &rate)?;

        let current = if self.current.is_empty() {
            "none".to_owned()
        } else {
            self.current
                .iter()
                .map(|d| {
                    format!(
                        "<span title=\"worker {}, since {}\">{}</span> {}",
                        d.worker,
                        d.started_at,
                        escape_html(&d.oid),
                        human_duration(d.elapsed)
                    )
                })
                .collect::<Vec<_>>()
                .join("<br>")
        };
        row(h, "current", &current)?;
        if let Some(last) = &self.last_oid {
            row(h, "last oid", &escape_html(last))?;
        }

        if let Some(source) = &self.source {
            let source = format!(
                "{} · produced {}",
                escape_html(&source.state.to_string()),
                human_count(source.produced)
            );
            row(h, "source", &source)?;
        }
        let sink = format!(
            "{} · errors {}",
            escape_html(&self.sink.description),
            human_count(self.sink.errors)
        );
        row(h, "sink", &sink)?;

        let e = &self.errors;
        let errors = [
            ("stage", e.stage),
            ("serialization", e.serialization),
            ("sink", e.sink),
            ("source", e.source),
            ("handler", e.handler),
        ]
        .iter()
        .map(|(k, v)| format!("{k} <b>{}</b>", human_count(*v)))
        .collect::<Vec<_>>()
        .join(" · ");
        row(h, "errors", &errors)?;

        if let Some(err) = &self.last_error {
            let mut what = format!("<b>{}</b>", err.kind);
            if let Some(stage) = &err.stage {
                write!(what, " {}", escape_html(stage))?;
            }
            if let Some(slot) = err.slot {
                write!(what, " (slot {slot})")?;
            }
            if let Some(oid) = &err.oid {
                write!(what, " · oid {}", escape_html(oid))?;
            }
            write!(
                what,
                " · {}<div style=\"white-space:pre-wrap;color:#cf222e\">{}</div>",
                err.at,
                escape_html(&err.message)
            )?;
            row(h, "last error", &what)?;
        }
        writeln!(h, "</table>")?;

        // Stage table.
        if !self.stages.is_empty() {
            writeln!(
                h,
                "<table style=\"border-collapse:collapse;margin-bottom:6px\">"
            )?;
            write!(h, "<tr style=\"border-bottom:1px solid #d0d7de\">")?;
            write!(h, "<th style=\"{NUM}\">slot</th>")?;
            write!(
                h,
                "<th style=\"text-align:left;padding:1px 0 1px 12px\">stage</th>"
            )?;
            for name in ["calls", "errors", "skipped", "mean", "p50", "p99", "max"] {
                write!(h, "<th style=\"{NUM}\">{name}</th>")?;
            }
            writeln!(h, "</tr>")?;
            for s in &self.stages {
                let l = &s.latency;
                let error_style = if s.errors > 0 { ";color:#cf222e" } else { "" };
                write!(
                    h,
                    "<tr><td style=\"{NUM}\">{}</td><td style=\"text-align:left;\
                     padding:1px 0 1px 12px\">{}</td>",
                    s.slot,
                    escape_html(&s.name)
                )?;
                write!(h, "<td style=\"{NUM}\">{}</td>", human_count(s.calls))?;
                write!(
                    h,
                    "<td style=\"{NUM}{error_style}\">{}</td>",
                    human_count(s.errors)
                )?;
                write!(h, "<td style=\"{NUM}\">{}</td>", human_count(s.skipped))?;
                for d in [l.mean, l.p50, l.p99, l.max] {
                    write!(h, "<td style=\"{NUM}\">{}</td>", latency_cell(l.samples, d))?;
                }
                writeln!(h, "</tr>")?;
            }
            writeln!(h, "</table>")?;
        }

        // What the plugins add.
        for part in &self.parts {
            writeln!(h, "<div style=\"margin-top:2px\">{}</div>", part.html)?;
        }
        write!(h, "</div>")
    }

    /// The status as the evcxr Jupyter kernel reads it from stdout:
    /// `EVCXR_BEGIN_CONTENT text/html`, the [`to_html`](Status::to_html) fragment, and
    /// `EVCXR_END_CONTENT`, one per line (without a final line break).
    pub fn html_for_evcxr(&self) -> String {
        format!(
            "EVCXR_BEGIN_CONTENT text/html\n{}\nEVCXR_END_CONTENT",
            self.to_html()
        )
    }

    /// Shows the status as HTML in an evcxr Jupyter notebook: prints
    /// [`html_for_evcxr`](Status::html_for_evcxr) to stdout in one write.
    ///
    /// evcxr calls this method by name when a cell's value is a `Status`, so ending a cell
    /// with `machine.status()` renders the table.
    pub fn evcxr_display(&self) {
        let text = self.html_for_evcxr();
        let mut out = std::io::stdout().lock();
        // Nothing to do if stdout is closed: the display is a courtesy.
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }
}

/// A short span for a window: `10s` for whole seconds, else as [`human_duration`].
fn human_span_short(d: Duration) -> String {
    if d.subsec_nanos() == 0 && d.as_secs() > 0 {
        clock(d.as_secs())
    } else {
        human_duration(d)
    }
}

/// The state badge's background and text colors.
fn state_colors(state: &MachineState) -> (&'static str, &'static str) {
    match state {
        MachineState::Running => ("#1a7f37", "#ffffff"),
        MachineState::Stopping => ("#bf8700", "#ffffff"),
        MachineState::Completed => ("#0969da", "#ffffff"),
        MachineState::Failed(_) => ("#cf222e", "#ffffff"),
        MachineState::Idle | MachineState::Stopped => ("#6e7781", "#ffffff"),
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

    #[test]
    fn escape_html_escapes_the_five_and_line_breaks() {
        assert!(matches!(escape_html("plain text"), Cow::Borrowed(_)));
        assert_eq!(
            escape_html(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
        assert_eq!(escape_html("a\nb\r"), "a&#10;b&#13;");
        assert_eq!(escape_html("µ → ü"), "µ → ü");
    }

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
