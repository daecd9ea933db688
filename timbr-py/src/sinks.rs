//! Where records go, from Python: ZeroMQ as the notebook published, JSON lines, a Python
//! callback, a Redis stream.

use std::path::PathBuf;

use parking_lot::Mutex;
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use timbr_core::{JsonLinesSink, NullSink, Record, Sink, SinkError};

use crate::views::PyRecord;

/// Publishes every record on a ZeroMQ PUB socket as the notebook did: two frames,
/// `[oid_s, "[in_s,f0_s,…]"]`, readable by pyzmq. `endpoint` is `ipc://…` or `tcp://…`
/// (loopback unless `allow_remote`); None picks a fresh `ipc://` endpoint, shown in
/// `endpoint` once a machine has bound it.
#[pyclass(frozen, module = "timbr", name = "ZmqSink")]
pub(crate) struct PyZmqSink {
    requested: Option<String>,
    allow_remote: bool,
    bound: Mutex<Option<String>>,
}

#[pymethods]
impl PyZmqSink {
    #[new]
    #[pyo3(signature = (endpoint=None, *, allow_remote=false))]
    fn new(endpoint: Option<String>, allow_remote: bool) -> PyZmqSink {
        PyZmqSink {
            requested: endpoint,
            allow_remote,
            bound: Mutex::new(None),
        }
    }

    /// The endpoint subscribers connect to (None until a machine bound it).
    #[getter]
    fn endpoint(&self) -> Option<String> {
        self.bound.lock().clone().or_else(|| self.requested.clone())
    }

    fn __repr__(&self) -> String {
        format!("ZmqSink({:?})", self.endpoint())
    }
}

/// Writes every record as one JSON line `{"oid": …, "record": [...]}` to `path` (`"-"`:
/// standard output); `append` keeps what the file held.
#[pyclass(frozen, module = "timbr", name = "JsonLines")]
pub(crate) struct PyJsonLines {
    path: PathBuf,
    append: bool,
}

#[pymethods]
impl PyJsonLines {
    #[new]
    #[pyo3(signature = (path, *, append=false))]
    fn new(path: PathBuf, append: bool) -> PyJsonLines {
        PyJsonLines { path, append }
    }

    fn __repr__(&self) -> String {
        format!("JsonLines({:?})", self.path)
    }
}

/// Writes every record to a Redis stream (`timbr_redis::RedisSink`).
#[pyclass(frozen, module = "timbr", name = "RedisSink")]
pub(crate) struct PyRedisSink {
    url: String,
    stream: String,
}

#[pymethods]
impl PyRedisSink {
    #[new]
    fn new(url: String, stream: String) -> PyRedisSink {
        PyRedisSink { url, stream }
    }

    fn __repr__(&self) -> String {
        format!("RedisSink(stream={:?})", self.stream)
    }
}

/// A Python callable taking each [`PyRecord`]; an exception it raises is the sink's
/// error (counted, reported; the datum stays counted as processed).
struct CallbackSink(Py<PyAny>);

impl Sink for CallbackSink {
    fn send(&mut self, record: Record) -> Result<(), SinkError> {
        Python::attach(|py| {
            self.0
                .bind(py)
                .call1((PyRecord::new(record),))
                .map(drop)
                .map_err(|e| SinkError::msg(format!("the callback raised {e}")))
        })
    }

    fn describe(&self) -> String {
        "callback".to_owned()
    }
}

/// Python's `sys.stdout` (a notebook's cell output, not file descriptor 1) as a writer.
struct PyStdout;

impl std::io::Write for PyStdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Python::attach(|py| {
            let text = String::from_utf8_lossy(buf);
            py.import("sys")
                .and_then(|sys| sys.getattr("stdout"))
                .and_then(|out| out.call_method1("write", (text,)))
                .map(|_| buf.len())
                .map_err(|e| std::io::Error::other(e.to_string()))
        })
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The sink for `sink=`.
pub(crate) fn build_sink(
    py: Python<'_>,
    spec: Option<&Bound<'_, PyAny>>,
) -> PyResult<Box<dyn Sink>> {
    let Some(spec) = spec.filter(|s| !s.is_none()) else {
        return Ok(Box::new(NullSink));
    };
    if let Ok(z) = spec.cast::<PyZmqSink>() {
        let z = z.get();
        let options = timbr_core::io::ZmqSinkOptions::new().allow_remote(z.allow_remote);
        let requested = z.requested.clone();
        let sink = py
            .detach(|| match &requested {
                Some(endpoint) => options.bind(endpoint),
                None => options.bind_default(),
            })
            .map_err(|e| PyOSError::new_err(e.to_string()))?;
        *z.bound.lock() = Some(sink.last_endpoint().to_owned());
        return Ok(Box::new(sink));
    }
    if let Ok(j) = spec.cast::<PyJsonLines>() {
        let j = j.get();
        if j.path.as_os_str() == "-" {
            let sink = JsonLinesSink::new(PyStdout)
                .flush_each_line(true)
                .described_as("sys.stdout");
            return Ok(Box::new(sink));
        }
        let sink = if j.append {
            JsonLinesSink::append(&j.path)
        } else {
            JsonLinesSink::create(&j.path)
        }
        .map_err(|e| PyOSError::new_err(format!("{}: {e}", j.path.display())))?;
        return Ok(Box::new(sink));
    }
    if let Ok(r) = spec.cast::<PyRedisSink>() {
        let r = r.get();
        let sink = py
            .detach(|| timbr_redis::RedisSink::connect(&r.url, r.stream.clone()))
            .map_err(|e| PyOSError::new_err(e.to_string()))?;
        return Ok(Box::new(sink));
    }
    if spec.is_callable() {
        return Ok(Box::new(CallbackSink(spec.clone().unbind())));
    }
    Err(crate::errors::type_error(format!(
        "a sink is timbr.ZmqSink, JsonLines, RedisSink or a callable taking a Record; not {}",
        spec.get_type().name()?
    )))
}
