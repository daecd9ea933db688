//! A [`Value`](crate::Value)'s representation: the primitive `Copy` types stored in place (no
//! allocation for numbers), anything else shared behind an `Arc`.
//!
//! The enum is flat — one variant per primitive type plus `Shared` — rather than a primitive
//! enum inside a two-way one: reading a `u64` argument then tests one tag, and since an
//! [`Outcome`](crate::Outcome) and an empty slot take their tags from the same byte, one
//! comparison tells "a value, inline, a `u64`" apart from everything else.

use std::any::{Any, TypeId};
use std::sync::Arc;

use crate::value::Erased;

/// Declares [`Repr`] with one inline variant per listed type, and its accessors.
macro_rules! scalars {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        /// A value: in place for a primitive, shared otherwise.
        #[derive(Clone)]
        pub(crate) enum Repr {
            $($variant($ty),)*
            /// Anything else, shared.
            Shared(Arc<dyn Erased>),
        }

        impl Repr {
            /// `value` in place when `T` is one of the inline types, behind an `Arc` otherwise.
            ///
            /// Every test is on `T` alone, so each instantiation folds to one branch.
            #[inline(always)]
            pub(crate) fn new<T: Any + Send + Sync>(value: T) -> Repr {
                let any: &dyn Any = &value;
                $(
                    if let Some(&v) = any.downcast_ref::<$ty>() {
                        return Repr::$variant(v);
                    }
                )*
                Repr::Shared(Arc::new(value))
            }

            /// A reference to the value if it is a `T`.
            ///
            /// For a given `T` every inline arm but one folds to `None`: one tag test, and the
            /// type check through the vtable only for a shared value.
            #[inline(always)]
            pub(crate) fn downcast_ref<T: Any>(&self) -> Option<&T> {
                match self {
                    $(Repr::$variant(v) => (v as &dyn Any).downcast_ref::<T>(),)*
                    Repr::Shared(a) => (&**a as &dyn Any).downcast_ref::<T>(),
                }
            }

            /// Whether the value is stored in place (dropping it does nothing).
            #[inline(always)]
            pub(crate) fn is_inline(&self) -> bool {
                !matches!(self, Repr::Shared(_))
            }

            /// The value as `&dyn Any`.
            pub(crate) fn as_any(&self) -> &(dyn Any + Send + Sync) {
                match self {
                    $(Repr::$variant(v) => v,)*
                    Repr::Shared(a) => &**a,
                }
            }

            /// The name of the type inside.
            pub(crate) fn type_name(&self) -> &'static str {
                match self {
                    $(Repr::$variant(_) => std::any::type_name::<$ty>(),)*
                    // Through the deref: `Arc<dyn Erased>` is itself `Erased` and would name
                    // itself.
                    Repr::Shared(a) => (**a).type_name(),
                }
            }

            /// The [`TypeId`] of the type inside.
            #[inline]
            pub(crate) fn type_id(&self) -> TypeId {
                match self {
                    $(Repr::$variant(_) => TypeId::of::<$ty>(),)*
                    Repr::Shared(a) => (&**a as &dyn Any).type_id(),
                }
            }

            /// The value as an `Arc`: the same one for a shared value, a new one for a value
            /// stored in place.
            pub(crate) fn into_arc(self) -> Arc<dyn Any + Send + Sync> {
                match self {
                    $(Repr::$variant(v) => Arc::new(v),)*
                    Repr::Shared(a) => a,
                }
            }
        }
    };
}

scalars! {
    U64(u64),
    I64(i64),
    F64(f64),
    Usize(usize),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    U8(u8),
    U16(u16),
    I8(i8),
    I16(i16),
    Isize(isize),
    Char(char),
    Unit(()),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_are_inline_and_others_are_not() {
        assert!(Repr::new(1_u64).is_inline());
        assert!(Repr::new('x').is_inline());
        assert!(Repr::new(()).is_inline());
        assert!(!Repr::new(1_u128).is_inline());
        assert!(!Repr::new(String::from("x")).is_inline());
        assert!(!Repr::new((1_u8, 2_u8)).is_inline());
    }

    #[test]
    fn reads_back_as_its_own_type_only() {
        let s = Repr::new(7_i32);
        assert_eq!(s.downcast_ref::<i32>(), Some(&7));
        assert_eq!(s.downcast_ref::<u32>(), None);
        assert_eq!(s.type_name(), "i32");
        assert_eq!(s.type_id(), TypeId::of::<i32>());
        assert_eq!(s.as_any().downcast_ref::<i32>(), Some(&7));
        assert_eq!(s.into_arc().downcast::<i32>().ok().as_deref(), Some(&7));
    }

    #[test]
    fn a_shared_value_is_checked_through_its_vtable() {
        let s = Repr::Shared(Arc::new(7_u64));
        assert!(!s.is_inline());
        assert_eq!(s.downcast_ref::<u64>(), Some(&7));
        assert_eq!(s.downcast_ref::<i64>(), None);
        assert_eq!(s.type_name(), "u64");
        assert_eq!(s.type_id(), TypeId::of::<u64>());
    }

    #[test]
    fn an_outcome_is_no_larger_than_before() {
        // Three words: the tag, and a shared value's fat pointer (or a number).
        assert_eq!(std::mem::size_of::<Repr>(), 24);
        assert_eq!(std::mem::size_of::<Option<crate::Outcome>>(), 24);
    }
}
