//! A machine thread keeps its Python thread state from one datum to the next.
//!
//! Attaching a thread that has no Python thread state creates one, and detaching it (when
//! the attach count drops to zero) destroys it again: a thread state's allocation, its
//! linking into the interpreter and its teardown, for every datum. A thread that keeps one
//! (attached once, then detached without releasing it) only takes and gives back the GIL
//! per datum. The state is released when the thread ends, unless the interpreter is
//! finalizing then (it frees every thread state itself).
//!
//! The only unsafe code of the crate: four calls of CPython's C API, in the order its
//! documentation gives for keeping a thread state across `PyGILState_Ensure` calls.

#![allow(unsafe_code)]

use std::cell::RefCell;

use pyo3::ffi;
use pyo3::Python;

/// This thread's kept state: the `PyGILState_Ensure` that created it, and the state itself
/// while the thread is detached.
struct Kept {
    gilstate: ffi::PyGILState_STATE,
    tstate: *mut ffi::PyThreadState,
}

impl Drop for Kept {
    fn drop(&mut self) {
        // `try_attach` answers None once the interpreter is finalizing (or gone): then it
        // owns every thread state, and this one must not be touched.
        if Python::try_attach(|_| ()).is_none() {
            return;
        }
        // SAFETY: `tstate` is this thread's own state, saved by `PyEval_SaveThread` in
        // `keep` and not restored since; restoring it takes the GIL back, and the release
        // undoes `keep`'s ensure (the last one of this thread), which deletes the state
        // and releases the GIL.
        unsafe {
            ffi::PyEval_RestoreThread(self.tstate);
            ffi::PyGILState_Release(self.gilstate);
        }
    }
}

thread_local! {
    static KEPT: RefCell<Option<Kept>> = const { RefCell::new(None) };
}

/// Makes sure this thread keeps a Python thread state between attaches, if Python gave it
/// none (a machine's own threads; a Python thread calling `get` has its own, which Python
/// manages). Call it detached (not inside `Python::attach`).
pub(crate) fn keep() {
    KEPT.with(|kept| {
        let mut kept = kept.borrow_mut();
        if kept.is_some() {
            return;
        }
        // An interpreter that is gone or finalizing: attach as usual, per datum.
        if Python::try_attach(|_| ()).is_none() {
            return;
        }
        // SAFETY: a plain read of this thread's entry in the interpreter's thread table.
        if !unsafe { ffi::PyGILState_GetThisThreadState() }.is_null() {
            // A Python thread: its state is Python's, created and deleted with the thread.
            return;
        }
        // SAFETY: this thread is not attached (see the doc), so `PyGILState_Ensure` creates
        // its thread state and takes the GIL, and `PyEval_SaveThread` releases the GIL
        // while the state (with its ensure count of one) stays this thread's. pyo3's later
        // attaches then find it, and take only the GIL.
        let (gilstate, tstate) = unsafe {
            let gilstate = ffi::PyGILState_Ensure();
            (gilstate, ffi::PyEval_SaveThread())
        };
        *kept = Some(Kept { gilstate, tstate });
    });
}
