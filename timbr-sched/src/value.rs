//! Type-erased values that remember their type's name, for checks and messages.

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::Arc;

use crate::error::TypeMismatch;
use crate::scalar::Repr;

/// A type's identity together with its name.
///
/// Two `TypeInfo`s are equal when their [`TypeId`]s are; the name is only for messages.
#[derive(Clone, Copy)]
pub struct TypeInfo {
    id: TypeId,
    name: &'static str,
}

impl TypeInfo {
    /// The `TypeInfo` of `T`.
    pub fn of<T: Any + ?Sized>() -> Self {
        TypeInfo {
            id: TypeId::of::<T>(),
            name: std::any::type_name::<T>(),
        }
    }

    /// The type's [`TypeId`].
    pub fn id(&self) -> TypeId {
        self.id
    }

    /// The type's name, as [`std::any::type_name`] spells it.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl PartialEq for TypeInfo {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for TypeInfo {}

impl fmt::Debug for TypeInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl fmt::Display for TypeInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// `Any` plus the concrete type's name, reachable through the vtable so a [`Value`] stays one
/// fat pointer wide.
pub(crate) trait Erased: Any + Send + Sync {
    fn type_name(&self) -> &'static str;
}

impl<T: Any + Send + Sync> Erased for T {
    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }
}

/// One key's value in a run: any `Send + Sync + 'static` type.
///
/// Cloning a `Value` is cheap, so a value can be handed to every dependant, kept for replay,
/// or aliased under several keys without being copied. Primitive `Copy` values (the integer
/// types up to 64 bits, `usize`, `isize`, `f32`, `f64`, `bool`, `char` and `()`) are stored
/// inline and cost no allocation; every other type is shared by reference count (one
/// allocation when the value is made, none per clone).
///
/// # Examples
///
/// ```
/// use timbr_sched::Value;
///
/// let v = Value::new(41_u64);
/// assert_eq!(v.downcast_ref::<u64>(), Some(&41));
/// assert!(v.downcast_ref::<i32>().is_none());
/// assert_eq!(v.type_name(), "u64");
/// ```
#[derive(Clone)]
pub struct Value(Repr);

impl Value {
    /// Wraps `value`: in place for a primitive, behind an [`Arc`] otherwise.
    #[inline]
    pub fn new<T: Any + Send + Sync>(value: T) -> Self {
        Value(Repr::new(value))
    }

    /// Wraps a value that is already behind an [`Arc`], without copying it.
    pub fn from_arc<T: Any + Send + Sync>(value: Arc<T>) -> Self {
        Value(Repr::Shared(value))
    }

    /// Whether the value is stored inline: dropping it then does nothing, so a slot holding it
    /// can be emptied without running a destructor.
    #[inline(always)]
    pub(crate) fn is_inline(&self) -> bool {
        self.0.is_inline()
    }

    /// The name of the concrete type inside.
    pub fn type_name(&self) -> &'static str {
        self.0.type_name()
    }

    /// The [`TypeId`] of the concrete type inside.
    #[inline]
    pub fn type_id(&self) -> TypeId {
        self.0.type_id()
    }

    /// The value as `&dyn Any`, for code that dispatches on types itself.
    pub fn as_any(&self) -> &(dyn Any + Send + Sync) {
        self.0.as_any()
    }

    /// A reference to the value if it is a `T`.
    #[inline]
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        self.0.downcast_ref::<T>()
    }

    /// A reference to the value if it is a `T`, or an error naming `key`, `T` and the found type.
    ///
    /// # Errors
    ///
    /// [`TypeMismatch`] when the value is not a `T`.
    pub fn get<T: Any>(&self, key: &str) -> Result<&T, TypeMismatch> {
        self.downcast_ref::<T>().ok_or_else(|| TypeMismatch {
            key: key.to_owned(),
            expected: std::any::type_name::<T>(),
            found: self.type_name(),
        })
    }

    /// The shared value as an `Arc<T>` if it is a `T`; the value back otherwise.
    ///
    /// A value made with [`from_arc`](Value::from_arc) comes back as the same `Arc`; a
    /// primitive stored inline is moved into a new one.
    ///
    /// # Errors
    ///
    /// Returns `self` unchanged when the value is not a `T`.
    pub fn downcast_arc<T: Any + Send + Sync>(self) -> Result<Arc<T>, Value> {
        if self.type_id() != TypeId::of::<T>() {
            return Err(self);
        }
        let any = self.0.into_arc();
        // The TypeId check above makes the downcast infallible.
        Ok(any.downcast::<T>().expect("type id checked above"))
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Value<{}>", self.type_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downcasts_to_its_own_type_only() {
        let v = Value::new(String::from("x"));
        assert_eq!(v.downcast_ref::<String>().map(String::as_str), Some("x"));
        assert!(v.downcast_ref::<&str>().is_none());
        let err = v.get::<u8>("k").unwrap_err();
        assert_eq!(err.key, "k");
        assert_eq!(err.expected, "u8");
        assert_eq!(err.found, "alloc::string::String");
    }

    #[test]
    fn arc_round_trip_keeps_identity() {
        let a = Arc::new(vec![1, 2, 3]);
        let v = Value::from_arc(Arc::clone(&a));
        let back = v.downcast_arc::<Vec<i32>>().unwrap();
        assert!(Arc::ptr_eq(&a, &back));
        let v = Value::new(1_u8);
        assert!(v.downcast_arc::<u16>().is_err());
    }

    #[test]
    fn primitives_behave_like_shared_values() {
        let v = Value::new(5_u64);
        assert_eq!(v.type_id(), TypeId::of::<u64>());
        assert_eq!(v.as_any().downcast_ref::<u64>(), Some(&5));
        assert_eq!(v.clone().downcast_ref::<u64>(), Some(&5));
        assert_eq!(*v.clone().downcast_arc::<u64>().unwrap(), 5);
        assert!(v.downcast_arc::<i64>().is_err());
        let shared = Value::from_arc(Arc::new(5_u64));
        assert_eq!(shared.downcast_ref::<u64>(), Some(&5));
        assert_eq!(format!("{:?}", shared), "Value<u64>");
    }

    #[test]
    fn type_info_compares_by_id() {
        assert_eq!(TypeInfo::of::<u8>(), TypeInfo::of::<u8>());
        assert_ne!(TypeInfo::of::<u8>(), TypeInfo::of::<i8>());
        assert_eq!(TypeInfo::of::<u8>().name(), "u8");
    }
}
