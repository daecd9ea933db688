//! The JSON lines sink: one `{"oid": …, "record": […]}` object per record and line, read back
//! from a file; write errors become sink errors, never panics.

use std::collections::HashSet;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use timbr_core::{JsonLinesSink, Machine, Sink, Stage};

fn scratch_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "timbr-sink-jsonl-{}-{name}.jsonl",
        std::process::id()
    ))
}

/// A machine whose slot 0 makes text that needs escaping; runs `inputs` through `sink`.
fn run(sink: impl Sink, inputs: std::ops::Range<u64>) -> Machine<u64> {
    let quote = Stage::new(0, "quote", ["input"], |x: &u64| {
        format!("\"{x}\"\tünïcode\n")
    })
    .unwrap();
    let machine = Machine::<u64>::builder()
        .capacity(inputs.clone().count().max(1))
        .stage(quote)
        .sink(sink)
        .build()
        .unwrap();
    for i in inputs {
        machine.put(i).unwrap();
    }
    machine.start().unwrap();
    machine.stop_drain();
    machine
}

fn read_lines(path: &PathBuf) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

fn check_lines(lines: &[Value], inputs: std::ops::Range<u64>) {
    assert_eq!(lines.len(), inputs.clone().count());
    let mut seen = HashSet::new();
    let mut oids = HashSet::new();
    for line in lines {
        let object = line.as_object().expect("an object per line");
        assert_eq!(object.len(), 2, "{line}");
        let oid = line["oid"].as_str().expect("oid is a string");
        assert!(
            oid.len() == 24 && oid.bytes().all(|b| b.is_ascii_hexdigit()),
            "{oid}"
        );
        assert!(oids.insert(oid.to_owned()), "oid {oid} twice");
        let record = line["record"].as_array().expect("record is an array");
        assert_eq!(record.len(), 9, "{line}"); // in_s, f0_s … f7_s
        let x = record[0].as_u64().unwrap();
        assert_eq!(record[1], json!(format!("\"{x}\"\tünïcode\n")));
        assert!(seen.insert(x));
    }
    assert_eq!(seen, inputs.collect::<HashSet<_>>());
}

#[test]
fn records_round_trip_through_a_file() {
    let path = scratch_file("round-trip");
    let sink = JsonLinesSink::create(&path).unwrap();
    assert_eq!(sink.describe(), path.display().to_string());
    let machine = run(sink, 0..500);
    assert_eq!(machine.sink_errors(), 0, "{:?}", machine.last_sink_error());
    assert_eq!(machine.sink_description(), path.display().to_string());
    check_lines(&read_lines(&path), 0..500);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn append_adds_to_the_file_and_create_starts_it_anew() {
    let path = scratch_file("append");
    run(JsonLinesSink::create(&path).unwrap(), 0..10);
    run(JsonLinesSink::append(&path).unwrap(), 10..30);
    check_lines(&read_lines(&path), 0..30);
    run(JsonLinesSink::create(&path).unwrap(), 30..35);
    check_lines(&read_lines(&path), 30..35);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_line_is_the_oid_and_the_record_text_as_it_is() {
    let machine = Machine::<&'static str>::new();
    machine.put("a \"quoted\" datum").unwrap();
    let record = machine.get(Duration::from_secs(5)).unwrap();
    let mut sink = JsonLinesSink::new(Vec::new());
    sink.send(record.clone()).unwrap();
    sink.send(record.clone()).unwrap();
    let text = String::from_utf8(sink.into_inner().unwrap()).unwrap();
    let line = format!(
        "{{\"oid\":\"{}\",\"record\":{}}}\n",
        record.oid_hex(),
        record.json()
    );
    assert_eq!(text, line.repeat(2));
}

/// A writer that fails every write.
struct Broken;

impl Write for Broken {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::other("disk on fire"))
    }

    fn flush(&mut self) -> io::Result<()> {
        Err(io::Error::other("disk on fire"))
    }
}

#[test]
fn write_errors_are_sink_errors_not_panics() {
    // Buffered: the failure shows when the machine flushes the sink at stop.
    let machine = run(JsonLinesSink::new(Broken), 0..5);
    assert_eq!(machine.counts().processed, 5);
    assert!(machine.sink_errors() >= 1);
    let message = machine.last_sink_error().unwrap();
    assert!(
        message.contains("writing JSON lines to json lines"),
        "{message}"
    );

    // A line at a time: every record's delivery fails, and is counted.
    let machine = run(JsonLinesSink::new(Broken).flush_each_line(true), 0..5);
    assert_eq!(machine.counts().processed, 5);
    assert!(machine.sink_errors() >= 5, "{}", machine.sink_errors());

    // The cause is kept.
    let mut sink = JsonLinesSink::new(Broken).flush_each_line(true);
    let bare = Machine::<u8>::new();
    bare.put(1).unwrap();
    let err = sink
        .send(bare.get(Duration::from_secs(5)).unwrap())
        .unwrap_err();
    let source = std::error::Error::source(&err).expect("an io::Error source");
    assert_eq!(source.to_string(), "disk on fire");
    assert!(sink.into_inner().is_err());
}

#[test]
fn stdout_is_described_and_a_file_that_cannot_be_opened_is_an_io_error() {
    assert_eq!(JsonLinesSink::stdout().describe(), "stdout");
    let missing = std::env::temp_dir()
        .join(format!("timbr-no-such-dir-{}", std::process::id()))
        .join("x.jsonl");
    assert!(JsonLinesSink::create(&missing).is_err());
    assert!(JsonLinesSink::append(&missing).is_err());
}
