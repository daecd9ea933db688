//! A [`Hooks`] that records every call, and the order invariants both executors promise.

use std::sync::Mutex;
use std::time::Duration;

use timbr_sched::{Hooks, NodeRef, Outcome, Outcomes, Plan, Skipped, TaskError};

/// An outcome reduced to what can be compared across executors (values are `u64`s here).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Seen {
    /// A value; `None` if it is not a `u64`.
    Value(Option<u64>),
    /// A failure: its message and whether it was a panic.
    Failed(String, bool),
    /// Skipped because of this upstream key.
    Skipped(String),
}

impl From<&Outcome> for Seen {
    fn from(o: &Outcome) -> Self {
        match o {
            Outcome::Value(v) => Seen::Value(v.downcast_ref::<u64>().copied()),
            Outcome::Failed(e) => Seen::Failed(e.to_string(), e.is_panic()),
            Outcome::Skipped(s) => Seen::Skipped(s.upstream().to_owned()),
        }
    }
}

/// One hook call, with the node's index and key where there is a node.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Call {
    Start { requested: usize },
    Pre(usize, String),
    Error(usize, String, String),
    Post(usize, String, Seen),
    Skipped(usize, String, String),
    Finish { outcomes: usize },
}

impl Call {
    /// The node's key, for node calls.
    fn key(&self) -> Option<&str> {
        match self {
            Call::Pre(_, k)
            | Call::Error(_, k, _)
            | Call::Post(_, k, _)
            | Call::Skipped(_, k, _) => Some(k),
            Call::Start { .. } | Call::Finish { .. } => None,
        }
    }
}

/// Records every hook call, in the order the calls were made (a total order: under
/// `Threaded`, calls on different threads are ordered by the mutex).
#[derive(Default)]
pub(crate) struct Recorder {
    calls: Mutex<Vec<Call>>,
}

impl Recorder {
    fn push(&self, call: Call) {
        self.calls.lock().unwrap().push(call);
    }

    /// The calls so far, leaving the recorder empty for the next run.
    pub(crate) fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

impl Hooks for Recorder {
    fn start(&self, plan: &Plan) {
        self.push(Call::Start {
            requested: plan.requested().len(),
        });
    }

    fn pretask(&self, node: NodeRef<'_>) {
        self.push(Call::Pre(node.id.index(), node.key.to_owned()));
    }

    fn error(&self, node: NodeRef<'_>, error: &TaskError) {
        self.push(Call::Error(
            node.id.index(),
            node.key.to_owned(),
            error.to_string(),
        ));
    }

    fn posttask(&self, node: NodeRef<'_>, _elapsed: Duration, outcome: &Outcome) {
        self.push(Call::Post(
            node.id.index(),
            node.key.to_owned(),
            Seen::from(outcome),
        ));
    }

    fn skipped(&self, node: NodeRef<'_>, skipped: &Skipped) {
        self.push(Call::Skipped(
            node.id.index(),
            node.key.to_owned(),
            skipped.upstream().to_owned(),
        ));
    }

    fn finish(&self, outcomes: &Outcomes) {
        self.push(Call::Finish {
            outcomes: outcomes.iter().count(),
        });
    }
}

/// Checks the promised order of `calls` for one run of `plan` that produced `out`:
/// `start` first and `finish` last, once each; per task `pretask < (error) < posttask` or
/// `skipped` alone, agreeing with the node's outcome; nothing for inputs or nodes outside the
/// plan; a dependency's last call before its dependant's first.
pub(crate) fn check_order(calls: &[Call], plan: &Plan, out: &Outcomes) {
    let graph = plan.graph();
    assert_eq!(
        calls.first(),
        Some(&Call::Start {
            requested: plan.requested().len()
        }),
        "start comes first: {calls:#?}"
    );
    let planned = plan.order().count();
    assert_eq!(
        calls.last(),
        Some(&Call::Finish { outcomes: planned }),
        "finish comes last: {calls:#?}"
    );
    let starts = calls
        .iter()
        .filter(|c| matches!(c, Call::Start { .. }))
        .count();
    let finishes = calls
        .iter()
        .filter(|c| matches!(c, Call::Finish { .. }))
        .count();
    assert_eq!((starts, finishes), (1, 1), "{calls:#?}");

    // Where each node's calls are, in order.
    let mut at: Vec<Vec<usize>> = vec![Vec::new(); graph.len()];
    for (pos, call) in calls.iter().enumerate() {
        if let Some(key) = call.key() {
            let id = graph
                .node(key)
                .unwrap_or_else(|| panic!("unknown key `{key}`"));
            assert_eq!(
                graph.key(id),
                key,
                "hooks get the node's own key, not an alias"
            );
            let index = match call {
                Call::Pre(i, _)
                | Call::Error(i, _, _)
                | Call::Post(i, _, _)
                | Call::Skipped(i, _, _) => *i,
                _ => unreachable!(),
            };
            assert_eq!(index, id.index(), "NodeRef id and key agree for `{key}`");
            at[id.index()].push(pos);
        }
    }

    for key in graph.keys() {
        let id = graph.node(key).expect("keys() lists nodes");
        let mine: Vec<&Call> = at[id.index()].iter().map(|&p| &calls[p]).collect();
        if graph.is_input(id) || !plan.contains(id) {
            assert!(mine.is_empty(), "`{key}` gets no calls: {mine:#?}");
            continue;
        }
        let outcome = Seen::from(out.outcome(id).expect("a planned node has an outcome"));
        match (&mine[..], &outcome) {
            ([Call::Pre(..), Call::Post(_, _, seen)], Seen::Value(_)) => {
                assert_eq!(seen, &outcome, "`{key}`: posttask saw the outcome");
            }
            (
                [Call::Pre(..), Call::Error(_, _, message), Call::Post(_, _, seen)],
                Seen::Failed(m, _),
            ) => {
                assert_eq!(message, m, "`{key}`: error saw the failure");
                assert_eq!(seen, &outcome, "`{key}`: posttask saw the outcome");
            }
            ([Call::Skipped(_, _, upstream)], Seen::Skipped(u)) => {
                assert_eq!(upstream, u, "`{key}`: skipped saw the upstream");
            }
            _ => panic!("`{key}` ended as {outcome:?} with calls {mine:#?}"),
        }
        for dep in graph.dependencies(id) {
            if let (Some(&dep_last), Some(&first)) =
                (at[dep.index()].last(), at[id.index()].first())
            {
                assert!(
                    dep_last < first,
                    "`{}`'s last call (#{dep_last}) comes before `{key}`'s first (#{first}): {calls:#?}",
                    graph.key(dep)
                );
            }
        }
    }
}
