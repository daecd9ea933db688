//! What a run produced for each key: a value, an error, or a skip naming the failed upstream.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use crate::arena::SlotArray;
use crate::plan::PlanRef;
use crate::{NodeId, OutcomeError, Plan, TaskError, UnknownKey, Value};

/// The outcome of one node in one run.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// The node produced a value.
    Value(Value),
    /// The node's task returned an error or panicked (or, for an input, it was not set).
    Failed(TaskError),
    /// The node did not run because a dependency did not produce a value.
    Skipped(Skipped),
}

impl Outcome {
    /// The value, if the node produced one.
    #[inline]
    pub fn value(&self) -> Option<&Value> {
        match self {
            Outcome::Value(v) => Some(v),
            _ => None,
        }
    }

    /// The error, if the node failed.
    pub fn error(&self) -> Option<&TaskError> {
        match self {
            Outcome::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// Whether the node produced a value.
    pub fn is_value(&self) -> bool {
        matches!(self, Outcome::Value(_))
    }
}

/// Why a node was skipped: the key whose failure it descends from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub(crate) upstream: Arc<str>,
}

impl Skipped {
    /// The key that failed (the original failure, not an intermediate skipped node).
    pub fn upstream(&self) -> &str {
        &self.upstream
    }
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "upstream `{}` failed", self.upstream)
    }
}

/// Every planned node's outcome after a run.
///
/// Look keys up by name ([`get`](Outcomes::get), [`value`](Outcomes::value)) or, on a hot path,
/// by [`NodeId`] ([`outcome`](Outcomes::outcome)).
///
/// Outcomes borrow the run's [`Plan`] (`'p`), as the [`Run`](crate::Run) did; to keep them
/// longer, detach them with [`into_owned`](Outcomes::into_owned).
///
/// # Examples
///
/// ```
/// use timbr_sched::{Executor, GraphBuilder, Outcomes, Sequential};
///
/// let mut g = GraphBuilder::new();
/// g.input::<u8>("x");
/// g.task("y", ["x"], |a| Ok(u16::from(*a.get::<u8>(0)?) * 2));
/// let kept: Outcomes<'static> = {
///     let plan = g.build()?.plan_all();
///     let mut run = plan.run();
///     run.set("x", 21_u8)?;
///     Sequential.execute(run, None).into_owned() // outlives `plan`
/// };
/// assert_eq!(kept.value::<u16>("y")?, &42);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Outcomes<'p> {
    pub(crate) plan: PlanRef<'p>,
    pub(crate) slots: SlotArray<'p>,
}

impl<'p> Outcomes<'p> {
    /// The plan that was run.
    #[inline]
    pub fn plan(&self) -> &Plan {
        self.plan.get()
    }

    /// The same outcomes, no longer borrowing the plan: they hold a share of it instead (one
    /// reference count), so they may be kept, or sent to another thread, for as long as needed.
    pub fn into_owned(self) -> Outcomes<'static> {
        let Outcomes { plan, slots } = self;
        let plan = match plan {
            PlanRef::Borrowed(plan) => Plan::clone(plan),
            PlanRef::Owned(plan) => plan,
        };
        Outcomes {
            plan: PlanRef::Owned(plan),
            slots: slots.detach(),
        }
    }

    /// The outcome of node `id`, or `None` if it was not part of the plan.
    #[inline]
    pub fn outcome(&self, id: NodeId) -> Option<&Outcome> {
        // Only the plan's nodes are written (an input set outside the plan is not kept), so
        // a node outside the plan has an empty slot: no need to ask the plan.
        self.slots.get(id.index()).and_then(Option::as_ref)
    }

    /// The outcome of `key` (or of the node an alias names), or `None` if the key is unknown or
    /// was not part of the plan.
    pub fn get(&self, key: &str) -> Option<&Outcome> {
        self.outcome(self.plan().graph().node(key)?)
    }

    /// The value of `key` as a `T`.
    ///
    /// # Errors
    ///
    /// [`OutcomeError`] if the key is unknown, was not computed, failed, was skipped, or holds
    /// another type.
    pub fn value<T: Any>(&self, key: &str) -> Result<&T, OutcomeError> {
        let id = self
            .plan()
            .graph()
            .node(key)
            .ok_or_else(|| UnknownKey(key.to_owned()))?;
        match self.outcome(id) {
            None => Err(OutcomeError::NotComputed(key.to_owned())),
            Some(Outcome::Value(v)) => Ok(v.get::<T>(key)?),
            Some(Outcome::Failed(error)) => Err(OutcomeError::Failed {
                key: key.to_owned(),
                error: error.clone(),
            }),
            Some(Outcome::Skipped(skipped)) => Err(OutcomeError::Skipped {
                key: key.to_owned(),
                skipped: skipped.clone(),
            }),
        }
    }

    /// Every planned node's key and outcome, dependencies first.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Outcome)> + '_ {
        let graph = self.plan().graph();
        self.plan()
            .order()
            .filter_map(move |id| Some((graph.key(id), self.outcome(id)?)))
    }

    /// The nodes that failed, with their errors.
    pub fn failures(&self) -> impl Iterator<Item = (&str, &TaskError)> + '_ {
        self.iter().filter_map(|(k, o)| Some((k, o.error()?)))
    }

    /// Whether every planned node produced a value.
    pub fn is_ok(&self) -> bool {
        self.iter().all(|(_, o)| o.is_value())
    }

    /// Runs task `id` again, now, on the caller's thread, on the very argument values it had
    /// in this run: to reproduce a failure under a debugger or with `RUST_BACKTRACE` set.
    ///
    /// A panic in the task is caught and returned as a failure, as in a run. The outcome is
    /// `Skipped` if one of its dependencies holds no value in this run.
    ///
    /// # Errors
    ///
    /// [`OutcomeError::NotComputed`] if `id` is not a task of this run's plan.
    pub fn rerun(&self, id: NodeId) -> Result<Outcome, OutcomeError> {
        let graph = &self.plan().graph().0;
        let not_computed = || OutcomeError::NotComputed(format!("#{}", id.index()));
        if !self.plan().contains(id) || graph.nodes.get(id.index()).is_none() {
            return Err(not_computed());
        }
        if matches!(
            graph.nodes[id.index()].kind,
            crate::graph::NodeKind::Input(_)
        ) {
            return Err(OutcomeError::NotComputed(
                graph.nodes[id.index()].key.to_string(),
            ));
        }
        let slots = crate::exec::Slots::Plain(&self.slots);
        crate::exec::compute(graph, id.0, slots, None).ok_or_else(not_computed)
    }
}

impl fmt::Debug for Outcomes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}
