//! A machine configuration compiled: the datum graph and its plans (what the record of a run
//! is made of is `record.rs`'s business). Immutable; a stage change builds a new one, so a
//! datum never sees half a change.

use std::any::Any;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bson::oid::ObjectId;
use serde::Serialize;
use timbr_sched::{
    Dep, Executor, Graph, GraphBuilder, Hooks, NodeId, Outcomes, Plan, TaskFn, TypeInfo, Value,
};

use crate::datum::stage::{write_as, SerializeFn, WriteFn};
use crate::{datum::ArgKey, BuildError, Datum, Serialized, Stage};

pub(crate) struct Wiring {
    pub(crate) stages: Vec<Option<Stage>>,
    pub(crate) graph: Graph,
    /// Every raw key of the record (`in`, `f0`…), and what they need: `_s` keys only where
    /// a stage asks for them (the record serializes the others straight into its text).
    pub(crate) record_plan: Plan,
    /// Every raw key (`in`, `oid`, `f0`…), and what they need.
    pub(crate) call_plan: Plan,
    pub(crate) input: NodeId,
    pub(crate) oid: NodeId,
    /// `in`, then `f0`…`f{N-1}`: where each record entry comes from.
    pub(crate) entries: Vec<Entry>,
    /// Each stage's slot and node, in slot order.
    stage_nodes: Vec<(usize, NodeId)>,
    /// For each node, the slot of the stage it runs plus one (0: not a stage).
    slot_of: Box<[u16]>,
    /// What a record's buffer starts with: about the length of the records made lately
    /// (see [`Wiring::note_record_len`]).
    record_len: AtomicUsize,
}

pub(crate) struct Entry {
    /// The `_s` node (shared with the predecessor's for an empty slot).
    pub(crate) serialized: NodeId,
    /// The raw node.
    pub(crate) raw: NodeId,
    /// The slot of the stage that produces `raw`, `None` for the input.
    pub(crate) owner: Option<usize>,
    pub(crate) serialize: SerializeFn,
    pub(crate) write: WriteFn,
    /// Whether the plans compute the `_s` node (a stage asks for it); if not, the record
    /// serializes the raw value itself.
    pub(crate) computed: bool,
    /// Whether the `_s` node is the previous entry's (an empty slot): the record copies that
    /// entry's text. Decided here once rather than compared for every datum.
    pub(crate) repeats: bool,
}

/// The first record buffer of a wiring; and no record starts with more than
/// [`MAX_RECORD_START`] (a larger one grows as it is written, as it would with no estimate).
const FIRST_RECORD_LEN: usize = 128;
const MAX_RECORD_START: usize = 64 * 1024;

impl Wiring {
    /// Checks the stages' argument types against what each key holds and compiles the graph.
    pub(crate) fn build<T: Datum>(stages: Vec<Option<Stage>>) -> Result<Wiring, BuildError> {
        check_types::<T>(&stages)?;
        let graph = graph::<T>(&stages)?;
        let node = |key: &str| node(&graph, key);
        let mut entries = entries::<T>(&graph, &stages)?;
        let plan = |keys: Vec<&str>| {
            graph
                .plan(keys)
                .map_err(|e| timbr_sched::BuildError::MissingDependency {
                    key: "machine".to_owned(),
                    missing: e.0,
                })
        };
        let record_plan = plan(entries.iter().map(|e| graph.key(e.raw)).collect())?;
        let call_plan = plan(
            entries
                .iter()
                .map(|e| graph.key(e.raw))
                .chain(["oid"])
                .collect(),
        )?;
        let mut previous = None;
        for entry in &mut entries {
            entry.computed =
                record_plan.contains(entry.serialized) || call_plan.contains(entry.serialized);
            entry.repeats = previous == Some(entry.serialized);
            previous = Some(entry.serialized);
        }
        let mut stage_nodes = Vec::new();
        let mut slot_of = vec![0_u16; graph.len()].into_boxed_slice();
        for (slot, stage) in stages.iter().enumerate() {
            if stage.is_some() {
                let id = node(&format!("f{slot}"))?;
                stage_nodes.push((slot, id));
                // Slots are fewer than `MAX_SLOTS` (64).
                slot_of[id.index()] = u16::try_from(slot + 1).unwrap_or(u16::MAX);
            }
        }
        Ok(Wiring {
            stage_nodes,
            slot_of,
            input: node("in")?,
            oid: node("oid")?,
            stages,
            graph,
            record_plan,
            call_plan,
            entries,
            record_len: AtomicUsize::new(FIRST_RECORD_LEN),
        })
    }

    /// The capacity to start a record's buffer with.
    #[inline]
    pub(crate) fn record_capacity(&self) -> usize {
        self.record_len.load(Ordering::Relaxed)
    }

    /// Learns from a record's length what the next ones should start with: the length plus an
    /// eighth (numbers grow a digit now and then). Written only when the estimate is short or
    /// more than twice too long, so that workers making records of one shape do not keep
    /// writing one shared word.
    #[inline]
    pub(crate) fn note_record_len(&self, len: usize) {
        let start = self.record_len.load(Ordering::Relaxed);
        if len > start || len < start / 2 {
            let next = (len + len / 8).clamp(FIRST_RECORD_LEN, MAX_RECORD_START);
            if next != start {
                self.record_len.store(next, Ordering::Relaxed);
            }
        }
    }

    /// Runs one datum through `plan`.
    pub(crate) fn run<'p, T: Any + Send + Sync>(
        &self,
        plan: &'p Plan,
        datum: T,
        oid: ObjectId,
        executor: &dyn Executor,
        hooks: Option<&dyn Hooks>,
    ) -> Outcomes<'p> {
        let mut run = plan.run();
        // Cannot fail: `in` is declared as a `T` and `oid` as an `ObjectId` by `build`.
        let _ = run.set_input(self.input, datum);
        if plan.contains(self.oid) {
            let _ = run.set_input(self.oid, oid);
        }
        executor.execute(run, hooks)
    }

    /// Each stage's slot and node, in slot order.
    pub(crate) fn stage_nodes(&self) -> impl Iterator<Item = (usize, NodeId)> + '_ {
        self.stage_nodes.iter().copied()
    }

    /// The slot of the stage node `id` runs, if it runs one.
    #[inline]
    pub(crate) fn slot_of(&self, id: NodeId) -> Option<usize> {
        match self.slot_of.get(id.index()) {
            Some(&s) if s > 0 => Some(usize::from(s) - 1),
            _ => None,
        }
    }

    /// The stage at `slot` (`None` for an empty slot).
    pub(crate) fn stage_at(&self, slot: usize) -> Option<&Stage> {
        self.stages.get(slot)?.as_ref()
    }

    /// The name of the stage at `slot` (`?` for an empty slot).
    pub(crate) fn stage_name(&self, slot: usize) -> &str {
        self.stages
            .get(slot)
            .and_then(Option::as_ref)
            .map_or("?", |s| s.name())
    }

    pub(crate) fn slots(&self) -> usize {
        self.stages.len()
    }
}

/// A `_s` node to declare: its key, the raw key it serializes, and how.
struct SerializedNode {
    key: String,
    dep: Dep,
    func: TaskFn,
}

impl SerializedNode {
    /// Declares the node now if a stage reads it (`asked`), or keeps it for after the raw
    /// keys.
    fn declare_now_or_later(
        self,
        g: &mut GraphBuilder,
        asked: &HashSet<String>,
        later: &mut Vec<SerializedNode>,
    ) {
        if asked.contains(&self.key) {
            self.declare(g);
        } else {
            later.push(self);
        }
    }

    fn declare(self, g: &mut GraphBuilder) {
        g.task_erased(
            self.key,
            [self.dep],
            Some(TypeInfo::of::<Serialized>()),
            self.func,
        );
    }
}

/// The `_s` nodes the stages read, through the aliases of empty slots: `f2_s` of an empty
/// slot 2 after a stage at slot 1 is `f1_s`, and `in_s` before any stage.
fn serialized_keys_read(stages: &[Option<Stage>]) -> HashSet<String> {
    let node_of = |k: usize| match filled_at_or_before(stages, k) {
        Some(j) => format!("f{j}_s"),
        None => "in_s".to_owned(),
    };
    stages
        .iter()
        .flatten()
        .flat_map(|stage| stage.args.iter())
        .filter_map(|arg| match arg.key {
            ArgKey::InputS => Some("in_s".to_owned()),
            ArgKey::OidS => Some("oid_s".to_owned()),
            ArgKey::SlotS(k) => Some(node_of(k)),
            _ => None,
        })
        .collect()
}

fn serializer(f: SerializeFn) -> TaskFn {
    Arc::new(move |a| {
        let value = a
            .value(0)
            .ok_or_else(|| timbr_sched::TaskError::msg("no value to serialize"))?;
        Ok(Value::new(f(value)))
    })
}

fn serialize_input<T: Serialize + 'static>(value: &Value) -> Serialized {
    match value.downcast_ref::<T>() {
        Some(v) => Serialized::json(v),
        None => Serialized::exception("input of an unexpected type"),
    }
}

fn check_types<T: 'static>(stages: &[Option<Stage>]) -> Result<(), BuildError> {
    let mut produced: Vec<TypeInfo> = Vec::with_capacity(stages.len());
    for (slot, stage) in stages.iter().enumerate() {
        if let Some(stage) = stage {
            for arg in stage.args.iter() {
                let found = match arg.key {
                    ArgKey::Input => TypeInfo::of::<T>(),
                    ArgKey::Oid => TypeInfo::of::<ObjectId>(),
                    ArgKey::Slot(k) => match produced.get(k) {
                        Some(ty) => *ty,
                        None => {
                            return Err(BuildError::NotEarlier {
                                stage: stage.name.to_string(),
                                slot,
                                argument: arg.key.to_string(),
                            })
                        }
                    },
                    ArgKey::InputS | ArgKey::OidS | ArgKey::SlotS(_) => {
                        TypeInfo::of::<Serialized>()
                    }
                };
                if found != arg.ty {
                    let key = match arg.key {
                        ArgKey::Slot(k) => source_key(stages, k),
                        other => other.graph_key(),
                    };
                    return Err(BuildError::ArgumentType {
                        stage: stage.name.to_string(),
                        argument: arg.key.to_string(),
                        key,
                        expected: arg.ty.name(),
                        found: found.name(),
                    });
                }
            }
        }
        let ty = match stage {
            Some(stage) => stage.output,
            None => produced.last().copied().unwrap_or_else(TypeInfo::of::<T>),
        };
        produced.push(ty);
    }
    Ok(())
}

/// `f{k}`, or for an empty slot, what it passes through: "f2 (= f0)", "f1 (= input)".
fn source_key(stages: &[Option<Stage>], k: usize) -> String {
    match filled_at_or_before(stages, k) {
        Some(j) if j == k => format!("f{k}"),
        Some(j) => format!("f{k} (empty, passing f{j} through)"),
        None => format!("f{k} (empty, passing the input through)"),
    }
}

/// The slot whose stage key `f{k}` stands for: `k` itself if it holds a stage, else the
/// nearest filled slot before it (an empty slot passes its predecessor through); `None` when
/// no slot up to `k` holds one (the input is passed through).
fn filled_at_or_before(stages: &[Option<Stage>], k: usize) -> Option<usize> {
    (0..=k)
        .rev()
        .find(|&j| stages.get(j).is_some_and(Option::is_some))
}

/// The datum graph of `stages`: the input, the oid, each slot's raw and `_s` keys.
fn graph<T: Datum>(stages: &[Option<Stage>]) -> Result<Graph, BuildError> {
    // The raw keys are declared first, so that a run's slots for them (the record's) are
    // side by side; a `_s` key comes right after its raw key only if a stage reads it
    // (a task's arguments must come before it for it to write its own slot), else last.
    let asked = serialized_keys_read(stages);
    let mut g = GraphBuilder::new();
    let mut later: Vec<SerializedNode> = Vec::new();
    g.input::<T>("in");
    g.input::<ObjectId>("oid");
    let in_s = SerializedNode {
        key: "in_s".to_owned(),
        dep: Dep::typed::<T>("in"),
        func: serializer(serialize_input::<T>),
    };
    let oid_s = SerializedNode {
        key: "oid_s".to_owned(),
        dep: Dep::typed::<ObjectId>("oid"),
        func: Arc::new(|a| Ok(Value::new(Serialized::raw(a.get::<ObjectId>(0)?.to_hex())))),
    };
    for node in [in_s, oid_s] {
        node.declare_now_or_later(&mut g, &asked, &mut later);
    }
    let mut prev = ("in".to_owned(), "in_s".to_owned());
    for (slot, stage) in stages.iter().enumerate() {
        let (raw, ser) = (format!("f{slot}"), format!("f{slot}_s"));
        match stage {
            None => {
                g.alias(raw.clone(), prev.0);
                g.alias(ser.clone(), prev.1);
            }
            Some(stage) => {
                let deps = stage
                    .args
                    .iter()
                    .map(|a| Dep::with_type(a.key.graph_key(), Some(a.ty)));
                g.task_out(
                    raw.clone(),
                    deps,
                    Some(stage.output),
                    Arc::clone(&stage.func),
                );
                SerializedNode {
                    key: ser.clone(),
                    dep: Dep::new(raw.as_str()),
                    func: serializer(stage.serialize),
                }
                .declare_now_or_later(&mut g, &asked, &mut later);
            }
        }
        prev = (raw, ser);
    }
    for node in later {
        node.declare(&mut g);
    }
    Ok(g.build()?)
}

/// The node of a key the graph was built with.
fn node(graph: &Graph, key: &str) -> Result<NodeId, timbr_sched::BuildError> {
    graph
        .node(key)
        .ok_or_else(|| timbr_sched::BuildError::MissingDependency {
            key: "machine".to_owned(),
            missing: key.to_owned(),
        })
}

/// Where each record entry comes from: `in`, then each slot, with the stage that owns it
/// (an empty slot repeats the one before).
fn entries<T: Datum>(
    graph: &Graph,
    stages: &[Option<Stage>],
) -> Result<Vec<Entry>, timbr_sched::BuildError> {
    let node = |key: &str| node(graph, key);
    let mut entries = Vec::with_capacity(stages.len() + 1);
    entries.push(Entry {
        serialized: node("in_s")?,
        raw: node("in")?,
        owner: None,
        serialize: serialize_input::<T>,
        write: write_as::<T>,
        computed: true,
        repeats: false,
    });
    let mut owner: Option<&Stage> = None;
    for (slot, stage) in stages.iter().enumerate() {
        if stage.is_some() {
            owner = stage.as_ref();
        }
        entries.push(Entry {
            serialized: node(&format!("f{slot}_s"))?,
            raw: node(&format!("f{slot}"))?,
            owner: owner.map(|s| s.slot),
            serialize: owner.map_or(serialize_input::<T> as SerializeFn, |s| s.serialize),
            write: owner.map_or(write_as::<T> as WriteFn, |s| s.write),
            computed: true,
            repeats: false,
        });
    }
    Ok(entries)
}
