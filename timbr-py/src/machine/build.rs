//! Building a machine from `timbr.Machine(...)`'s arguments.

use std::sync::Arc;

use parking_lot::Mutex;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyList;
use timbr_core::{LogAndContinue, Machine, Progress, SourcePolicy};

use super::PyMachine;
use crate::errors;
use crate::handlers::{build_handler, PyPlugin};
use crate::retry::PyRetry;
use crate::sinks::build_sink;
use crate::value::PyValue;

/// `timbr.Machine`'s arguments (see its docstring).
pub(super) struct Settings<'py> {
    pub(super) stages: usize,
    pub(super) bufsize: usize,
    pub(super) workers: usize,
    pub(super) ordered: bool,
    pub(super) name: Option<String>,
    pub(super) handler: Option<Bound<'py, PyAny>>,
    pub(super) sink: Option<Bound<'py, PyAny>>,
    pub(super) queue: Option<Bound<'py, PyAny>>,
    pub(super) total: Option<u64>,
    pub(super) plugins: Option<Bound<'py, PyList>>,
    pub(super) drop_when_full: bool,
    pub(super) idle_after: Option<f64>,
    pub(super) retry: Option<Py<PyRetry>>,
}

/// The machine those arguments describe, or the error that names the wrong one.
pub(super) fn build(py: Python<'_>, settings: Settings<'_>) -> PyResult<PyMachine> {
    let Settings {
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
    } = settings;
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
        retries: Mutex::new((0..machine.slots()).map(|_| None).collect()),
        default_retry: retry,
        machine: Arc::new(machine),
        log,
    })
}
