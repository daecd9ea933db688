//! Declaring keys: inputs, tasks and aliases, collected before the graph is checked and built.

use std::any::Any;
use std::sync::Arc;

use crate::{Args, BuildError, Graph, Out, TaskError, TypeInfo, Value};

/// A task's type-erased function: reads its arguments, returns its value or its error.
pub type TaskFn = Arc<dyn Fn(&Args<'_>) -> Result<Value, TaskError> + Send + Sync>;

/// A task's type-erased function that puts its value or its error into its slot itself
/// ([`Out`]) rather than returning it: the form the executors run, and the cheaper one for
/// a cheap task (see [`Out`]). [`GraphBuilder::task_out`] declares one.
pub type TaskOutFn = Arc<dyn Fn(&Args<'_>, Out<'_>) + Send + Sync>;

/// A dependency of a task: a key, and optionally the type the task expects there.
///
/// When the type is given and the dependency's type is known, [`GraphBuilder::build`] checks
/// that they agree, so a wiring mistake is found before anything runs.
#[derive(Clone, Debug)]
pub struct Dep {
    pub(crate) key: String,
    pub(crate) ty: Option<TypeInfo>,
}

impl Dep {
    /// A dependency on `key` of any type (checked when the task reads it).
    pub fn new(key: impl Into<String>) -> Self {
        Dep {
            key: key.into(),
            ty: None,
        }
    }

    /// A dependency on `key`, which must hold a `T`.
    pub fn typed<T: Any>(key: impl Into<String>) -> Self {
        Dep {
            key: key.into(),
            ty: Some(TypeInfo::of::<T>()),
        }
    }

    /// A dependency on `key` with an optional declared type.
    pub fn with_type(key: impl Into<String>, ty: Option<TypeInfo>) -> Self {
        Dep {
            key: key.into(),
            ty,
        }
    }

    /// The key depended on.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl From<&str> for Dep {
    fn from(key: &str) -> Self {
        Dep::new(key)
    }
}

impl From<String> for Dep {
    fn from(key: String) -> Self {
        Dep::new(key)
    }
}

pub(crate) struct Spec {
    pub(crate) key: String,
    pub(crate) kind: SpecKind,
}

pub(crate) enum SpecKind {
    Input(TypeInfo),
    Task {
        deps: Vec<Dep>,
        output: Option<TypeInfo>,
        func: TaskOutFn,
    },
    Alias(String),
}

/// Collects a graph's keys; [`build`](GraphBuilder::build) checks them and compiles the graph.
///
/// Keys are plain names. Each is an **input** (a typed slot filled anew for every run), a
/// **task** (a function of its dependencies' values) or an **alias** (another name for a key,
/// free at run time). Mistakes are reported by `build`, not by the methods that add keys, so
/// a builder can be filled in any order.
///
/// # Examples
///
/// ```
/// use timbr_sched::{Dep, GraphBuilder};
///
/// let mut g = GraphBuilder::new();
/// g.input::<u64>("x");
/// g.task("double", [Dep::typed::<u64>("x")], |a| Ok(a.get::<u64>(0)? * 2));
/// g.alias("y", "double");
/// let graph = g.build()?;
/// assert_eq!(graph.len(), 2); // the alias is not a node
/// # Ok::<(), timbr_sched::BuildError>(())
/// ```
#[derive(Default)]
pub struct GraphBuilder {
    pub(crate) specs: Vec<Spec>,
}

impl GraphBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        GraphBuilder::default()
    }

    /// Declares an input key holding a `T`, set per run with
    /// [`Run::set`](crate::Run::set).
    pub fn input<T: Any + Send + Sync>(&mut self, key: impl Into<String>) -> &mut Self {
        self.push(key.into(), SpecKind::Input(TypeInfo::of::<T>()))
    }

    /// Declares a task computing an `R` from its dependencies, read through [`Args`] in the
    /// order given.
    ///
    /// `f` may fail with a [`TaskError`] (wrap other errors with [`TaskError::new`] or
    /// [`TaskError::msg`]); it may also panic, which is caught and recorded as the task's
    /// failure.
    pub fn task<R, F>(
        &mut self,
        key: impl Into<String>,
        deps: impl IntoIterator<Item = impl Into<Dep>>,
        f: F,
    ) -> &mut Self
    where
        R: Any + Send + Sync,
        F: Fn(&Args<'_>) -> Result<R, TaskError> + Send + Sync + 'static,
    {
        let func: TaskOutFn = Arc::new(move |args: &Args<'_>, out: Out<'_>| match f(args) {
            Ok(value) => out.value(Value::new(value)),
            Err(error) => out.fail(error),
        });
        self.task_out(key, deps, Some(TypeInfo::of::<R>()), func)
    }

    /// Declares a task from an already type-erased function; `output` is the type it produces,
    /// when known, for the checks of `build`.
    pub fn task_erased(
        &mut self,
        key: impl Into<String>,
        deps: impl IntoIterator<Item = impl Into<Dep>>,
        output: Option<TypeInfo>,
        func: TaskFn,
    ) -> &mut Self {
        let func: TaskOutFn = Arc::new(move |args: &Args<'_>, out: Out<'_>| out.set(func(args)));
        self.task_out(key, deps, output, func)
    }

    /// Declares a task from a type-erased function that fills its [`Out`] slot itself;
    /// `output` as for [`task_erased`](GraphBuilder::task_erased).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use timbr_sched::{Executor, GraphBuilder, Out, Sequential, TypeInfo, Value};
    ///
    /// let mut g = GraphBuilder::new();
    /// g.input::<u64>("x");
    /// g.task_out(
    ///     "next",
    ///     ["x"],
    ///     Some(TypeInfo::of::<u64>()),
    ///     Arc::new(|a, out: Out<'_>| match a.get::<u64>(0) {
    ///         Ok(x) => out.value(Value::new(x + 1)),
    ///         Err(e) => out.fail(e),
    ///     }),
    /// );
    /// let plan = g.build()?.plan_all();
    /// let mut run = plan.run();
    /// run.set("x", 41_u64)?;
    /// assert_eq!(Sequential.execute(run, None).value::<u64>("next")?, &42);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn task_out(
        &mut self,
        key: impl Into<String>,
        deps: impl IntoIterator<Item = impl Into<Dep>>,
        output: Option<TypeInfo>,
        func: TaskOutFn,
    ) -> &mut Self {
        let deps = deps.into_iter().map(Into::into).collect();
        self.push(key.into(), SpecKind::Task { deps, output, func })
    }

    /// Declares `key` as another name for `target` (which may itself be an alias).
    ///
    /// An alias costs nothing per run: it resolves to the same node when the graph is built.
    pub fn alias(&mut self, key: impl Into<String>, target: impl Into<String>) -> &mut Self {
        self.push(key.into(), SpecKind::Alias(target.into()))
    }

    /// Checks the keys and compiles the graph.
    ///
    /// # Errors
    ///
    /// [`BuildError`] for a duplicate key, a dependency or alias target that is not a key, a
    /// declared dependency type that differs from what the dependency produces, or a cycle
    /// (reported with the keys along it).
    pub fn build(self) -> Result<Graph, BuildError> {
        Graph::compile(self.specs)
    }

    fn push(&mut self, key: String, kind: SpecKind) -> &mut Self {
        self.specs.push(Spec { key, kind });
        self
    }
}
