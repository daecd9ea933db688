//! Handlers and status plugins from Python: the core's ready-made handlers, and any Python
//! callable as a handler or plugin.
//!
//! A Python exception in a handler or plugin is the core's business like a panic in a Rust
//! one: it unwinds into the core's one catch (counted in the status's `errors.handler`, the
//! event treated as `continue`; a plugin's fields left out). `resume_unwind` does that
//! without running the panic hook, so nothing is printed twice.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use timbr_core::observe::{ErrorLog, Logged};
use timbr_core::{
    Action, Debugger, Event, Handler, LogAndContinue, StageDebugger, Status, StatusPlugin,
    StopWhenDone,
};

use crate::value::json_to_py;
use crate::views::PyEvent;

/// Keeps the last `capacity` errors and lets the machine go on (the default handler).
/// `recent()` lists them.
#[pyclass(frozen, module = "timbr", name = "LogAndContinue")]
pub(crate) struct PyLogAndContinue {
    capacity: usize,
    print: bool,
    log: Mutex<Option<ErrorLog>>,
}

#[pymethods]
impl PyLogAndContinue {
    #[new]
    #[pyo3(signature = (capacity=100, print=false))]
    fn new(capacity: usize, print: bool) -> PyLogAndContinue {
        PyLogAndContinue {
            capacity,
            print,
            log: Mutex::new(None),
        }
    }

    /// The errors kept, oldest first, as dicts with `at` (seconds since the epoch), `kind`
    /// and `message`.
    fn recent<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let log = self.log.lock().clone();
        let Some(log) = log else {
            return Ok(Vec::new());
        };
        log.recent().iter().map(|l| logged(py, l)).collect()
    }

    /// How many errors it saw in all (kept or not).
    #[getter]
    fn errors(&self) -> u64 {
        self.log.lock().as_ref().map_or(0, ErrorLog::errors)
    }

    fn __repr__(&self) -> String {
        format!("LogAndContinue(capacity={})", self.capacity)
    }
}

fn logged<'py>(py: Python<'py>, l: &Logged) -> PyResult<Bound<'py, PyAny>> {
    let value = serde_json::json!({
        "at": l.at,
        "kind": l.event.kind().name(),
        "message": l.event.to_string(),
    });
    json_to_py(py, &value)
}

/// Stops the machine at the first error of any kind, keeping the failing datum
/// (`machine.kept`): the notebook's `RawEventDebugger`.
#[pyclass(frozen, module = "timbr", name = "Debugger")]
pub(crate) struct PyDebugger;

#[pymethods]
impl PyDebugger {
    #[new]
    fn new() -> PyDebugger {
        PyDebugger
    }

    fn __repr__(&self) -> &'static str {
        "Debugger()"
    }
}

/// Stops the machine at the first stage failure only, keeping it; other errors go on.
#[pyclass(frozen, module = "timbr", name = "StageDebugger")]
pub(crate) struct PyStageDebugger;

#[pymethods]
impl PyStageDebugger {
    #[new]
    fn new() -> PyStageDebugger {
        PyStageDebugger
    }

    fn __repr__(&self) -> &'static str {
        "StageDebugger()"
    }
}

/// Completes the machine when its source is exhausted (the queue drained first), or also
/// after `idle` seconds without activity.
#[pyclass(frozen, module = "timbr", name = "StopWhenDone")]
pub(crate) struct PyStopWhenDone {
    idle: Option<f64>,
}

#[pymethods]
impl PyStopWhenDone {
    #[new]
    #[pyo3(signature = (idle=None))]
    fn new(idle: Option<f64>) -> PyResult<PyStopWhenDone> {
        Ok(PyStopWhenDone {
            idle: idle.map(seconds).transpose()?.map(|d| d.as_secs_f64()),
        })
    }

    fn __repr__(&self) -> String {
        match self.idle {
            Some(s) => format!("StopWhenDone(idle={s})"),
            None => "StopWhenDone()".to_owned(),
        }
    }
}

/// Completes the machine after `seconds` without activity (for machines fed by `put`).
#[pyclass(frozen, module = "timbr", name = "StopWhenIdle")]
pub(crate) struct PyStopWhenIdle {
    idle: Duration,
}

#[pymethods]
impl PyStopWhenIdle {
    #[new]
    fn new(seconds: f64) -> PyResult<PyStopWhenIdle> {
        Ok(PyStopWhenIdle {
            idle: self::seconds(seconds)?,
        })
    }

    fn __repr__(&self) -> String {
        format!("StopWhenIdle({})", self.idle.as_secs_f64())
    }
}

/// Completes when idle for `idle`, and only then (a source's end does not complete it).
struct WhenIdle(Duration);

impl Handler for WhenIdle {
    fn handle(&mut self, event: &Event) -> Action {
        match event {
            Event::Idle { idle_for } if *idle_for >= self.0 => Action::Complete,
            _ => Action::Continue,
        }
    }

    fn idle_after(&self) -> Option<Duration> {
        Some(self.0)
    }
}

/// A duration in seconds, refused when negative, not finite or absurdly long.
pub(crate) fn seconds(s: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(s)
        .ok()
        .filter(|d| *d <= Duration::from_secs(365 * 24 * 3600))
        .ok_or_else(|| {
            // As Python writes it: 1e300, not three hundred digits.
            let shown = if s.is_finite() && (s == 0.0 || (1e-4..1e16).contains(&s.abs())) {
                format!("{s}")
            } else {
                format!("{s:e}")
            };
            PyValueError::new_err(format!(
                "{shown} is not a duration in seconds (0 to a year)"
            ))
        })
}

/// A Python callable as a handler: called with an [`PyEvent`], it returns `None` or
/// `"continue"`, `"stop"`, `"stop_and_keep"` or `"complete"`.
struct CallableHandler(Py<PyAny>);

impl Handler for CallableHandler {
    fn handle(&mut self, event: &Event) -> Action {
        let decided = Python::attach(|py| -> PyResult<Action> {
            let answer = self.0.bind(py).call1((PyEvent::new(event.clone()),))?;
            if answer.is_none() {
                return Ok(Action::Continue);
            }
            let text: String = answer.extract()?;
            parse_action(&text)
        });
        match decided {
            Ok(action) => action,
            Err(e) => std::panic::resume_unwind(Box::new(format!("handler raised {e}"))),
        }
    }
}

fn parse_action(text: &str) -> PyResult<Action> {
    match text {
        "continue" => Ok(Action::Continue),
        "complete" => Ok(Action::Complete),
        "stop" => Ok(Action::Stop),
        "stop_and_keep" => Ok(Action::StopAndKeep),
        other => Err(PyValueError::new_err(format!(
            "a handler returns None, \"continue\", \"complete\", \"stop\" or \"stop_and_keep\", not {other:?}"
        ))),
    }
}

/// The handler for `handler=`: one of timbr's, a callable, or a list of them (each sees
/// every event; the most drastic action wins). Also returns the error log of a
/// `LogAndContinue` among them.
pub(crate) fn build_handler(
    spec: &Bound<'_, PyAny>,
) -> PyResult<(Box<dyn Handler>, Option<ErrorLog>)> {
    if let Ok(list) = spec.cast::<pyo3::types::PyList>() {
        let mut built: Option<Box<dyn Handler>> = None;
        let mut log = None;
        for item in list.iter() {
            let (h, l) = build_handler(&item)?;
            log = log.or(l);
            built = Some(match built {
                None => h,
                Some(prev) => Box::new(prev.and(h)),
            });
        }
        let built = built.ok_or_else(|| PyValueError::new_err("an empty list of handlers"))?;
        return Ok((built, log));
    }
    if let Ok(h) = spec.cast::<PyLogAndContinue>() {
        let h = h.get();
        let handler = LogAndContinue::new(h.capacity).print(h.print);
        let log = handler.log();
        *h.log.lock() = Some(log.clone());
        return Ok((Box::new(handler), Some(log)));
    }
    if spec.is_instance_of::<PyDebugger>() {
        return Ok((Box::new(Debugger), None));
    }
    if spec.is_instance_of::<PyStageDebugger>() {
        return Ok((Box::new(StageDebugger), None));
    }
    if let Ok(h) = spec.cast::<PyStopWhenDone>() {
        let mut handler = StopWhenDone::new();
        if let Some(idle) = h.get().idle {
            handler = handler.or_idle(Duration::from_secs_f64(idle));
        }
        return Ok((Box::new(handler), None));
    }
    if let Ok(h) = spec.cast::<PyStopWhenIdle>() {
        return Ok((Box::new(WhenIdle(h.get().idle)), None));
    }
    if spec.is_callable() {
        return Ok((Box::new(CallableHandler(spec.clone().unbind())), None));
    }
    Err(crate::errors::type_error(format!(
        "a handler is timbr.LogAndContinue, Debugger, StageDebugger, StopWhenDone, StopWhenIdle, a callable taking an Event, or a list of them; not {}",
        spec.get_type().name()?
    )))
}

/// A Python object as a status plugin: its `name`, and optionally `fields(status) -> dict`,
/// `started(status)`, `tick(status)`, `stopped(status)`, `event(event)`; or a plain callable,
/// which is its `fields` (named after the function).
pub(crate) struct PyPlugin {
    name: String,
    object: Arc<Py<PyAny>>,
    /// The object is a callable standing for `fields`.
    bare: bool,
}

impl PyPlugin {
    pub(crate) fn new(object: &Bound<'_, PyAny>) -> PyResult<PyPlugin> {
        let bare = object.is_callable() && !object.hasattr("fields")?;
        let name = match object.getattr("name") {
            Ok(n) if !bare => n.extract::<String>()?,
            _ => match object.getattr("__name__") {
                Ok(n) => n.extract::<String>()?,
                Err(_) => object.get_type().name()?.to_string(),
            },
        };
        if !bare && !object.hasattr("fields")? && !object.hasattr("tick")? {
            return Err(crate::errors::type_error(format!(
                "plugin `{name}` has neither `fields(status)` nor `tick(status)`, and is not callable"
            )));
        }
        Ok(PyPlugin {
            name,
            object: Arc::new(object.clone().unbind()),
            bare,
        })
    }

    /// Calls `method` with `arg` if the plugin has it; a Python exception unwinds into the
    /// core's catch (see the module's docs).
    fn call<'py>(
        &self,
        py: Python<'py>,
        method: &str,
        arg: impl IntoPyObject<'py>,
    ) -> Option<Bound<'py, PyAny>> {
        let object = self.object.bind(py);
        let f = match (self.bare, method) {
            (true, "fields") => object.clone(),
            (true, _) => return None,
            (false, _) => object.getattr(method).ok()?,
        };
        match f.call1((arg,)) {
            Ok(r) => Some(r),
            Err(e) => std::panic::resume_unwind(Box::new(format!(
                "plugin `{}`.{method} raised {e}",
                self.name
            ))),
        }
    }

    fn with_status(&self, method: &str, status: &Status) -> Option<serde_json::Value> {
        Python::attach(|py| {
            let status = serde_json::to_value(status).ok()?;
            let status = json_to_py(py, &status).ok()?;
            let r = self.call(py, method, status)?;
            if r.is_none() {
                return None;
            }
            let json = crate::value::PyValue(r.unbind());
            match serde_json::to_value(&json) {
                Ok(value) => Some(value),
                Err(e) => std::panic::resume_unwind(Box::new(format!(
                    "plugin `{}`.{method} returned what JSON cannot hold: {e}",
                    self.name
                ))),
            }
        })
    }
}

impl StatusPlugin for PyPlugin {
    fn name(&self) -> &str {
        &self.name
    }

    fn fields(&self, status: &Status) -> serde_json::Value {
        self.with_status("fields", status)
            .unwrap_or(serde_json::Value::Null)
    }

    fn started(&self, status: &Status) {
        self.with_status("started", status);
    }

    fn tick(&self, status: &Status) {
        self.with_status("tick", status);
    }

    fn stopped(&self, status: &Status) {
        self.with_status("stopped", status);
    }

    fn event(&self, event: &Event) {
        Python::attach(|py| {
            self.call(py, "event", PyEvent::new(event.clone()));
        });
    }
}
