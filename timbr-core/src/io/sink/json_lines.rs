//! [`JsonLinesSink`]: one JSON object per record and line, to a file, stdout or any writer.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Stdout, Write};
use std::path::Path;

use crate::{Record, Sink, SinkError};

/// Writes every record as one line of JSON, `{"oid":"<24 hex>","record":[in_s, f0_s, …]}`,
/// the record's JSON array embedded as it is.
///
/// Output is buffered and flushed when the machine stops ([`Sink::flush`]), or after every
/// line with [`flush_each_line`](JsonLinesSink::flush_each_line) (the default for
/// [`stdout`](JsonLinesSink::stdout)). A write error is the sink's error, counted by the
/// machine; it never panics, and a failed write may leave a partial line.
///
/// # Examples
///
/// ```
/// use timbr_core::{JsonLinesSink, Machine};
///
/// let path = std::env::temp_dir().join(format!("timbr-doc-{}.jsonl", std::process::id()));
/// let machine = Machine::<u32>::builder().sink(JsonLinesSink::create(&path)?).build()?;
/// machine.put(7);
/// machine.start()?;
/// machine.stop_drain(); // flushes the sink
///
/// let text = std::fs::read_to_string(&path)?;
/// let line: serde_json::Value = serde_json::from_str(text.trim_end())?;
/// assert_eq!(line["oid"].as_str().unwrap().len(), 24);
/// assert_eq!(line["record"], serde_json::json!([7, 7, 7, 7, 7, 7, 7, 7, 7]));
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct JsonLinesSink<W: Write> {
    out: BufWriter<W>,
    target: String,
    flush_each_line: bool,
}

impl JsonLinesSink<Stdout> {
    /// A sink writing to standard output, a line at a time.
    pub fn stdout() -> Self {
        JsonLinesSink::new(io::stdout())
            .described_as("stdout")
            .flush_each_line(true)
    }
}

impl JsonLinesSink<File> {
    /// A sink writing to a new file at `path` (an existing one is truncated).
    ///
    /// # Errors
    ///
    /// The [`io::Error`] of opening the file.
    pub fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        Ok(JsonLinesSink::new(File::create(path)?).described_as(path.display()))
    }

    /// A sink appending to the file at `path`, created if missing.
    ///
    /// # Errors
    ///
    /// The [`io::Error`] of opening the file.
    pub fn append(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(JsonLinesSink::new(file).described_as(path.display()))
    }
}

impl<W: Write> JsonLinesSink<W> {
    /// A sink writing to `writer`, buffered.
    pub fn new(writer: W) -> Self {
        JsonLinesSink {
            out: BufWriter::new(writer),
            target: "json lines".to_owned(),
            flush_each_line: false,
        }
    }

    /// Whether to flush after every line, so that a reader sees each record at once (at the
    /// cost of a write per record).
    pub fn flush_each_line(mut self, flush: bool) -> Self {
        self.flush_each_line = flush;
        self
    }

    /// What [`Sink::describe`] says (the path for a file, `stdout`, else `json lines`).
    pub fn described_as(mut self, target: impl fmt::Display) -> Self {
        self.target = target.to_string();
        self
    }

    /// Flushes and returns the writer.
    ///
    /// # Errors
    ///
    /// [`SinkError`] if the buffered lines could not be written.
    pub fn into_inner(self) -> Result<W, SinkError> {
        let target = self.target;
        self.out
            .into_inner()
            .map_err(|e| write_error(&target, e.into_error()))
    }

    fn write_line(&mut self, record: &Record) -> io::Result<()> {
        let out = &mut self.out;
        out.write_all(b"{\"oid\":\"")?;
        out.write_all(record.oid_hex().as_bytes())?;
        out.write_all(b"\",\"record\":")?;
        out.write_all(record.json().as_bytes())?;
        out.write_all(b"}\n")?;
        if self.flush_each_line {
            out.flush()?;
        }
        Ok(())
    }
}

fn write_error(target: &str, e: io::Error) -> SinkError {
    SinkError::with_source(format!("writing JSON lines to {target}"), e)
}

impl<W: Write + Send + 'static> Sink for JsonLinesSink<W> {
    fn send(&mut self, record: Record) -> Result<(), SinkError> {
        self.write_line(&record)
            .map_err(|e| write_error(&self.target, e))
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.out.flush().map_err(|e| write_error(&self.target, e))
    }

    fn describe(&self) -> String {
        self.target.clone()
    }
}

impl<W: Write> fmt::Debug for JsonLinesSink<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonLinesSink")
            .field("target", &self.target)
            .field("flush_each_line", &self.flush_each_line)
            .finish_non_exhaustive()
    }
}
