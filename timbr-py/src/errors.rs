//! The exceptions timbr raises, each a subclass of the standard one a Python user expects.

use pyo3::exceptions::{PyException, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use timbr_core::BuildError;

pyo3::create_exception!(
    _timbr,
    StageError,
    PyException,
    "A stage failed with an error that is not a Python exception (a Rust stage, a panic)."
);
pyo3::create_exception!(
    _timbr,
    WiringError,
    PyValueError,
    "A stage cannot be placed: its slot, or a key it asks for, does not fit the machine."
);

static FULL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static EMPTY: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// `timbr.Full(datum)` (a `queue.Full`): the queue refused `datum`, which it hands back.
pub(crate) fn full(py: Python<'_>, datum: Py<PyAny>, message: String) -> PyErr {
    match FULL.import(py, "timbr._errors", "Full") {
        Ok(class) => match class.call1((datum, message)) {
            Ok(instance) => PyErr::from_value(instance),
            Err(e) => e,
        },
        Err(e) => e,
    }
}

/// `timbr.Empty` (a `queue.Empty`): nothing arrived in time.
pub(crate) fn empty(py: Python<'_>, message: String) -> PyErr {
    match EMPTY.import(py, "timbr._errors", "Empty") {
        Ok(class) => match class.call1((message,)) {
            Ok(instance) => PyErr::from_value(instance),
            Err(e) => e,
        },
        Err(e) => e,
    }
}

/// A wiring mistake as a Python exception: `IndexError` for a slot out of range, else
/// `timbr.WiringError` (a `ValueError`).
pub(crate) fn wiring(error: BuildError) -> PyErr {
    match error {
        BuildError::SlotOutOfRange { .. } => {
            pyo3::exceptions::PyIndexError::new_err(error.to_string())
        }
        other => WiringError::new_err(other.to_string()),
    }
}

/// A value of the wrong kind passed to timbr.
pub(crate) fn type_error(message: impl Into<String>) -> PyErr {
    PyTypeError::new_err(message.into())
}
