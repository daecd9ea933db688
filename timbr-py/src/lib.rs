//! timbr for Python: the Rust engine (queue, threads, graph, accounting, status, sinks,
//! Redis, HTTP) with stages, sources, handlers and plugins written in Python.
//!
//! A thin binding: Python objects travel as `value::PyValue` (serialized to JSON in Rust,
//! straight from the objects), Python callables become core stages (`stage.rs`), handlers,
//! plugins and sinks; everything else is the core's. The package's Python layer
//! (`python/timbr/`) chooses stage arguments as the notebook did and adds the live display.
//!
//! The GIL is held only while Python code runs: the machine's threads take it for a
//! stage's call (or a value's serialization) and release it after; every call from Python
//! that may wait releases it.

mod errors;
mod handlers;
mod http;
mod machine;
mod redis;
mod retry;
mod sinks;
mod source;
mod stage;
mod thread_state;
mod value;
mod views;

use pyo3::prelude::*;

/// The native part of the `timbr` package (import `timbr`, not this).
#[pymodule]
fn _timbr(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<machine::PyMachine>()?;
    m.add_class::<views::PyRecord>()?;
    m.add_class::<views::PyCalled>()?;
    m.add_class::<views::PyEvent>()?;
    m.add_class::<views::PyFailure>()?;
    m.add_class::<views::PyKept>()?;
    m.add_class::<handlers::PyLogAndContinue>()?;
    m.add_class::<handlers::PyDebugger>()?;
    m.add_class::<handlers::PyStageDebugger>()?;
    m.add_class::<handlers::PyStopWhenDone>()?;
    m.add_class::<handlers::PyStopWhenIdle>()?;
    m.add_class::<sinks::PyZmqSink>()?;
    m.add_class::<sinks::PyJsonLines>()?;
    m.add_class::<sinks::PyRedisSink>()?;
    m.add_class::<redis::PyRedisQueue>()?;
    m.add_class::<redis::PyFleet>()?;
    m.add_class::<http::PyHttpServer>()?;
    m.add_class::<retry::PyRetry>()?;
    m.add_function(wrap_pyfunction!(http::serve_http, m)?)?;
    m.add("StageError", py.get_type::<errors::StageError>())?;
    m.add("WiringError", py.get_type::<errors::WiringError>())?;
    m.add("MAX_SLOTS", timbr_core::machine::MAX_SLOTS)?;
    Ok(())
}
