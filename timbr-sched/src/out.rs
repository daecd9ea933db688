//! Where a task puts what it produced: straight into its slot of the run.
//!
//! A task that returns its value makes the executor copy it into the slot right after the
//! call. The task wrote the value in parts (a tag, a word) and the copy reads them back as
//! one wide block while those writes are still on their way to the cache, which the
//! processor cannot forward and so waits for, at every node of a chain. A task given its
//! [`Out`] writes the slot itself, and the next node reads what was written, part for part.

use crate::{Outcome, TaskError, Value};

/// A task's slot in the run, to be filled once with [`value`](Out::value),
/// [`fail`](Out::fail) or [`set`](Out::set) (each takes the `Out`, so a task cannot fill it
/// twice). A task that fills nothing fails, when it returns, with "the task produced no
/// outcome".
#[derive(Debug)]
pub struct Out<'a>(pub(crate) &'a mut Option<Outcome>);

impl Out<'_> {
    /// The task produced `value`.
    #[inline(always)]
    pub fn value(self, value: Value) {
        self.put(Outcome::Value(value));
    }

    /// The task failed with `error`.
    #[inline]
    pub fn fail(self, error: TaskError) {
        self.put(Outcome::Failed(error));
    }

    /// The task's result, whichever it is.
    #[inline(always)]
    pub fn set(self, result: Result<Value, TaskError>) {
        match result {
            Ok(value) => self.value(value),
            Err(error) => self.fail(error),
        }
    }

    /// Writes the slot, which is empty (a task runs once per run and its slot starts empty),
    /// so nothing is dropped on the way.
    #[inline(always)]
    fn put(self, outcome: Outcome) {
        if self.0.is_none() {
            *self.0 = Some(outcome);
        } else {
            replace(self.0, outcome);
        }
    }
}

/// [`Out::put`] on a slot already filled: a task that filled it twice (the second wins).
#[cold]
#[inline(never)]
fn replace(slot: &mut Option<Outcome>, outcome: Outcome) {
    *slot = Some(outcome);
}
