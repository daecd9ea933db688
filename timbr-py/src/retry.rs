//! `timbr.Retry`: a stage's retry policy, from Python, and the filter of `failures()` and
//! `replay_failures()`.

use std::time::{Duration, UNIX_EPOCH};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyTuple, PyType};
use timbr_core::datum::Timestamp;
use timbr_core::sched::TaskError;
use timbr_core::{Backoff, FailureFilter, RetryPolicy};

use crate::stage::PyStageError;

/// How a stage's failures are retried: at most `attempts` runs of the stage for one datum,
/// waiting `wait` seconds before the first retry (growing by `factor` up to `max_wait` when
/// that is given, else the same each time), up to `jitter` (0 to 1) of it less at random.
///
/// `on` says which exceptions are transient: an exception class or a tuple of them, or a
/// callable taking the exception and returning whether to retry. By default only
/// `timbr.TransientError` (raise it, or a subclass, from a stage to say "try me later").
///
/// A retried datum does not hold its worker: it waits aside and runs again from the failed
/// stage on; the stages before it keep their values. What fails for good goes to the
/// machine's failure store (`machine.failures()`), for `machine.replay_failures()` after a fix.
///
/// ```python
/// m.retry(3, timbr.Retry(attempts=4, wait=0.1, max_wait=5, jitter=0.5, on=ConnectionError))
/// ```
#[pyclass(frozen, module = "timbr", name = "Retry")]
pub(crate) struct PyRetry {
    attempts: u32,
    wait: Duration,
    max_wait: Option<Duration>,
    factor: u32,
    jitter: f64,
    on: Py<PyAny>,
}

#[pymethods]
impl PyRetry {
    #[new]
    #[pyo3(signature = (attempts=3, *, wait=0.1, max_wait=None, factor=2, jitter=0.0, on=None))]
    fn new(
        py: Python<'_>,
        attempts: u32,
        wait: f64,
        max_wait: Option<f64>,
        factor: u32,
        jitter: f64,
        on: Option<Py<PyAny>>,
    ) -> PyResult<PyRetry> {
        if attempts == 0 {
            return Err(PyValueError::new_err(
                "attempts must be at least 1 (the first run counts: 1 never retries)",
            ));
        }
        if factor == 0 {
            return Err(PyValueError::new_err("factor must be at least 1"));
        }
        if !(0.0..=1.0).contains(&jitter) {
            return Err(PyValueError::new_err(format!(
                "jitter is a fraction of the wait, from 0 to 1, not {jitter}"
            )));
        }
        let wait = crate::handlers::seconds(wait)?;
        let max_wait = max_wait.map(crate::handlers::seconds).transpose()?;
        if max_wait.is_some_and(|m| m < wait) {
            return Err(PyValueError::new_err(
                "max_wait must be at least wait: it bounds the growing waits",
            ));
        }
        let on = match on {
            Some(on) => {
                let bound = on.bind(py);
                if !(bound.is_instance_of::<PyType>()
                    || bound.is_instance_of::<PyTuple>()
                    || bound.is_callable())
                {
                    return Err(crate::errors::type_error(format!(
                        "on is an exception class, a tuple of them or a callable, not {}",
                        bound.get_type().name()?
                    )));
                }
                on
            }
            None => py
                .import("timbr._errors")?
                .getattr("TransientError")?
                .unbind(),
        };
        Ok(PyRetry {
            attempts,
            wait,
            max_wait,
            factor,
            jitter,
            on,
        })
    }

    /// The most runs of the stage for one datum.
    #[getter]
    fn attempts(&self) -> u32 {
        self.attempts
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let on = self
            .on
            .bind(py)
            .repr()
            .map(|r| r.to_string())
            .unwrap_or_else(|_| "?".to_owned());
        let max = self
            .max_wait
            .map(|m| format!(", max_wait={}", m.as_secs_f64()))
            .unwrap_or_default();
        format!(
            "timbr.Retry(attempts={}, wait={}{max}, factor={}, jitter={}, on={on})",
            self.attempts,
            self.wait.as_secs_f64(),
            self.factor,
            self.jitter
        )
    }
}

impl PyRetry {
    /// The engine's policy: the backoff, and a predicate that asks Python whether the
    /// stage's exception is one `on` retries (a panic or an error that is not a Python
    /// exception never is).
    pub(crate) fn policy(&self, py: Python<'_>) -> RetryPolicy {
        let backoff = match self.max_wait {
            Some(max) => Backoff::exponential(self.wait, max).factor(self.factor),
            None => Backoff::fixed(self.wait),
        }
        .jitter(self.jitter);
        let on = self.on.clone_ref(py);
        RetryPolicy::new(self.attempts)
            .backoff(backoff)
            .transient_if(move |error: &TaskError| is_transient(&on, error))
    }
}

fn is_transient(on: &Py<PyAny>, error: &TaskError) -> bool {
    let Some(stage_error) = error.inner().and_then(|e| e.downcast_ref::<PyStageError>()) else {
        return false;
    };
    Python::attach(|py| {
        let exception = stage_error.error(py).into_value(py).into_bound(py);
        let on = on.bind(py);
        let answer = if on.is_instance_of::<PyType>() || on.is_instance_of::<PyTuple>() {
            exception.is_instance(on)
        } else {
            on.call1((exception,)).and_then(|r| r.is_truthy())
        };
        // A predicate that raises says no: the datum fails for good, with its own error; the
        // predicate's exception is reported as unraisable (sys.unraisablehook), not lost.
        answer.unwrap_or_else(|e| {
            e.write_unraisable(py, Some(on));
            false
        })
    })
}

/// The filter `failures()` and `replay_failures()` take: by stage name, error text, and
/// time (seconds since the epoch, as `time.time()`, or a `datetime`).
pub(crate) fn filter(
    stage: Option<String>,
    error: Option<String>,
    since: Option<&Bound<'_, PyAny>>,
    until: Option<&Bound<'_, PyAny>>,
) -> PyResult<FailureFilter> {
    let mut filter = FailureFilter::all();
    if let Some(stage) = stage {
        filter = filter.stage(stage);
    }
    if let Some(error) = error {
        filter = filter.error_contains(error);
    }
    if let Some(since) = since {
        filter = filter.since(timestamp(since)?);
    }
    if let Some(until) = until {
        filter = filter.until(timestamp(until)?);
    }
    Ok(filter)
}

/// A time given as seconds since the epoch or as a `datetime` (naive ones are local time,
/// as `datetime.timestamp()` takes them).
fn timestamp(at: &Bound<'_, PyAny>) -> PyResult<Timestamp> {
    let seconds: f64 = match at.extract::<f64>() {
        Ok(s) => s,
        Err(_) => at.call_method0("timestamp")?.extract()?,
    };
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(PyValueError::new_err(format!(
            "a time is seconds since the epoch (>= 0) or a datetime, not {seconds}"
        )));
    }
    let since_epoch = Duration::try_from_secs_f64(seconds)
        .map_err(|e| PyValueError::new_err(format!("{seconds} seconds: {e}")))?;
    UNIX_EPOCH
        .checked_add(since_epoch)
        .map(Timestamp)
        .ok_or_else(|| PyValueError::new_err(format!("{seconds} seconds is too far ahead")))
}
