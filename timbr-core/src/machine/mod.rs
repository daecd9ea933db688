//! The runtime: a [`Machine`] and its builder, the putters that feed it, and the threads
//! that run it.
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | the [`Machine`] handle, its construction and accounting |
//! | `builder.rs` | [`MachineBuilder`]: every setting and its default |
//! | `queueing.rs`, `putter.rs` | data in: the queue, [`Putter`]; `call` and `get` on the caller's thread |
//! | `machine_queue.rs` | the built-in queue (called directly) or a given one (through the trait): the one place that chooses |
//! | `running.rs` | start, stop, wait: the threads a machine owns |
//! | `feeder.rs` | the source thread: backpressure or a drop policy |
//! | `sourcing.rs`, `rewiring.rs` | a source, and stages changed at run time |
//! | `life.rs` | **the only writer of the machine's state**: state, stop mode, live consumers, settled |
//! | `supervisor.rs` | what does not depend on the datum type: counters, statistics, errors, the handler and the panic policy for user code |
//! | `shared.rs`, `consumer.rs` | what a datum goes through on any thread, and the consumer loop |
//! | `retrying.rs`, `aside.rs` | retries: which failures are retried, the delay queue they wait in, resuming them; failures that are final go to the failure store |
//! | `replay.rs` | listing the failure store, and replaying its failures |
//! | `snapshot.rs`, `monitor.rs` | taking a status; the monitor thread (rates, idleness, plugin ticks) |
//! | `thread_role.rs` | which threads are the machine's own (where `stop` only asks) |
//! | `remote/` | [`Remote`]: status snapshots and a control endpoint for other processes |

mod aside;
mod builder;
mod consumer;
mod feeder;
pub(crate) mod life;
mod machine_queue;
mod monitor;
mod putter;
mod queueing;
#[cfg(feature = "zmq")]
mod remote;
mod replay;
mod retrying;
mod rewiring;
mod running;
mod shared;
mod snapshot;
mod sourcing;
pub(crate) mod supervisor;
pub(crate) mod thread_role;

use std::fmt;
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::Mutex;

pub use self::builder::{
    MachineBuilder, DEFAULT_CAPACITY, DEFAULT_RATE_WINDOW, DEFAULT_SLOTS, DEFAULT_TICK,
    MAX_CAPACITY, MAX_SLOTS, MAX_WORKERS,
};
pub use self::putter::Putter;
#[cfg(feature = "zmq")]
pub use self::remote::{
    Remote, RemoteOptions, DEFAULT_MAX_REQUEST, DEFAULT_STATUS_INTERVAL, MAX_REQUEST, STATUS_TOPIC,
};
pub use self::replay::ReplayError;
pub(crate) use self::shared::Shared;
pub(crate) use self::supervisor::Supervisor;

use crate::io::source::SourceParts;
use crate::{BuildError, Counts, Datum, Stage};

/// What [`Machine::stop`] does with the data still queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopMode {
    /// Stop the source, process everything queued (what the source put until it stopped
    /// included), then stop: nothing is left queued.
    Drain,
    /// Finish the data in flight, stop, and hand the queued data back.
    Return,
}

/// A streaming machine: data go in through a bounded queue, each runs through the stages,
/// and each produces a [`Record`](crate::Record).
///
/// Every method takes `&self`, so a machine can be shared (e.g. in an `Arc`) between the
/// threads that feed it, watch it and stop it. Dropping a running machine stops it, draining
/// its queue; from then on its [`Putter`]s hand every datum back. A machine that is not
/// running when dropped does not process what is still queued: take it back first with
/// [`stop(StopMode::Return)`](Machine::stop), or start the machine.
///
/// See the [crate documentation](crate) for the whole flow.
pub struct Machine<T: Datum> {
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

impl<T: Datum> Default for Machine<T> {
    fn default() -> Self {
        Machine::new()
    }
}

impl<T: Datum> Machine<T> {
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
    /// stage needs (at least [`DEFAULT_SLOTS`]). The `from_stages!`
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
            .max(crate::machine::DEFAULT_SLOTS);
        Machine::builder().slots(slots).stages(stages).build()
    }

    pub(crate) fn from_shared(shared: Arc<Shared<T>>) -> Self {
        let putter = Putter {
            queue: shared.queue.clone(),
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

    // ---- accounting ------------------------------------------------------------------------

    /// Where every accepted datum is: always balanced (see [`Counts`]).
    pub fn counts(&self) -> Counts {
        self.shared.sup.counts()
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

impl<T: Datum> Drop for Machine<T> {
    /// Closes the queue (putters that outlive the machine get their data back, a put
    /// blocked on a full queue included), waits for the puts already under way, then stops
    /// draining: every datum accepted before the drop is processed.
    fn drop(&mut self) {
        let sup = &self.shared.sup;
        sup.life.close();
        self.shared.queue.close();
        sup.life.wait_for_puts();
        self.stop(StopMode::Drain);
    }
}

impl<T: Datum> fmt::Debug for Machine<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Machine")
            .field("name", &self.shared.sup.name)
            .field("state", &self.state())
            .field("slots", &self.slots())
            .field("counts", &self.counts())
            .finish_non_exhaustive()
    }
}
