//! The machine: a queue, a graph of stages run per datum, consumer and source threads, and
//! the accounting that shows where every datum is.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bson::oid::ObjectId;
use parking_lot::Mutex;
use serde::Serialize;

use crate::builder::{place, MachineBuilder};
use crate::source::{Feeder, SourceParts, SourceState};
use crate::wiring::Wiring;
use crate::worker::{Shared, DRAIN, RETURN, RUN};
use crate::{
    BuildError, Called, Counts, GetError, PutTimeoutError, Putter, Record, Stage, StartError,
    Taken, TryPutError,
};

/// What [`Machine::stop`] does with the data still queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopMode {
    /// Process everything queued, then stop.
    Drain,
    /// Finish the data in flight, stop, and hand the queued data back.
    Return,
}

/// A streaming machine: data go in through a bounded queue, each runs through the stages,
/// and each produces a [`Record`].
///
/// Every method takes `&self`, so a machine can be shared (e.g. in an `Arc`) between the
/// threads that feed it, watch it and stop it. Dropping a running machine stops it, draining
/// its queue.
///
/// See the [crate documentation](crate) for the whole flow.
pub struct Machine<T: Serialize + Send + Sync + 'static> {
    shared: Arc<Shared<T>>,
    control: Mutex<Control<T>>,
    putter: Putter<T>,
}

struct Control<T> {
    consumers: Vec<JoinHandle<()>>,
    source: Option<JoinHandle<SourceParts<T>>>,
    parts: Option<SourceParts<T>>,
}

impl<T: Serialize + Send + Sync + 'static> Default for Machine<T> {
    fn default() -> Self {
        Machine::new()
    }
}

impl<T: Serialize + Send + Sync + 'static> Machine<T> {
    /// A machine with default settings and no stages: every slot is the identity.
    pub fn new() -> Self {
        // No stages: nothing to check, nothing can fail.
        MachineBuilder::default()
            .build()
            .expect("a machine without stages always builds")
    }

    /// A builder for non-default settings.
    pub fn builder() -> MachineBuilder<T> {
        MachineBuilder::default()
    }

    /// A machine with default settings and these stages, with as many slots as the highest
    /// stage needs (at least [`DEFAULT_SLOTS`](crate::DEFAULT_SLOTS)). The `from_stages!`
    /// macro calls this.
    ///
    /// # Errors
    ///
    /// [`BuildError`] as for [`MachineBuilder::build`].
    pub fn from_stages(stages: impl IntoIterator<Item = Stage>) -> Result<Self, BuildError> {
        let stages: Vec<Stage> = stages.into_iter().collect();
        let slots = stages
            .iter()
            .map(|s| s.slot + 1)
            .max()
            .unwrap_or(0)
            .max(crate::DEFAULT_SLOTS);
        Machine::builder().slots(slots).stages(stages).build()
    }

    pub(crate) fn from_shared(shared: Arc<Shared<T>>) -> Self {
        let putter = Putter {
            queue: Arc::clone(&shared.queue),
            counters: Arc::clone(&shared.counters),
        };
        Machine {
            shared,
            control: Mutex::new(Control {
                consumers: Vec::new(),
                source: None,
                parts: None,
            }),
            putter,
        }
    }

    // ---- the queue -------------------------------------------------------------------

    /// Puts a datum if the queue has room; never blocks.
    ///
    /// # Errors
    ///
    /// [`TryPutError`] holding the datum when the queue is full.
    pub fn try_put(&self, datum: T) -> Result<(), TryPutError<T>> {
        self.putter.try_put(datum)
    }

    /// Puts a datum, waiting while the queue is full.
    pub fn put(&self, datum: T) {
        self.putter.put(datum)
    }

    /// Puts a datum, waiting at most `timeout` for room.
    ///
    /// # Errors
    ///
    /// [`PutTimeoutError`] holding the datum if the queue stayed full.
    pub fn put_timeout(&self, datum: T, timeout: Duration) -> Result<(), PutTimeoutError<T>> {
        self.putter.put_timeout(datum, timeout)
    }

    /// A cloneable handle for putting data from other threads.
    pub fn putter(&self) -> Putter<T> {
        self.putter.clone()
    }

    /// How many data wait in the queue.
    pub fn len(&self) -> usize {
        self.shared.queue.len()
    }

    /// Whether no data wait in the queue.
    pub fn is_empty(&self) -> bool {
        self.shared.queue.is_empty()
    }

    /// Whether the queue is full.
    pub fn is_full(&self) -> bool {
        self.putter.is_full()
    }

    /// The queue's capacity, if bounded.
    pub fn capacity(&self) -> Option<usize> {
        self.shared.queue.capacity()
    }

    // ---- processing on the caller's thread -------------------------------------------

    /// Processes `datum` now, on the caller's thread, without the queue: every raw key is
    /// computed, serialized forms on request.
    pub fn call(&self, datum: T) -> Called {
        let (_, wiring) = self.shared.current_wiring();
        let oid = ObjectId::new();
        let outcomes = wiring.run(&wiring.call_plan, datum, oid, &*self.shared.executor, None);
        Called {
            wiring,
            oid,
            outcomes,
        }
    }

    /// Takes one datum from the queue (waiting at most `timeout`), processes it on the
    /// caller's thread and returns its record (not sent to the sink).
    ///
    /// # Errors
    ///
    /// [`GetError::Timeout`] if nothing arrived in time; [`GetError::Running`] while the
    /// machine runs (its consumers own the queue then).
    pub fn get(&self, timeout: Duration) -> Result<Record, GetError> {
        if self.is_running() {
            return Err(GetError::Running);
        }
        let deadline = Instant::now().checked_add(timeout);
        let datum = loop {
            match self.shared.queue.take(deadline) {
                Taken::Datum(d) => break d,
                Taken::TimedOut => return Err(GetError::Timeout),
                Taken::Woken => continue,
            }
        };
        self.shared.counters.take();
        let (_, wiring) = self.shared.current_wiring();
        let record = self.shared.process(&wiring, datum);
        self.shared.count(record.is_ok());
        Ok(record)
    }

    // ---- running -----------------------------------------------------------------------

    /// Starts the consumer threads (and the source's, if one is set). Records go to the sink.
    ///
    /// # Errors
    ///
    /// [`StartError::AlreadyRunning`], or [`StartError::Spawn`] if a thread could not be
    /// created (then nothing is left running).
    pub fn start(&self) -> Result<(), StartError> {
        let mut control = self.control.lock();
        if self.shared.live.load(Ordering::Acquire) > 0 {
            return Err(StartError::AlreadyRunning);
        }
        // Consumers that ended on their own (they never do, short of a bug) are reaped here.
        for handle in control.consumers.drain(..) {
            let _ = handle.join();
        }
        self.shared.stop_mode.store(RUN, Ordering::Release);
        self.shared.source_stop.store(false, Ordering::Release);
        for i in 0..self.shared.workers {
            let shared = Arc::clone(&self.shared);
            self.shared.live.fetch_add(1, Ordering::AcqRel);
            let spawned = std::thread::Builder::new()
                .name(format!("timbr-worker-{i}"))
                .spawn(move || shared.consume());
            match spawned {
                Ok(handle) => control.consumers.push(handle),
                Err(e) => {
                    self.shared.live.fetch_sub(1, Ordering::AcqRel);
                    drop(control);
                    self.stop(StopMode::Drain);
                    return Err(StartError::Spawn(e));
                }
            }
        }
        self.spawn_source(&mut control).map_err(StartError::Spawn)
    }

    fn spawn_source(&self, control: &mut Control<T>) -> std::io::Result<()> {
        let Some(parts) = control.parts.take() else {
            return Ok(());
        };
        if parts.iter.is_none() && parts.pending.is_none() {
            control.parts = Some(parts);
            return Ok(());
        }
        let shared = Arc::clone(&self.shared);
        let handle = std::thread::Builder::new()
            .name("timbr-source".to_owned())
            .spawn(move || {
                Feeder {
                    queue: &*shared.queue,
                    counters: &shared.counters,
                    policy: shared.policy,
                    stop: &shared.source_stop,
                    status: &shared.source_status,
                }
                .run(parts)
            })?;
        control.source = Some(handle);
        Ok(())
    }

    /// Stops the source and the consumers and joins their threads; idempotent.
    ///
    /// With [`StopMode::Drain`] the consumers first process everything queued; with
    /// [`StopMode::Return`] they finish only the data in flight, and the queued data are
    /// returned. A source's datum that was waiting for room is kept, not lost: the source
    /// resumes with it on the next [`start`](Machine::start).
    pub fn stop(&self, mode: StopMode) -> Vec<T> {
        let mut control = self.control.lock();
        self.stop_source(&mut control);
        self.shared.stop_mode.store(
            if mode == StopMode::Drain {
                DRAIN
            } else {
                RETURN
            },
            Ordering::Release,
        );
        self.shared.queue.wake_takers(control.consumers.len());
        for handle in control.consumers.drain(..) {
            let _ = handle.join();
        }
        if let Err(e) = self.shared.sink.lock().flush() {
            self.shared.sink_error(e.to_string());
        }
        let mut returned = Vec::new();
        if mode == StopMode::Return {
            while let Some(d) = self.shared.queue.try_take() {
                returned.push(d);
            }
            self.shared.counters.returned(returned.len() as u64);
        }
        returned
    }

    /// [`stop`](Machine::stop) with [`StopMode::Drain`].
    pub fn stop_drain(&self) {
        self.stop(StopMode::Drain);
    }

    fn stop_source(&self, control: &mut Control<T>) {
        self.shared.source_stop.store(true, Ordering::Release);
        if let Some(handle) = control.source.take() {
            match handle.join() {
                Ok(parts) => control.parts = Some(parts),
                // The feeder catches the iterator's panics; nothing else in it can panic.
                Err(_) => self
                    .shared
                    .source_status
                    .set(SourceState::Failed("source thread panicked".to_owned())),
            }
        }
    }

    /// Whether consumer threads are alive: derived from the threads themselves, so it is
    /// never `true` after they ended, whatever ended them.
    pub fn is_running(&self) -> bool {
        self.shared.live.load(Ordering::Acquire) > 0
    }

    // ---- the source --------------------------------------------------------------------

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

    fn install_source(&self, iter: crate::source::SourceIter<T>) {
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
        self.shared.source_stop.store(false, Ordering::Release);
        if self.is_running() {
            if let Err(e) = self.spawn_source(&mut control) {
                self.shared.source_status.set(SourceState::Failed(format!(
                    "could not spawn the source thread: {e}"
                )));
            }
        }
    }

    /// The source's state.
    pub fn source_state(&self) -> SourceState {
        self.shared.source_status.state()
    }

    /// How many data the current source produced.
    pub fn source_produced(&self) -> u64 {
        self.shared.source_status.produced.load(Ordering::Acquire)
    }

    // ---- stages -------------------------------------------------------------------------

    /// Puts `stage` at its slot, replacing and returning what was there. Data already in
    /// flight finish with the old wiring; the next datum sees the new one.
    ///
    /// # Errors
    ///
    /// [`BuildError`] if the slot is out of range or the new wiring does not type-check;
    /// the machine is then unchanged.
    pub fn set_stage(&self, stage: Stage) -> Result<Option<Stage>, BuildError> {
        let slot = stage.slot;
        self.rewire(|stages| {
            if slot >= stages.len() {
                return Err(BuildError::SlotOutOfRange {
                    stage: stage.name.to_string(),
                    slot,
                    slots: stages.len(),
                });
            }
            Ok(stages[slot].replace(stage))
        })
    }

    /// Puts several stages at once: the next datum sees all of them, never only some.
    ///
    /// # Errors
    ///
    /// As for [`set_stage`](Machine::set_stage), and [`BuildError::SlotTaken`] if two of
    /// the new stages share a slot; the machine is then unchanged.
    pub fn set_stages(&self, new: impl IntoIterator<Item = Stage>) -> Result<(), BuildError> {
        self.rewire(|stages| {
            let new = place(stages.len(), new.into_iter().collect())?;
            for (slot, stage) in new.into_iter().enumerate() {
                if let Some(stage) = stage {
                    stages[slot] = Some(stage);
                }
            }
            Ok(())
        })
    }

    /// Empties a slot (it becomes the identity) and returns its stage.
    ///
    /// # Errors
    ///
    /// [`BuildError::EmptySlot`] if there is no stage there; [`BuildError::ArgumentType`] if a
    /// later stage reads this slot and the identity would give it another type.
    pub fn remove_stage(&self, slot: usize) -> Result<Stage, BuildError> {
        self.rewire(|stages| {
            stages
                .get_mut(slot)
                .and_then(Option::take)
                .ok_or(BuildError::EmptySlot(slot))
        })
    }

    fn rewire<R>(
        &self,
        change: impl FnOnce(&mut Vec<Option<Stage>>) -> Result<R, BuildError>,
    ) -> Result<R, BuildError> {
        let mut current = self.shared.wiring.write();
        let mut stages = current.stages.clone();
        let out = change(&mut stages)?;
        let stages = place(stages.len(), stages.into_iter().flatten().collect())?;
        *current = Arc::new(Wiring::build::<T>(stages)?);
        self.shared.wiring_version.fetch_add(1, Ordering::AcqRel);
        Ok(out)
    }

    /// The stage at `slot`, if any.
    pub fn stage(&self, slot: usize) -> Option<Stage> {
        self.shared
            .wiring
            .read()
            .stages
            .get(slot)
            .cloned()
            .flatten()
    }

    /// The number of slots.
    pub fn slots(&self) -> usize {
        self.shared.wiring.read().slots()
    }

    // ---- accounting ------------------------------------------------------------------------

    /// Where every accepted datum is: always balanced (see [`Counts`]).
    pub fn counts(&self) -> Counts {
        self.shared.counters.snapshot()
    }

    /// How many records the sink failed to take.
    pub fn sink_errors(&self) -> u64 {
        self.shared.sink_errors.load(Ordering::Acquire)
    }

    /// The sink's last error message.
    pub fn last_sink_error(&self) -> Option<String> {
        self.shared.last_sink_error.lock().clone()
    }

    /// Where the sink sends records.
    pub fn sink_description(&self) -> String {
        self.shared.sink.lock().describe()
    }
}

impl<T: Serialize + Send + Sync + 'static> Drop for Machine<T> {
    fn drop(&mut self) {
        self.stop(StopMode::Drain);
    }
}

impl<T: Serialize + Send + Sync + 'static> fmt::Debug for Machine<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Machine")
            .field("running", &self.is_running())
            .field("slots", &self.slots())
            .field("counts", &self.counts())
            .finish_non_exhaustive()
    }
}
