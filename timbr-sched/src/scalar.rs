//! Small `Copy` values kept inline in a [`Value`](crate::Value): no allocation for numbers.

use std::any::{Any, TypeId};
use std::sync::Arc;

/// Declares [`Scalar`] with one variant per listed type, and its conversions.
macro_rules! scalars {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        /// A value of one of the primitive types stored inline, without a heap allocation.
        #[derive(Clone, Copy)]
        pub(crate) enum Scalar {
            $($variant($ty),)*
        }

        impl Scalar {
            /// `value` as a scalar when `T` is one of the inline types; `value` back otherwise.
            ///
            /// Every test is on `T` alone, so each instantiation folds to one branch.
            #[inline(always)]
            pub(crate) fn try_new<T: Any>(value: T) -> Result<Scalar, T> {
                let any: &dyn Any = &value;
                $(
                    if let Some(&v) = any.downcast_ref::<$ty>() {
                        return Ok(Scalar::$variant(v));
                    }
                )*
                Err(value)
            }

            /// A reference to the value if it is a `T`.
            #[inline(always)]
            pub(crate) fn downcast_ref<T: Any>(&self) -> Option<&T> {
                match self {
                    $(Scalar::$variant(v) => (v as &dyn Any).downcast_ref::<T>(),)*
                }
            }

            /// The value as `&dyn Any`.
            pub(crate) fn as_any(&self) -> &(dyn Any + Send + Sync) {
                match self {
                    $(Scalar::$variant(v) => v,)*
                }
            }

            /// The name of the type inside.
            pub(crate) fn type_name(&self) -> &'static str {
                match self {
                    $(Scalar::$variant(_) => std::any::type_name::<$ty>(),)*
                }
            }

            /// The [`TypeId`] of the type inside.
            pub(crate) fn type_id(&self) -> TypeId {
                match self {
                    $(Scalar::$variant(_) => TypeId::of::<$ty>(),)*
                }
            }

            /// The value moved to the heap, for callers that want an `Arc`.
            pub(crate) fn into_arc(self) -> Arc<dyn Any + Send + Sync> {
                match self {
                    $(Scalar::$variant(v) => Arc::new(v),)*
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
        assert!(Scalar::try_new(1_u64).is_ok());
        assert!(Scalar::try_new('x').is_ok());
        assert!(Scalar::try_new(()).is_ok());
        assert!(Scalar::try_new(1_u128).is_err());
        assert!(Scalar::try_new(String::from("x")).is_err());
        assert!(Scalar::try_new((1_u8, 2_u8)).is_err());
    }

    #[test]
    fn reads_back_as_its_own_type_only() {
        let s = Scalar::try_new(7_i32).ok().unwrap();
        assert_eq!(s.downcast_ref::<i32>(), Some(&7));
        assert_eq!(s.downcast_ref::<u32>(), None);
        assert_eq!(s.type_name(), "i32");
        assert_eq!(s.type_id(), TypeId::of::<i32>());
        assert_eq!(s.as_any().downcast_ref::<i32>(), Some(&7));
        assert_eq!(s.into_arc().downcast::<i32>().ok().as_deref(), Some(&7));
    }
}
