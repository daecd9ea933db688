//! The stages of a Python machine: what the user gave each slot, and its retry policy, built
//! into the engine's stage together.

use pyo3::prelude::*;

use super::{Given, PyMachine};
use crate::errors;
use crate::retry::PyRetry;
use crate::stage::python_stage;

impl PyMachine {
    /// Builds `given` for `slot` with the slot's retry policy (its own, else the machine's
    /// default) and puts it there; remembers it so that a new policy can rebuild it.
    pub(super) fn install(&self, py: Python<'_>, slot: usize, given: Given) -> PyResult<()> {
        let policy = self.retries.lock()[slot]
            .as_ref()
            .or(self.default_retry.as_ref())
            .map(|r| r.get().policy(py));
        let mut stage = python_stage(
            slot,
            given.name.clone(),
            &given.names,
            given.func.clone_ref(py),
        )
        .map_err(errors::wiring)?;
        if let Some(policy) = policy {
            stage = stage.retry(policy);
        }
        self.machine.set_stage(stage).map_err(errors::wiring)?;
        self.funcs.lock()[slot] = Some(given);
        Ok(())
    }

    /// Sets `slot`'s own retry policy (None: the machine's default again) and rebuilds the
    /// stage there, if any, so the policy applies from its next datum on.
    pub(super) fn set_retry(
        &self,
        py: Python<'_>,
        slot: usize,
        policy: Option<Py<PyRetry>>,
    ) -> PyResult<()> {
        self.retries.lock()[slot] = policy;
        let given = self.funcs.lock()[slot].as_ref().map(|g| Given {
            func: g.func.clone_ref(py),
            name: g.name.clone(),
            names: g.names.clone(),
        });
        match given {
            Some(given) => self.install(py, slot, given),
            None => Ok(()),
        }
    }
}
