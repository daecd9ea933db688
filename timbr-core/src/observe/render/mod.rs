//! How a [`Status`] looks: a plain-text table for terminals (`Display`, in `text.rs`), an HTML
//! fragment for notebooks ([`Status::to_html`], in `html.rs`), and the evcxr Jupyter kernel's
//! display protocol ([`Status::evcxr_display`]); `human.rs` writes durations, rates and counts
//! for people. `kept.rs` does the same for a failure a debugger kept
//! ([`Kept`](crate::Kept), [`Failure`](crate::Failure)).
//!
//! Everything that comes from user data (names, messages, oids, descriptions) is cleaned of
//! control characters in the text table, so that no stage name can move the cursor or paint
//! the terminal, and escaped in HTML.
//!
//! What other modules use (status plugins such as [`Progress`](crate::Progress) write their
//! own display parts with them) is re-exported here: `crate::render::{escape_html, labelled,
//! human_count, …}`.

use std::borrow::Cow;
use std::time::Duration;

use crate::Status;

mod html;
mod human;
mod kept;
mod text;

pub use self::human::human_count;
pub(crate) use self::human::{human_duration, human_rate, human_secs, human_span};

/// The text table's first column (`queue`, `last error`…): its width, the space included.
pub(crate) const LABEL_WIDTH: usize = 11;

/// A line of the text table: `label` padded to the label column, then `content`.
pub(crate) fn labelled(label: &str, content: &str) -> String {
    format!("{label:<width$}{content}", width = LABEL_WIDTH)
}

/// `text` made safe for HTML text and attribute values: `&`, `<`, `>`, `"` and `'` become
/// entities. Line breaks become character references too (`&#10;`, which still break a line
/// where `white-space: pre-wrap` applies), so that user data never starts a line of the
/// output: the evcxr protocol is line-based. Status plugins escape what they put in their
/// [`DisplayPart`](crate::observe::DisplayPart)'s HTML with it.
///
/// # Examples
///
/// ```
/// use timbr_core::observe::escape_html;
///
/// assert_eq!(escape_html("a < b & 'c'"), "a &lt; b &amp; &#39;c&#39;");
/// ```
pub fn escape_html(text: &str) -> Cow<'_, str> {
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

/// Prints `html` for the evcxr Jupyter kernel, which reads it from stdout between its content
/// markers (`EVCXR_BEGIN_CONTENT text/html` and `EVCXR_END_CONTENT`, each on a line of its
/// own), in one write. The fragment must have its user data escaped: [`escape_html`] also
/// turns line breaks into references, so user data never starts a line and cannot end the
/// content early.
pub(crate) fn evcxr_print(html: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    // Nothing to do if stdout is closed: the display is a courtesy.
    let _ = writeln!(
        out,
        "EVCXR_BEGIN_CONTENT text/html\n{html}\nEVCXR_END_CONTENT"
    );
    let _ = out.flush();
}

/// A latency cell: `-` when nothing was timed.
fn latency_cell(samples: u64, d: Duration) -> String {
    if samples == 0 {
        "-".to_owned()
    } else {
        human_duration(d)
    }
}

/// The name shown for the machine.
fn machine_name(status: &Status) -> &str {
    if status.name.is_empty() {
        "machine"
    } else {
        &status.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
