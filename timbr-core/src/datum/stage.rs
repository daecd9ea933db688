//! Stages: user functions at a slot, with their arguments named, typed and type-erased.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use timbr_sched::{Args, Out, TaskError, TaskOutFn, TypeInfo, Value};

use crate::{ArgKey, BuildError, Datum, RetryPolicy, Serialized, StageFn};

/// A function the machine can run at a slot: its position, the keys it reads and the code.
///
/// Made from a function or closure whose parameters are references (`&T`), with one argument
/// name per parameter; the names say which keys of the datum's graph are passed:
///
/// | name | value | type |
/// |---|---|---|
/// | `input` | the datum | `&T` (the machine's datum type) |
/// | `oid` | the datum's id | `&bson::oid::ObjectId` |
/// | `f{k}` | output of slot `k` (`k` < this stage's slot) | `&` that slot's output type |
/// | `input_s`, `oid_s`, `f{k}_s` | serialized form | `&str`, or `&Serialized` (which derefs to `&str` and says whether it is an `_exception`) |
///
/// The [`#[stage(n)]`](macro@crate::stage) attribute and the [`stage_fn!`](crate::stage_fn)
/// macro make stages from parameter names, with the argument mistakes caught at compile time;
/// this plain API is what they build on, and works without them.
///
/// # Examples
///
/// ```
/// use timbr_core::{Serialized, Stage};
///
/// let length = Stage::new(0, "length", ["input"], |text: &String| text.len())?;
/// let parsed = Stage::try_new(1, "parse", ["f0", "input_s"], |n: &usize, json: &Serialized| {
///     if *n == 0 { Err(format!("empty datum {}", json.as_str())) } else { Ok(*n * 2) }
/// })?;
/// assert_eq!(length.slot(), 0);
/// assert_eq!(parsed.name(), "parse");
/// # Ok::<(), timbr_core::BuildError>(())
/// ```
#[derive(Clone)]
pub struct Stage {
    pub(crate) name: Arc<str>,
    pub(crate) slot: usize,
    pub(crate) args: Arc<[StageArg]>,
    pub(crate) output: TypeInfo,
    pub(crate) serialize: SerializeFn,
    pub(crate) write: WriteFn,
    pub(crate) func: TaskOutFn,
    /// How its transient failures are retried (none: a failure is final).
    pub(crate) retry: Option<RetryPolicy>,
}

/// Serializes a type-erased value of a stage's output type.
pub(crate) type SerializeFn = fn(&Value) -> Serialized;

/// Appends a type-erased value of a stage's output type to a record's buffer as JSON, or says
/// why it cannot (what it wrote before failing is left for the caller to cut off).
///
/// The reason is a `Box<str>` rather than a `String`: two words, so the result comes back in
/// registers, not through memory, on every entry of every record.
pub(crate) type WriteFn = fn(&Value, &mut Vec<u8>) -> Result<(), Box<str>>;

/// One argument of a stage: the key it reads and the type it expects there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StageArg {
    /// The key.
    pub key: ArgKey,
    /// The type the stage takes a reference to.
    pub ty: TypeInfo,
}

impl Stage {
    /// A stage that always produces an `R`.
    ///
    /// # Errors
    ///
    /// [`BuildError`] if an argument name is not a key, names a slot not before `slot`, is
    /// given twice, or the number of names differs from the number of parameters.
    pub fn new<A, R, F>(
        slot: usize,
        name: impl Into<String>,
        args: impl IntoIterator<Item = impl AsRef<str>>,
        f: F,
    ) -> Result<Stage, BuildError>
    where
        F: StageFn<A, R>,
        R: Datum,
    {
        let name = name.into();
        let keys = parse_names::<A, R, F>(&name, args)?;
        Stage::with_keys(slot, name, &keys, f)
    }

    /// A stage that produces an `R` or fails with an `E`; a failure is recorded against the
    /// stage and the datum, and the machine goes on.
    ///
    /// `E` is anything that converts into `Box<dyn Error + Send + Sync>`: an error type (its
    /// `source` chain is kept, see [`Failure::chain`](crate::Failure::chain)), a `String` or a
    /// `&str`. A type that is only [`Display`](fmt::Display) needs `.map_err(|e|
    /// e.to_string())` here (a generic function cannot tell the two apart); the stage macros
    /// ([`#[stage]`](macro@crate::stage), [`stage_fn!`](crate::stage_fn)) take it as it is.
    ///
    /// # Errors
    ///
    /// As for [`Stage::new`].
    pub fn try_new<A, R, E, F>(
        slot: usize,
        name: impl Into<String>,
        args: impl IntoIterator<Item = impl AsRef<str>>,
        f: F,
    ) -> Result<Stage, BuildError>
    where
        F: StageFn<A, Result<R, E>>,
        R: Datum,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let name = name.into();
        let keys = parse_names::<A, Result<R, E>, F>(&name, args)?;
        Stage::try_with_keys(slot, name, &keys, f)
    }

    /// A stage whose arguments are known only at run time: a function written in another
    /// language (the Python binding's stages), or chosen from data. `args` names each key
    /// and the type held there (a `_s` key holds a [`Serialized`]); `f` reads them from the
    /// run's [`Args`] by position, in the order given.
    ///
    /// The wiring checks the types when the machine is built, as for every stage, so
    /// `args.get::<T>(i)` with the declared `T` cannot fail inside `f`.
    ///
    /// # Examples
    ///
    /// ```
    /// use timbr_core::datum::{ArgKey, StageArg};
    /// use timbr_core::sched::TypeInfo;
    /// use timbr_core::{Machine, Serialized, Stage};
    ///
    /// let args = [
    ///     StageArg { key: ArgKey::Input, ty: TypeInfo::of::<u32>() },
    ///     StageArg { key: ArgKey::InputS, ty: TypeInfo::of::<Serialized>() },
    /// ];
    /// let echo = Stage::from_args(0, "echo", args, |a| {
    ///     let (n, text) = (a.get::<u32>(0)?, a.get::<Serialized>(1)?);
    ///     Ok(format!("{n} is {}", text.as_str()))
    /// })?;
    /// let machine = Machine::<u32>::builder().stage(echo).build()?;
    /// assert_eq!(machine.call(7).json("f0").unwrap(), r#""7 is 7""#);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`BuildError`] if an argument reads a slot not before `slot` or is given twice.
    pub fn from_args<R, F>(
        slot: usize,
        name: impl Into<String>,
        args: impl IntoIterator<Item = StageArg>,
        f: F,
    ) -> Result<Stage, BuildError>
    where
        F: Fn(&Args<'_>) -> Result<R, TaskError> + Send + Sync + 'static,
        R: Datum,
    {
        let (keys, types): (Vec<ArgKey>, Vec<TypeInfo>) =
            args.into_iter().map(|a| (a.key, a.ty)).unzip();
        let func: TaskOutFn = Arc::new(move |a: &Args<'_>, out: Out<'_>| match f(a) {
            Ok(value) => out.value(Value::new(value)),
            Err(error) => out.fail(error),
        });
        Stage::assemble::<R>(slot, name.into(), &keys, types, func)
    }

    /// A fallible stage whose error type is only [`Display`](fmt::Display) (not an `Error`):
    /// its text is what is recorded. What the macros generate for such a type; with the plain
    /// API, `map_err(|e| e.to_string())` does the same.
    pub(crate) fn text_with_keys<A, R, E, F>(
        slot: usize,
        name: String,
        keys: &[ArgKey],
        f: F,
    ) -> Result<Stage, BuildError>
    where
        F: StageFn<A, Result<R, E>>,
        R: Datum,
        E: fmt::Display,
    {
        let func: TaskOutFn = Arc::new(move |a: &Args<'_>, out: Out<'_>| match f.call(a) {
            Ok(Ok(value)) => out.value(Value::new(value)),
            Ok(Err(error)) => out.fail(TaskError::msg(error)),
            Err(error) => out.fail(error),
        });
        Stage::assemble::<R>(slot, name, keys, F::arg_types(), func)
    }

    /// [`Stage::new`] with the arguments already parsed (what the macros generate).
    pub(crate) fn with_keys<A, R, F>(
        slot: usize,
        name: String,
        keys: &[ArgKey],
        f: F,
    ) -> Result<Stage, BuildError>
    where
        F: StageFn<A, R>,
        R: Datum,
    {
        // The value goes straight into the task's slot (see `Out`).
        let func: TaskOutFn = Arc::new(move |a: &Args<'_>, out: Out<'_>| match f.call(a) {
            Ok(value) => out.value(Value::new(value)),
            Err(error) => out.fail(error),
        });
        Stage::assemble::<R>(slot, name, keys, F::arg_types(), func)
    }

    /// [`Stage::try_new`] with the arguments already parsed (what the macros generate).
    pub(crate) fn try_with_keys<A, R, E, F>(
        slot: usize,
        name: String,
        keys: &[ArgKey],
        f: F,
    ) -> Result<Stage, BuildError>
    where
        F: StageFn<A, Result<R, E>>,
        R: Datum,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let func: TaskOutFn = Arc::new(move |a: &Args<'_>, out: Out<'_>| match f.call(a) {
            Ok(Ok(value)) => out.value(Value::new(value)),
            Ok(Err(error)) => out.fail(TaskError::new(error)),
            Err(error) => out.fail(error),
        });
        Stage::assemble::<R>(slot, name, keys, F::arg_types(), func)
    }

    fn assemble<R: Datum>(
        slot: usize,
        name: String,
        keys: &[ArgKey],
        types: Vec<TypeInfo>,
        func: TaskOutFn,
    ) -> Result<Stage, BuildError> {
        if keys.len() != types.len() {
            return Err(BuildError::Arity {
                stage: name,
                names: keys.len(),
                params: types.len(),
            });
        }
        let mut args: Vec<StageArg> = Vec::with_capacity(keys.len());
        for (&key, ty) in keys.iter().zip(types) {
            if key.slot().is_some_and(|k| k >= slot) {
                return Err(BuildError::NotEarlier {
                    stage: name,
                    slot,
                    argument: key.to_string(),
                });
            }
            if args.iter().any(|a| a.key == key) {
                return Err(BuildError::DuplicateArgument {
                    stage: name,
                    argument: key.to_string(),
                });
            }
            args.push(StageArg { key, ty });
        }
        Ok(Stage {
            name: name.into(),
            slot,
            args: args.into(),
            output: TypeInfo::of::<R>(),
            serialize: serialize_as::<R>,
            write: write_as::<R>,
            func,
            retry: None,
        })
    }

    /// The stage's name (the function's name for `#[stage]` functions).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The slot the stage runs at.
    pub fn slot(&self) -> usize {
        self.slot
    }

    /// The stage's arguments, in parameter order.
    pub fn args(&self) -> &[StageArg] {
        &self.args
    }

    /// The type the stage produces.
    pub fn output(&self) -> TypeInfo {
        self.output
    }

    /// The same stage, retrying its transient failures by `policy` (see [`RetryPolicy`]). A
    /// policy given to the builder for this stage's name
    /// ([`MachineBuilder::retry`](crate::MachineBuilder::retry)) takes precedence.
    ///
    /// ```
    /// use timbr_core::{RetryPolicy, Stage, Transient};
    ///
    /// let fetch = Stage::try_new(0, "fetch", ["input"], |n: &u32| {
    ///     if *n == 0 { Err(Transient::new("not yet")) } else { Ok(*n) }
    /// })?
    /// .retry(RetryPolicy::new(3));
    /// assert_eq!(fetch.retry_policy().map(|p| p.attempts()), Some(3));
    /// # Ok::<(), timbr_core::BuildError>(())
    /// ```
    pub fn retry(mut self, policy: RetryPolicy) -> Stage {
        self.retry = Some(policy);
        self
    }

    /// The stage's own retry policy, if it has one.
    pub fn retry_policy(&self) -> Option<&RetryPolicy> {
        self.retry.as_ref()
    }

    /// The same stage at another slot (re-checking that its arguments are earlier slots).
    ///
    /// # Errors
    ///
    /// [`BuildError::NotEarlier`] if an argument reads a slot not before `slot`.
    pub fn at(mut self, slot: usize) -> Result<Stage, BuildError> {
        if let Some(arg) = self
            .args
            .iter()
            .find(|a| a.key.slot().is_some_and(|k| k >= slot))
        {
            return Err(BuildError::NotEarlier {
                stage: self.name.to_string(),
                slot,
                argument: arg.key.to_string(),
            });
        }
        self.slot = slot;
        Ok(self)
    }
}

impl fmt::Debug for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stage")
            .field("name", &self.name)
            .field("slot", &self.slot)
            .field("args", &self.args)
            .field("output", &self.output)
            .field("retry", &self.retry)
            .finish()
    }
}

fn serialize_as<R: Serialize + 'static>(value: &Value) -> Serialized {
    match value.downcast_ref::<R>() {
        Some(v) => Serialized::json(v),
        // The graph stores exactly what the stage returned, so this cannot happen.
        None => Serialized::exception(format_args!(
            "expected a `{}`, found a `{}`",
            std::any::type_name::<R>(),
            value.type_name()
        )),
    }
}

/// [`WriteFn`] for a value of type `R` (the record's path: no `String` of its own).
pub(crate) fn write_as<R: Serialize + 'static>(
    value: &Value,
    out: &mut Vec<u8>,
) -> Result<(), Box<str>> {
    match value.downcast_ref::<R>() {
        // The message `Serialized::json` gives.
        Some(v) => {
            serde_json::to_writer(out, v).map_err(|e| format!("cannot serialize: {e}").into())
        }
        None => Err(format!(
            "expected a `{}`, found a `{}`",
            std::any::type_name::<R>(),
            value.type_name()
        )
        .into()),
    }
}

/// Parses argument names into keys, checking first that there is one per parameter.
fn parse_names<A, R, F: StageFn<A, R>>(
    stage: &str,
    names: impl IntoIterator<Item = impl AsRef<str>>,
) -> Result<Vec<ArgKey>, BuildError> {
    let names: Vec<String> = names.into_iter().map(|n| n.as_ref().to_owned()).collect();
    let params = F::arg_types().len();
    if names.len() != params {
        return Err(BuildError::Arity {
            stage: stage.to_owned(),
            names: names.len(),
            params,
        });
    }
    names
        .into_iter()
        .map(|argument| {
            ArgKey::parse(&argument).ok_or_else(|| BuildError::UnknownArgument {
                stage: stage.to_owned(),
                argument,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_mistakes_are_named() {
        let e = Stage::new(2, "s", ["f2"], |x: &u8| *x).unwrap_err();
        assert!(matches!(e, BuildError::NotEarlier { slot: 2, .. }), "{e}");
        let e = Stage::new(2, "s", ["in"], |x: &u8| *x).unwrap_err();
        assert_eq!(
            e.to_string().split(',').next().unwrap(),
            "stage `s` asks for `in`"
        );
        let e = Stage::new(2, "s", ["f0", "f0"], |x: &u8, y: &u8| x + y).unwrap_err();
        assert!(matches!(e, BuildError::DuplicateArgument { .. }));
        let e = Stage::new(2, "s", ["f0"], |x: &u8, y: &u8| x + y).unwrap_err();
        assert!(matches!(
            e,
            BuildError::Arity {
                names: 1,
                params: 2,
                ..
            }
        ));
    }

    #[test]
    fn moving_a_stage_rechecks_its_arguments() {
        let s = Stage::new(3, "s", ["f1"], |x: &u8| *x).unwrap();
        assert_eq!(s.clone().at(5).unwrap().slot(), 5);
        assert!(s.at(1).is_err());
    }
}
