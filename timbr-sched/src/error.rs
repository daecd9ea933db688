//! The errors of building a graph, planning a run, filling its inputs and running its tasks.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

/// Why a [`GraphBuilder`](crate::GraphBuilder) could not be built into a [`Graph`](crate::Graph).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Two nodes (inputs, tasks or aliases) share a key.
    #[error("duplicate key `{0}`")]
    DuplicateKey(String),
    /// A task or an alias refers to a key that nothing defines.
    #[error("`{key}` depends on `{missing}`, which is not a key of the graph")]
    MissingDependency {
        /// The task or alias that has the dangling reference.
        key: String,
        /// The key it refers to.
        missing: String,
    },
    /// The graph has a cycle; `keys` walks it, the first key repeated at the end.
    #[error("cycle: {}", .keys.join(" -> "))]
    Cycle {
        /// The keys on the cycle, in dependency order, first key repeated last.
        keys: Vec<String>,
    },
    /// A task declared the type it expects from a dependency, and the dependency produces
    /// another.
    #[error("`{key}` expects `{dependency}` to be `{expected}`, but it is `{found}`")]
    TypeMismatch {
        /// The task that declared the type.
        key: String,
        /// The dependency it declared it for.
        dependency: String,
        /// The declared type.
        expected: &'static str,
        /// The type the dependency produces.
        found: &'static str,
    },
}

/// A key named in a [`Plan`](crate::Plan) or a lookup that the graph does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown key `{0}`")]
pub struct UnknownKey(pub String);

/// A value was asked for as one type and holds another.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}` holds `{found}`, not `{expected}`")]
pub struct TypeMismatch {
    /// The key whose value was asked for.
    pub key: String,
    /// The type that was asked for.
    pub expected: &'static str,
    /// The type the value has.
    pub found: &'static str,
}

/// Why an input could not be set on a [`Run`](crate::Run).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// No key of that name.
    #[error(transparent)]
    UnknownKey(#[from] UnknownKey),
    /// The key exists but is a task, not an input.
    #[error("`{0}` is a task, not an input")]
    NotAnInput(String),
    /// The value is not of the input's declared type.
    #[error(transparent)]
    TypeMismatch(#[from] TypeMismatch),
}

/// Why a key's value could not be read from [`Outcomes`](crate::Outcomes).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum OutcomeError {
    /// No key of that name.
    #[error(transparent)]
    UnknownKey(#[from] UnknownKey),
    /// The key exists but was not part of the run's plan.
    #[error("`{0}` was not computed in this run")]
    NotComputed(String),
    /// The key's task failed.
    #[error("`{key}` failed: {error}")]
    Failed {
        /// The key.
        key: String,
        /// Its error.
        #[source]
        error: TaskError,
    },
    /// The key's task did not run because a dependency failed.
    #[error("`{key}` was skipped: {skipped}")]
    Skipped {
        /// The key.
        key: String,
        /// Which upstream key failed.
        skipped: crate::Skipped,
    },
    /// The value has another type.
    #[error(transparent)]
    TypeMismatch(#[from] TypeMismatch),
}

/// Why one task failed: it returned an error, panicked, or could not read its arguments.
///
/// Cheap to clone (shared), so one failure can be reported to hooks, kept in outcomes and
/// handed to the caller.
#[derive(Clone)]
pub struct TaskError(Arc<Repr>);

enum Repr {
    Failed(Box<dyn StdError + Send + Sync>),
    Panicked(String),
    Message(String),
}

impl TaskError {
    /// A failure caused by `error`; its `source()` chain stays reachable.
    pub fn new(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        TaskError(Arc::new(Repr::Failed(error.into())))
    }

    /// A failure described by a message only (for errors that implement `Display` but not
    /// `Error`).
    pub fn msg(message: impl fmt::Display) -> Self {
        TaskError(Arc::new(Repr::Message(message.to_string())))
    }

    /// A task that panicked, from the panic's payload.
    pub fn from_panic(payload: Box<dyn std::any::Any + Send>) -> Self {
        let message = if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_owned()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "panic with a non-string payload".to_owned()
        };
        TaskError(Arc::new(Repr::Panicked(message)))
    }

    /// Whether the task panicked (rather than returning an error).
    pub fn is_panic(&self) -> bool {
        matches!(*self.0, Repr::Panicked(_))
    }

    /// The panic's message, if the task panicked.
    pub fn panic_message(&self) -> Option<&str> {
        match &*self.0 {
            Repr::Panicked(m) => Some(m),
            _ => None,
        }
    }

    /// The error the task returned, if it returned one that implements `Error`.
    pub fn inner(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        match &*self.0 {
            Repr::Failed(e) => Some(&**e),
            _ => None,
        }
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            Repr::Failed(e) => fmt::Display::fmt(e, f),
            Repr::Panicked(m) => write!(f, "panicked: {m}"),
            Repr::Message(m) => f.write_str(m),
        }
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            Repr::Failed(e) => f.debug_tuple("TaskError::Failed").field(e).finish(),
            Repr::Panicked(m) => f.debug_tuple("TaskError::Panicked").field(m).finish(),
            Repr::Message(m) => f.debug_tuple("TaskError::Message").field(m).finish(),
        }
    }
}

impl StdError for TaskError {
    // Display already shows the wrapped error, so the chain continues with *its* source.
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &*self.0 {
            Repr::Failed(e) => e.source(),
            _ => None,
        }
    }
}

impl From<TypeMismatch> for TaskError {
    fn from(e: TypeMismatch) -> Self {
        TaskError::new(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_payloads_keep_their_message() {
        let e = TaskError::from_panic(Box::new("boom"));
        assert!(e.is_panic());
        assert_eq!(e.panic_message(), Some("boom"));
        assert_eq!(e.to_string(), "panicked: boom");
        let e = TaskError::from_panic(Box::new(String::from("bang")));
        assert_eq!(e.panic_message(), Some("bang"));
        let e = TaskError::from_panic(Box::new(7_u8));
        assert_eq!(e.panic_message(), Some("panic with a non-string payload"));
    }

    #[test]
    fn errors_keep_their_chain() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        let e = TaskError::new(Outer(std::io::Error::other("inner")));
        assert_eq!(e.to_string(), "outer");
        assert_eq!(e.source().unwrap().to_string(), "inner");
        assert!(e.inner().is_some());
        assert!(!e.is_panic());
    }

    #[test]
    fn build_errors_name_their_keys() {
        let e = BuildError::Cycle {
            keys: vec!["a".into(), "b".into(), "a".into()],
        };
        assert_eq!(e.to_string(), "cycle: a -> b -> a");
        let e = BuildError::TypeMismatch {
            key: "f1".into(),
            dependency: "f0".into(),
            expected: "u8",
            found: "i64",
        };
        assert_eq!(
            e.to_string(),
            "`f1` expects `f0` to be `u8`, but it is `i64`"
        );
    }
}
