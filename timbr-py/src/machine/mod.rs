//! `timbr.Machine`: the Rust machine with Python stages, the notebook's API on top.
//!
//! Every call that may wait (start, stop, a blocking put, get, wait) releases the GIL, so
//! the machine's threads can run Python stages meanwhile; those that wait long check for
//! Ctrl-C, and a `KeyboardInterrupt` stops the machine cleanly before it is raised.

mod build;
mod failures;
mod stages;
mod waiting;

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use pyo3::exceptions::{PyKeyError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyList;
use timbr_core::observe::ErrorLog;
use timbr_core::{GetError, Machine, MachineState, StopMode};

use self::build::{build, Settings};
use self::waiting::{refused, EXIT_GRACE};
use crate::errors;
use crate::retry::PyRetry;
use crate::source::PySource;
use crate::value::{json_to_py, PyValue};
use crate::views::{PyCalled, PyKept, PyRecord};

/// A streaming machine: a bounded queue, `stages` slots of Python callables run on the
/// Rust engine's threads, a record per datum to the sink, and a status at every moment.
///
/// ```python
/// m = timbr.Machine(stages=8, bufsize=1024)
/// m[0] = lambda x: x.get("text", "")
/// m.start(); m.put({"text": "hi"}); m.stop()
/// ```
#[pyclass(frozen, subclass, module = "timbr._timbr", name = "Machine")]
pub(crate) struct PyMachine {
    machine: Arc<Machine<PyValue>>,
    /// The stages as the user gave them, by slot (`m[i]` returns the callable), to build
    /// again when the slot's retry policy changes.
    funcs: Mutex<Vec<Option<Given>>>,
    /// Each slot's retry policy (`m.retry(i, …)`), else `default_retry`.
    retries: Mutex<Vec<Option<Py<PyRetry>>>>,
    /// The constructor's `retry=`: the policy of every slot without one of its own.
    default_retry: Option<Py<PyRetry>>,
    log: Option<ErrorLog>,
}

/// A stage as `_set_stage` was given it.
struct Given {
    func: Py<PyAny>,
    name: String,
    names: Vec<String>,
}

impl PyMachine {
    pub(crate) fn machine(&self) -> &Arc<Machine<PyValue>> {
        &self.machine
    }

    /// `slot` as an index, or the IndexError a Python sequence raises.
    fn slot(&self, slot: isize) -> PyResult<usize> {
        let slots = self.machine.slots();
        usize::try_from(slot)
            .ok()
            .filter(|s| *s < slots)
            .ok_or_else(|| {
                pyo3::exceptions::PyIndexError::new_err(format!(
                    "slot {slot} is out of range: the machine has {slots} slots (0..{slots})"
                ))
            })
    }
}

#[pymethods]
impl PyMachine {
    /// A machine of `stages` slots whose queue holds `bufsize` data.
    ///
    /// Keyword arguments: `workers` (threads running data at once), `ordered` (records in
    /// input order when `workers > 1`), `name`, `handler` (what events do: a timbr handler,
    /// a callable taking an `Event`, or a list of them; default `LogAndContinue()`), `sink`
    /// (`ZmqSink`, `JsonLines`, `RedisSink` or a callable taking a `Record`; default: none),
    /// `queue` (a `RedisQueue` instead of the in-memory queue), `total` (the number of data
    /// expected, for progress), `plugins` (objects with `name` and `fields(status)`),
    /// `drop_when_full` (a source drops data instead of waiting when the queue is full),
    /// `idle_after` (seconds without activity before an `idle` event), `retry` (a
    /// `timbr.Retry` for every stage without one of its own, see `retry()`).
    #[new]
    #[pyo3(signature = (
        stages=8, bufsize=1024, *, workers=1, ordered=false, name=None, handler=None,
        sink=None, queue=None, total=None, plugins=None, drop_when_full=false, idle_after=None,
        retry=None
    ))]
    #[allow(
        clippy::too_many_arguments,
        reason = "keyword arguments of a Python constructor"
    )]
    fn new(
        py: Python<'_>,
        stages: usize,
        bufsize: usize,
        workers: usize,
        ordered: bool,
        name: Option<String>,
        handler: Option<Bound<'_, PyAny>>,
        sink: Option<Bound<'_, PyAny>>,
        queue: Option<Bound<'_, PyAny>>,
        total: Option<u64>,
        plugins: Option<Bound<'_, PyList>>,
        drop_when_full: bool,
        idle_after: Option<f64>,
        retry: Option<Py<PyRetry>>,
    ) -> PyResult<PyMachine> {
        build(
            py,
            Settings {
                stages,
                bufsize,
                workers,
                ordered,
                name,
                handler,
                sink,
                queue,
                total,
                plugins,
                drop_when_full,
                idle_after,
                retry,
            },
        )
    }

    /// Puts `func` at `slot`, its arguments chosen by `names` (done by the Python layer).
    fn _set_stage(
        &self,
        slot: isize,
        func: Bound<'_, PyAny>,
        name: String,
        names: Vec<String>,
    ) -> PyResult<()> {
        let slot = self.slot(slot)?;
        if !func.is_callable() {
            return Err(errors::type_error(format!(
                "the stage at slot {slot} must be callable, not {}",
                func.get_type().name()?
            )));
        }
        let py = func.py();
        let given = Given {
            func: func.unbind(),
            name,
            names,
        };
        self.install(py, slot, given)
    }

    fn __getitem__(&self, py: Python<'_>, slot: isize) -> PyResult<Py<PyAny>> {
        let slot = self.slot(slot)?;
        self.funcs.lock()[slot]
            .as_ref()
            .map(|g| g.func.clone_ref(py))
            .ok_or_else(|| PyKeyError::new_err(format!("no stage at slot {slot}")))
    }

    fn __delitem__(&self, slot: isize) -> PyResult<()> {
        let slot = self.slot(slot)?;
        self.machine
            .remove_stage(slot)
            .map_err(|e| PyKeyError::new_err(e.to_string()))?;
        self.funcs.lock()[slot] = None;
        Ok(())
    }

    /// Sets the retry policy of the stage at `slot` (a `timbr.Retry`; None: the machine's
    /// `retry=` again, or none). It stays with the slot: a stage put there later has it too.
    #[pyo3(signature = (slot, policy))]
    fn retry(&self, py: Python<'_>, slot: isize, policy: Option<Py<PyRetry>>) -> PyResult<()> {
        let slot = self.slot(slot)?;
        self.set_retry(py, slot, policy)
    }

    /// The data that failed for good (their retries ran out, or the error was not
    /// transient), oldest first, as dicts: `oid`, `slot`, `stage`, `error`, `attempts`, `at`,
    /// `origin` and `input` (the datum, decoded). Filtered by `stage` name, text in the
    /// `error`, and time (`since`/`until`: seconds since the epoch or a `datetime`). The
    /// store keeps the newest 1000; `status["failures"]` counts what it dropped.
    #[pyo3(signature = (*, stage=None, error=None, since=None, until=None))]
    fn failures<'py>(
        &self,
        py: Python<'py>,
        stage: Option<String>,
        error: Option<String>,
        since: Option<Bound<'py, PyAny>>,
        until: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
        failures::list(py, &self.machine, stage, error, since, until)
    }

    /// Runs the failures the filter picks (as for `failures()`) again, through the stages as
    /// they are now: after a fix (`m[i] = fixed`), they go through the fixed stage. Returns
    /// how many. Each replay's record says which failure it `replaces`; the counts count it
    /// `replayed`, not accepted twice. A machine that is not running runs them when it starts.
    #[pyo3(signature = (*, stage=None, error=None, since=None, until=None))]
    fn replay_failures(
        &self,
        py: Python<'_>,
        stage: Option<String>,
        error: Option<String>,
        since: Option<Bound<'_, PyAny>>,
        until: Option<Bound<'_, PyAny>>,
    ) -> PyResult<usize> {
        failures::replay(py, &self.machine, stage, error, since, until)
    }

    /// The number of slots.
    fn __len__(&self) -> usize {
        self.machine.slots()
    }

    /// Puts `datum` on the queue. Non-blocking by default, as the notebook's: a full queue
    /// raises `timbr.Full` (a `queue.Full`) carrying the datum. With `block=True` it waits
    /// for room, up to `timeout` seconds (None: for ever); Ctrl-C interrupts the wait.
    #[pyo3(signature = (datum, block=false, timeout=None))]
    fn put(
        &self,
        py: Python<'_>,
        datum: Py<PyAny>,
        block: bool,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let timeout = timeout.map(crate::handlers::seconds).transpose()?;
        let machine = Arc::clone(&self.machine);
        let datum = PyValue(datum);
        if !block {
            // Released: a full queue's event goes to the handler, which may be running on a
            // worker that waits for the GIL.
            return py
                .detach(move || machine.try_put(datum))
                .map_err(|e| refused(py, e));
        }
        self.put_waiting(py, datum, timeout)
    }

    /// Takes one datum from the queue, runs it on this thread and returns its `Record`
    /// (the notebook's `get`). Raises `timbr.Empty` (a `queue.Empty`) when nothing
    /// arrives: at once unless `block`, else within `timeout` seconds.
    #[pyo3(signature = (block=false, timeout=0.5))]
    fn get(&self, py: Python<'_>, block: bool, timeout: Option<f64>) -> PyResult<PyRecord> {
        let timeout = match (block, timeout) {
            (false, _) => Some(Duration::ZERO),
            (true, t) => t.map(crate::handlers::seconds).transpose()?,
        };
        let machine = Arc::clone(&self.machine);
        let got = self.wait_interruptibly(py, timeout, |slice| match machine.get(slice) {
            Err(GetError::Timeout) => None,
            other => Some(other),
        })?;
        if let Some(interrupt) = crate::stage::take_interrupt() {
            return Err(interrupt);
        }
        match got {
            Some(Ok(record)) => Ok(PyRecord::new(record)),
            Some(Err(e @ (GetError::Running | GetError::Nested))) => {
                Err(PyRuntimeError::new_err(e.to_string()))
            }
            Some(Err(e)) => Err(errors::empty(py, e.to_string())),
            None => Err(errors::empty(
                py,
                "no datum arrived before the timeout".to_owned(),
            )),
        }
    }

    /// Runs `datum` through the stages now, on this thread, and returns every key
    /// (`Called`, a mapping: `oid`, `in`, `f0`…, and the `_s` forms).
    fn __call__(&self, datum: Py<PyAny>) -> PyResult<PyCalled> {
        let called = self.machine.call(PyValue(datum));
        if let Some(interrupt) = crate::stage::take_interrupt() {
            return Err(interrupt);
        }
        Ok(PyCalled::new(called, self.machine.slots()))
    }

    /// Starts the machine's threads (and its source, if set). Raises RuntimeError if it
    /// is already running.
    fn start(&self, py: Python<'_>) -> PyResult<()> {
        let machine = Arc::clone(&self.machine);
        py.detach(move || machine.start())
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }

    /// Stops the machine and joins its threads. `drain=True` (the default) processes what
    /// is queued first; `drain=False` stops after the data in flight and returns what was
    /// still queued, as a list. Idempotent. Ctrl-C interrupts the wait (a source blocked in
    /// its generator is waited for): the stop then goes on by itself.
    #[pyo3(signature = (drain=true))]
    fn stop(&self, py: Python<'_>, drain: bool) -> PyResult<Vec<Py<PyAny>>> {
        let mode = if drain {
            StopMode::Drain
        } else {
            StopMode::Return
        };
        let returned = self.stop_aside(py, mode, None)?.unwrap_or_default();
        Ok(returned.into_iter().map(|d| d.0).collect())
    }

    /// What the interpreter's exit does with a running machine: stops it without draining,
    /// and waits at most a few seconds (a source blocked in Python is left to end alone).
    fn _shutdown(&self, py: Python<'_>) -> PyResult<()> {
        if self.machine.is_running() {
            self.stop_aside(py, StopMode::Return, Some(EXIT_GRACE))?;
        }
        Ok(())
    }

    /// Waits until the machine is no longer running (completed, stopped or failed) or
    /// `timeout` seconds passed, and returns its state's name. Ctrl-C stops the machine
    /// and raises `KeyboardInterrupt`.
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<String> {
        let timeout = timeout.map(crate::handlers::seconds).transpose()?;
        let machine = Arc::clone(&self.machine);
        self.wait_interruptibly(py, timeout, |slice| {
            let state = machine.wait_timeout(slice);
            (!state.is_active()).then_some(())
        })?;
        Ok(state_name(&self.machine.state()))
    }

    /// Feeds the queue from `source` (any iterable: a generator, a list…) on its own
    /// thread, waiting while the queue is full. Starts with the machine (now, if it runs).
    /// An exception from the iterable ends the source as failed (counted, reported).
    fn set_source(&self, py: Python<'_>, source: Bound<'_, PyAny>) -> PyResult<()> {
        let source = PySource::new(&source)?;
        let machine = Arc::clone(&self.machine);
        // Released: replacing a running source joins its thread, which may be in Python.
        py.detach(move || machine.set_try_source(source));
        Ok(())
    }

    /// Whether the machine's threads are running (from the threads themselves).
    #[getter]
    fn running(&self) -> bool {
        self.machine.is_running()
    }

    /// The machine's state: `idle`, `running`, `stopping`, `stopped`, `completed` or
    /// `failed: <reason>`.
    #[getter]
    fn state(&self) -> String {
        state_name(&self.machine.state())
    }

    /// A consistent snapshot of everything the machine knows, as a dict (the JSON the Rust
    /// `Status` serializes to): state, counts, queue, rates, stages, source, sink, last
    /// error, plugins.
    #[getter]
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let machine = Arc::clone(&self.machine);
        let status = py.detach(move || serde_json::to_value(machine.status()));
        let status = status.map_err(|e| PyValueError::new_err(e.to_string()))?;
        json_to_py(py, &status)
    }

    /// The counts (`accepted`, `processed`, `failed`, `queued`, `in_flight`, `dropped`):
    /// they always add up.
    #[getter]
    fn counts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let counts = serde_json::to_value(self.machine.counts())
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        json_to_py(py, &counts)
    }

    /// The progress plugin's fields (`percent`, `eta`…) when `total` was given, else None.
    #[getter]
    fn progress<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let status = self.machine.status();
        match status.plugins.get("progress") {
            Some(p) => json_to_py(py, p).map(Some),
            None => Ok(None),
        }
    }

    /// What a stopping handler kept (`Debugger`, `StageDebugger`): the event and the
    /// failure, with `replay()`. None if nothing was kept.
    #[getter]
    fn kept(&self) -> Option<PyKept> {
        self.machine.kept().map(PyKept::new)
    }

    /// The recent errors the default handler (or a `LogAndContinue` given) kept.
    #[getter]
    fn errors<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        failures::recent_errors(py, self.log.as_ref())
    }

    /// The data waiting in the queue.
    #[getter]
    fn queued(&self) -> usize {
        self.machine.len()
    }

    /// Where records go (an endpoint, a path…).
    #[getter]
    fn sink(&self) -> String {
        self.machine.sink_description()
    }

    /// The status as an HTML table (what a notebook shows for a machine).
    fn _repr_html_(&self, py: Python<'_>) -> String {
        let machine = Arc::clone(&self.machine);
        py.detach(move || machine.status().to_html())
    }

    /// The status as a text table.
    fn __repr__(&self, py: Python<'_>) -> String {
        let machine = Arc::clone(&self.machine);
        py.detach(move || machine.status().to_string())
    }
}

pub(crate) fn state_name(state: &MachineState) -> String {
    state.to_string()
}
