//! What the `timbr-macros` expansions call (re-exported as `__private`; not public API).
//!
//! - `#[stage(n)]` turns its function into a same-named hidden struct implementing
//!   [`StageDef`]: the slot, the output type and the [`Stage`], plus per-argument compile-time
//!   checks that `from_stages!` instantiates against the machine it builds.
//! - The compile-time wiring check is type-level: `from_stages!` declares a local type `M` and
//!   implements [`At<K, T>`](At) for it for every slot `K`, whose `Out` is the output type of
//!   the stage whose value slot `K` shows (the nearest stage at or before `K`; the datum type
//!   `T` if none), chosen with [`source`] and [`Cond`]. Each stage then requires, for each of
//!   its `f{k}: &X`, that `<M as At<k, T>>::Out` is `X`, through a trait whose
//!   `on_unimplemented` message names the stage, the argument and both types.
//! - The arguments' types the key fixes are checked by conversion traits with their own
//!   messages: [`SerializedArg`] for `_s` arguments and [`OidArg`] for `oid`.
//! - `stage_fn!` closures and `#[stage]` functions choose between an infallible and a fallible
//!   stage by their return type ([`probe`], [`Probe::of`], autoref dispatch):
//!   `Result<R, E>` is fallible (with `E` an error, its chain kept; with `E` only `Display`,
//!   its text), `()` is refused.

use std::marker::PhantomData;

pub use crate::{
    datum::{ArgKey, StageFn},
    BuildError, Datum, Machine, Serialized, Stage,
};
pub use bson::oid::ObjectId;

/// A `#[stage(n)]` function, through its hidden same-named struct.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a `#[stage]` function",
    label = "not a `#[stage(n)]` function",
    note = "`from_stages!` takes paths to `#[stage(n)]` functions, or any other expression that is a `Stage` (such as `stage_fn!(…)` or `{{ my_stage }}`)"
)]
pub trait StageDef {
    /// The function's slot.
    const SLOT: usize;
    /// What it produces (the `Ok` type of a `Result`).
    type Output;
    /// The type implementing the stage's wiring checks, [`CheckInput`] and [`CheckSlots`]
    /// (the struct itself).
    type Checks;
    /// The stage.
    fn stage() -> Stage;
}

/// Implemented by a stage's `Checks` for the datum types `T` its `input` arguments accept.
pub trait CheckInput<T> {}

/// Implemented by a stage's `Checks` for the machines `M` (with datum type `T`) whose slots
/// hold what its `f{k}` arguments ask for.
pub trait CheckSlots<M, T> {}

/// Checks a stage's `input` arguments against the datum type.
pub fn check_input<S: StageDef, T>(_: PhantomData<T>)
where
    S::Checks: CheckInput<T>,
{
}

/// Checks a stage's `f{k}` arguments against what machine `M` holds in those slots.
pub fn check_slots<S: StageDef, M, T>(_: PhantomData<T>)
where
    S::Checks: CheckSlots<M, T>,
{
}

/// What slot `K` of the machine `Self` shows to a stage, for datum type `T`.
pub trait At<const K: usize, T> {
    /// The type of `f{K}`.
    type Out;
}

/// A type-level `if B { X } else { Y }`, through [`Choose`].
pub struct Cond<const B: bool, X, Y>(PhantomData<(X, Y)>);

/// The branch a [`Cond`] takes.
pub trait Choose {
    /// `X` if the condition holds, else `Y`.
    type Out;
}

impl<X, Y> Choose for Cond<true, X, Y> {
    type Out = X;
}

impl<X, Y> Choose for Cond<false, X, Y> {
    type Out = Y;
}

/// The index in `slots` of the stage whose value slot `k` shows: the one at the highest slot
/// not after `k`; `slots.len()` when there is none (slot `k` shows the datum).
pub const fn source(slots: &[usize], k: usize) -> usize {
    let mut best = slots.len();
    let mut i = 0;
    while i < slots.len() {
        if slots[i] <= k && (best == slots.len() || slots[i] > slots[best]) {
            best = i;
        }
        i += 1;
    }
    best
}

/// The datum type of the machine being built, to instantiate the checks with.
pub fn datum_type<T: Datum>(_: &Result<Machine<T>, BuildError>) -> PhantomData<T> {
    PhantomData
}

/// The output type of a stage whose own definition has a compile error: every check accepts it,
/// so the error is reported once, where it is.
pub enum Erroneous {}

/// The `Ok` type of a `Result` return type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is called `Result` but is not a `std::result::Result`",
    label = "a stage returning a type named `Result` is taken as fallible"
)]
pub trait ResultOk {
    /// `R` of `Result<R, E>`.
    type Ok;
}

impl<R, E> ResultOk for Result<R, E> {
    type Ok = R;
}

/// How a `_s` argument may be taken: `&str`, `&String` or `&Serialized`.
#[diagnostic::on_unimplemented(
    message = "a serialized (`_s`) argument is JSON text: take it as `&str`, `&String` or `&Serialized`, not `&{Self}`",
    label = "expected `str`, `String` or `Serialized`"
)]
pub trait SerializedArg {
    /// The argument, from the key's value.
    fn from_serialized(s: &Serialized) -> &Self;
}

impl SerializedArg for str {
    #[inline(always)]
    fn from_serialized(s: &Serialized) -> &str {
        s.as_str()
    }
}

impl SerializedArg for String {
    #[inline(always)]
    fn from_serialized(s: &Serialized) -> &String {
        s
    }
}

impl SerializedArg for Serialized {
    #[inline(always)]
    fn from_serialized(s: &Serialized) -> &Serialized {
        s
    }
}

/// How `oid` may be taken: `&ObjectId`.
#[diagnostic::on_unimplemented(
    message = "`oid` is the datum's `bson::oid::ObjectId`: take it as `oid: &ObjectId`, not `&{Self}`",
    label = "expected `ObjectId`",
    note = "`oid_s` is the same id as 24 hex characters (`&str`)"
)]
pub trait OidArg {
    /// The argument, from the key's value.
    fn from_oid(oid: &ObjectId) -> &Self;
}

impl OidArg for ObjectId {
    #[inline(always)]
    fn from_oid(oid: &ObjectId) -> &ObjectId {
        oid
    }
}

/// Checks a `_s` argument's type (emitted when the stage has other errors).
pub fn serialized_arg<X: SerializedArg + ?Sized>() {}

/// Checks an `oid` argument's type (emitted when the stage has other errors).
pub fn oid_arg<X: OidArg + ?Sized>() {}

/// An infallible stage from arguments the macro checked.
///
/// # Panics
///
/// Never: the macro checked at compile time everything [`Stage::new`] checks at run time
/// (known names, earlier slots, no duplicates, one name per parameter).
pub fn value_stage<A, R, F>(slot: usize, name: &'static str, keys: &[ArgKey], f: F) -> Stage
where
    F: StageFn<A, R>,
    R: Datum,
{
    checked(Stage::with_keys(slot, name.to_owned(), keys, f))
}

/// A fallible stage from arguments the macro checked.
///
/// # Panics
///
/// Never, as for [`value_stage`].
pub fn result_stage<A, R, E, F>(slot: usize, name: &'static str, keys: &[ArgKey], f: F) -> Stage
where
    F: StageFn<A, Result<R, E>>,
    R: Datum,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    checked(Stage::try_with_keys(slot, name.to_owned(), keys, f))
}

/// A fallible stage whose error type is only `Display`, from arguments the macro checked.
///
/// # Panics
///
/// Never, as for [`value_stage`].
pub fn text_stage<A, R, E, F>(slot: usize, name: &'static str, keys: &[ArgKey], f: F) -> Stage
where
    F: StageFn<A, Result<R, E>>,
    R: Datum,
    E: std::fmt::Display,
{
    checked(Stage::text_with_keys(slot, name.to_owned(), keys, f))
}

fn checked(stage: Result<Stage, BuildError>) -> Stage {
    match stage {
        Ok(stage) => stage,
        // The expansion only calls this with what the macro validated.
        Err(e) => unreachable!("timbr-macros generated an invalid stage: {e}"),
    }
}

/// Stands for a stage whose definition has a compile error: emitted only next to a
/// `compile_error!`, so it never runs.
pub fn erroneous_stage() -> Stage {
    unreachable!("only emitted next to a compile error")
}

/// Stands for a machine whose `from_stages!` has a syntax error (emitted only next to it).
pub fn erroneous_machine<T: Datum>() -> Result<Machine<T>, BuildError> {
    unreachable!("only emitted next to a compile error")
}

// ---- stage_fn!: fallible or not, by the closure's return type --------------------------------

/// The parameter and return types of a closure, for method-resolution dispatch.
pub struct Probe<A, R>(PhantomData<fn(A) -> R>);

/// The [`Probe`] of a stage closure.
pub fn probe<A, R, F: StageFn<A, R>>(_: &F) -> Probe<A, R> {
    Probe(PhantomData)
}

impl<R> Probe<(), R> {
    /// The [`Probe`] of a function's return type `R`.
    pub fn of() -> Self {
        Probe(PhantomData)
    }
}

/// Second priority too (a `()` return is never a `Result`: no overlap): a `()` return.
pub trait UnitKind {
    /// The unit tag.
    fn __timbr_kind(&self) -> UnitTag {
        UnitTag
    }
}

impl<A> UnitKind for &Probe<A, ()> {}

/// First priority (`(&&&probe).__timbr_kind()` matches it by value, `Self` being
/// `&&Probe`): a `Result` whose error converts into `Box<dyn Error + Send + Sync>` (error
/// types, `String`, `&str`).
pub trait ResultKind {
    /// The result tag.
    fn __timbr_kind(&self) -> ResultTag {
        ResultTag
    }
}

impl<A, R, E> ResultKind for &&Probe<A, Result<R, E>> where
    E: Into<Box<dyn std::error::Error + Send + Sync>>
{
}

/// Second priority (after one dereference, `Self` being `&Probe`): any other `Result` (its
/// error must be `Display`).
pub trait TextResultKind {
    /// The text-result tag.
    fn __timbr_kind(&self) -> TextResultTag {
        TextResultTag
    }
}

impl<A, R, E> TextResultKind for &Probe<A, Result<R, E>> {}

/// Lowest priority: any other return.
pub trait ValueKind {
    /// The value tag.
    fn __timbr_kind(&self) -> ValueTag {
        ValueTag
    }
}

impl<A, R> ValueKind for Probe<A, R> {}

/// The closure returns a value: an infallible stage.
pub struct ValueTag;

/// The closure returns a `Result` whose error is an error: a fallible stage, chains kept.
pub struct ResultTag;

/// The closure returns a `Result` whose error is only `Display`: a fallible stage recording
/// the error's text.
pub struct TextResultTag;

/// The closure returns `()`: refused.
pub struct UnitTag;

impl ValueTag {
    /// [`value_stage`].
    pub fn build<A, R, F>(self, slot: usize, name: &'static str, keys: &[ArgKey], f: F) -> Stage
    where
        F: StageFn<A, R>,
        R: Datum,
    {
        value_stage(slot, name, keys, f)
    }

    /// Accepts a function whose return type is not spelled `Result`.
    pub fn plain<R: ?Sized>(self, _: PhantomData<R>) {}
}

impl ResultTag {
    /// [`result_stage`].
    pub fn build<A, R, E, F>(self, slot: usize, name: &'static str, keys: &[ArgKey], f: F) -> Stage
    where
        F: StageFn<A, Result<R, E>>,
        R: Datum,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        result_stage(slot, name, keys, f)
    }

    /// Refuses a function returning a `Result` through an alias not spelled `Result`.
    pub fn plain<R: SpellOutResult + ?Sized>(self, _: PhantomData<R>) {}
}

impl TextResultTag {
    /// [`text_stage`].
    pub fn build<A, R, E, F>(self, slot: usize, name: &'static str, keys: &[ArgKey], f: F) -> Stage
    where
        F: StageFn<A, Result<R, E>>,
        R: Datum,
        E: std::fmt::Display,
    {
        text_stage(slot, name, keys, f)
    }

    /// Refuses a function returning a `Result` through an alias not spelled `Result`.
    pub fn plain<R: SpellOutResult + ?Sized>(self, _: PhantomData<R>) {}
}

impl UnitTag {
    /// Refuses the closure.
    pub fn build<A, F>(self, _: usize, _: &'static str, _: &[ArgKey], f: F) -> Stage
    where
        F: StageFn<A, ()> + ReturnsValue,
    {
        f.unreachable()
    }

    /// Refuses a function returning `()` through an alias.
    pub fn plain<R: ReturnsValue + ?Sized>(self, _: PhantomData<R>) {}
}

/// Implemented by nothing: the bound that makes a `()`-returning stage a compile error.
#[diagnostic::on_unimplemented(
    message = "a stage must return a value",
    label = "this returns `()`",
    note = "what a stage returns is its slot's value (`f{{n}}`), passed to later stages and published"
)]
pub trait ReturnsValue {
    /// Never called.
    fn unreachable(self) -> Stage;
}

/// Implemented by nothing: the bound that refuses a `Result` hidden behind an alias.
#[diagnostic::on_unimplemented(
    message = "this stage returns a `Result` (`{Self}`) under another name: spell its return type `Result<T, E>` (or `…::Result<T>`)",
    label = "a `Result` under another name",
    note = "`#[stage]` reads from the signature whether a stage can fail and what its slot holds"
)]
pub trait SpellOutResult {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_of_a_slot_is_the_nearest_stage_not_after_it() {
        let slots = [3, 0, 5];
        assert_eq!(source(&slots, 0), 1);
        assert_eq!(source(&slots, 2), 1);
        assert_eq!(source(&slots, 3), 0);
        assert_eq!(source(&slots, 4), 0);
        assert_eq!(source(&slots, 7), 2);
        assert_eq!(source(&[4], 2), 1, "before any stage: the datum");
        assert_eq!(source(&[], 2), 0);
    }
}
