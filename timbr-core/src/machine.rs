//! The machine: a queue, a graph of stages run per datum, consumer and source threads, and
//! the accounting that shows where every datum is.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bson::oid::ObjectId;
use parking_lot::Mutex;
use serde::Serialize;

use crate::builder::{place, MachineBuilder};
use crate::source::{Feeder, SourceParts, SourceState};
use crate::supervisor::{as_machine_thread, mark_machine_thread, on_machine_thread};
use crate::supervisor::{DRAIN, RETURN, RUN};
use crate::wiring::Wiring;
use crate::worker::Shared;
use crate::{
    BuildError, Called, Counts, Event, GetError, Handler, Kept, MachineState, PutTimeoutError,
    Putter, Record, Stage, StartError, Status, Taken, TryPutError,
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
    monitor: Option<JoinHandle<()>>,
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
            sup: Arc::clone(&shared.sup),
        };
        Machine {
            shared,
            control: Mutex::new(Control {
                consumers: Vec::new(),
                monitor: None,
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
        if self.shared.sup.live_hint() > 0 {
            return Err(GetError::Running);
        }
        // A queued datum needs no deadline (and no clock read).
        let datum = match self.shared.queue.try_take() {
            Some(d) => d,
            None => self.take_within(timeout)?,
        };
        self.shared.sup.counters.take();
        let (_, wiring) = self.shared.current_wiring();
        let (record, failed) = {
            let _caller = self.shared.sup.stats.caller.lock();
            self.shared.process(&wiring, datum, None)
        };
        self.shared.count(record.is_ok());
        if let Some(outcomes) = failed {
            self.shared.report(&wiring, &record, outcomes);
        }
        Ok(record)
    }

    fn take_within(&self, timeout: Duration) -> Result<T, GetError> {
        let deadline = Instant::now().checked_add(timeout);
        loop {
            match self.shared.queue.take(deadline) {
                Taken::Datum(d) => return Ok(d),
                Taken::TimedOut => return Err(GetError::Timeout),
                Taken::Woken => continue,
            }
        }
    }

    // ---- running -----------------------------------------------------------------------

    /// Starts the consumer threads, the monitor, and the source's thread if a source is
    /// set. Records go to the sink. Emits [`Event::Started`]; on a restart, runs the restart
    /// hooks.
    ///
    /// # Errors
    ///
    /// [`StartError::AlreadyRunning`], or [`StartError::Spawn`] if a thread could not be
    /// created (then nothing is left running, and the state is failed).
    pub fn start(&self) -> Result<(), StartError> {
        if on_machine_thread() {
            return Err(StartError::OwnThread);
        }
        let mut control = self.control.lock();
        let sup = &self.shared.sup;
        if sup.life().state == MachineState::Running {
            return Err(StartError::AlreadyRunning);
        }
        // Threads of an earlier run (stopped by a handler, or stopping now) are reaped here.
        self.join_threads(&mut control);
        let restart = {
            let mut life = sup.life();
            let counts = sup.counters.snapshot();
            // Counted live before they exist, under the same lock as the state, so the two
            // always agree; a thread that fails to spawn is counted out again.
            sup.set_live(&mut life, sup.workers);
            life.state = MachineState::Running;
            life.settled = false;
            life.ending = None;
            life.starts += 1;
            life.started = Some((Instant::now(), crate::Timestamp::now()));
            life.stopped = None;
            life.done_at_start = counts.processed + counts.failed;
            life.starts > 1
        };
        sup.stop_mode.store(RUN, Ordering::Release);
        sup.source_stop.store(false, Ordering::Release);
        sup.stats.refresh_clock();
        {
            // The window starts at the start: a short run's recent rate is its overall rate.
            let mut rates = sup.rates.lock();
            rates.clear();
            let counts = sup.counters.snapshot();
            rates.push(Instant::now(), counts.processed + counts.failed);
        }
        // `Started` comes before any other event of this run: before the threads exist.
        // The control lock is released meanwhile, so a handler or hook may use the machine.
        drop(control);
        sup.emit(Event::Started { restart });
        let status = self.status();
        as_machine_thread(|| {
            for plugin in &sup.plugins {
                let _ = catch_unwind(AssertUnwindSafe(|| plugin.started(&status)));
            }
            if restart {
                for hook in &sup.on_restart {
                    sup.run_hook("restart", hook, &status);
                }
            }
        });
        let mut control = self.control.lock();
        if let Err(e) = self.spawn_threads(&mut control) {
            drop(control);
            let reason = format!("could not start a thread: {e}");
            sup.request_stop(MachineState::Failed(reason.clone()), RETURN);
            self.stop(StopMode::Return);
            let mut life = sup.life();
            if life.live() == 0 {
                life.state = MachineState::Failed(reason);
                life.settled = true;
            }
            return Err(StartError::Spawn(e));
        }
        Ok(())
    }

    fn spawn_threads(&self, control: &mut Control<T>) -> std::io::Result<()> {
        let sup = &self.shared.sup;
        for i in 0..sup.workers {
            let shared = Arc::clone(&self.shared);
            let spawned = std::thread::Builder::new()
                .name(format!("timbr-worker-{i}"))
                .spawn(move || shared.consume(i));
            match spawned {
                Ok(handle) => control.consumers.push(handle),
                Err(e) => {
                    let mut life = sup.life();
                    let live = life.live() - (sup.workers - i);
                    sup.set_live(&mut life, live);
                    if live == 0 {
                        life.state = MachineState::Failed(format!("could not start a thread: {e}"));
                        life.settled = true;
                    }
                    return Err(e);
                }
            }
        }
        let shared = Arc::clone(&self.shared);
        control.monitor = Some(
            std::thread::Builder::new()
                .name("timbr-monitor".to_owned())
                .spawn(move || shared.monitor())?,
        );
        self.spawn_source(control)
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
                mark_machine_thread();
                Feeder {
                    queue: &*shared.queue,
                    sup: &shared.sup,
                    policy: shared.policy,
                    status: &shared.source_status,
                }
                .run(parts)
            })?;
        control.source = Some(handle);
        Ok(())
    }

    /// Stops the source and the consumers and joins their threads; idempotent. The machine
    /// ends [`Stopped`](MachineState::Stopped) (unless a handler was already stopping it for
    /// another reason: the first reason wins).
    ///
    /// With [`StopMode::Drain`] the consumers first process everything queued; with
    /// [`StopMode::Return`] they finish only the data in flight, and the queued data are
    /// returned. A source's datum that was waiting for room is kept, not lost: the source
    /// resumes with it on the next [`start`](Machine::start).
    ///
    /// Called from one of the machine's own threads (a handler, hook, plugin or stage; also
    /// from any rayon pool thread, where waiting could block the pool the stages run on), it
    /// only asks the machine to stop, returns at once, and returns nothing.
    pub fn stop(&self, mode: StopMode) -> Vec<T> {
        let mode = if mode == StopMode::Drain {
            DRAIN
        } else {
            RETURN
        };
        let sup = &self.shared.sup;
        if on_machine_thread() {
            sup.request_stop(MachineState::Stopped, mode);
            return Vec::new();
        }
        let mut control = self.control.lock();
        sup.request_stop(MachineState::Stopped, mode);
        self.join_threads(&mut control);
        let mut returned = Vec::new();
        if mode == RETURN {
            while let Some(d) = self.shared.queue.try_take() {
                returned.push(d);
            }
            sup.counters.returned(returned.len() as u64);
        }
        returned
    }

    /// Asks a running machine to stop and returns at once, without joining its threads:
    /// [`wait`](Machine::wait) then returns when they are done, and [`stop`](Machine::stop)
    /// (or dropping the machine) joins them. Returns whether this call stopped it (false if
    /// it was not running or already stopping).
    ///
    /// With [`StopMode::Return`], the queued data stay queued until `stop(StopMode::Return)`
    /// hands them back (or the next start processes them).
    pub fn request_stop(&self, mode: StopMode) -> bool {
        let mode = if mode == StopMode::Drain {
            DRAIN
        } else {
            RETURN
        };
        self.shared.sup.request_stop(MachineState::Stopped, mode)
    }

    /// Joins every thread of the machine (which must have been asked to stop).
    fn join_threads(&self, control: &mut Control<T>) {
        self.stop_source(control);
        (self.shared.sup.wake)(control.consumers.len());
        for handle in control.consumers.drain(..) {
            let _ = handle.join();
        }
        if let Some(monitor) = control.monitor.take() {
            self.shared.sup.life_changed.notify_all();
            let _ = monitor.join();
        }
    }

    /// [`stop`](Machine::stop) with [`StopMode::Drain`].
    pub fn stop_drain(&self) {
        self.stop(StopMode::Drain);
    }

    fn stop_source(&self, control: &mut Control<T>) {
        self.shared.sup.source_stop.store(true, Ordering::Release);
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

    /// Whether consumer threads are alive: derived from the threads themselves (each counts
    /// itself out however it ends), and read under the same lock as [`state`](Machine::state),
    /// so the two always agree: running exactly while the state is running or stopping.
    pub fn is_running(&self) -> bool {
        self.shared.sup.life().live() > 0
    }

    /// Where the machine is in its life.
    pub fn state(&self) -> MachineState {
        self.shared.sup.life().state.clone()
    }

    /// Blocks until the machine is no longer running (a handler completed or stopped it, or
    /// another thread called [`stop`](Machine::stop)); returns its final state. Returns at
    /// once if it is not running. Join its threads afterwards with `stop`, or let it drop.
    ///
    /// Called from a handler, hook, plugin or stage of this machine (which the machine waits
    /// for), it returns the current state at once instead of waiting for itself.
    pub fn wait(&self) -> MachineState {
        if on_machine_thread() {
            return self.state();
        }
        self.shared.sup.wait(None)
    }

    /// [`wait`](Machine::wait), for at most `timeout`: returns the state then (still
    /// running or stopping if the time ran out).
    pub fn wait_timeout(&self, timeout: Duration) -> MachineState {
        if on_machine_thread() {
            return self.state();
        }
        self.shared.sup.wait(Some(timeout))
    }

    /// A consistent snapshot of everything the machine can say about itself. Cheap, and safe
    /// to call from any thread while data flow: processing never waits for it.
    pub fn status(&self) -> Status {
        self.shared.status()
    }

    /// What a handler kept when it stopped the machine with
    /// [`Action::StopAndKeep`](crate::Action::StopAndKeep).
    pub fn kept(&self) -> Option<Kept> {
        self.shared.sup.kept.lock().clone()
    }

    /// Takes what a handler kept, leaving nothing.
    pub fn take_kept(&self) -> Option<Kept> {
        self.shared.sup.kept.lock().take()
    }

    /// Replaces the handler; the next event goes to the new one.
    pub fn set_handler(&self, handler: impl Handler) {
        self.shared.sup.set_handler(Box::new(handler));
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
        self.shared.sup.source_stop.store(false, Ordering::Release);
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
        self.shared.sup.counters.snapshot()
    }

    /// How many records the sink failed to take.
    pub fn sink_errors(&self) -> u64 {
        self.shared.sup.errors.counts().sink
    }

    /// The sink's last error message.
    pub fn last_sink_error(&self) -> Option<String> {
        self.shared.sup.errors.last_sink()
    }

    /// Where the sink sends records.
    pub fn sink_description(&self) -> String {
        self.shared.sink_description.clone()
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
            .field("name", &self.shared.sup.name)
            .field("state", &self.state())
            .field("slots", &self.slots())
            .field("counts", &self.counts())
            .finish_non_exhaustive()
    }
}
