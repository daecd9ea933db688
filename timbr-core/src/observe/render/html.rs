//! The HTML fragment for notebooks and web pages ([`Status::to_html`]) and the evcxr Jupyter
//! kernel's display protocol ([`Status::evcxr_display`]).

use std::fmt::{self, Write as _};
use std::io::Write as _;

use super::human::human_span_short;
use super::{
    escape_html, human_count, human_duration, human_rate, human_span, latency_cell, machine_name,
};
use crate::observe::ErrorReport;
use crate::{MachineState, Status};

const TH: &str = "text-align:left;padding:1px 10px 1px 0;font-weight:600;\
                  vertical-align:top;white-space:nowrap";
const TD: &str = "text-align:left;padding:1px 10px 1px 0;vertical-align:top";
const NUM: &str = "text-align:right;padding:1px 0 1px 12px;white-space:nowrap";
const MUTED: &str = "opacity:0.65";

impl Status {
    /// The status as a self-contained HTML fragment: one `<div>` with inline styles, no
    /// scripts and no external CSS, for notebooks and web pages.
    ///
    /// Everything that comes from user data (names, messages, oids, the sink's description)
    /// is escaped; the plugins' [`html`](crate::observe::DisplayPart::html) parts are inserted as
    /// they are (each plugin escapes its own).
    pub fn to_html(&self) -> String {
        let mut h = String::with_capacity(4096);
        let _ = self.write_html(&mut h);
        h
    }

    fn write_html(&self, h: &mut String) -> fmt::Result {
        writeln!(
            h,
            "<div class=\"timbr-status\" style=\"font-family:ui-monospace,SFMono-Regular,Menlo,\
             Consolas,monospace;font-size:12px;line-height:1.45\">"
        )?;

        self.write_html_header(h)?;
        self.write_html_summary(h)?;
        self.write_html_stages(h)?;

        // What the plugins add.
        for part in &self.parts {
            writeln!(h, "<div style=\"margin-top:2px\">{}</div>", part.html)?;
        }
        write!(h, "</div>")
    }

    /// The header: the name, the state's badge, the uptime.
    fn write_html_header(&self, h: &mut String) -> fmt::Result {
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
        Ok(())
    }

    /// The key/value table: counts, queue, rate, data in flight, source, sink, errors.
    fn write_html_summary(&self, h: &mut String) -> fmt::Result {
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

        row(h, "queue", &self.html_queue())?;
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
            row(h, "last error", &html_last_error(err)?)?;
        }
        writeln!(h, "</table>")?;
        Ok(())
    }

    /// The queue's depth, with a fill bar when it is bounded.
    fn html_queue(&self) -> String {
        let q = &self.queue;
        match (q.capacity, q.fill()) {
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
        }
    }

    /// One row per stage: calls, errors, skips and latency.
    fn write_html_stages(&self, h: &mut String) -> fmt::Result {
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
        Ok(())
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

/// The last error: its kind, stage, slot and oid, the time, and the message.
fn html_last_error(err: &ErrorReport) -> Result<String, fmt::Error> {
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
    Ok(what)
}
