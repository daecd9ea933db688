//! How a kept failure looks: a short text report (`Display` for [`Kept`]), a readable `Debug`,
//! and HTML for notebooks ([`Failure::to_html`], [`Kept::to_html`], and the evcxr kernel's
//! display protocol), user data escaped as in the status.

use std::backtrace::BacktraceStatus;
use std::fmt::{self, Write as _};

use super::{escape_html, evcxr_print};
use crate::{Event, Failure, Kept, Serialized};

/// How much of the failing datum's JSON the displays show.
const DATUM_WIDTH: usize = 300;

/// The failing datum's JSON, if the run serialized it, cut to [`DATUM_WIDTH`] characters.
fn datum_json(failure: &Failure) -> Option<String> {
    let json = failure.value::<Serialized>("in_s")?;
    let mut shown: String = json.chars().take(DATUM_WIDTH).collect();
    if shown.len() < json.len() {
        shown.push('…');
    }
    Some(shown)
}

impl Failure {
    /// The failure as a self-contained HTML fragment: the stage, the datum's oid and JSON,
    /// the time, and the error chain, all escaped.
    pub fn to_html(&self) -> String {
        let mut h = String::with_capacity(1024);
        let _ = self.write_html(&mut h);
        h
    }

    fn write_html(&self, h: &mut String) -> fmt::Result {
        const TH: &str = "text-align:left;padding:1px 10px 1px 0;font-weight:600;\
                          vertical-align:top;white-space:nowrap";
        const TD: &str = "text-align:left;padding:1px 10px 1px 0;vertical-align:top;\
                          white-space:pre-wrap";
        writeln!(
            h,
            "<div class=\"timbr-failure\" style=\"font-family:ui-monospace,SFMono-Regular,\
             Menlo,Consolas,monospace;font-size:12px;line-height:1.45\">"
        )?;
        writeln!(
            h,
            "<div style=\"margin-bottom:4px\"><span style=\"background:#cf222e;color:#ffffff;\
             padding:0 6px;border-radius:3px\">failed</span> stage <b>{}</b> (f{})</div>",
            escape_html(self.stage()),
            self.slot()
        )?;
        writeln!(h, "<table style=\"border-collapse:collapse\">")?;
        let mut row = |label: &str, value: &str| {
            writeln!(
                h,
                "<tr><th style=\"{TH}\">{label}</th><td style=\"{TD}\">{}</td></tr>",
                escape_html(value)
            )
        };
        row("oid", &self.oid().to_hex())?;
        row("at", &self.at().to_rfc3339())?;
        if let Some(datum) = datum_json(self) {
            row("datum", &datum)?;
        }
        for (i, cause) in self.chain().iter().enumerate() {
            row(if i == 0 { "error" } else { "caused by" }, cause)?;
        }
        writeln!(h, "</table>")?;
        write!(h, "</div>")
    }

    /// The failure as the evcxr Jupyter kernel reads it from stdout: the
    /// [`to_html`](Failure::to_html) fragment between the kernel's content markers.
    pub fn evcxr_display(&self) {
        evcxr_print(&self.to_html());
    }
}

impl Kept {
    /// What was kept as a self-contained HTML fragment: the failure (see
    /// [`Failure::to_html`]) or the event, and how to look closer; all user data escaped.
    pub fn to_html(&self) -> String {
        let hint = match self.failure() {
            Some(_) => "kept.failure().unwrap().replay() reruns the stage on this thread",
            None => "the event that stopped the machine",
        };
        let body = match self.failure() {
            Some(failure) => failure.to_html(),
            None => format!(
                "<div class=\"timbr-event\" style=\"font-family:ui-monospace,monospace;\
                 font-size:12px\">{}</div>",
                escape_html(&self.event.to_string())
            ),
        };
        format!(
            "<div class=\"timbr-kept\">{body}<div style=\"opacity:0.65;font-family:\
             ui-monospace,monospace;font-size:11px\">kept: {}</div></div>",
            escape_html(hint)
        )
    }

    /// Shows what was kept as HTML in an evcxr Jupyter notebook (evcxr calls this method by
    /// name when a cell's value is a `Kept`).
    pub fn evcxr_display(&self) {
        evcxr_print(&self.to_html());
    }
}

/// A short report: what stopped the machine, on which datum, when, and the error chain.
impl fmt::Display for Kept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(failure) = self.failure() else {
            return write!(f, "kept: {}", self.event);
        };
        writeln!(f, "kept: {failure}")?;
        write!(f, "  at        {}", failure.at())?;
        if let Some(datum) = datum_json(failure) {
            write!(f, "\n  datum     {datum}")?;
        }
        for cause in failure.chain().iter().skip(1) {
            write!(f, "\n  caused by {cause}")?;
        }
        write!(f, "\n  replay    kept.failure().unwrap().replay()")
    }
}

/// Readable: the event (a failure with its oid in hex and its time in RFC 3339) and whether
/// a backtrace was captured; its frames are in [`Kept::backtrace`].
impl fmt::Debug for Kept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backtrace = match self.backtrace.status() {
            BacktraceStatus::Captured => "captured (print `kept.backtrace`)",
            BacktraceStatus::Disabled => "disabled (set RUST_BACKTRACE=1)",
            _ => "unsupported",
        };
        let event: &dyn fmt::Debug = match &self.event {
            Event::StageFailed(failure) => failure,
            other => other,
        };
        f.debug_struct("Kept")
            .field("event", event)
            .field("backtrace", &format_args!("{backtrace}"))
            .finish()
    }
}
