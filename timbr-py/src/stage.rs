//! A Python callable as a stage: its arguments named by keys, called with the GIL held only
//! for the call, and its exception kept (type, message, traceback) as the stage's error.

use std::cell::RefCell;
use std::error::Error;
use std::fmt;

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};
use timbr_core::bson::oid::ObjectId;
use timbr_core::datum::{ArgKey, StageArg};
use timbr_core::sched::{Args, TaskError, TypeInfo};
use timbr_core::{BuildError, Serialized, Stage};

use crate::value::PyValue;

/// What a key holds, and so how its argument becomes a Python object.
#[derive(Clone, Copy)]
enum Held {
    /// `input` or `f{k}`: a Python object.
    Object,
    /// `oid`: an `ObjectId`, passed as its 24-char hex.
    Oid,
    /// `input_s`, `oid_s`, `f{k}_s`: JSON text, passed as a `str`.
    Text,
}

impl Held {
    fn of(key: ArgKey) -> Held {
        match key {
            ArgKey::Input | ArgKey::Slot(_) => Held::Object,
            ArgKey::Oid => Held::Oid,
            ArgKey::InputS | ArgKey::OidS | ArgKey::SlotS(_) => Held::Text,
        }
    }

    fn type_info(self) -> TypeInfo {
        match self {
            Held::Object => TypeInfo::of::<PyValue>(),
            Held::Oid => TypeInfo::of::<ObjectId>(),
            Held::Text => TypeInfo::of::<Serialized>(),
        }
    }
}

/// The core stage that calls `func` at `slot` with the keys `names` (already chosen by the
/// Python side: positionally as the notebook's `wrap_transform`, or by parameter name).
pub(crate) fn python_stage(
    slot: usize,
    name: String,
    names: &[String],
    func: Py<PyAny>,
) -> Result<Stage, BuildError> {
    let mut args = Vec::with_capacity(names.len());
    for argument in names {
        let key = ArgKey::parse(argument).ok_or_else(|| BuildError::UnknownArgument {
            stage: name.clone(),
            argument: argument.clone(),
        })?;
        args.push(StageArg {
            key,
            ty: Held::of(key).type_info(),
        });
    }
    let held: Vec<Held> = args.iter().map(|a| Held::of(a.key)).collect();
    Stage::from_args(slot, name, args, move |a: &Args<'_>| {
        Python::attach(|py| call(py, &func, &held, a))
    })
}

fn call(
    py: Python<'_>,
    func: &Py<PyAny>,
    held: &[Held],
    a: &Args<'_>,
) -> Result<PyValue, TaskError> {
    let mut items: Vec<Bound<'_, PyAny>> = Vec::with_capacity(held.len());
    for (i, held) in held.iter().enumerate() {
        items.push(match held {
            Held::Object => a.get::<PyValue>(i)?.bind(py).clone(),
            Held::Oid => PyString::new(py, &a.get::<ObjectId>(i)?.to_hex()).into_any(),
            Held::Text => PyString::new(py, a.get::<Serialized>(i)?.as_str()).into_any(),
        });
    }
    let result = match items.len() {
        0 => func.bind(py).call0(),
        1 => func.bind(py).call1((&items[0],)),
        2 => func.bind(py).call1((&items[0], &items[1])),
        _ => PyTuple::new(py, items).and_then(|t| func.bind(py).call1(t)),
    };
    result.map(|r| PyValue(r.unbind())).map_err(|e| {
        if !e.is_instance_of::<PyException>(py) {
            // KeyboardInterrupt, SystemExit: not the stage's failure but the caller's wish.
            // The datum fails; the caller of `get` or `machine(x)` raises it after.
            INTERRUPT.with(|i| *i.borrow_mut() = Some(e.clone_ref(py)));
        }
        TaskError::new(PyStageError::new(py, e))
    })
}

thread_local! {
    /// A `KeyboardInterrupt` or `SystemExit` a stage raised on this thread, to raise again
    /// once the call that ran the stage returns to Python.
    static INTERRUPT: RefCell<Option<PyErr>> = const { RefCell::new(None) };
}

/// The `KeyboardInterrupt` or `SystemExit` a stage raised on this thread since the last
/// call, if any.
pub(crate) fn take_interrupt() -> Option<PyErr> {
    INTERRUPT.with(|i| i.borrow_mut().take())
}

/// A Python exception raised by a stage, with its type, message and traceback: what the
/// record's `_exception`, events and status show, and what a replay raises again.
pub(crate) struct PyStageError {
    text: String,
    error: PyErr,
}

impl PyStageError {
    /// Keeps `error` and formats it now, while its traceback is at hand.
    pub(crate) fn new(py: Python<'_>, error: PyErr) -> PyStageError {
        PyStageError {
            text: describe(py, &error),
            error,
        }
    }

    /// The original exception, to raise again.
    pub(crate) fn error(&self, py: Python<'_>) -> PyErr {
        self.error.clone_ref(py)
    }
}

/// `Type: message`, then the traceback (most recent call last) as Python prints it, less
/// the source lines: the `traceback` module's formatting, which reads them, took 17.7 µs
/// for two frames, a failing datum's whole cost without it ~3.5 µs (BENCHMARKS.md).
fn describe(py: Python<'_>, error: &PyErr) -> String {
    let summary = error.value(py).to_string();
    let kind = error
        .get_type(py)
        .name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "Exception".to_owned());
    let mut text = if summary.is_empty() {
        kind
    } else {
        format!("{kind}: {summary}")
    };
    if let Some(tb) = error.traceback(py) {
        text.push_str("\nTraceback (most recent call last):");
        let mut frame = Some(tb.into_any());
        // Bounded: a traceback is as deep as the recursion that raised it.
        for _ in 0..MAX_FRAMES {
            let Some(tb) = frame.take().filter(|t| !t.is_none()) else {
                break;
            };
            let line = frame_line(&tb).unwrap_or_else(|_| "  File \"?\"".to_owned());
            text.push('\n');
            text.push_str(&line);
            frame = tb.getattr("tb_next").ok();
        }
    }
    text
}

/// The most frames a recorded traceback shows (Python's own limit is the recursion's).
const MAX_FRAMES: usize = 64;

/// `  File "path", line N, in name` for one traceback entry.
fn frame_line(tb: &Bound<'_, PyAny>) -> PyResult<String> {
    let line: u32 = tb.getattr("tb_lineno")?.extract()?;
    let code = tb.getattr("tb_frame")?.getattr("f_code")?;
    let file: String = code.getattr("co_filename")?.extract()?;
    let name: String = code.getattr("co_name")?.extract()?;
    Ok(format!("  File \"{file}\", line {line}, in {name}"))
}

impl fmt::Display for PyStageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for PyStageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Error for PyStageError {}

/// The Python exception behind a stage's error, if it was one; else a `timbr.StageError`
/// with the error's text.
pub(crate) fn raise_task_error(py: Python<'_>, error: &TaskError) -> PyErr {
    match error.inner().and_then(|e| e.downcast_ref::<PyStageError>()) {
        Some(e) => e.error(py),
        None => crate::errors::StageError::new_err(error.to_string()),
    }
}
