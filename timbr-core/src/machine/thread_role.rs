//! Which threads belong to a machine. On them, `stop` only asks (it must not wait for its
//! own thread), and `start` and `wait` refuse or return at once.

use std::cell::Cell;
use std::thread::LocalKey;

thread_local! {
    /// Set on the machine's own threads and while a handler, hook or plugin runs.
    static MACHINE_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Marks the current thread as one of the machine's for its whole life.
pub(crate) fn mark_machine_thread() {
    MACHINE_THREAD.with(|t| t.set(true));
}

/// Whether the current thread is one of a machine's, or runs a handler, hook, plugin or a
/// stage on a rayon pool (where joining the machine's threads could wait for itself).
pub(crate) fn on_machine_thread() -> bool {
    MACHINE_THREAD.with(Cell::get) || rayon::current_thread_index().is_some()
}

/// Runs `f` marked as a machine thread (restoring the mark after).
pub(crate) fn as_machine_thread<R>(f: impl FnOnce() -> R) -> R {
    let was = MACHINE_THREAD.with(|t| t.replace(true));
    let r = f();
    MACHINE_THREAD.with(|t| t.set(was));
    r
}

/// A thread-local flag raised until dropped (a panic included): "this thread is inside …".
pub(crate) struct Raised(&'static LocalKey<Cell<bool>>);

impl Raised {
    pub(crate) fn set(flag: &'static LocalKey<Cell<bool>>) -> Raised {
        flag.with(|f| f.set(true));
        Raised(flag)
    }
}

impl Drop for Raised {
    fn drop(&mut self) {
        self.0.with(|f| f.set(false));
    }
}
