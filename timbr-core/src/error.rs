//! The machine's typed errors: wiring mistakes, a full queue handing the datum back, and the
//! rest of the operations' failures.

use std::fmt;

/// Why a stage could not be created, or a machine could not be built or rewired.
///
/// Each variant names the stage, and where it applies the argument and the types involved,
/// so the message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A count-like setting past its bound ([`MAX_SLOTS`](crate::machine::MAX_SLOTS),
    /// [`MAX_WORKERS`](crate::machine::MAX_WORKERS),
    /// [`MAX_CAPACITY`](crate::machine::MAX_CAPACITY)).
    #[error("{setting} is {value}, more than the most a machine takes ({max})")]
    OutOfBounds {
        /// The builder setting.
        setting: &'static str,
        /// The value asked for.
        value: usize,
        /// Its bound.
        max: usize,
    },
    /// The stage's slot is not below the machine's number of slots.
    #[error("stage `{stage}` is at slot {slot}, but the machine has {slots} slots (0..{slots})")]
    SlotOutOfRange {
        /// The stage.
        stage: String,
        /// Its slot.
        slot: usize,
        /// The machine's number of slots.
        slots: usize,
    },
    /// Two stages claim the same slot.
    #[error("stages `{first}` and `{second}` are both at slot {slot}")]
    SlotTaken {
        /// The slot.
        slot: usize,
        /// The stage already there.
        first: String,
        /// The stage that asked for it too.
        second: String,
    },
    /// An argument name that is not a key a stage can ask for.
    #[error("stage `{stage}` asks for `{argument}`, which is not a key: expected one of `input`, `oid`, `f0`…`f{{n-1}}`, or their `_s` forms")]
    UnknownArgument {
        /// The stage.
        stage: String,
        /// The argument name.
        argument: String,
    },
    /// An argument `f{k}` (or `f{k}_s`) with `k` not before the stage's slot.
    #[error("stage `{stage}` at slot {slot} asks for `{argument}`, but a stage may only ask for earlier slots (f0…f{})", slot.saturating_sub(1))]
    NotEarlier {
        /// The stage.
        stage: String,
        /// Its slot.
        slot: usize,
        /// The argument name.
        argument: String,
    },
    /// The same argument name twice.
    #[error("stage `{stage}` asks for `{argument}` twice")]
    DuplicateArgument {
        /// The stage.
        stage: String,
        /// The argument name.
        argument: String,
    },
    /// Not as many argument names as the function has parameters.
    #[error("stage `{stage}` names {names} argument(s) for a function of {params} parameter(s)")]
    Arity {
        /// The stage.
        stage: String,
        /// How many names were given.
        names: usize,
        /// How many parameters the function takes.
        params: usize,
    },
    /// An argument whose type differs from what the machine holds under that key.
    #[error(
        "stage `{stage}` argument `{argument}` expects `&{expected}`, but `{key}` is `{found}`{}",
        hint(key)
    )]
    ArgumentType {
        /// The stage.
        stage: String,
        /// The argument name.
        argument: String,
        /// The machine key it reads (empty slots resolved to the slot they pass through).
        key: String,
        /// The argument's type.
        expected: &'static str,
        /// The type the key holds.
        found: &'static str,
    },
    /// No stage at the slot that was to be removed.
    #[error("no stage at slot {0}")]
    EmptySlot(usize),
    /// The scheduler rejected the graph (should not happen for a machine's own graph).
    #[error("scheduler graph: {0}")]
    Graph(#[from] timbr_sched::BuildError),
}

fn hint(key: &str) -> &'static str {
    if key.ends_with("_s") {
        " (a serialized key is JSON text: take it as `&str` or `&Serialized`; the stage macros also take `&String`)"
    } else if key.starts_with('f') {
        " (an empty slot passes its predecessor's value through)"
    } else {
        ""
    }
}

/// [`try_put`](crate::Machine::try_put) could not put the datum; it is handed back.
#[derive(PartialEq, Eq, Clone, thiserror::Error)]
pub enum TryPutError<T> {
    /// The queue is full.
    #[error("the queue is full")]
    Full(T),
    /// No machine can take the datum any more: its machine was dropped.
    #[error("the queue is closed: no machine takes data from it any more")]
    Closed(T),
    /// The queue refused this datum itself, whatever its room: a durable queue that cannot
    /// encode it, say. Putting it again will not help. The memory queue never refuses one.
    #[error("the queue refused the datum: {reason}")]
    Rejected {
        /// The datum.
        datum: T,
        /// Why, in the queue's words (the encoder's message, for instance).
        reason: String,
    },
}

impl<T> TryPutError<T> {
    /// The datum that was not put.
    pub fn into_inner(self) -> T {
        match self {
            TryPutError::Full(d) | TryPutError::Closed(d) => d,
            TryPutError::Rejected { datum, .. } => datum,
        }
    }

    /// Whether the queue was full (rather than closed).
    pub fn is_full(&self) -> bool {
        matches!(self, TryPutError::Full(_))
    }

    /// Whether the queue was closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, TryPutError::Closed(_))
    }

    /// Whether the queue refused this datum itself ([`TryPutError::Rejected`]).
    pub fn is_rejected(&self) -> bool {
        matches!(self, TryPutError::Rejected { .. })
    }
}

impl<T> fmt::Debug for TryPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPutError::Full(_) => f.write_str("Full(..)"),
            TryPutError::Closed(_) => f.write_str("Closed(..)"),
            TryPutError::Rejected { reason, .. } => f
                .debug_struct("Rejected")
                .field("reason", reason)
                .finish_non_exhaustive(),
        }
    }
}

/// [`put_timeout`](crate::Machine::put_timeout) could not put the datum; it is handed back.
#[derive(PartialEq, Eq, Clone, thiserror::Error)]
pub enum PutTimeoutError<T> {
    /// The queue stayed full until the timeout.
    #[error("the queue stayed full until the timeout")]
    Timeout(T),
    /// No machine can take the datum any more (see [`TryPutError::Closed`]).
    #[error("the queue is closed: no machine takes data from it any more")]
    Closed(T),
    /// The queue refused this datum itself (see [`TryPutError::Rejected`]).
    #[error("the queue refused the datum: {reason}")]
    Rejected {
        /// The datum.
        datum: T,
        /// Why, in the queue's words.
        reason: String,
    },
}

impl<T> PutTimeoutError<T> {
    /// The datum that was not put.
    pub fn into_inner(self) -> T {
        match self {
            PutTimeoutError::Timeout(d) | PutTimeoutError::Closed(d) => d,
            PutTimeoutError::Rejected { datum, .. } => datum,
        }
    }

    /// Whether the time ran out (rather than the queue being closed).
    pub fn is_timeout(&self) -> bool {
        matches!(self, PutTimeoutError::Timeout(_))
    }

    /// Whether the queue was closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, PutTimeoutError::Closed(_))
    }

    /// Whether the queue refused this datum itself ([`PutTimeoutError::Rejected`]).
    pub fn is_rejected(&self) -> bool {
        matches!(self, PutTimeoutError::Rejected { .. })
    }
}

impl<T> fmt::Debug for PutTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutTimeoutError::Timeout(_) => f.write_str("Timeout(..)"),
            PutTimeoutError::Closed(_) => f.write_str("Closed(..)"),
            PutTimeoutError::Rejected { reason, .. } => f
                .debug_struct("Rejected")
                .field("reason", reason)
                .finish_non_exhaustive(),
        }
    }
}

/// A blocking [`put`](crate::Machine::put) could not complete; the datum is handed back.
#[derive(PartialEq, Eq, Clone, thiserror::Error)]
pub enum PutError<T> {
    /// No machine can take the datum any more: its machine was dropped (before or while the
    /// put waited for room).
    #[error("the queue is closed: no machine takes data from it any more")]
    Closed(T),
    /// The queue refused this datum itself (see [`TryPutError::Rejected`]).
    #[error("the queue refused the datum: {reason}")]
    Rejected {
        /// The datum.
        datum: T,
        /// Why, in the queue's words.
        reason: String,
    },
}

impl<T> PutError<T> {
    /// The datum that was not put.
    pub fn into_inner(self) -> T {
        match self {
            PutError::Closed(d) => d,
            PutError::Rejected { datum, .. } => datum,
        }
    }

    /// Whether the queue was closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, PutError::Closed(_))
    }

    /// Whether the queue refused this datum itself ([`PutError::Rejected`]).
    pub fn is_rejected(&self) -> bool {
        matches!(self, PutError::Rejected { .. })
    }
}

impl<T> From<PutTimeoutError<T>> for PutError<T> {
    /// A put without a deadline never times out: a `Timeout` can only come from a queue
    /// that ended the wait for its own reasons, which is what `Closed` means to the caller.
    fn from(e: PutTimeoutError<T>) -> Self {
        match e {
            PutTimeoutError::Timeout(d) | PutTimeoutError::Closed(d) => PutError::Closed(d),
            PutTimeoutError::Rejected { datum, reason } => PutError::Rejected { datum, reason },
        }
    }
}

impl<T> fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutError::Closed(_) => f.write_str("Closed(..)"),
            PutError::Rejected { reason, .. } => f
                .debug_struct("Rejected")
                .field("reason", reason)
                .finish_non_exhaustive(),
        }
    }
}

/// Why [`get`](crate::Machine::get) returned no record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GetError {
    /// No datum arrived before the timeout.
    #[error("no datum arrived before the timeout")]
    Timeout,
    /// The machine is running: its consumers take the data, so `get` would race them.
    #[error("the machine is running; stop it before taking data with `get`")]
    Running,
    /// Called from a stage that `get` is running on this thread: it would wait for itself.
    #[error("`get` cannot be called from a stage that `get` is running")]
    Nested,
}

/// Why [`start`](crate::Machine::start) did not start the machine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// It is already running.
    #[error("the machine is already running")]
    AlreadyRunning,
    /// The operating system refused a thread.
    #[error("could not spawn a machine thread")]
    Spawn(#[source] std::io::Error),
    /// `start` was called from the machine's own threads (a handler, hook, plugin or stage),
    /// which cannot wait for the machine's earlier threads.
    #[error("start cannot be called from a handler, hook, plugin or stage of the machine")]
    OwnThread,
}

/// Why a [`Sink`](crate::Sink) could not take a record.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SinkError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl SinkError {
    /// An error with a message only.
    pub fn msg(message: impl fmt::Display) -> Self {
        SinkError {
            message: message.to_string(),
            source: None,
        }
    }

    /// An error with a message and its cause.
    pub fn with_source(
        message: impl fmt::Display,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        SinkError {
            message: message.to_string(),
            source: Some(source.into()),
        }
    }
}

/// An error and its causes on one line, `error: cause: its cause…`, each text said once: a
/// cause whose text its error already ends with (as `redis` and `std::io` errors often
/// repeat their source) is not repeated. What a program prints when it gives up.
///
/// ```
/// use std::io;
/// #[derive(Debug, thiserror::Error)]
/// #[error("cannot read the config")]
/// struct ReadConfig(#[source] io::Error);
///
/// let e = ReadConfig(io::Error::new(io::ErrorKind::NotFound, "no such file"));
/// assert_eq!(timbr_core::error_chain(&e), "cannot read the config: no such file");
/// ```
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        let said = c.to_string();
        if !text.ends_with(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod error_chain_tests {
    use super::error_chain;

    #[derive(Debug, thiserror::Error)]
    #[error("outer: {0}")]
    struct Repeats(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("cannot connect")]
    struct Connect(#[source] Repeats);

    #[test]
    fn a_cause_already_said_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(
            error_chain(&Connect(Repeats(io))),
            "cannot connect: outer: refused"
        );
    }
}
