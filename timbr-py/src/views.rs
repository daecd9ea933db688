//! What a machine hands to Python: records, the keys of one call, events and the kept
//! failure — thin read-only views over the core's types.

use std::sync::Arc;

use pyo3::exceptions::{PyKeyError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use timbr_core::sched::Outcome;
use timbr_core::{Called, Event, Failure, Kept, Record, Serialized};

use crate::stage::raise_task_error;
use crate::value::PyValue;

/// One datum's record: its oid and the JSON array `[in_s, f0_s, …]`, as published.
///
/// Iterating gives the notebook's tuple: `oid_s`, then each entry's JSON text.
#[pyclass(frozen, module = "timbr", name = "Record")]
pub(crate) struct PyRecord {
    record: Record,
}

impl PyRecord {
    pub(crate) fn new(record: Record) -> PyRecord {
        PyRecord { record }
    }
}

#[pymethods]
impl PyRecord {
    /// The datum's oid, as 24 hex digits.
    #[getter]
    fn oid(&self) -> String {
        self.record.oid_hex()
    }

    /// The record's JSON array, as published.
    #[getter]
    fn json(&self) -> &str {
        self.record.json()
    }

    /// The entries, as Python objects (`json.loads` of the array: exact for big ints).
    #[getter]
    fn values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.import("json")?
            .getattr("loads")?
            .call1((self.record.json(),))
    }

    /// Whether every stage produced a value (a value JSON cannot hold is in
    /// `unserializable`, its entry an `{"_exception": …}`).
    #[getter]
    fn ok(&self) -> bool {
        self.record.is_ok()
    }

    /// The values that could not be written as JSON: dicts with `key` (`f2_s`…) and
    /// `message`.
    #[getter]
    fn unserializable<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for u in self.record.unserializable() {
            let d = PyDict::new(py);
            d.set_item("key", &u.key)?;
            d.set_item("message", &u.message)?;
            list.append(d)?;
        }
        Ok(list)
    }

    /// The stages that failed or were skipped: dicts with `stage`, `slot`, `message`,
    /// `failed` (False for a stage skipped because an earlier one failed).
    #[getter]
    fn failures<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for f in self.record.failures() {
            let d = PyDict::new(py);
            d.set_item("stage", &*f.stage)?;
            d.set_item("slot", f.slot)?;
            d.set_item("message", f.to_string())?;
            d.set_item("failed", f.is_failure())?;
            list.append(d)?;
        }
        Ok(list)
    }

    /// The source entry this record came from (a Redis queue's entry id), if any.
    /// How many runs of its failing stage this datum took (1 unless a retry policy ran it
    /// again).
    #[getter]
    fn attempts(&self) -> u32 {
        self.record.attempts()
    }

    /// For a replay (`machine.replay_failures()`), the failure it stands in for (that
    /// failure's origin, or its oid); else None.
    #[getter]
    fn replaces(&self) -> Option<&str> {
        self.record.replaces()
    }

    #[getter]
    fn origin(&self) -> Option<&str> {
        self.record.origin()
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let entries = self
            .record
            .entries()
            .map_err(|e| PyValueError::new_err(timbr_core::error_chain(&e)))?;
        let mut items = vec![self.record.oid_hex()];
        items.extend(entries.into_iter().map(str::to_owned));
        PyTuple::new(py, items)?
            .into_any()
            .try_iter()
            .map(Bound::into_any)
    }

    fn __repr__(&self) -> String {
        format!(
            "Record(oid={:?}, json={:?})",
            self.record.oid_hex(),
            self.record.json()
        )
    }
}

/// Every key of one datum run now by `machine(datum)`: a read-only mapping from key
/// (`oid`, `in`, `f0`…, and the `_s` forms) to value. A key whose stage failed raises that
/// stage's exception, with its traceback.
#[pyclass(frozen, module = "timbr", name = "Called")]
pub(crate) struct PyCalled {
    called: Called,
    keys: Vec<String>,
}

impl PyCalled {
    pub(crate) fn new(called: Called, slots: usize) -> PyCalled {
        let mut keys = vec!["oid".to_owned(), "in".to_owned()];
        keys.extend((0..slots).map(|k| format!("f{k}")));
        keys.push("oid_s".to_owned());
        keys.push("in_s".to_owned());
        keys.extend((0..slots).map(|k| format!("f{k}_s")));
        PyCalled { called, keys }
    }

    fn lookup<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        if !self.keys.iter().any(|k| k == key) && key != "input" && key != "input_s" {
            return Err(PyKeyError::new_err(key.to_owned()));
        }
        if key.ends_with("_s") {
            let text = self
                .called
                .json(key)
                .ok_or_else(|| PyKeyError::new_err(key.to_owned()))?;
            return Ok(PyString::new(py, &text).into_any());
        }
        if key == "oid" {
            return Ok(PyString::new(py, &self.called.oid().to_hex()).into_any());
        }
        let key = if key == "input" { "in" } else { key };
        match self.called.outcome(key) {
            Some(Outcome::Value(v)) => match v.downcast_ref::<PyValue>() {
                Some(v) => Ok(v.bind(py).clone()),
                None => Err(PyRuntimeError::new_err(format!(
                    "`{key}` holds a `{}`, not a Python object",
                    v.type_name()
                ))),
            },
            Some(Outcome::Failed(e)) => Err(raise_task_error(py, e)),
            Some(Outcome::Skipped(why)) => Err(crate::errors::StageError::new_err(format!(
                "`{key}` was skipped: {why}"
            ))),
            None => Err(PyKeyError::new_err(key.to_owned())),
        }
    }
}

#[pymethods]
impl PyCalled {
    fn __getitem__<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        self.lookup(py, key)
    }

    fn __contains__(&self, key: &str) -> bool {
        self.keys.iter().any(|k| k == key)
    }

    fn __len__(&self) -> usize {
        self.keys.len()
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        PyList::new(py, &self.keys)?
            .into_any()
            .try_iter()
            .map(Bound::into_any)
    }

    /// The keys: `oid`, `in`, `f0`…, then the `_s` forms.
    fn keys(&self) -> Vec<String> {
        self.keys.clone()
    }

    /// `self[key]`, or `default` when the key is unknown or its stage failed.
    #[pyo3(signature = (key, default=None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        key: &str,
        default: Option<Bound<'py, PyAny>>,
    ) -> Bound<'py, PyAny> {
        self.lookup(py, key)
            .unwrap_or_else(|_| default.unwrap_or_else(|| py.None().into_bound(py)))
    }

    /// The JSON text of `key` (`in`, `f2`, or their `_s` names); an `{"_exception": …}`
    /// object for a value that failed or cannot be serialized.
    fn json(&self, key: &str) -> PyResult<String> {
        let key = if key == "in" { "input" } else { key };
        self.called
            .json(key)
            .map(|t| t.into_owned())
            .ok_or_else(|| PyKeyError::new_err(key.to_owned()))
    }

    /// The record `get` would have produced for this datum.
    #[getter]
    fn record(&self) -> PyRecord {
        PyRecord::new(self.called.record())
    }

    /// Whether every stage succeeded.
    #[getter]
    fn ok(&self) -> bool {
        self.called.is_ok()
    }

    fn __repr__(&self) -> String {
        format!("Called({})", self.called.record().json())
    }
}

/// Something that happened to a machine: `kind` (`"stage_failed"`, `"queue_full"`,
/// `"completed"`…), a readable `message`, and for a stage failure the `failure`.
#[pyclass(frozen, module = "timbr", name = "Event")]
pub(crate) struct PyEvent {
    event: Event,
}

impl PyEvent {
    pub(crate) fn new(event: Event) -> PyEvent {
        PyEvent { event }
    }
}

#[pymethods]
impl PyEvent {
    /// The event's kind, snake_case: `started`, `stopped`, `stage_failed`, `queue_full`,
    /// `source_exhausted`, `source_failed`, `sink_failed`, `idle`, `completed`…
    #[getter]
    fn kind(&self) -> &'static str {
        self.event.kind().name()
    }

    /// What happened, in words.
    #[getter]
    fn message(&self) -> String {
        self.event.to_string()
    }

    /// Whether it is an error (a stage, serialization, source or sink failure).
    #[getter]
    fn is_error(&self) -> bool {
        self.event.is_error()
    }

    /// The stage failure, for a `stage_failed` event.
    #[getter]
    fn failure(&self) -> Option<PyFailure> {
        self.event.failure().map(|f| PyFailure::new(Arc::clone(f)))
    }

    fn __repr__(&self) -> String {
        format!(
            "Event(kind={:?}, message={:?})",
            self.event.kind().name(),
            self.event.to_string()
        )
    }
}

/// A stage that failed on a datum, with the run it failed in: the datum, the stage's
/// arguments, the error, and `replay()`.
#[pyclass(frozen, module = "timbr", name = "Failure")]
pub(crate) struct PyFailure {
    failure: Arc<Failure>,
}

impl PyFailure {
    pub(crate) fn new(failure: Arc<Failure>) -> PyFailure {
        PyFailure { failure }
    }
}

#[pymethods]
impl PyFailure {
    /// The failing stage's name.
    #[getter]
    fn stage(&self) -> &str {
        self.failure.stage()
    }

    /// The failing stage's slot.
    #[getter]
    fn slot(&self) -> usize {
        self.failure.slot()
    }

    /// The datum's oid (hex).
    #[getter]
    fn oid(&self) -> String {
        self.failure.oid().to_hex()
    }

    /// The error's text: `Type: message` and the traceback.
    #[getter]
    fn message(&self) -> String {
        self.failure.error().to_string()
    }

    /// The datum that failed.
    #[getter]
    fn datum<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        self.failure.datum::<PyValue>().map(|v| v.bind(py).clone())
    }

    /// The value of `key` in the failed run (`input`, `f0`…, `input_s`…, `oid`), or None.
    fn value<'py>(&self, py: Python<'py>, key: &str) -> Option<Bound<'py, PyAny>> {
        if let Some(v) = self.failure.value::<PyValue>(key) {
            return Some(v.bind(py).clone());
        }
        if let Some(s) = self.failure.value::<Serialized>(key) {
            return Some(PyString::new(py, s.as_str()).into_any());
        }
        (key == "oid").then(|| PyString::new(py, &self.failure.oid().to_hex()).into_any())
    }

    /// The original exception (as raised by the stage, with its traceback).
    #[getter]
    fn exception(&self, py: Python<'_>) -> Py<PyAny> {
        raise_task_error(py, self.failure.error())
            .into_value(py)
            .into_any()
    }

    /// Runs the failing stage again, now, on this thread, on the very arguments it failed
    /// with (upstream stages are not rerun): returns its value, or raises its exception
    /// with a fresh traceback — set a breakpoint, or use `%debug`, and see it fail.
    fn replay<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.failure.replay() {
            Ok(v) => match v.downcast_ref::<PyValue>() {
                Some(v) => Ok(v.bind(py).clone()),
                None => Err(PyRuntimeError::new_err(
                    "the stage returned no Python object",
                )),
            },
            Err(e) => Err(raise_task_error(py, &e)),
        }
    }

    fn __repr__(&self) -> String {
        let message = self.failure.error().to_string();
        let first = message.lines().next().unwrap_or_default().to_owned();
        format!(
            "Failure(stage={:?}, slot={}, error={first:?})",
            self.failure.stage(),
            self.failure.slot()
        )
    }
}

/// What a handler kept when it stopped the machine: the event and, for a stage failure,
/// the failure (with `replay()`).
#[pyclass(frozen, module = "timbr", name = "Kept")]
pub(crate) struct PyKept {
    kept: Kept,
}

impl PyKept {
    pub(crate) fn new(kept: Kept) -> PyKept {
        PyKept { kept }
    }
}

#[pymethods]
impl PyKept {
    /// The event that stopped the machine.
    #[getter]
    fn event(&self) -> PyEvent {
        PyEvent::new(self.kept.event.clone())
    }

    /// The stage failure, if the event was one.
    #[getter]
    fn failure(&self) -> Option<PyFailure> {
        self.kept.failure().map(|f| PyFailure::new(Arc::clone(f)))
    }

    /// Replays the kept stage failure (see `Failure.replay`).
    fn replay<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.failure() {
            Some(f) => f.replay(py),
            None => Err(PyRuntimeError::new_err(format!(
                "nothing to replay: the machine stopped on `{}`, not a stage failure",
                self.kept.event
            ))),
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "Kept({})",
            self.kept
                .event
                .to_string()
                .lines()
                .next()
                .unwrap_or_default()
        )
    }
}
