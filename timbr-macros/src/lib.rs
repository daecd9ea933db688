//! The stage macros of [timbr]: `#[stage(n)]` functions, `stage_fn!` closures and
//! `from_stages![…]` machines. Use them through `timbr_core`, which re-exports them; the
//! code they generate refers only to `::timbr_core::__private`.
//!
//! A stage picks its arguments **by name** among the keys of a datum's graph, each borrowed:
//!
//! | name | value | type |
//! |---|---|---|
//! | `input` | the datum | `&T` (the machine's `T`) |
//! | `oid` | the datum's id | `&bson::oid::ObjectId` |
//! | `f{k}`, `k` < the stage's slot | what slot `k` holds | `&` that type |
//! | `input_s`, `oid_s`, `f{k}_s` | JSON text (hex for `oid_s`) | `&str`, `&String` or `&Serialized` |
//!
//! Mistakes in names, slots and argument kinds are compile errors spanned on the offending
//! token, all reported at once; `from_stages!` also checks at compile time that each `f{k}`
//! and `input` argument has the type the machine holds there.
//!
//! Why `stage_fn!` and not `stage!`: an attribute and a function-like macro cannot share a
//! name in one module (both live in the macro namespace), and `#[stage(n)]` has it.
//!
//! [timbr]: https://example.invalid/timbr

mod errors;
mod expand;
mod key;
mod parse;
mod validate;

use proc_macro::TokenStream;

/// Makes a function a stage at slot `n`, keeping it callable as a plain function.
///
/// The parameter names say which keys the stage reads (`input`, `oid`, `f0`…`f{n-1}` and
/// their `_s` forms), each taken by reference. Return a value, or a `Result<R, E>` with
/// `E: Display` for a stage that can fail: an `Err` is recorded against the stage and the
/// datum, and the machine goes on. The stage is named after the function.
///
/// Next to the function, in the type namespace, a hidden same-named struct carries what the
/// machine needs (as Rocket's `#[get]` does for `routes![]`): list the function in
/// [`from_stages!`], or take its [`Stage`] with `name::stage()`.
///
/// # Examples
///
/// ```
/// use timbr_core::{from_stages, stage, Machine};
///
/// #[stage(0)]
/// fn words(input: &String) -> usize {
///     input.split_whitespace().count()
/// }
///
/// #[stage(2)] // slot 1 is empty: `f1` holds what `f0` holds
/// fn ratio(f1: &usize, input: &String) -> Result<f64, String> {
///     match *f1 {
///         0 => Err("no words".to_owned()),
///         n => Ok(input.len() as f64 / n as f64),
///     }
/// }
///
/// assert_eq!(words(&"a b".to_owned()), 2); // still a plain function
/// let machine: Machine<String> = from_stages![words, ratio]?;
/// assert_eq!(machine.call("a b".to_owned()).value::<f64>("f2")?, &1.5);
/// machine.set_stage(ratio::stage().at(3)?)?; // its `Stage`, moved to slot 3
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// `#[stage(n, retry = <expr>)]` gives the stage a retry policy: `<expr>` is a
/// `RetryPolicy` (evaluated each time the stage is made), as with `Stage::retry`.
///
/// ```
/// use timbr_core::{stage, RetryPolicy, Transient};
///
/// #[stage(0, retry = RetryPolicy::new(3).any_error())]
/// fn fetch(input: &u32) -> Result<u32, Transient> {
///     Ok(*input)
/// }
///
/// assert_eq!(fetch::stage().retry_policy().map(|p| p.attempts()), Some(3));
/// ```
///
/// Compile errors: a slot not below `MAX_SLOTS` (64); a setting other than `retry`; an argument name that is not a key, or
/// an `f{k}` with `k` not below `n`; a name given twice; an argument not taken by shared
/// reference; a `_s` argument not `&str`/`&String`/`&Serialized`; `oid` not `&ObjectId`;
/// a generic, `async`, `unsafe` function or a method; no return type, or `()`.
///
/// [`Stage`]: https://docs.rs/timbr-core/latest/timbr_core/struct.Stage.html
#[proc_macro_attribute]
pub fn stage(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::stage_attr(args.into(), item.into()).into()
}

/// A [`Stage`] at slot `n` from a closure whose parameter names pick its arguments, as for
/// `#[stage(n)]`: `stage_fn!(n, |f1: &f64, f0_s: &str| …)`, optionally named with
/// `stage_fn!(n, name = "…", |…| …)` (by default `closure@f{n}`).
///
/// A closure returning a `Result<R, E>` makes a stage that can fail. A `move` closure can
/// carry state, such as a shared buffer of recent values.
///
/// # Examples
///
/// ```
/// use std::collections::VecDeque;
/// use std::sync::{Arc, Mutex};
/// use timbr_core::{stage_fn, Machine};
///
/// let recent = Arc::new(Mutex::new(VecDeque::new()));
/// let remember = stage_fn!(0, name = "remember", move |input: &u32, oid_s: &str| {
///     let mut recent = recent.lock().unwrap();
///     recent.push_back((*input, oid_s.to_owned()));
///     recent.len()
/// });
/// let halve = stage_fn!(1, |f0: &usize| if f0 % 2 == 0 { Ok(f0 / 2) } else { Err("odd") });
///
/// let machine = Machine::<u32>::builder().stages([remember, halve]).build()?;
/// assert!(machine.call(7).value::<usize>("f1").is_err()); // 1 remembered: odd, an error
/// assert_eq!(machine.call(7).value::<usize>("f1")?, &1); // 2 remembered
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`Stage`]: https://docs.rs/timbr-core/latest/timbr_core/struct.Stage.html
#[proc_macro]
pub fn stage_fn(input: TokenStream) -> TokenStream {
    expand::stage_fn(input.into()).into()
}

/// A `Machine` from stages: `from_stages![a, b, …]` evaluates to
/// `Result<Machine<T>, BuildError>`.
///
/// Each element is the path of a `#[stage]` function, or any other expression that is a
/// [`Stage`] (a `stage_fn!(…)`, `{ my_stage }`: a bare variable would be read as a
/// function's path). The machine has default settings and as many slots as its highest stage
/// needs (at least 8); `from_stages![builder => a, b, …]` starts from a `MachineBuilder`
/// instead, for other settings.
///
/// When all elements are `#[stage]` functions, the wiring is checked at compile time: two
/// stages at one slot, and every `f{k}` or `input` argument whose type differs from what the
/// machine holds there (empty slots pass on what the slot before holds), are compile errors
/// naming the stage, the argument and both types. Otherwise the same checks run when the
/// machine is built. (A macro cannot be an associated item, so this is
/// `timbr_core::from_stages!`, not `Machine::from_stages!`; the function
/// `Machine::from_stages` takes a list of `Stage`s.)
///
/// # Examples
///
/// ```
/// use timbr_core::{from_stages, stage, stage_fn, Machine};
///
/// #[stage(0)]
/// fn double(input: &i64) -> i64 {
///     input * 2
/// }
///
/// let machine: Machine<i64> = from_stages![double, stage_fn!(3, |f2: &i64| f2 + 1)]?;
/// assert_eq!(machine.call(20).value::<i64>("f3")?, &41);
///
/// let machine: Machine<i64> = from_stages![Machine::builder().capacity(4) => double]?;
/// assert_eq!(machine.capacity(), Some(4));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`Stage`]: https://docs.rs/timbr-core/latest/timbr_core/struct.Stage.html
#[proc_macro]
pub fn from_stages(input: TokenStream) -> TokenStream {
    expand::from_stages(input.into()).into()
}
