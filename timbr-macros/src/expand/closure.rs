//! `stage_fn!(n, [name = "…",] |…| …)`: a closure with the same by-name picking as a
//! `#[stage]` function, evaluating to a `Stage`.
//!
//! The closure is rebuilt with the parameter types the keys hold (`&Serialized` for `_s`,
//! `&ObjectId` for `oid`) and converted back to what the user asked for at the top of its body;
//! whether the stage can fail is read from what the closure returns (autoref dispatch on a
//! `Probe` of its signature: `Result<R, E>` is fallible, its error recorded with its chain if
//! it is an error and as text if it is only `Display`; `()` is refused).

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::{ExprClosure, Pat, ReturnType};

use super::{adapt, keys, param_ident, respan, type_checks};
use crate::errors::Errors;
use crate::key::ArgKey;
use crate::parse::{self, ClosureInput};
use crate::validate::{self, Arg, Param};

pub(crate) fn stage_fn(input: TokenStream) -> TokenStream {
    let private = quote!(::timbr_core::__private);
    let input: ClosureInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(e) => {
            let e = e.to_compile_error();
            return quote!({ #e #private::erroneous_stage() });
        }
    };
    let mut errors = Errors::default();
    let slot = parse::slot(&input.slot, &mut errors);
    let closure = &input.closure;
    if let Some(a) = &closure.asyncness {
        errors.at(
            a.span(),
            "a stage cannot be `async`: the machine calls its stages synchronously, on its own threads",
        );
    }
    let params: Vec<Param<'_>> = closure
        .inputs
        .iter()
        .map(|p| match p {
            Pat::Type(t) => Param {
                pat: &t.pat,
                ty: Some(&t.ty),
            },
            other => Param {
                pat: other,
                ty: None,
            },
        })
        .collect();
    let args = validate::params(slot, &params, &mut errors);
    if let ReturnType::Type(_, ty) = &closure.output {
        validate::return_type(ty, &mut errors);
    }
    let slot = match slot {
        Some(slot) if errors.is_empty() => slot,
        _ => {
            let errors = errors.to_compile_errors();
            let types = type_checks(&args);
            return quote!({ #errors #types #private::erroneous_stage() });
        }
    };

    let name = match &input.name {
        Some(name) => name.value(),
        None => format!("closure@f{slot}"),
    };
    let keys = keys(&args);
    let rebuilt = rebuild(closure, &args);
    // Call-site hygiene: the dispatch below is respanned onto the closure's first `|`, where
    // rustc then reports what the closure returns wrong (`()`, not `Serialize`, …).
    let f = quote::format_ident!("__timbr_f");
    let dispatch = respan(
        quote!((&&&#private::probe(&#f)).__timbr_kind().build(#slot, #name, #keys, #f)),
        closure.or1_token.span,
    );
    quote! {{
        #[allow(unused_imports)]
        use #private::{ResultKind as _, TextResultKind as _, UnitKind as _, ValueKind as _};
        let #f = #rebuilt;
        #dispatch
    }}
}

/// The closure with `_s`, `oid` and `&str` parameters taking what the machine holds,
/// converted back to the user's types at the top of the body.
fn rebuild(closure: &ExprClosure, args: &[Arg]) -> TokenStream {
    let converted: Vec<&Arg> = args
        .iter()
        .filter(|a| a.key.is_serialized() || a.key == ArgKey::Oid || a.held.is_some())
        .collect();
    if converted.is_empty() {
        return closure.to_token_stream();
    }
    let mut closure = closure.clone();
    let mut lets = Vec::with_capacity(converted.len());
    for arg in converted {
        let param = param_ident(arg.index);
        let (ty, conversion) = adapt(arg, &param);
        let Some(Pat::Type(typed)) = closure.inputs.iter_mut().nth(arg.index) else {
            continue;
        };
        let pat = &typed.pat;
        let inner = &arg.inner;
        lets.push(quote!(let #pat: &#inner = #conversion;));
        *typed.pat = syn::parse_quote!(#param);
        *typed.ty = syn::parse_quote!(#ty);
    }
    let body = &closure.body;
    let body: syn::Expr = syn::parse_quote!({ #(#lets)* #body });
    *closure.body = body;
    closure.to_token_stream()
}
