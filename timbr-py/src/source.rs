//! A Python iterable as a machine's source: `next()` is called on the source's thread with
//! the GIL held only for the calls; an exception ends the source as failed (counted and
//! reported, the machine goes on with what was queued).
//!
//! The items of a list, tuple or range are taken up to [`BATCH`] at a time under one hold of
//! the GIL: each hold is a hand-over with the workers running stages, and the source may
//! wait a switch interval (5 ms) for it; with a queue's worth in hand, the workers have a
//! full queue to work on meanwhile instead of waiting for the source. Any other iterable (a generator, a stream) gives one item per hold: its next item
//! may be long in coming, and the items before it must not wait for it.

use std::collections::VecDeque;

use pyo3::prelude::*;
use pyo3::types::{PyIterator, PyList, PyRange, PyTuple};

use crate::value::PyValue;

/// At most this many items are taken under one hold of the GIL (a default queue's worth).
const BATCH: usize = 1024;

/// The iterator of a Python iterable, yielding its items or, once, its exception's text.
pub(crate) struct PySource {
    iterator: Option<Py<PyIterator>>,
    ready: VecDeque<PyValue>,
    /// How many items one hold of the GIL takes: [`BATCH`] for a list, tuple or range.
    batch: usize,
    /// How the iterator ended, once it has: `None` exhausted, `Some` its exception.
    ended: Option<Option<String>>,
}

impl PySource {
    /// `iter(iterable)`.
    pub(crate) fn new(iterable: &Bound<'_, PyAny>) -> PyResult<PySource> {
        let in_memory = iterable.is_instance_of::<PyList>()
            || iterable.is_instance_of::<PyTuple>()
            || iterable.is_instance_of::<PyRange>();
        Ok(PySource {
            iterator: Some(iterable.try_iter()?.unbind()),
            ready: VecDeque::new(),
            batch: if in_memory { BATCH } else { 1 },
            ended: None,
        })
    }

    /// Takes the next item (and the next few, from a list, tuple or range).
    fn fill(&mut self, iterator: &Py<PyIterator>) {
        Python::attach(|py| {
            let mut it = iterator.bind(py).clone();
            while self.ready.len() < self.batch {
                match it.next() {
                    Some(Ok(item)) => self.ready.push_back(PyValue(item.unbind())),
                    Some(Err(e)) => {
                        let text = crate::stage::PyStageError::new(py, e).to_string();
                        self.ended = Some(Some(text));
                        return;
                    }
                    None => {
                        self.ended = Some(None);
                        return;
                    }
                }
            }
        });
    }
}

impl Iterator for PySource {
    type Item = Result<PyValue, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ready.is_empty() && self.ended.is_none() {
            if let Some(iterator) = self.iterator.take() {
                self.fill(&iterator);
                if self.ended.is_none() {
                    self.iterator = Some(iterator);
                }
            }
        }
        if let Some(item) = self.ready.pop_front() {
            return Some(Ok(item));
        }
        // Exhausted or failed: report a failure once, then end.
        self.ended.take().flatten().map(Err)
    }
}
