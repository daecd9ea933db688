//! Setting a machine's source: an iterator fed to the queue from its own thread.

use std::fmt;
use std::sync::atomic::Ordering;

use crate::io::source::{SourceIter, SourceParts};
use crate::io::SourceState;
use crate::machine::Machine;
use crate::{Datum, MachineState};

impl<T: Datum> Machine<T> {
    /// Feeds the queue from `source` on its own thread, waiting while the queue is full
    /// (or dropping, by the [`SourcePolicy`](crate::SourcePolicy)). It starts with the machine (now, if running)
    /// and replaces any earlier source; a datum the earlier source still held goes first.
    pub fn set_source<I>(&self, source: I)
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
    {
        self.install_source(Box::new(source.into_iter().map(Ok)));
    }

    /// Like [`set_source`](Machine::set_source), for an iterator of results: the first
    /// error ends the source, and the source state shows it as failed.
    pub fn set_try_source<I, E>(&self, source: I)
    where
        I: IntoIterator<Item = Result<T, E>>,
        I::IntoIter: Send + 'static,
        E: fmt::Display,
    {
        self.install_source(Box::new(
            source.into_iter().map(|r| r.map_err(|e| e.to_string())),
        ));
    }

    fn install_source(&self, iter: SourceIter<T>) {
        let mut control = self.control.lock();
        self.stop_source(&mut control);
        let pending = control.parts.take().and_then(|p| p.pending);
        control.parts = Some(SourceParts {
            iter: Some(iter),
            pending,
        });
        self.shared
            .source_status
            .produced
            .store(0, Ordering::Release);
        self.shared.source_status.set(SourceState::Ready);
        self.shared.sup.life.allow_source();
        // Only a running machine starts the new source now; a stopping one must not.
        if self.state() == MachineState::Running {
            if let Err(e) = self.spawn_source(&mut control) {
                self.shared.source_status.set(SourceState::Failed(format!(
                    "could not spawn the source thread: {e}"
                )));
            }
        }
    }

    /// The source's state.
    ///
    /// Once the machine is no longer running, its source is not either: a source the stop
    /// has not reached yet (its thread is joined by [`stop`](Machine::stop) or drop) shows
    /// as [`Ready`](SourceState::Ready), which is what it will be.
    pub fn source_state(&self) -> SourceState {
        shown(
            self.shared.source_status.state(),
            &self.shared.sup.life.state(),
        )
    }

    /// How many data the current source produced.
    pub fn source_produced(&self) -> u64 {
        self.shared.source_status.produced.load(Ordering::Acquire)
    }
}

/// The source state to show while the machine is in `machine`: what the source thread last
/// said, except that a source is not running once its machine is not. When a handler stops the
/// machine, the source thread is told to stop, but it notices only between two data (a
/// blocked put checks every few milliseconds; an iterator that blocks, when it returns) and is
/// joined only by `stop` or drop: until then it would still read "running".
pub(crate) fn shown(source: SourceState, machine: &MachineState) -> SourceState {
    match source {
        SourceState::Running if *machine != MachineState::Running => SourceState::Ready,
        other => other,
    }
}
