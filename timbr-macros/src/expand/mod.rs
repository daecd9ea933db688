//! Code generation, one file per macro; what they share is here: how a stage's arguments
//! are adapted to the values the machine holds under their keys.

mod attr;
mod closure;
mod list;

pub(crate) use attr::stage_attr;
pub(crate) use closure::stage_fn;
pub(crate) use list::from_stages;

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::key::{tokens, ArgKey};
use crate::validate::Arg;

/// The hidden name of the closure parameter receiving argument `index`.
pub(crate) fn param_ident(index: usize) -> Ident {
    format_ident!("__timbr_a{}", index, span = Span::mixed_site())
}

/// The closure parameter type receiving `arg` (what the machine holds under its key), and the
/// expression turning `param` into what the user asked for.
///
/// `_s` keys hold a `Serialized` and `oid` an `ObjectId`; the conversion goes through
/// `SerializedArg` / `OidArg`, spanned on the user's type, so asking for another type is
/// reported there with the traits' messages. Other keys are passed as they are (a `&String`
/// for a `&str`).
pub(crate) fn adapt(arg: &Arg, param: &Ident) -> (TokenStream, TokenStream) {
    let inner = &arg.inner;
    let private = quote!(::timbr_core::__private);
    if arg.key.is_serialized() {
        (
            quote!(&#private::Serialized),
            quote_spanned!(inner.span()=> <#inner as #private::SerializedArg>::from_serialized(#param)),
        )
    } else if arg.key == ArgKey::Oid {
        (
            quote!(&#private::ObjectId),
            quote_spanned!(inner.span()=> <#inner as #private::OidArg>::from_oid(#param)),
        )
    } else {
        // `&String` coerces to the user's `&str`.
        let held = arg.held();
        (quote!(&#held), quote!(#param))
    }
}

/// `tokens` with every span set to `span`, so that rustc points at the user's code for
/// whatever it reports about them (a `where` bound is shown through its tokens' spans).
pub(crate) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let proc_macro2::TokenTree::Group(g) = &token {
                let mut group = proc_macro2::Group::new(g.delimiter(), respan(g.stream(), span));
                group.set_span(span);
                token = proc_macro2::TokenTree::Group(group);
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}

/// `&[ArgKey::…, …]`.
pub(crate) fn keys(args: &[Arg]) -> TokenStream {
    let keys = args.iter().map(|a| tokens(a.key));
    quote!(&[#(#keys),*])
}

/// Type checks for the `_s` and `oid` arguments that are valid, emitted when the stage has
/// other errors so that every mistake is reported in one go.
pub(crate) fn type_checks(args: &[Arg]) -> TokenStream {
    let checks = args.iter().filter_map(|arg| {
        let inner = &arg.inner;
        let check = if arg.key.is_serialized() {
            quote!(serialized_arg)
        } else if arg.key == ArgKey::Oid {
            quote!(oid_arg)
        } else {
            return None;
        };
        Some(quote_spanned!(inner.span()=> ::timbr_core::__private::#check::<#inner>();))
    });
    quote! {
        #[allow(dead_code)]
        fn __timbr_argument_types() {
            #(#checks)*
        }
    }
}
