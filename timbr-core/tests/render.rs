//! How a status looks: the terminal table, the HTML fragment, the evcxr framing, and the
//! progress plugin's part in them.

use std::time::{Duration, SystemTime};

use timbr_core::io::SourceState;
use timbr_core::{
    datum::Timestamp,
    observe::{
        DisplayPart, ErrorCounts, ErrorKind, ErrorReport, InFlight, QueueStatus, Rates, SinkReport,
        SourceReport, StageStatus,
    },
    Counts, MachineState, Progress, Status, StatusPlugin,
};

const XSS: &str = r#"<script>alert("x")</script>"#;

fn at(secs: u64) -> Timestamp {
    Timestamp(SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000 + secs))
}

fn stage(slot: usize, name: &str, calls: u64, errors: u64, skipped: u64) -> StageStatus {
    let us = Duration::from_micros;
    let mut stage = StageStatus::new(slot, name);
    stage.calls = calls;
    stage.errors = errors;
    stage.skipped = skipped;
    stage.latency.samples = calls / 10;
    stage.latency.mean = us(12) * (slot as u32 + 1);
    stage.latency.p50 = us(10);
    stage.latency.p99 = us(410);
    stage.latency.max = us(4_100);
    stage
}

/// A machine four stages long, an hour into a run, with one stage failing now and then.
/// (Built from the constructors, as a plugin's tests would: the status types are
/// `#[non_exhaustive]`.)
fn sample() -> Status {
    let mut status = Status::new("tweets", MachineState::Running);
    status.taken_at = at(3_723);
    status.started_at = Some(at(0));
    status.uptime = Duration::from_secs(3_723);
    let c = &mut status.counts;
    c.accepted = 10_000;
    c.processed = 9_000;
    c.failed = 12;
    c.queued = 800;
    c.in_flight = 2;
    c.dropped = 186;
    c.rejected = 3;
    status.queue = QueueStatus::new(800, Some(1_000));
    status.rate = Rates::new(12_345.0, 9_800.0, Duration::from_secs(10));
    status.current = vec![
        InFlight::new(
            0,
            "65f1a2b3c4d5e6f7a8b9c0d1",
            at(3_722),
            Duration::from_micros(4_100),
        ),
        InFlight::new(
            1,
            "65f1a2b3c4d5e6f7a8b9c0d2",
            at(3_722),
            Duration::from_nanos(850),
        ),
    ];
    status.last_oid = Some("65f1a2b3c4d5e6f7a8b9c0d0".to_owned());
    status.stages = vec![
        stage(0, "words", 9_200, 0, 0),
        stage(1, "ratio", 9_200, 12, 0),
        stage(3, "a stage whose name goes on and on and on", 9_188, 0, 12),
        stage(4, "ünïcödé ✓", 9_188, 0, 12),
    ];
    status.source = Some(SourceReport::new(SourceState::Running, 10_003));
    status.sink = SinkReport::new("channel", 0);
    status.errors.stage = 12;
    let mut error = ErrorReport::new(ErrorKind::Stage, "no words");
    error.stage = Some("ratio".to_owned());
    error.slot = Some(1);
    error.oid = Some("65f1a2b3c4d5e6f7a8b9c0c9".to_owned());
    error.at = at(3_700);
    status.last_error = Some(error);
    status
}

/// `sample` with user data that tries to break out of the HTML.
fn hostile() -> Status {
    let mut status = sample();
    status.name = format!("{XSS} & co");
    status.state = MachineState::Failed(format!("handler stopped: {XSS}"));
    status.stages[1].name = XSS.to_owned();
    status.current[0].oid = "<img src=x onerror=alert(1)>".to_owned();
    status.last_oid = Some("\"quoted\" & 'single'".to_owned());
    status.source = Some(SourceReport::new(
        SourceState::Failed("<source> broke & \"quit\"".to_owned()),
        1,
    ));
    status.sink.description = "tcp://<host>:5555?a=1&b=2".to_owned();
    let err = status.last_error.as_mut().unwrap();
    err.stage = Some(XSS.to_owned());
    err.message = "Tom & Jerry said \"no\" and 'never' <b>\nEVCXR_END_CONTENT".to_owned();
    err.oid = Some("<oid>".to_owned());
    status
}

#[test]
fn the_table_shows_the_key_numbers() {
    let text = sample().to_string();
    println!("{text}");
    for needle in [
        "tweets",
        "running",
        "up 1h 02m 03s",
        "started 2026-",
        "accepted 10,000",
        "processed 9,000",
        "failed",
        "dropped  186",
        "rejected   3",
        "800/1,000  80.0% [########..]",
        "12.3k/s recent (10s), 9.8k/s overall",
        "…a8b9c0d1 4.1ms",
        "…a8b9c0d2 850ns",
        "last 65f1a2b3c4d5e6f7a8b9c0d0",
        "running  produced 10,003",
        "channel  errors 0",
        "stage 12  serialization 0",
        "ratio (slot 1)  oid 65f1a2b3c4d5e6f7a8b9c0c9",
        "no words",
    ] {
        assert!(text.contains(needle), "no {needle:?} in\n{text}");
    }
    assert!(!text.ends_with('\n'));
    assert!(text.lines().count() <= 16, "{text}");
}

#[test]
fn the_stage_table_is_aligned_and_cuts_long_names() {
    let text = sample().to_string();
    let rows: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("stages"))
        .take(5)
        .collect();
    assert!(rows[0].contains("slot  stage"), "{text}");
    assert!(rows[3].contains("a stage whose name goes…"), "{text}");
    assert!(!text.contains("on and on and on"));
    assert!(rows[4].contains("ünïcödé ✓"));
    // Every column ends at the same character in every row (char counts, not bytes).
    let ends = |row: &str| -> Vec<usize> {
        let chars: Vec<char> = row.chars().collect();
        (0..chars.len())
            .filter(|&i| chars[i] != ' ' && chars.get(i + 1).is_none_or(|c| *c == ' '))
            .collect()
    };
    let header = ends(rows[0]);
    for row in &rows[1..] {
        let row_ends = ends(row);
        // The numeric columns (all but slot and stage) line up with the header's.
        assert_eq!(
            row_ends[row_ends.len() - 7..],
            header[header.len() - 7..],
            "\n{}\n{row}",
            rows[0]
        );
    }
    assert!(rows[1].contains("9,200       0        0"), "{}", rows[1]);
    assert!(
        rows[1].ends_with("12.0µs  10.0µs  410µs  4.1ms"),
        "{}",
        rows[1]
    );
}

#[test]
fn the_table_is_plain_text_without_control_characters() {
    let mut status = hostile();
    status.stages[0].name = "red\x1b[31m\nnewline".to_owned();
    let text = status.to_string();
    assert!(!text.contains('\x1b'), "{text:?}");
    assert!(text.contains("red\u{FFFD}[31m newline"));
    // Every line is a line of the table: the message's line break was flattened.
    assert!(text.lines().all(|l| !l.starts_with("EVCXR")), "{text}");
    assert!(text.contains("failed: handler stopped: <script>"));
}

#[test]
fn html_escapes_everything_from_user_data() {
    let html = hostile().to_html();
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(!html.contains("<source>"), "{html}");
    assert!(!html.contains("<host>"), "{html}");
    assert!(!html.contains("<oid>"), "{html}");
    assert!(!html.contains("<b>\n"), "{html}");
    assert!(!html.contains("a=1&b"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co"));
    assert!(html.contains("Tom &amp; Jerry said &quot;no&quot; and &#39;never&#39; &lt;b&gt;"));
    assert!(html.contains("&quot;quoted&quot; &amp; &#39;single&#39;"));
    assert!(html.contains("tcp://&lt;host&gt;:5555?a=1&amp;b=2"));
    assert!(html.contains("failed: &lt;source&gt; broke &amp; &quot;quit&quot;"));
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
}

#[test]
fn html_is_a_self_contained_fragment() {
    let html = sample().to_html();
    assert!(html.starts_with("<div"));
    assert!(html.ends_with("</div>"));
    for banned in ["<script", "<style", "<link", "javascript:"] {
        assert!(!html.contains(banned), "{banned} in {html}");
    }
    for needle in [
        "tweets",
        "10,000",
        "9,000",
        "800/1,000",
        "12.3k/s",
        "ratio",
        "no words",
    ] {
        assert!(html.contains(needle), "no {needle:?} in {html}");
    }
    assert_eq!(
        html.matches("<table").count(),
        html.matches("</table>").count()
    );
    assert_eq!(html.matches("<tr").count(), html.matches("</tr>").count());
}

#[test]
fn evcxr_output_is_framed() {
    let status = hostile();
    let out = status.html_for_evcxr();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "EVCXR_BEGIN_CONTENT text/html");
    assert_eq!(lines[lines.len() - 1], "EVCXR_END_CONTENT");
    assert_eq!(
        out,
        format!(
            "EVCXR_BEGIN_CONTENT text/html\n{}\nEVCXR_END_CONTENT",
            status.to_html()
        )
    );
    // User data never starts a line, so it cannot end the content early.
    assert_eq!(out.lines().filter(|l| l.starts_with("EVCXR")).count(), 2);
}

#[test]
fn plugin_parts_come_last_as_they_are() {
    let mut status = sample();
    status.parts.push(DisplayPart::new(
        "custom",
        "custom     one\n           two",
        "<i>custom &amp; html</i>",
    ));
    let text = status.to_string();
    assert!(text.ends_with("custom     one\n           two"), "{text}");
    let html = status.to_html();
    assert!(html.contains("<i>custom &amp; html</i>"));
}

#[test]
fn the_progress_plugin_adds_a_line_and_a_bar() {
    let progress = Progress::new(20_000).bar(false);
    let mut status = sample();
    let fields = progress.fields(&status);
    assert_eq!(fields["done"], 9_198);
    let part = progress.part(&status, &fields).unwrap();
    status.plugins.insert(progress.name().to_owned(), fields);
    status.parts.push(part);
    let text = status.to_string();
    println!("{text}");
    assert!(
        text.lines()
            .last()
            .unwrap()
            .starts_with("progress   45.9%  9,198/20,000  12.3k/s  ETA 1s  12 failed"),
        "{text}"
    );
    assert!(status
        .to_html()
        .contains("<progress value=\"9198\" max=\"20000\""));
}

#[test]
fn an_idle_machine_without_stages_or_source_still_renders() {
    let mut status = sample();
    status.name = String::new();
    status.state = MachineState::Idle;
    status.started_at = None;
    status.uptime = Duration::ZERO;
    status.counts = Counts::default();
    status.queue = QueueStatus::new(0, None);
    status.rate.recent = 0.0;
    status.rate.overall = 0.0;
    status.current.clear();
    status.last_oid = None;
    status.stages.clear();
    status.source = None;
    status.errors = ErrorCounts::default();
    status.last_error = None;
    let text = status.to_string();
    println!("{text}");
    assert!(text.starts_with("machine    machine  idle\n"), "{text}");
    assert!(text.contains("0 (unbounded)  rate 0/s"));
    assert!(text.contains("current    none"));
    assert!(!text.contains("stages"));
    assert!(!text.contains("last error"));
    let html = status.to_html();
    assert!(html.contains("idle"));
    assert!(
        !html.contains("<table style=\"border-collapse:collapse;margin-bottom:6px\">\n<tr style")
    );
}

#[test]
fn the_text_table_neutralises_the_evcxr_markers() {
    // Printed in a notebook, a line holding a marker would open or close a display, and the
    // cell would hang waiting for the end of it.
    let mut status = sample();
    status.name = "EVCXR_BEGIN_CONTENT text/html".to_owned();
    status.stages[0].name = "EVCXR_BEGIN_CONTENT text/html".to_owned();
    status.state = MachineState::Failed("EVCXR_END_CONTENT".to_owned());
    status.last_error.as_mut().unwrap().message =
        "EVCXR_BEGIN_CONTENT text/html\n<b>\nEVCXR_END_CONTENT".to_owned();
    status.sink.description = "EVCXR_END_CONTENT".to_owned();
    status
        .parts
        .push(DisplayPart::new("custom", "EVCXR_END_CONTENT", "<i>x</i>"));
    let text = status.to_string();
    println!("{text}");
    for marker in ["EVCXR_BEGIN_CONTENT", "EVCXR_END_CONTENT"] {
        assert!(!text.contains(marker), "{marker} in:\n{text}");
    }
    // Still readable: only an invisible word joiner was added.
    assert!(text.contains("EVCXR\u{2060}_BEGIN_CONTENT text/html"));
}
