//! Waiting without blocking Python: every wait releases the GIL and looks for Ctrl-C, a
//! stop runs on a thread of its own, and dropping a machine never joins under the GIL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use timbr_core::{StopMode, TryPutError};

use super::PyMachine;
use crate::errors;
use crate::value::PyValue;

/// A refused put as `timbr.Full`, carrying the datum back.
pub(super) fn refused(py: Python<'_>, error: TryPutError<PyValue>) -> PyErr {
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
pub(super) const EXIT_GRACE: Duration = Duration::from_secs(5);

/// The longest pause of a blocking put between two looks at the queue.
const PUT_BACKOFF: Duration = Duration::from_millis(5);

impl PyMachine {
    /// A blocking put: waits for room up to `timeout` (None: for ever), Ctrl-C interrupting.
    pub(super) fn put_waiting(
        &self,
        py: Python<'_>,
        datum: PyValue,
        timeout: Option<Duration>,
    ) -> PyResult<()> {
        let machine = Arc::clone(&self.machine);
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
    pub(super) fn stop_aside(
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
    pub(super) fn wait_interruptibly<R>(
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
