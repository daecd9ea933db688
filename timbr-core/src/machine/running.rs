//! Running a machine: its threads (consumers, monitor, source), starting and stopping them,
//! waiting for them, and what the machine says of itself meanwhile.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::io::source::SourceState;
use crate::machine::feeder::Feeder;
use crate::machine::life::Mode;
use crate::machine::thread_role::{mark_machine_thread, on_machine_thread};
use crate::machine::{Control, Machine};
use crate::{Datum, Event, Handler, Kept, MachineState, StartError, Status, StopMode};

impl<T: Datum> Machine<T> {
    /// Starts the consumer threads, the monitor, and the source's thread if a source is
    /// set. Records go to the sink. Emits [`Event::Started`]; on a restart, runs the restart
    /// hooks. Those run before the threads exist; if another thread meanwhile stops this run
    /// and starts the next one, this call spawns nothing and returns `Ok`: the later start's
    /// threads are the machine's.
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
        if sup.life.state() == MachineState::Running {
            return Err(StartError::AlreadyRunning);
        }
        // Threads of an earlier run (stopped by a handler, or stopping now) are reaped here.
        self.join_threads(&mut control);
        let counts = sup.counts();
        let restart = sup
            .life
            .begin_start(sup.workers, counts.processed + counts.failed)?;
        // Read under the control lock, which every start's `begin_start` needs.
        let run = sup.life.starts();
        sup.stats.refresh_clock();
        {
            // The window starts at the start: a short run's recent rate is its overall rate.
            let mut rates = sup.rates.lock();
            rates.clear();
            rates.push(Instant::now(), counts.processed + counts.failed);
        }
        // `Started` comes before any other event of this run: before the threads exist.
        // The control lock is released meanwhile, so a handler or hook may use the machine.
        drop(control);
        sup.emit(Event::Started { restart });
        let status = self.status();
        sup.each_plugin("started", |p| p.started(&status));
        if restart {
            sup.run_hooks("restart", &sup.on_restart, &status);
        }
        let mut control = self.control.lock();
        if sup.life.starts() != run {
            // Meanwhile another thread stopped this run (it had no threads to join) and
            // started the next one, whose threads consume now. Spawning this run's too would
            // run every worker twice at once (each worker's counts and statistics have a
            // single writer), and each extra consumer would end the machine again.
            return Ok(());
        }
        if let Err(e) = self.spawn_threads(&mut control) {
            drop(control);
            let reason = format!("could not start a thread: {e}");
            sup.request_stop(MachineState::Failed(reason.clone()), Mode::Return);
            self.stop(StopMode::Return);
            sup.life.start_failed(&reason);
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
                    let reason = format!("could not start a thread: {e}");
                    sup.life.spawn_failed(sup.workers - i, &reason);
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

    pub(super) fn spawn_source(&self, control: &mut Control<T>) -> std::io::Result<()> {
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
    /// With [`StopMode::Drain`] the source stops first and the consumers process everything
    /// queued, including what the source put until it stopped: nothing is left queued,
    /// whoever asked for the drain and whenever. With [`StopMode::Return`] they finish only
    /// the data in flight, and the queued data are returned. A source's datum that was not
    /// put yet (waiting for room, or made by the iterator as the stop came) is kept, not
    /// lost: the source resumes with it on the next [`start`](Machine::start).
    ///
    /// Data waiting aside stay with the machine either way: a datum waiting for a retry
    /// ([`Counts::retrying`](crate::Counts::retrying)) and a replayed failure not taken yet
    /// are not handed back. A drain waits for them (a retry's backoff included); after a
    /// stop that returns the queue, the next start runs them, and dropping the running
    /// machine drains them.
    ///
    /// Called from one of the machine's own threads (a handler, hook, plugin or stage; also
    /// from any rayon pool thread, where waiting could block the pool the stages run on), it
    /// only asks the machine to stop, returns at once, and returns nothing.
    pub fn stop(&self, mode: StopMode) -> Vec<T> {
        let mode = Mode::from(mode);
        let sup = &self.shared.sup;
        if on_machine_thread() {
            sup.request_stop(MachineState::Stopped, mode);
            return Vec::new();
        }
        let mut control = self.control.lock();
        sup.request_stop(MachineState::Stopped, mode);
        self.join_threads(&mut control);
        let mut returned = Vec::new();
        if mode == Mode::Return {
            while let Some(d) = self.shared.queue.try_take() {
                returned.push(d);
            }
            let n = returned.len() as u64;
            if self.shared.queue_is_shared() {
                // Others put a shared queue's data: this machine counts one as accepted when
                // it takes it, and it took these. Accepted first: a snapshot in between sees
                // them queued, never a negative count.
                sup.counters.accept_n(n);
            }
            sup.counters.returned(n);
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
        self.shared
            .sup
            .request_stop(MachineState::Stopped, Mode::from(mode))
    }

    /// Joins every thread of the machine (which must have been asked to stop).
    fn join_threads(&self, control: &mut Control<T>) {
        self.stop_source(control);
        (self.shared.sup.wake)(control.consumers.len());
        for handle in control.consumers.drain(..) {
            let _ = handle.join();
        }
        if let Some(monitor) = control.monitor.take() {
            self.shared.sup.life.notify();
            let _ = monitor.join();
        }
    }

    /// [`stop`](Machine::stop) with [`StopMode::Drain`].
    pub fn stop_drain(&self) {
        self.stop(StopMode::Drain);
    }

    pub(super) fn stop_source(&self, control: &mut Control<T>) {
        self.shared.sup.life.stop_source();
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
        self.shared.sup.life.is_running()
    }

    /// Where the machine is in its life.
    pub fn state(&self) -> MachineState {
        self.shared.sup.life.state()
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
        self.shared.sup.life.wait(None)
    }

    /// [`wait`](Machine::wait), for at most `timeout`: returns the state then (still
    /// running or stopping if the time ran out).
    pub fn wait_timeout(&self, timeout: Duration) -> MachineState {
        if on_machine_thread() {
            return self.state();
        }
        self.shared.sup.life.wait(Some(timeout))
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
}
