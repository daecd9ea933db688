//! Plans (which nodes a run computes, checked once) and runs (one plan's inputs, filled per run).

use std::any::{Any, TypeId};
use std::sync::Arc;

use crate::arena::SlotArray;
use crate::graph::NodeKind;
use crate::{Graph, InputError, NodeId, Outcome, TaskOutFn, TypeMismatch, UnknownKey, Value};

pub(crate) struct PlanInner {
    pub(crate) graph: Graph,
    pub(crate) requested: Box<[NodeId]>,
    /// The plan's nodes, dependencies first.
    pub(crate) order: Box<[u32]>,
    /// The same nodes with what running each takes, for the sequential executor's loop.
    pub(crate) steps: Box<[Step]>,
    /// Per graph node: how many distinct dependencies it waits for (plan nodes only).
    pub(crate) pending: Box<[u32]>,
    /// Per graph node: its dependants inside the plan.
    pub(crate) dependants: Box<[Box<[u32]>]>,
    /// The plan's nodes that wait for nothing, in topological order.
    pub(crate) roots: Box<[u32]>,
    pub(crate) in_plan: Box<[bool]>,
}

/// A plan node as the sequential executor runs it: its task's function and arguments at hand
/// (shared with the graph), so that the loop over a run's nodes reads one array instead of
/// looking each node up in the graph and matching on its kind.
pub(crate) struct Step {
    pub(crate) node: u32,
    /// `None` for an input.
    pub(crate) task: Option<StepTask>,
}

/// A task's part of a [`Step`].
pub(crate) struct StepTask {
    pub(crate) func: TaskOutFn,
    pub(crate) args: Box<[u32]>,
    /// Whether every argument's node comes before this one in the graph, so that the
    /// executor can lend the task its own slot (`&mut`) beside the slots it reads.
    pub(crate) args_before: bool,
}

/// The nodes needed for a set of requested keys, in the order they run; computed once and
/// reused for every run.
///
/// Cloning is cheap (shared).
///
/// # Examples
///
/// ```
/// use timbr_sched::{Executor, GraphBuilder, Sequential};
///
/// let mut g = GraphBuilder::new();
/// g.input::<i32>("x");
/// g.task("a", ["x"], |a| Ok(a.get::<i32>(0)? + 1));
/// g.task("b", ["x"], |_| -> Result<i32, timbr_sched::TaskError> { panic!("never asked for") });
/// let graph = g.build()?;
///
/// let plan = graph.plan(["a"])?; // `b` is not an ancestor of `a`: it does not run
/// let mut run = plan.run();
/// run.set("x", 1_i32)?;
/// let out = Sequential.execute(run, None);
/// assert_eq!(out.value::<i32>("a")?, &2);
/// assert!(out.get("b").is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Plan(pub(crate) Arc<PlanInner>);

impl Plan {
    pub(crate) fn new(graph: Graph, requested: Vec<NodeId>) -> Plan {
        let inner = &graph.0;
        let n = inner.nodes.len();
        let mut in_plan = vec![false; n];
        let mut stack: Vec<u32> = requested.iter().map(|id| id.0).collect();
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut in_plan[i as usize], true) {
                continue;
            }
            if let NodeKind::Task { deps, .. } = &inner.nodes[i as usize].kind {
                stack.extend(deps.iter().copied());
            }
        }
        let order: Box<[u32]> = inner
            .order
            .iter()
            .copied()
            .filter(|&i| in_plan[i as usize])
            .collect();
        let steps = order
            .iter()
            .map(|&i| Step {
                node: i,
                task: match &inner.nodes[i as usize].kind {
                    NodeKind::Task { args, func, .. } => Some(StepTask {
                        func: TaskOutFn::clone(func),
                        args: args.clone(),
                        args_before: args.iter().all(|&a| a < i),
                    }),
                    NodeKind::Input(_) => None,
                },
            })
            .collect();
        let mut pending = vec![0_u32; n];
        let mut roots = Vec::new();
        for &i in order.iter() {
            let deps = match &inner.nodes[i as usize].kind {
                NodeKind::Task { deps, .. } => deps.len(),
                NodeKind::Input(_) => 0,
            };
            pending[i as usize] = deps as u32;
            if deps == 0 {
                roots.push(i);
            }
        }
        let dependants = inner
            .dependants
            .iter()
            .enumerate()
            .map(|(i, ds)| {
                if in_plan[i] {
                    ds.iter()
                        .copied()
                        .filter(|&d| in_plan[d as usize])
                        .collect()
                } else {
                    Box::default()
                }
            })
            .collect();
        Plan(Arc::new(PlanInner {
            graph,
            requested: requested.into(),
            order,
            steps,
            pending: pending.into(),
            dependants,
            roots: roots.into(),
            in_plan: in_plan.into(),
        }))
    }

    /// The graph this plan runs.
    pub fn graph(&self) -> &Graph {
        &self.0.graph
    }

    /// The keys asked for, resolved to nodes, in the order asked.
    pub fn requested(&self) -> &[NodeId] {
        &self.0.requested
    }

    /// Whether a node runs in this plan (it was requested or something requested needs it).
    #[inline]
    pub fn contains(&self, id: NodeId) -> bool {
        self.0.in_plan.get(id.index()).copied().unwrap_or(false)
    }

    /// The plan's nodes in the order the [`Sequential`](crate::Sequential) executor runs them.
    pub fn order(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.0.order.iter().map(|&i| NodeId(i))
    }

    /// A fresh run of this plan, its inputs not yet set.
    ///
    /// The run borrows the plan, and so do its [`Outcomes`](crate::Outcomes): a run costs no
    /// reference count. Outcomes that must outlive the borrow (kept for a report, sent to
    /// another thread) are made independent with
    /// [`Outcomes::into_owned`](crate::Outcomes::into_owned).
    ///
    /// The run's slots are recycled from an earlier run on this thread whose
    /// [`Outcomes`](crate::Outcomes) were dropped, so a steady stream of runs allocates none.
    #[inline]
    pub fn run(&self) -> Run<'_> {
        Run {
            plan: PlanRef::Borrowed(self),
            slots: SlotArray::take(self.0.graph.len(), &self.0.order),
        }
    }
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let graph = self.graph();
        f.debug_list()
            .entries(self.order().map(|id| graph.key(id)))
            .finish()
    }
}

/// The plan of a run and of its outcomes: borrowed while they live no longer than the caller's
/// [`Plan`], shared once [`Outcomes::into_owned`](crate::Outcomes::into_owned) detached them.
///
/// Borrowing is what makes a run cheap: cloning the `Arc` inside a [`Plan`] for every run and
/// dropping it with the outcomes cost two atomic read-modify-writes per datum.
pub(crate) enum PlanRef<'p> {
    Borrowed(&'p Plan),
    Owned(Plan),
}

impl PlanRef<'_> {
    /// The plan, whichever way it is held.
    #[inline]
    pub(crate) fn get(&self) -> &Plan {
        match self {
            PlanRef::Borrowed(plan) => plan,
            PlanRef::Owned(plan) => plan,
        }
    }
}

/// One run of a [`Plan`]: set its inputs, then hand it to an [`Executor`](crate::Executor).
///
/// A run borrows its plan (`'p`); see [`Plan::run`].
///
/// An input the plan needs but that was not set makes that input fail ("input `x` was not
/// set"), and the tasks depending on it are skipped.
pub struct Run<'p> {
    pub(crate) plan: PlanRef<'p>,
    pub(crate) slots: SlotArray<'p>,
}

impl std::fmt::Debug for Run<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("plan", self.plan.get())
            .finish_non_exhaustive()
    }
}

impl<'p> Run<'p> {
    /// Sets the input `key` to `value`, replacing any earlier value.
    ///
    /// An input the plan does not need is accepted and dropped at once: no node of the run
    /// reads it, and it has no outcome.
    ///
    /// This looks `key` up by name; on a hot path resolve it once with
    /// [`Graph::node`] and use [`set_value`](Run::set_value).
    ///
    /// # Errors
    ///
    /// [`InputError`] if `key` is unknown, is not an input, or holds another type.
    pub fn set<T: Any + Send + Sync>(
        &mut self,
        key: &str,
        value: T,
    ) -> Result<&mut Self, InputError> {
        let id = self
            .plan
            .get()
            .graph()
            .node(key)
            .ok_or_else(|| UnknownKey(key.to_owned()))?;
        self.set_value(id, Value::new(value))
    }

    /// Sets the input node `id` to an already wrapped value (dropped at once if the plan
    /// does not need it, as with [`set`](Run::set)).
    ///
    /// # Errors
    ///
    /// [`InputError`] if `id` is not an input of this graph or the value has another type.
    #[inline]
    pub fn set_value(&mut self, id: NodeId, value: Value) -> Result<&mut Self, InputError> {
        let graph = &self.plan.get().0.graph.0;
        match graph.nodes.get(id.index()).map(|node| &node.kind) {
            Some(NodeKind::Input(ty)) if ty.id() == value.type_id() => {}
            _ => return Err(self.refuse(id, &value)),
        }
        // Only the plan's slots are emptied after the run (see `arena`): an input outside
        // it is dropped here.
        if !self.plan.get().contains(id) {
            return Ok(self);
        }
        self.slots[id.index()] = Some(Outcome::Value(value));
        Ok(self)
    }

    /// Sets the input node `id` to `value`, wrapped here.
    ///
    /// The same as [`set_value`](Run::set_value) with [`Value::new`], but the input's type is
    /// compared with `T` where it is known at compile time, rather than with the wrapped value's
    /// type (through its vtable, for a value that is not a primitive): the hot path of a caller
    /// that feeds a plan one datum after another.
    ///
    /// # Errors
    ///
    /// [`InputError`] if `id` is not an input of this graph or it holds another type than `T`.
    #[inline]
    pub fn set_input<T: Any + Send + Sync>(
        &mut self,
        id: NodeId,
        value: T,
    ) -> Result<&mut Self, InputError> {
        let graph = &self.plan.get().0.graph.0;
        match graph.nodes.get(id.index()).map(|node| &node.kind) {
            Some(NodeKind::Input(ty)) if ty.id() == TypeId::of::<T>() => {}
            _ => return Err(self.refuse(id, &Value::new(value))),
        }
        // Only the plan's slots are emptied after the run (see `arena`): an input outside
        // it is dropped here.
        if !self.plan.get().contains(id) {
            return Ok(self);
        }
        self.slots[id.index()] = Some(Outcome::Value(Value::new(value)));
        Ok(self)
    }

    /// Why `value` cannot be input `id`: out of line, so the accepting path stays small.
    #[cold]
    #[inline(never)]
    fn refuse(&self, id: NodeId, value: &Value) -> InputError {
        let graph = &self.plan.get().0.graph.0;
        let Some(node) = graph.nodes.get(id.index()) else {
            return UnknownKey(format!("#{}", id.0)).into();
        };
        match &node.kind {
            NodeKind::Input(ty) => InputError::TypeMismatch(TypeMismatch {
                key: node.key.to_string(),
                expected: ty.name(),
                found: value.type_name(),
            }),
            NodeKind::Task { .. } => InputError::NotAnInput(node.key.to_string()),
        }
    }

    /// The plan this run belongs to.
    pub fn plan(&self) -> &Plan {
        self.plan.get()
    }
}
