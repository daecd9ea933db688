//! The compiled graph: nodes in topological order, checked once, shared by every plan and run.

use std::collections::HashMap;
use std::sync::Arc;

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};

use crate::builder::{Spec, SpecKind, TaskOutFn};
use crate::{BuildError, Plan, TypeInfo, UnknownKey};

/// The index of a node in a [`Graph`]: a key resolved once, so runs never hash names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub(crate) u32);

impl NodeId {
    /// The node's position in the graph (`0..graph.len()`).
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

pub(crate) struct Node {
    pub(crate) key: Arc<str>,
    pub(crate) kind: NodeKind,
}

pub(crate) enum NodeKind {
    Input(TypeInfo),
    Task {
        /// One entry per argument, in argument order; may repeat a node.
        args: Box<[u32]>,
        /// The distinct dependencies, in first-argument order: what must finish first.
        deps: Box<[u32]>,
        output: Option<TypeInfo>,
        func: TaskOutFn,
    },
}

pub(crate) struct Inner {
    pub(crate) nodes: Vec<Node>,
    pub(crate) index: HashMap<String, u32>,
    /// Every node, dependencies before dependants.
    pub(crate) order: Vec<u32>,
    pub(crate) dependants: Vec<Box<[u32]>>,
}

/// A checked, compiled dependency graph: build it once, then [`plan`](Graph::plan) the keys you
/// want and run the plan as often as you like.
///
/// Cloning is cheap (shared).
#[derive(Clone)]
pub struct Graph(pub(crate) Arc<Inner>);

impl Graph {
    pub(crate) fn compile(specs: Vec<Spec>) -> Result<Graph, BuildError> {
        let mut spec_of: HashMap<&str, usize> = HashMap::with_capacity(specs.len());
        for (i, spec) in specs.iter().enumerate() {
            if spec_of.insert(spec.key.as_str(), i).is_some() {
                return Err(BuildError::DuplicateKey(spec.key.clone()));
            }
        }

        // Non-alias specs become nodes, in declaration order.
        let mut node_of_spec = vec![u32::MAX; specs.len()];
        let mut n = 0_u32;
        for (i, spec) in specs.iter().enumerate() {
            if !matches!(spec.kind, SpecKind::Alias(_)) {
                node_of_spec[i] = n;
                n += 1;
            }
        }

        // Resolve every key, aliases included, to its node.
        let mut index = HashMap::with_capacity(specs.len());
        for (i, spec) in specs.iter().enumerate() {
            let node = resolve(&specs, &spec_of, &node_of_spec, i)?;
            index.insert(spec.key.clone(), node);
        }

        let mut nodes = Vec::with_capacity(n as usize);
        for spec in specs.iter() {
            let kind = match &spec.kind {
                SpecKind::Alias(_) => continue,
                SpecKind::Input(ty) => NodeKind::Input(*ty),
                SpecKind::Task { deps, output, func } => {
                    let mut args = Vec::with_capacity(deps.len());
                    let mut unique: Vec<u32> = Vec::with_capacity(deps.len());
                    for dep in deps {
                        let node = *index.get(dep.key.as_str()).ok_or_else(|| {
                            BuildError::MissingDependency {
                                key: spec.key.clone(),
                                missing: dep.key.clone(),
                            }
                        })?;
                        args.push(node);
                        if !unique.contains(&node) {
                            unique.push(node);
                        }
                    }
                    NodeKind::Task {
                        args: args.into(),
                        deps: unique.into(),
                        output: *output,
                        func: Arc::clone(func),
                    }
                }
            };
            nodes.push(Node {
                key: Arc::from(spec.key.as_str()),
                kind,
            });
        }

        check_types(&specs, &index, &nodes)?;

        let mut pg: DiGraph<u32, ()> = DiGraph::with_capacity(nodes.len(), nodes.len() * 2);
        for i in 0..nodes.len() {
            pg.add_node(i as u32);
        }
        let mut dependants: Vec<Vec<u32>> = vec![Vec::new(); nodes.len()];
        for (i, node) in nodes.iter().enumerate() {
            if let NodeKind::Task { deps, .. } = &node.kind {
                for &d in deps.iter() {
                    pg.add_edge(NodeIndex::new(d as usize), NodeIndex::new(i), ());
                    dependants[d as usize].push(i as u32);
                }
            }
        }
        let order = match toposort(&pg, None) {
            Ok(order) => order.into_iter().map(|ix| ix.index() as u32).collect(),
            Err(_) => {
                return Err(BuildError::Cycle {
                    keys: find_cycle(&pg, &nodes),
                })
            }
        };

        Ok(Graph(Arc::new(Inner {
            nodes,
            index,
            order,
            dependants: dependants.into_iter().map(Into::into).collect(),
        })))
    }

    /// The number of nodes (aliases are not nodes).
    pub fn len(&self) -> usize {
        self.0.nodes.len()
    }

    /// Whether the graph has no nodes.
    pub fn is_empty(&self) -> bool {
        self.0.nodes.is_empty()
    }

    /// The node a key (or alias) resolves to.
    pub fn node(&self, key: &str) -> Option<NodeId> {
        self.0.index.get(key).map(|&i| NodeId(i))
    }

    /// The key of a node (its own key, never an alias).
    ///
    /// # Panics
    ///
    /// If `id` does not come from this graph.
    pub fn key(&self, id: NodeId) -> &str {
        &self.0.nodes[id.index()].key
    }

    /// Whether the node is an input (rather than a task).
    ///
    /// # Panics
    ///
    /// If `id` does not come from this graph.
    pub fn is_input(&self, id: NodeId) -> bool {
        matches!(self.0.nodes[id.index()].kind, NodeKind::Input(_))
    }

    /// Every node's own key, dependencies before dependants.
    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.order.iter().map(|&i| &*self.0.nodes[i as usize].key)
    }

    /// The distinct dependencies of a node, in argument order (none for an input).
    ///
    /// # Panics
    ///
    /// If `id` does not come from this graph.
    pub fn dependencies(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        let deps: &[u32] = match &self.0.nodes[id.index()].kind {
            NodeKind::Task { deps, .. } => deps,
            NodeKind::Input(_) => &[],
        };
        deps.iter().map(|&d| NodeId(d))
    }

    /// A plan computing `keys` and only what they depend on.
    ///
    /// # Errors
    ///
    /// [`UnknownKey`] for a key the graph does not have.
    pub fn plan<K: AsRef<str>>(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<Plan, UnknownKey> {
        let ids = keys
            .into_iter()
            .map(|k| {
                self.node(k.as_ref())
                    .ok_or_else(|| UnknownKey(k.as_ref().to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Plan::new(self.clone(), ids))
    }

    /// A plan computing every key.
    pub fn plan_all(&self) -> Plan {
        Plan::new(self.clone(), (0..self.len() as u32).map(NodeId).collect())
    }
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.keys()).finish()
    }
}

fn resolve(
    specs: &[Spec],
    spec_of: &HashMap<&str, usize>,
    node_of_spec: &[u32],
    start: usize,
) -> Result<u32, BuildError> {
    let mut i = start;
    let mut seen = vec![start];
    loop {
        match &specs[i].kind {
            SpecKind::Alias(target) => {
                let next =
                    *spec_of
                        .get(target.as_str())
                        .ok_or_else(|| BuildError::MissingDependency {
                            key: specs[i].key.clone(),
                            missing: target.clone(),
                        })?;
                if seen.contains(&next) {
                    let mut keys: Vec<String> =
                        seen.iter().map(|&s| specs[s].key.clone()).collect();
                    keys.push(specs[next].key.clone());
                    return Err(BuildError::Cycle { keys });
                }
                seen.push(next);
                i = next;
            }
            _ => return Ok(node_of_spec[i]),
        }
    }
}

fn check_types(
    specs: &[Spec],
    index: &HashMap<String, u32>,
    nodes: &[Node],
) -> Result<(), BuildError> {
    for spec in specs {
        let SpecKind::Task { deps, .. } = &spec.kind else {
            continue;
        };
        for dep in deps {
            let (Some(expected), Some(&node)) = (dep.ty, index.get(dep.key.as_str())) else {
                continue;
            };
            let found = match &nodes[node as usize].kind {
                NodeKind::Input(ty) => Some(*ty),
                NodeKind::Task { output, .. } => *output,
            };
            if let Some(found) = found.filter(|f| *f != expected) {
                return Err(BuildError::TypeMismatch {
                    key: spec.key.clone(),
                    dependency: dep.key.clone(),
                    expected: expected.name(),
                    found: found.name(),
                });
            }
        }
    }
    Ok(())
}

/// Walks one cycle inside the first strongly connected component that has one.
fn find_cycle(pg: &DiGraph<u32, ()>, nodes: &[Node]) -> Vec<String> {
    let key = |ix: NodeIndex| nodes[pg[ix] as usize].key.to_string();
    for scc in tarjan_scc(pg) {
        let self_loop = scc.len() == 1 && pg.contains_edge(scc[0], scc[0]);
        if scc.len() < 2 && !self_loop {
            continue;
        }
        let mut path = vec![scc[0]];
        loop {
            let here = *path.last().expect("path starts non-empty");
            // Every node of a cyclic component has a successor inside it.
            let next = pg
                .neighbors(here)
                .find(|n| scc.contains(n))
                .expect("a strongly connected component has an internal edge");
            if let Some(pos) = path.iter().position(|&p| p == next) {
                let mut keys: Vec<String> = path[pos..].iter().map(|&ix| key(ix)).collect();
                keys.push(key(next));
                return keys;
            }
            path.push(next);
        }
    }
    Vec::new()
}
