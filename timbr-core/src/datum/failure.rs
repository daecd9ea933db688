//! A stage failure captured with everything needed to look at it again: the datum, the
//! stage's argument values, the error chain, and a way to rerun the stage.

use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use bson::oid::ObjectId;
use timbr_sched::{NodeId, Outcome, Outcomes, TaskError, Value};

use crate::datum::record::{FailureText, Missed};
use crate::datum::Timestamp;
use crate::{datum::ArgKey, Serialized};

/// A stage that failed on a datum, with the run it failed in.
///
/// Events carry it ([`Event::StageFailed`](crate::Event::StageFailed)); a handler that stops
/// with [`Action::StopAndKeep`](crate::Action::StopAndKeep) leaves it in
/// [`Machine::kept`](crate::Machine::kept).
pub struct Failure {
    pub(crate) oid: ObjectId,
    pub(crate) slot: usize,
    pub(crate) stage: Arc<str>,
    pub(crate) error: TaskError,
    pub(crate) at: Timestamp,
    pub(crate) node: NodeId,
    pub(crate) outcomes: Arc<Outcomes<'static>>,
    /// The `_s` texts the run did not compute (no stage asked for them), by `_s` node: the
    /// record serialized those values on the spot, and [`Failure::value`] still answers them.
    pub(crate) texts: Arc<[(NodeId, Serialized)]>,
}

impl Failure {
    /// The datum's oid.
    pub fn oid(&self) -> ObjectId {
        self.oid
    }

    /// The failing stage's slot.
    pub fn slot(&self) -> usize {
        self.slot
    }

    /// The failing stage's name.
    pub fn stage(&self) -> &str {
        &self.stage
    }

    /// What the stage returned (or how it panicked).
    pub fn error(&self) -> &TaskError {
        &self.error
    }

    /// When it failed.
    pub fn at(&self) -> Timestamp {
        self.at
    }

    /// The error and its causes, outermost first.
    pub fn chain(&self) -> Vec<String> {
        let mut chain = vec![self.error.to_string()];
        let mut cause = self.error.inner().and_then(|e| e.source());
        while let Some(e) = cause {
            chain.push(e.to_string());
            cause = e.source();
        }
        chain
    }

    /// The datum that failed, if it is a `T` (the machine's datum type).
    pub fn datum<T: Any>(&self) -> Option<&T> {
        self.outcomes.value::<T>("in").ok()
    }

    /// The value the run computed for `key`, if it holds a `T`: the failing stage's
    /// arguments are all there.
    ///
    /// Keys are named as stage arguments name them (`input`, `oid`, `f0`…, `input_s`,
    /// `f0_s`…; a `_s` key holds a [`Serialized`]), or as the graph does
    /// (`in`, `in_s`).
    ///
    /// ```
    /// use timbr_core::{Debugger, Machine, Serialized, Stage};
    ///
    /// let halve = Stage::try_new(0, "halve", ["input", "input_s"], |n: &u32, _: &Serialized| {
    ///     if n % 2 == 0 { Ok(n / 2) } else { Err(format!("{n} is odd")) }
    /// })?;
    /// let machine = Machine::<u32>::builder().stage(halve).handler(Debugger).build()?;
    /// machine.try_put(5)?;
    /// machine.start()?;
    /// machine.wait();
    /// let kept = machine.kept().unwrap();
    /// let failure = kept.failure().unwrap();
    /// assert_eq!(failure.value::<u32>("input"), Some(&5));
    /// assert_eq!(failure.value::<u32>("in"), Some(&5));
    /// assert_eq!(failure.value::<Serialized>("input_s").unwrap().as_str(), "5");
    /// assert_eq!(failure.value::<bson::oid::ObjectId>("oid"), Some(&failure.oid()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn value<T: Any>(&self, key: &str) -> Option<&T> {
        if key == "oid" {
            // The run has `oid` only if a stage asks for it; the failure always knows it.
            return (&self.oid as &dyn Any).downcast_ref::<T>();
        }
        let graph_key = match ArgKey::parse(key) {
            Some(arg) => Cow::Owned(arg.graph_key()),
            None => Cow::Borrowed(key),
        };
        if let Ok(value) = self.outcomes.value::<T>(&graph_key) {
            return Some(value);
        }
        let node = self.outcomes.plan().graph().node(&graph_key)?;
        let (_, text) = self.texts.iter().find(|(n, _)| *n == node)?;
        (text as &dyn Any).downcast_ref::<T>()
    }

    /// The whole run's outcomes: every key the run computed. A `_s` key is among them only
    /// if a stage asked for it ([`Failure::value`] answers the others too).
    pub fn outcomes(&self) -> &Outcomes<'static> {
        &self.outcomes
    }

    /// Runs the failing stage again, now, on this thread, on the very argument values it
    /// failed with: set a breakpoint in the stage, or `RUST_BACKTRACE=1` for a panic's
    /// backtrace, and see it fail where it fails. Upstream stages are not rerun.
    ///
    /// # Errors
    ///
    /// The stage's error (a panic is caught and returned as a [`TaskError`]).
    pub fn replay(&self) -> Result<Value, TaskError> {
        match self.outcomes.rerun(self.node) {
            Ok(Outcome::Value(v)) => Ok(v),
            Ok(Outcome::Failed(e)) => Err(e),
            Ok(Outcome::Skipped(s)) => Err(TaskError::msg(s)),
            Err(e) => Err(TaskError::new(e)),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        FailureText::new(&self.stage, Some(self.slot), Missed::Failed(&self.error))
            .on(self.oid)
            .fmt(f)
    }
}

/// Readable: the oid in hex, the error chain as text, the time in RFC 3339.
impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Failure")
            .field("oid", &self.oid.to_hex())
            .field("slot", &self.slot)
            .field("stage", &self.stage)
            .field("chain", &self.chain())
            .field("at", &self.at.to_rfc3339())
            .finish_non_exhaustive()
    }
}
