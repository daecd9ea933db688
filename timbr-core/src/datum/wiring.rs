//! A machine configuration compiled: the datum graph, its plans, and how to read records off
//! a run. Immutable; a stage change builds a new one, so a datum never sees half a change.

use std::any::Any;
use std::borrow::Cow;
use std::sync::Arc;

use bson::oid::ObjectId;
use serde::Serialize;
use timbr_sched::{
    Dep, Executor, Graph, GraphBuilder, Hooks, NodeId, Outcome, Outcomes, Plan, TaskFn, TypeInfo,
    Value,
};

use crate::datum::record::{FailureKind, StageFailure, Unserializable};
use crate::datum::stage::SerializeFn;
use crate::{ArgKey, BuildError, Datum, Record, Serialized, Stage};

/// How every `_exception` entry begins.
const EXCEPTION_PREFIX: &str = "{\"_exception\"";

pub(crate) struct Wiring {
    pub(crate) stages: Vec<Option<Stage>>,
    pub(crate) graph: Graph,
    /// Every `_s` key of the record, and what they need.
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
}

pub(crate) struct Entry {
    /// The `_s` node (shared with the predecessor's for an empty slot).
    pub(crate) serialized: NodeId,
    /// The raw node.
    pub(crate) raw: NodeId,
    /// The slot of the stage that produces `raw`, `None` for the input.
    pub(crate) owner: Option<usize>,
    pub(crate) serialize: SerializeFn,
}

impl Wiring {
    /// Checks the stages' argument types against what each key holds and compiles the graph.
    pub(crate) fn build<T: Datum>(stages: Vec<Option<Stage>>) -> Result<Wiring, BuildError> {
        check_types::<T>(&stages)?;

        let mut g = GraphBuilder::new();
        g.input::<T>("in");
        g.input::<ObjectId>("oid");
        g.task_erased(
            "in_s",
            [Dep::typed::<T>("in")],
            Some(TypeInfo::of::<Serialized>()),
            serializer(serialize_input::<T>),
        );
        g.task_erased(
            "oid_s",
            [Dep::typed::<ObjectId>("oid")],
            Some(TypeInfo::of::<Serialized>()),
            Arc::new(|a| Ok(Value::new(Serialized::raw(a.get::<ObjectId>(0)?.to_hex())))),
        );
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
                    g.task_erased(
                        raw.clone(),
                        deps,
                        Some(stage.output),
                        Arc::clone(&stage.func),
                    );
                    g.task_erased(
                        ser.clone(),
                        [raw.as_str()],
                        Some(TypeInfo::of::<Serialized>()),
                        serializer(stage.serialize),
                    );
                }
            }
            prev = (raw, ser);
        }
        let graph = g.build()?;

        let node = |key: &str| {
            graph
                .node(key)
                .ok_or_else(|| timbr_sched::BuildError::MissingDependency {
                    key: "machine".to_owned(),
                    missing: key.to_owned(),
                })
        };
        let mut entries = Vec::with_capacity(stages.len() + 1);
        entries.push(Entry {
            serialized: node("in_s")?,
            raw: node("in")?,
            owner: None,
            serialize: serialize_input::<T>,
        });
        let mut owner: Option<(usize, SerializeFn)> = None;
        for (slot, stage) in stages.iter().enumerate() {
            if let Some(stage) = stage {
                owner = Some((slot, stage.serialize));
            }
            entries.push(Entry {
                serialized: node(&format!("f{slot}_s"))?,
                raw: node(&format!("f{slot}"))?,
                owner: owner.map(|(s, _)| s),
                serialize: owner.map_or(serialize_input::<T> as SerializeFn, |(_, f)| f),
            });
        }
        let plan = |keys: Vec<&str>| {
            graph
                .plan(keys)
                .map_err(|e| timbr_sched::BuildError::MissingDependency {
                    key: "machine".to_owned(),
                    missing: e.0,
                })
        };
        let record_plan = plan(entries.iter().map(|e| graph.key(e.serialized)).collect())?;
        let call_plan = plan(
            entries
                .iter()
                .map(|e| graph.key(e.raw))
                .chain(["oid"])
                .collect(),
        )?;
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
        })
    }

    /// Runs one datum through `plan`.
    pub(crate) fn run<T: Any + Send + Sync>(
        &self,
        plan: &Plan,
        datum: T,
        oid: ObjectId,
        executor: &dyn Executor,
        hooks: Option<&dyn Hooks>,
    ) -> Outcomes {
        let mut run = plan.run();
        // Cannot fail: `in` is declared as a `T` and `oid` as an `ObjectId` by `build`.
        let _ = run.set_value(self.input, Value::new(datum));
        if plan.contains(self.oid) {
            let _ = run.set_value(self.oid, Value::new(oid));
        }
        executor.execute(run, hooks)
    }

    /// The record of a run of either plan (serializing on the spot what the plan did not).
    pub(crate) fn record(&self, oid: ObjectId, outcomes: &Outcomes) -> Record {
        // One pass, no per-datum vector of texts: size the buffer from the first entry (the
        // input's text, which empty slots repeat); it grows if stages produce longer text.
        let mut json = String::new();
        let mut unserializable = Vec::new();
        for (i, entry) in self.entries.iter().enumerate() {
            let text = self.entry_text(entry, outcomes);
            // Rare: an `_exception` entry, for a failed stage or a value that could not be
            // serialized; only the second is reported here (an empty slot repeats its
            // predecessor's entry: reported once).
            if (i == 0 || self.entries[i - 1].serialized != entry.serialized)
                && text.starts_with(EXCEPTION_PREFIX)
                && self.is_unserializable(entry, outcomes)
            {
                unserializable.push(Unserializable {
                    key: self.graph.key(entry.serialized).to_owned(),
                    text: text.clone().into_owned(),
                });
            }
            if i == 0 {
                json.reserve(self.entries.len() * (text.len() + 1) + 2);
                json.push('[');
            } else {
                json.push(',');
            }
            json.push_str(&text);
        }
        if json.is_empty() {
            json.push('[');
        }
        json.push(']');
        Record {
            oid,
            json,
            failures: self.failures(outcomes),
            unserializable,
            origin: None,
        }
    }

    pub(crate) fn entry_text<'o>(&self, entry: &Entry, outcomes: &'o Outcomes) -> Cow<'o, str> {
        match outcomes.outcome(entry.serialized) {
            Some(Outcome::Value(v)) => match v.downcast_ref::<Serialized>() {
                Some(s) => Cow::Borrowed(s.as_str()),
                None => Cow::Owned(
                    Serialized::exception("serialized value of an unexpected type").into_string(),
                ),
            },
            Some(Outcome::Failed(e)) => {
                let key = self.graph.key(entry.serialized);
                Cow::Owned(
                    Serialized::exception(format_args!("serializing `{key}` failed: {e}"))
                        .into_string(),
                )
            }
            // Skipped, or not in the plan: decide from the raw value.
            _ => match outcomes.outcome(entry.raw) {
                Some(Outcome::Value(v)) => Cow::Owned((entry.serialize)(v).into_string()),
                Some(other) => {
                    Cow::Owned(Serialized::exception(self.describe(entry, other)).into_string())
                }
                None => Cow::Owned(Serialized::exception("not computed").into_string()),
            },
        }
    }

    /// Whether an entry stands for a value that could not be serialized (rather than a value,
    /// or a stage that failed or was skipped). Only asked of `_exception` entries: it may
    /// serialize the raw value again.
    fn is_unserializable(&self, entry: &Entry, outcomes: &Outcomes) -> bool {
        match outcomes.outcome(entry.serialized) {
            Some(Outcome::Value(v)) => v
                .downcast_ref::<Serialized>()
                .is_none_or(Serialized::is_exception),
            Some(Outcome::Failed(_)) => true,
            _ => match outcomes.outcome(entry.raw) {
                Some(Outcome::Value(v)) => (entry.serialize)(v).is_exception(),
                _ => false,
            },
        }
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

    /// The stage names, in slot order (`None` for an empty slot).
    pub(crate) fn stage_name_at(&self, slot: usize) -> Option<&str> {
        self.stages.get(slot)?.as_ref().map(|s| s.name())
    }

    fn describe(&self, entry: &Entry, outcome: &Outcome) -> String {
        let (who, slot) = match entry.owner {
            Some(slot) => (self.stage_name(slot), format!("f{slot}")),
            None => ("input", "in".to_owned()),
        };
        match outcome {
            Outcome::Failed(e) => format!("stage `{who}` ({slot}) failed: {e}"),
            Outcome::Skipped(s) => format!("stage `{who}` ({slot}) skipped: {s}"),
            Outcome::Value(_) => String::new(),
        }
    }

    fn stage_name(&self, slot: usize) -> &str {
        self.stages
            .get(slot)
            .and_then(Option::as_ref)
            .map_or("?", |s| s.name())
    }

    /// The stages that failed or were skipped, in slot order.
    pub(crate) fn failures(&self, outcomes: &Outcomes) -> Vec<StageFailure> {
        let mut failures = Vec::new();
        for (slot, stage) in self.stages.iter().enumerate() {
            let Some(stage) = stage else { continue };
            let kind = match outcomes.outcome(self.entries[slot + 1].raw) {
                Some(Outcome::Failed(e)) => FailureKind::Failed(e.clone()),
                Some(Outcome::Skipped(s)) => FailureKind::Skipped {
                    upstream: s.upstream().to_owned(),
                },
                _ => continue,
            };
            failures.push(StageFailure {
                slot,
                stage: Arc::clone(&stage.name),
                kind,
            });
        }
        failures
    }

    pub(crate) fn slots(&self) -> usize {
        self.stages.len()
    }
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
    if stages.get(k).is_some_and(Option::is_some) {
        return format!("f{k}");
    }
    match (0..k).rev().find(|&j| stages[j].is_some()) {
        Some(j) => format!("f{k} (empty, passing f{j} through)"),
        None => format!("f{k} (empty, passing the input through)"),
    }
}
