//! A running task's view of its arguments.

use std::any::Any;

use crate::exec::Slots;
use crate::{NodeId, TaskError, TypeMismatch, Value};

/// The values of a task's dependencies, in the order they were declared.
///
/// Every argument is guaranteed to hold a value: a task whose dependency failed is skipped,
/// never called.
pub struct Args<'a> {
    pub(crate) graph: &'a crate::graph::Inner,
    pub(crate) node: u32,
    pub(crate) args: &'a [u32],
    pub(crate) slots: Slots<'a>,
}

impl<'a> Args<'a> {
    /// The number of arguments.
    pub fn len(&self) -> usize {
        self.args.len()
    }

    /// Whether the task has no arguments.
    pub fn is_empty(&self) -> bool {
        self.args.is_empty()
    }

    /// The key of the task being run.
    pub fn key(&self) -> &'a str {
        &self.graph.nodes[self.node as usize].key
    }

    /// The node of the task being run.
    pub fn node(&self) -> NodeId {
        NodeId(self.node)
    }

    /// The key of argument `i` (the node's own key when the task named it through an alias).
    pub fn arg_key(&self, i: usize) -> Option<&'a str> {
        self.args
            .get(i)
            .map(|&n| &*self.graph.nodes[n as usize].key)
    }

    /// Argument `i`, type-erased.
    #[inline]
    pub fn value(&self, i: usize) -> Option<&'a Value> {
        let node = *self.args.get(i)?;
        self.slots.get(node)?.value()
    }

    /// Argument `i` as a `T`.
    ///
    /// # Errors
    ///
    /// A [`TaskError`] naming the argument if there is no argument `i` or it is not a `T`.
    #[inline]
    pub fn get<T: Any>(&self, i: usize) -> Result<&'a T, TaskError> {
        // The value read and its type checked in one test where the compiler can merge them
        // (an inline `u64` is one tag); why it failed is worked out out of line.
        match self.value(i).and_then(Value::downcast_ref::<T>) {
            Some(v) => Ok(v),
            None => Err(self.refuse::<T>(i)),
        }
    }

    /// Why argument `i` is not a `T`: missing, or of another type.
    #[cold]
    #[inline(never)]
    fn refuse<T: Any>(&self, i: usize) -> TaskError {
        match self.value(i) {
            Some(value) => self.mismatch(i, std::any::type_name::<T>(), value),
            None => self.missing(i),
        }
    }

    #[cold]
    #[inline(never)]
    fn missing(&self, i: usize) -> TaskError {
        TaskError::msg(format_args!(
            "`{}` has {} argument(s), no argument {i}",
            self.key(),
            self.args.len()
        ))
    }

    #[cold]
    #[inline(never)]
    fn mismatch(&self, i: usize, expected: &'static str, value: &Value) -> TaskError {
        TaskError::from(TypeMismatch {
            key: self.arg_key(i).unwrap_or_default().to_owned(),
            expected,
            found: value.type_name(),
        })
    }
}
