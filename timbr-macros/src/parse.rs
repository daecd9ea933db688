//! The macros' inputs, parsed: `#[stage(n)]`'s slot, `stage_fn!(n, [name = "…",] |…| …)`
//! and `from_stages![[builder =>] a, b, …]`.

use proc_macro2::{Span, TokenStream};
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprClosure, LitInt, LitStr, Token};

use crate::errors::Errors;
use crate::key::MAX_SLOTS;

/// What `#[stage(n, retry = …)]` says: the slot, if valid, and the retry policy's expression.
pub(crate) struct AttrArgs {
    pub(crate) slot: Option<usize>,
    pub(crate) retry: Option<Expr>,
}

/// Parses `#[stage(n)]` or `#[stage(n, retry = <expr>)]` (errors recorded).
pub(crate) fn attr_args(args: TokenStream, errors: &mut Errors) -> AttrArgs {
    let mut parsed = AttrArgs {
        slot: None,
        retry: None,
    };
    if args.is_empty() {
        errors.at(
            Span::call_site(),
            "expected the stage's slot: `#[stage(0)]`, `#[stage(1)]`, …",
        );
        return parsed;
    }
    let parser = |input: ParseStream<'_>| -> syn::Result<(LitInt, Option<Expr>)> {
        let lit: LitInt = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected the stage's slot as one integer literal: `#[stage(0)]`, `#[stage(1)]`, …",
            )
        })?;
        let mut retry = None;
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let key: syn::Ident = input.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "expected `retry = <a RetryPolicy>` after the slot",
                )
            })?;
            if key != "retry" || retry.is_some() {
                let what = if key == "retry" {
                    "`retry` is given twice"
                } else {
                    "unknown setting"
                };
                return Err(syn::Error::new(
                    key.span(),
                    format!("{what}: expected one of: `retry = <a RetryPolicy>`"),
                ));
            }
            input.parse::<Token![=]>()?;
            retry = Some(input.parse::<Expr>()?);
        }
        Ok((lit, retry))
    };
    match parser.parse2(args) {
        Ok((lit, retry)) => {
            parsed.slot = slot(&lit, errors);
            parsed.retry = retry;
        }
        Err(e) => errors.push(e),
    }
    parsed
}

/// A slot literal's value, if in range (an error recorded otherwise).
pub(crate) fn slot(lit: &LitInt, errors: &mut Errors) -> Option<usize> {
    match lit.base10_parse::<usize>() {
        Ok(n) if n < MAX_SLOTS => Some(n),
        Ok(n) => {
            errors.spanning(
                lit,
                format_args!(
                    "slot {n} is out of range: a machine has at most {MAX_SLOTS} slots \
                     (`timbr_core::MAX_SLOTS`), so a stage's slot is 0 to {}",
                    MAX_SLOTS - 1
                ),
            );
            None
        }
        Err(_) => {
            errors.spanning(lit, "expected the stage's slot: a non-negative integer");
            None
        }
    }
}

/// `stage_fn!(n, [name = "…",] |…| …)`.
pub(crate) struct ClosureInput {
    pub(crate) slot: LitInt,
    pub(crate) name: Option<LitStr>,
    pub(crate) closure: ExprClosure,
}

impl Parse for ClosureInput {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let slot: LitInt = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected the stage's slot first: `stage_fn!(2, |f1: &f64| …)`",
            )
        })?;
        input.parse::<Token![,]>()?;
        let mut name = None;
        if input.peek(syn::Ident) && input.peek2(Token![=]) {
            let key: syn::Ident = input.parse()?;
            if key != "name" {
                return Err(syn::Error::new(
                    key.span(),
                    "expected `name = \"…\"` or the closure",
                ));
            }
            input.parse::<Token![=]>()?;
            name = Some(input.parse::<LitStr>()?);
            input.parse::<Token![,]>()?;
        }
        let closure = match input.parse::<Expr>()? {
            Expr::Closure(closure) => closure,
            other => {
                return Err(syn::Error::new_spanned(
                    other,
                    "expected a closure whose parameter names pick its arguments: \
                     `|f1: &f64, input: &T| …` (for a function, use `#[stage(n)]`)",
                ))
            }
        };
        if input.peek(Token![,]) {
            input.parse::<Token![,]>()?;
        }
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the closure"));
        }
        Ok(ClosureInput {
            slot,
            name,
            closure,
        })
    }
}

/// `from_stages![[builder =>] a, b, …]`.
pub(crate) struct ListInput {
    pub(crate) builder: Option<Expr>,
    pub(crate) items: Vec<Expr>,
}

impl Parse for ListInput {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut builder = None;
        let mut items = Vec::new();
        if !input.is_empty() {
            let first: Expr = input.parse()?;
            if input.peek(Token![=>]) {
                input.parse::<Token![=>]>()?;
                builder = Some(first);
            } else {
                items.push(first);
                if !input.is_empty() {
                    input.parse::<Token![,]>()?;
                }
            }
        }
        let rest = Punctuated::<Expr, Token![,]>::parse_terminated(input)?;
        items.extend(rest);
        Ok(ListInput { builder, items })
    }
}
