//! `timbr.Machine`: the Rust machine with Python stages, the notebook's API on top.
//!
//! Every call that may wait (start, stop, a blocking put, get, wait) releases the GIL, so
//! the machine's threads can run Python stages meanwhile; those that wait long check for
//! Ctrl-C, and a `KeyboardInterrupt` stops the machine cleanly before it is raised.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use pyo3::exceptions::{PyKeyError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyList;
use timbr_core::observe::ErrorLog;
use timbr_core::{
    GetError, LogAndContinue, Machine, MachineState, Progress, SourcePolicy, StopMode, TryPutError,
};

use crate::errors;
use crate::handlers::{build_handler, PyPlugin};
use crate::sinks::build_sink;
use crate::source::PySource;
use crate::stage::python_stage;
use crate::value::{json_to_py, PyValue};
use crate::views::{PyCalled, PyKept, PyRecord};

/// A refused put as `timbr.Full`, carrying the datum back.
fn refused(py: Python<'_>, error: TryPutError<PyValue>) -> PyErr {
    let message = error.to_string();
    let datum = match error {
        TryPutError::Full(d) | TryPutError::Closed(d) => d,
        TryPutError::Rejected { datum, .. } => datum,
    };
    errors::full(py, datum.0, message)
}

/// How often a long wait looks for Ctrl-C.
const SIGNAL_CHECK: Duration = Duration::from_millis(50);

/// How long Ctrl-C waits for the data in flight before it raises.
const INTERRUPT_GRACE: Duration = Duration::from_secs(10);

/// How long the interpreter's exit (or dropping a machine) waits for a machine to stop.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// The longest pause of a blocking put between two looks at the queue.
const PUT_BACKOFF: Duration = Duration::from_millis(5);

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
    /// The callables as the user gave them, by slot (what `m[i]` returns).
    funcs: Mutex<Vec<Option<Py<PyAny>>>>,
    log: Option<ErrorLog>,
}

impl PyMachine {
    pub(crate) fn machine(&self) -> &Arc<Machine<PyValue>> {
        &self.machine
    }

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

    /// Stops the machine after Ctrl-C: the data in flight finish, the queued ones stay
    /// queued (not handed back, not counted twice), and it waits a while for the threads.
    fn interrupted(&self, py: Python<'_>) {
        let machine = Arc::clone(&self.machine);
        py.detach(move || {
            machine.request_stop(StopMode::Return);
            machine.wait_timeout(INTERRUPT_GRACE);
        });
    }

    /// Stops the machine on a thread of its own, so that a source blocked in Python (a
    /// generator waiting for its next item) never blocks the caller: waits for it in
    /// slices, for Ctrl-C between them, and at most `bound` (None: until it is done).
    fn stop_aside(
        &self,
        py: Python<'_>,
        mode: StopMode,
        bound: Option<Duration>,
    ) -> PyResult<Option<Vec<PyValue>>> {
        let machine = Arc::clone(&self.machine);
        let (done, stopped) = timbr_core::crossbeam_channel::bounded(1);
        let spawned = std::thread::Builder::new()
            .name("timbr-stop".to_owned())
            .spawn(move || {
                let _ = done.send(machine.stop(mode));
            });
        if let Err(e) = spawned {
            return Err(PyRuntimeError::new_err(format!(
                "could not start a thread to stop the machine: {e}"
            )));
        }
        let waited = self.wait_interruptibly(py, bound, |slice| stopped.recv_timeout(slice).ok());
        match waited {
            Ok(returned) => Ok(returned),
            // Interrupted: the stop goes on by itself; a later `stop` or `wait` sees it end.
            Err(e) => Err(e),
        }
    }

    /// Runs `wait` in slices with the GIL released, checking for Ctrl-C between them.
    fn wait_interruptibly<R>(
        &self,
        py: Python<'_>,
        timeout: Option<Duration>,
        mut wait: impl FnMut(Duration) -> Option<R> + Send,
    ) -> PyResult<Option<R>>
    where
        R: Send,
    {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let slice = match deadline {
                Some(d) => d
                    .saturating_duration_since(Instant::now())
                    .min(SIGNAL_CHECK),
                None => SIGNAL_CHECK,
            };
            if let Some(r) = py.detach(|| wait(slice)) {
                return Ok(Some(r));
            }
            if let Err(e) = py.check_signals() {
                self.interrupted(py);
                return Err(e);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(None);
            }
        }
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
    /// `idle_after` (seconds without activity before an `idle` event).
    #[new]
    #[pyo3(signature = (
        stages=8, bufsize=1024, *, workers=1, ordered=false, name=None, handler=None,
        sink=None, queue=None, total=None, plugins=None, drop_when_full=false, idle_after=None
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
    ) -> PyResult<PyMachine> {
        if bufsize == 0 {
            return Err(PyValueError::new_err(
                "bufsize must be at least 1: a machine's queue is bounded (where queue.Queue(0) \
                 would be unbounded, a full queue here hands the datum back instead)",
            ));
        }
        if workers == 0 {
            return Err(PyValueError::new_err(
                "workers must be at least 1: the threads that run the stages",
            ));
        }
        let mut builder = Machine::<PyValue>::builder()
            // One hold of the GIL for a datum's Python stages and the JSON of its values,
            // not one per stage and per value (see `MachineBuilder::datum_scope`).
            .datum_scope(|body| {
                crate::thread_state::keep();
                Python::attach(|_| body())
            })
            .slots(stages)
            .capacity(bufsize)
            .workers(workers)
            .ordered(ordered)
            .sink(build_sink(py, sink.as_ref())?);
        if let Some(name) = name {
            builder = builder.name(name);
        }
        let log = match handler.filter(|h| !h.is_none()) {
            Some(h) => {
                let (handler, log) = build_handler(&h)?;
                builder = builder.handler(handler);
                log
            }
            None => {
                let handler = LogAndContinue::default();
                let log = handler.log();
                builder = builder.handler(handler);
                Some(log)
            }
        };
        if let Some(queue) = queue.filter(|q| !q.is_none()) {
            let (queue, announce) = crate::redis::queue_of(&queue)?;
            builder = builder.queue(queue).plugin(announce);
        }
        if let Some(total) = total {
            builder = builder.plugin(Progress::new(total).bar(false));
        }
        for plugin in plugins.iter().flat_map(|p| p.iter()) {
            builder = builder.plugin(PyPlugin::new(&plugin)?);
        }
        if drop_when_full {
            builder = builder.source_policy(SourcePolicy::DropNewest);
        }
        if let Some(idle) = idle_after {
            builder = builder.idle_after(crate::handlers::seconds(idle)?);
        }
        let machine = builder.build().map_err(errors::wiring)?;
        Ok(PyMachine {
            funcs: Mutex::new((0..machine.slots()).map(|_| None).collect()),
            machine: Arc::new(machine),
            log,
        })
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
        let stage =
            python_stage(slot, name, &names, func.clone().unbind()).map_err(errors::wiring)?;
        self.machine.set_stage(stage).map_err(errors::wiring)?;
        self.funcs.lock()[slot] = Some(func.unbind());
        Ok(())
    }

    fn __getitem__(&self, py: Python<'_>, slot: isize) -> PyResult<Py<PyAny>> {
        let slot = self.slot(slot)?;
        self.funcs.lock()[slot]
            .as_ref()
            .map(|f| f.clone_ref(py))
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
        // Waits while the queue is full, looking again after a short pause (growing to
        // PUT_BACKOFF): a refused attempt counts as rejected and raises an event, so only a
        // queue with room is tried, and the one refusal counted is the timeout's.
        let mut held = Some(datum);
        let mut pause = Duration::from_micros(50);
        let put = self.wait_interruptibly(py, timeout, |slice| {
            let until = Instant::now() + slice;
            loop {
                if !machine.is_full() {
                    match machine.try_put(held.take()?) {
                        Ok(()) => return Some(Ok(())),
                        Err(TryPutError::Full(d)) => held = Some(d),
                        Err(e) => return Some(Err(e)),
                    }
                }
                let now = Instant::now();
                if now >= until {
                    return None;
                }
                std::thread::sleep(pause.min(until - now));
                pause = (pause * 2).min(PUT_BACKOFF);
            }
        });
        match put {
            Ok(Some(Ok(()))) => Ok(()),
            Ok(Some(Err(e))) => Err(refused(py, e)),
            // The time ran out: one last attempt, counted as the refusal it is.
            Ok(None) => match held {
                Some(d) => {
                    let machine = Arc::clone(&self.machine);
                    py.detach(move || machine.try_put(d))
                        .map_err(|e| refused(py, e))
                }
                None => Ok(()),
            },
            Err(e) => {
                // Interrupted while waiting: the datum was not put.
                drop(held);
                Err(e)
            }
        }
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
        let Some(log) = &self.log else {
            return Ok(Vec::new());
        };
        log.recent()
            .iter()
            .map(|l| {
                let value = serde_json::json!({
                    "at": l.at,
                    "kind": l.event.kind().name(),
                    "message": l.event.to_string(),
                });
                json_to_py(py, &value)
            })
            .collect()
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

impl Drop for PyMachine {
    fn drop(&mut self) {
        // The core stops a machine when its last handle goes and joins its threads, which
        // may want the GIL this thread holds (a worker ending gives back its thread state
        // under it) or be blocked in a Python source. So a thread of its own stops and joins
        // them; the handle dropped here is then the last only once that is done, and the
        // core's drop has nothing left to wait for.
        let machine = Arc::clone(&self.machine);
        let spawned = std::thread::Builder::new()
            .name("timbr-drop".to_owned())
            .spawn(move || machine.stop(StopMode::Return));
        if spawned.is_err() {
            // No thread to be had: join here, with the GIL released.
            let machine = Arc::clone(&self.machine);
            let stop = move || drop(machine.stop(StopMode::Return));
            if Python::try_attach(|py| py.detach(stop.clone())).is_none() {
                stop();
            }
        }
    }
}

pub(crate) fn state_name(state: &MachineState) -> String {
    state.to_string()
}
