//! What went wrong, for Python: the failure store's failures (listed as dicts, replayed) and
//! the default handler's recent errors.

use std::sync::Arc;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use timbr_core::observe::ErrorLog;
use timbr_core::Machine;

use crate::retry;
use crate::value::{json_to_py, PyValue};

/// `Machine.failures(...)`: the stored failures the filter picks, oldest first, as dicts.
pub(super) fn list<'py>(
    py: Python<'py>,
    machine: &Arc<Machine<PyValue>>,
    stage: Option<String>,
    error: Option<String>,
    since: Option<Bound<'py, PyAny>>,
    until: Option<Bound<'py, PyAny>>,
) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let filter = retry::filter(stage, error, since.as_ref(), until.as_ref())?;
    let machine = Arc::clone(machine);
    let stored = py
        .detach(move || machine.failures(&filter))
        .map_err(|e| PyRuntimeError::new_err(timbr_core::error_chain(&e)))?;
    stored.iter().map(|f| failure_dict(py, f)).collect()
}

/// `Machine.replay_failures(...)`: how many of the picked failures were put back.
pub(super) fn replay(
    py: Python<'_>,
    machine: &Arc<Machine<PyValue>>,
    stage: Option<String>,
    error: Option<String>,
    since: Option<Bound<'_, PyAny>>,
    until: Option<Bound<'_, PyAny>>,
) -> PyResult<usize> {
    let filter = retry::filter(stage, error, since.as_ref(), until.as_ref())?;
    let machine = Arc::clone(machine);
    py.detach(move || machine.replay_failures(&filter))
        .map_err(|e| PyRuntimeError::new_err(timbr_core::error_chain(&e)))
}

/// `Machine.errors`: the recent errors `log` kept (none without a log), as dicts of `at`,
/// `kind` and `message`.
pub(super) fn recent_errors<'py>(
    py: Python<'py>,
    log: Option<&ErrorLog>,
) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let Some(log) = log else {
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

/// A stored failure as a dict: its report's fields and its input, decoded (the JSON text
/// itself if it does not decode).
fn failure_dict<'py>(
    py: Python<'py>,
    failure: &timbr_core::observe::StoredFailure,
) -> PyResult<Bound<'py, PyAny>> {
    let mut value =
        serde_json::to_value(failure).map_err(|e| PyValueError::new_err(e.to_string()))?;
    if let Some(fields) = value.as_object_mut() {
        let input = serde_json::from_str(&failure.input)
            .unwrap_or_else(|_| serde_json::Value::String(failure.input.clone()));
        fields.insert("input".to_owned(), input);
    }
    json_to_py(py, &value)
}
