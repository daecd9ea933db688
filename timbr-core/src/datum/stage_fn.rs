//! How a [`Stage`](crate::Stage) calls its user function: [`StageFn`] for every
//! `Fn(&A0, &A1, …) -> R`, [`StageParam`] for what each parameter may be, and the reading of
//! each argument from the run, inlined into the stage's task.

use std::any::Any;

use timbr_sched::{Args, TaskError, TypeInfo, Value};

use crate::Serialized;

/// What a stage's parameter `&P` can be: a sized `Send + Sync + 'static` type, which the key
/// holds as it is, or `str`, read from a serialized (`_s`) key's [`Serialized`] text.
///
/// Implemented for all of them; you never name it.
pub trait StageParam: Send + Sync + 'static {
    /// What the key holds for a parameter `&Self`.
    type Held: Any + Send + Sync;

    /// The parameter, from what the key holds.
    fn from_held(held: &Self::Held) -> &Self;
}

impl<T: Any + Send + Sync> StageParam for T {
    type Held = T;

    #[inline(always)]
    fn from_held(held: &T) -> &T {
        held
    }
}

/// `&str` for a serialized key: its JSON text.
impl StageParam for str {
    type Held = Serialized;

    #[inline(always)]
    fn from_held(held: &Serialized) -> &str {
        held.as_str()
    }
}

/// A function of references that a [`Stage`](crate::Stage) can call: implemented for every
/// `Fn(&A0, &A1, …) -> R` of up to 12 parameters.
///
/// `A` is the tuple of parameter types; you never name it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a stage function",
    label = "not a stage function",
    note = "a stage function takes at most 12 arguments, each a reference `&T` to a sized `Send + Sync + 'static` type (or `&str` for a serialized `_s` key), and returns a value (or a `Result`)"
)]
pub trait StageFn<A, R>: Send + Sync + 'static {
    /// The parameter types, in order.
    fn arg_types() -> Vec<TypeInfo>;

    /// Calls the function with the run's arguments.
    ///
    /// # Errors
    ///
    /// A [`TaskError`] if an argument is missing or of another type (the machine's wiring
    /// checks make both impossible).
    fn call(&self, args: &Args<'_>) -> Result<R, TaskError>;
}

/// Argument `i` as a `T`: [`Args::get`], with the check that cannot fail (the wiring checked
/// every type) inlined into the stage's call and its error out of line. A stage's glue is then
/// one function: the argument's slot read, the type compared, the user's function, the value.
#[inline(always)]
fn arg<'a, T: Any>(args: &Args<'a>, i: usize) -> Result<&'a T, TaskError> {
    match args.value(i).and_then(Value::downcast_ref::<T>) {
        Some(v) => Ok(v),
        None => Err(arg_error::<T>(args, i)),
    }
}

/// What [`Args::get`] says of an argument that is missing or of another type.
#[cold]
#[inline(never)]
fn arg_error<T: Any>(args: &Args<'_>, i: usize) -> TaskError {
    match args.get::<T>(i) {
        Err(e) => e,
        // `value` and `get` read the same slot: unreachable.
        Ok(_) => TaskError::msg(format_args!(
            "argument {i} of `{}` is unreadable",
            args.key()
        )),
    }
}

macro_rules! impl_stage_fn {
    ($($A:ident $i:tt),*) => {
        impl<F, R, $($A,)*> StageFn<($(&'static $A,)*), R> for F
        where
            F: Fn($(&$A),*) -> R + Send + Sync + 'static,
            $($A: StageParam + ?Sized,)*
        {
            fn arg_types() -> Vec<TypeInfo> {
                vec![$(TypeInfo::of::<$A::Held>()),*]
            }

            #[allow(unused_variables, reason = "the zero-parameter case reads no arguments")]
            #[inline(always)]
            fn call(&self, args: &Args<'_>) -> Result<R, TaskError> {
                Ok(self($($A::from_held(arg::<$A::Held>(args, $i)?)),*))
            }
        }
    };
}

impl_stage_fn!();
impl_stage_fn!(A0 0);
impl_stage_fn!(A0 0, A1 1);
impl_stage_fn!(A0 0, A1 1, A2 2);
impl_stage_fn!(A0 0, A1 1, A2 2, A3 3);
impl_stage_fn!(A0 0, A1 1, A2 2, A3 3, A4 4);
impl_stage_fn!(A0 0, A1 1, A2 2, A3 3, A4 4, A5 5);
impl_stage_fn!(A0 0, A1 1, A2 2, A3 3, A4 4, A5 5, A6 6);
impl_stage_fn!(A0 0, A1 1, A2 2, A3 3, A4 4, A5 5, A6 6, A7 7);
impl_stage_fn!(A0 0, A1 1, A2 2, A3 3, A4 4, A5 5, A6 6, A7 7, A8 8);
impl_stage_fn!(A0 0, A1 1, A2 2, A3 3, A4 4, A5 5, A6 6, A7 7, A8 8, A9 9);
impl_stage_fn!(A0 0, A1 1, A2 2, A3 3, A4 4, A5 5, A6 6, A7 7, A8 8, A9 9, A10 10);
impl_stage_fn!(A0 0, A1 1, A2 2, A3 3, A4 4, A5 5, A6 6, A7 7, A8 8, A9 9, A10 10, A11 11);

/// The impls above end at `timbr_keys::MAX_ARGS` parameters, the bound the macros check a
/// stage against: a stage the macros accept is one a machine can call.
const _: () = {
    type Largest = fn(&u8, &u8, &u8, &u8, &u8, &u8, &u8, &u8, &u8, &u8, &u8, &u8);
    #[allow(
        clippy::type_complexity,
        reason = "the largest parameter tuple, spelled out"
    )]
    type LargestArgs = (
        &'static u8,
        &'static u8,
        &'static u8,
        &'static u8,
        &'static u8,
        &'static u8,
        &'static u8,
        &'static u8,
        &'static u8,
        &'static u8,
        &'static u8,
        &'static u8,
    );
    const fn is_stage_fn<F: StageFn<A, ()>, A>() {}
    is_stage_fn::<Largest, LargestArgs>();
    assert!(
        timbr_keys::MAX_ARGS == 12,
        "impl_stage_fn! above must go up to MAX_ARGS parameters"
    );
};
