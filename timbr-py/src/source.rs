//! A Python iterable as a machine's source: `next()` is called on the source's thread with
//! the GIL held only for the calls; an exception ends the source as failed (counted and
//! reported, the machine goes on with what was queued).
//!
//! Items that come quickly (a list, a generator of ready data) are taken a few at a time
//! under one hold of the GIL: each hold is a hand-over with the workers running stages,
//! the dearest thing on a datum's path. A call that takes longer than [`FAST`] (a stream
//! waiting for its next item) ends the batch, so a slow stream's items are never held back
//! waiting for the next one.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::PyIterator;

use crate::value::PyValue;

/// At most this many items are taken under one hold of the GIL.
const BATCH: usize = 64;

/// A `next()` quicker than this lets the batch go on.
const FAST: Duration = Duration::from_micros(20);

/// The iterator of a Python iterable, yielding its items or, once, its exception's text.
pub(crate) struct PySource {
    iterator: Option<Py<PyIterator>>,
    ready: VecDeque<PyValue>,
    /// How the iterator ended, once it has: `None` exhausted, `Some` its exception.
    ended: Option<Option<String>>,
}

impl PySource {
    /// `iter(iterable)`.
    pub(crate) fn new(iterable: &Bound<'_, PyAny>) -> PyResult<PySource> {
        Ok(PySource {
            iterator: Some(iterable.try_iter()?.unbind()),
            ready: VecDeque::new(),
            ended: None,
        })
    }

    /// Takes the next item, and more while they come quickly.
    fn fill(&mut self, iterator: &Py<PyIterator>) {
        Python::attach(|py| {
            let mut it = iterator.bind(py).clone();
            let started = Instant::now();
            while self.ready.len() < BATCH {
                let call = Instant::now();
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
                if call.elapsed() > FAST || started.elapsed() > FAST * BATCH as u32 {
                    return;
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
