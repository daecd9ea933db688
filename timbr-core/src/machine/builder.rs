//! Configuring a machine before it is built.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use timbr_sched::Executor;

use crate::datum::wiring::Wiring;
use crate::io::queue_event::QueueEventInbox;
use crate::io::source::SourceStatus;
use crate::machine::aside::Aside;
use crate::machine::consumer::Reorder;
use crate::machine::retrying::RetryTable;
use crate::machine::shared::DatumScope;
use crate::machine::supervisor::{StatusHook, Supervisor, SupervisorParts};
use crate::machine::Shared;
use crate::observe::retries::RetryStats;
use crate::observe::stats::Stats;
use crate::{
    BuildError, Datum, FailureStore, Handler, LogAndContinue, Machine, MemoryFailureStore,
    MemoryQueue, NullSink, Queue, RetryPolicy, Sink, SourcePolicy, Stage, Status, StatusPlugin,
    Timing, DEFAULT_FAILURE_CAPACITY,
};

/// The number of slots a machine has unless told otherwise.
pub const DEFAULT_SLOTS: usize = 8;

/// The most slots a machine can have (and so the highest stage position is `MAX_SLOTS - 1`).
pub const MAX_SLOTS: usize = 64;

/// The queue capacity a machine has unless told otherwise.
pub const DEFAULT_CAPACITY: usize = 1024;

/// The largest in-memory queue a machine can have (its slots are allocated up front).
pub const MAX_CAPACITY: usize = 1 << 24;

/// The most workers a machine can have: each is a thread with statistics of its own (a few
/// tens of KiB), so this bounds both threads and statistics memory.
pub const MAX_WORKERS: usize = 1024;

/// How often a running machine's monitor wakes (rates, idleness, plugins) unless told otherwise.
pub const DEFAULT_TICK: Duration = Duration::from_millis(100);

/// How far back the recent rate looks unless told otherwise.
pub const DEFAULT_RATE_WINDOW: Duration = Duration::from_secs(5);

/// Sets up a [`Machine`]: slots, queue, executor, workers, sink and stages.
///
/// # Examples
///
/// ```
/// use timbr_core::{sched::Threaded, Machine, Stage};
///
/// let machine = Machine::<String>::builder()
///     .slots(4)
///     .capacity(16)
///     .executor(Threaded::new())
///     .workers(2)
///     .ordered(true)
///     .stage(Stage::new(0, "len", ["input"], |s: &String| s.len())?)
///     .build()?;
/// assert_eq!(machine.slots(), 4);
/// assert_eq!(machine.capacity(), Some(16));
/// # Ok::<(), timbr_core::BuildError>(())
/// ```
pub struct MachineBuilder<T> {
    slots: usize,
    capacity: usize,
    executor: Arc<dyn Executor>,
    workers: usize,
    ordered: bool,
    sink: Box<dyn Sink>,
    queue: Option<Arc<dyn Queue<T>>>,
    stages: Vec<Stage>,
    policy: SourcePolicy,
    name: String,
    handler: Box<dyn Handler>,
    timing: Timing,
    tick: Duration,
    rate_window: Duration,
    idle_after: Option<Duration>,
    plugins: Vec<Arc<dyn StatusPlugin>>,
    on_shutdown: Vec<StatusHook>,
    on_restart: Vec<StatusHook>,
    datum_scope: Option<DatumScope>,
    retry: RetryTable,
    failure_store: Option<Arc<dyn FailureStore>>,
    failure_capacity: usize,
}

impl<T: Datum> Default for MachineBuilder<T> {
    fn default() -> Self {
        MachineBuilder {
            slots: DEFAULT_SLOTS,
            capacity: DEFAULT_CAPACITY,
            executor: Arc::new(timbr_sched::Sequential),
            workers: 1,
            ordered: false,
            sink: Box::new(NullSink),
            queue: None,
            stages: Vec::new(),
            policy: SourcePolicy::Block,
            name: "timbr".to_owned(),
            handler: Box::new(LogAndContinue::default()),
            timing: Timing::default(),
            tick: DEFAULT_TICK,
            rate_window: DEFAULT_RATE_WINDOW,
            idle_after: None,
            plugins: Vec::new(),
            on_shutdown: Vec::new(),
            on_restart: Vec::new(),
            datum_scope: None,
            retry: RetryTable::default(),
            failure_store: None,
            failure_capacity: DEFAULT_FAILURE_CAPACITY,
        }
    }
}

impl<T: Datum> MachineBuilder<T> {
    /// The number of slots (default [`DEFAULT_SLOTS`], at most [`MAX_SLOTS`]; more is a
    /// [`BuildError::OutOfBounds`]).
    pub fn slots(mut self, slots: usize) -> Self {
        self.slots = slots;
        self
    }

    /// The in-memory queue's capacity (default [`DEFAULT_CAPACITY`], at least 1, at most
    /// [`MAX_CAPACITY`]; more is a [`BuildError::OutOfBounds`]). Ignored when a
    /// [`queue`](MachineBuilder::queue) is given.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// The executor running each datum's graph (default [`timbr_sched::Sequential`]).
    pub fn executor(mut self, executor: impl Executor + 'static) -> Self {
        self.executor = Arc::new(executor);
        self
    }

    /// How many data are processed at once, each on its own consumer thread (default 1, at
    /// most [`MAX_WORKERS`]; more is a [`BuildError::OutOfBounds`]).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// With several workers, deliver records in the order their data left the queue
    /// (default `false`: as soon as each is done).
    pub fn ordered(mut self, ordered: bool) -> Self {
        self.ordered = ordered;
        self
    }

    /// Where records go while the machine runs (default [`NullSink`]).
    pub fn sink(mut self, sink: impl Sink) -> Self {
        self.sink = Box::new(sink);
        self
    }

    /// The queue to read from, instead of an in-memory [`MemoryQueue`].
    pub fn queue(mut self, queue: impl Queue<T>) -> Self {
        self.queue = Some(Arc::new(queue));
        self
    }

    /// What a source does when the queue is full (default [`SourcePolicy::Block`]).
    pub fn source_policy(mut self, policy: SourcePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Adds a stage.
    pub fn stage(mut self, stage: Stage) -> Self {
        self.stages.push(stage);
        self
    }

    /// Adds stages.
    pub fn stages(mut self, stages: impl IntoIterator<Item = Stage>) -> Self {
        self.stages.extend(stages);
        self
    }

    /// A name for the status and the displays (default `timbr`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// What the machine does about each [`Event`](crate::Event) (default
    /// [`LogAndContinue`]). Compose several with [`Handler::and`].
    pub fn handler(mut self, handler: impl Handler) -> Self {
        self.handler = Box::new(handler);
        self
    }

    /// Which stage calls are timed for the latency statistics (default
    /// [`Timing::Adaptive`]: one datum in 64 per worker, and at least one a second).
    pub fn timing(mut self, timing: Timing) -> Self {
        self.timing = timing;
        self
    }

    /// How often the monitor thread of a running machine wakes to sample the rate, look for
    /// idleness and tick the plugins (default [`DEFAULT_TICK`]).
    pub fn tick(mut self, tick: Duration) -> Self {
        self.tick = tick.max(Duration::from_millis(1));
        self
    }

    /// How far back [`Rates::recent`](crate::observe::Rates::recent) looks (default
    /// [`DEFAULT_RATE_WINDOW`]).
    pub fn rate_window(mut self, window: Duration) -> Self {
        self.rate_window = window;
        self
    }

    /// Emit [`Event::Idle`](crate::Event::Idle) after `idle` without activity (default: only
    /// when the handler asks, see [`Handler::idle_after`]).
    pub fn idle_after(mut self, idle: Duration) -> Self {
        self.idle_after = Some(idle);
        self
    }

    /// Adds a status plugin.
    pub fn plugin(mut self, plugin: impl StatusPlugin) -> Self {
        self.plugins.push(Arc::new(plugin));
        self
    }

    /// Runs `hook` with the final status each time the machine has stopped (after its
    /// threads' work is done and the sink flushed). A panic in it is caught and counted.
    pub fn on_shutdown(mut self, hook: impl Fn(&Status) + Send + Sync + 'static) -> Self {
        self.on_shutdown.push(Box::new(hook));
        self
    }

    /// Runs `hook` with the status each time the machine starts again after a stop.
    pub fn on_restart(mut self, hook: impl Fn(&Status) + Send + Sync + 'static) -> Self {
        self.on_restart.push(Box::new(hook));
        self
    }

    /// Runs each datum's processing (its stages and its record, on a consumer thread or
    /// the caller of [`get`](Machine::get)) inside `scope`, which must call the body it is
    /// given once. Waiting for data, the sink and the handler run outside it.
    ///
    /// For stages that need a context set up per thread and entered per datum: the Python
    /// binding takes the interpreter's lock once per datum here, instead of once per stage
    /// and per value serialized. Without a scope, nothing is called. A scope that never
    /// calls its body is bypassed (the datum is processed after it returns).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    /// use timbr_core::Machine;
    ///
    /// let scoped = Arc::new(AtomicU64::new(0));
    /// let count = Arc::clone(&scoped);
    /// let machine = Machine::<u32>::builder()
    ///     .datum_scope(move |body| {
    ///         count.fetch_add(1, Ordering::Relaxed);
    ///         body()
    ///     })
    ///     .build()?;
    /// machine.try_put(1)?;
    /// machine.get(std::time::Duration::from_secs(1))?;
    /// assert_eq!(scoped.load(Ordering::Relaxed), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn datum_scope(mut self, scope: impl Fn(&mut dyn FnMut()) + Send + Sync + 'static) -> Self {
        self.datum_scope = Some(Arc::new(scope));
        self
    }

    /// Retries the transient failures of the stage named `stage` by `policy`, overriding the
    /// stage's own ([`Stage::retry`]); also for a stage of that name set later
    /// ([`Machine::set_stage`]). See [`RetryPolicy`] for what a retry does.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::time::Duration;
    /// use timbr_core::{Backoff, Machine, RetryPolicy, Stage, StopMode, Transient};
    ///
    /// static CALLS: AtomicU32 = AtomicU32::new(0);
    /// let flaky = Stage::try_new(0, "flaky", ["input"], |n: &u32| {
    ///     // Down for the first call, up afterwards.
    ///     if CALLS.fetch_add(1, Ordering::SeqCst) == 0 { Err(Transient::new("down")) } else { Ok(*n) }
    /// })?;
    /// let (sink, records) = timbr_core::ChannelSink::unbounded();
    /// let machine = Machine::<u32>::builder()
    ///     .stage(flaky)
    ///     .retry("flaky", RetryPolicy::new(3).backoff(Backoff::fixed(Duration::from_millis(1))))
    ///     .sink(sink)
    ///     .build()?;
    /// machine.put(7)?;
    /// machine.start()?;
    /// let record = records.recv()?;
    /// assert!(record.is_ok());
    /// assert_eq!(record.attempts(), 2);
    /// machine.stop(StopMode::Drain);
    /// assert_eq!(machine.status().stages[0].retries.recovered, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn retry(mut self, stage: impl Into<String>, policy: RetryPolicy) -> Self {
        self.retry.by_name.insert(stage.into(), policy);
        self
    }

    /// Retries the transient failures of every stage that has no policy of its own (from
    /// [`Stage::retry`] or [`retry`](MachineBuilder::retry)) by `policy`.
    pub fn default_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry.default = Some(policy);
        self
    }

    /// Where the data that failed for good are kept (default: a [`MemoryFailureStore`] of
    /// [`failure_capacity`](MachineBuilder::failure_capacity)).
    pub fn failure_store(mut self, store: impl FailureStore) -> Self {
        self.failure_store = Some(Arc::new(store));
        self
    }

    /// How many failures the default in-memory store keeps (default
    /// [`DEFAULT_FAILURE_CAPACITY`]; the oldest are dropped and counted; 0 keeps none).
    /// Ignored when a [`failure_store`](MachineBuilder::failure_store) is given.
    pub fn failure_capacity(mut self, capacity: usize) -> Self {
        self.failure_capacity = capacity;
        self
    }

    /// Checks the wiring and builds the machine (stopped; call [`Machine::start`]).
    ///
    /// # Errors
    ///
    /// [`BuildError`] if a stage's slot is out of range or taken twice, or an argument's type
    /// differs from what its key holds.
    pub fn build(self) -> Result<Machine<T>, BuildError> {
        for (setting, value, max) in [
            ("slots", self.slots, MAX_SLOTS),
            ("workers", self.workers, MAX_WORKERS),
            ("capacity", self.capacity, MAX_CAPACITY),
        ] {
            if value > max && (setting != "capacity" || self.queue.is_none()) {
                return Err(BuildError::OutOfBounds {
                    setting,
                    value,
                    max,
                });
            }
        }
        let slots = place(self.slots, self.stages)?;
        let wiring = Wiring::build::<T>(slots)?;
        let slots_n = wiring.slots();
        // The built-in queue is also kept as itself, for the paths that call it directly.
        let (queue, memory): (Arc<dyn Queue<T>>, _) = match self.queue {
            Some(queue) => (queue, None),
            None => {
                let memory = Arc::new(MemoryQueue::new(self.capacity));
                (Arc::clone(&memory) as Arc<dyn Queue<T>>, Some(memory))
            }
        };
        let waker = Arc::clone(&queue);
        let (queue_events, inbox) = QueueEventInbox::channel();
        queue.set_events(queue_events);
        let sup = Supervisor::new(SupervisorParts {
            name: self.name,
            wake: Box::new(move |n| waker.wake_takers(n)),
            workers: self.workers,
            handler: self.handler,
            stats: Stats::new(self.workers, wiring.slots(), self.timing),
            idle_after: self.idle_after,
            tick: self.tick,
            rate_window: self.rate_window,
            plugins: self.plugins,
            on_shutdown: self.on_shutdown,
            on_restart: self.on_restart,
            queue_events: inbox,
        });
        let shared = Arc::new(Shared {
            queue,
            memory,
            sup: Arc::new(sup),
            wiring: RwLock::new(Arc::new(wiring)),
            wiring_version: AtomicU64::new(0),
            executor: self.executor,
            sink_description: self.sink.describe(),
            sink: Mutex::new(self.sink),
            source_status: SourceStatus::default(),
            policy: self.policy,
            ordered: self.ordered,
            next_seq: Mutex::new(0),
            reorder: Mutex::new(Reorder::default()),
            caller: Mutex::new(None),
            datum_scope: self.datum_scope,
            retry: self.retry,
            retry_stats: RetryStats::new(slots_n),
            failures: self
                .failure_store
                .unwrap_or_else(|| Arc::new(MemoryFailureStore::new(self.failure_capacity))),
            aside: Aside::default(),
        });
        Ok(Machine::from_shared(shared))
    }
}

/// Puts each stage at its slot, checking ranges and collisions.
pub(crate) fn place(slots: usize, stages: Vec<Stage>) -> Result<Vec<Option<Stage>>, BuildError> {
    let mut placed: Vec<Option<Stage>> = vec![None; slots.min(MAX_SLOTS)];
    for stage in stages {
        let slot = stage.slot;
        if slot >= placed.len() {
            return Err(BuildError::SlotOutOfRange {
                stage: stage.name.to_string(),
                slot,
                slots: placed.len(),
            });
        }
        if let Some(first) = &placed[slot] {
            return Err(BuildError::SlotTaken {
                slot,
                first: first.name.to_string(),
                second: stage.name.to_string(),
            });
        }
        placed[slot] = Some(stage);
    }
    Ok(placed)
}
