//! `from_stages![a, b, …]` and `from_stages![builder => a, b, …]`: a machine from
//! `#[stage]` functions (paths, resolved to their hidden structs) and `Stage` expressions.
//!
//! When every element is a path, the wiring is also checked at compile time: a local type
//! `M` gets `At<K, T>` for every slot `K` (what `f{K}` holds: the output of the nearest stage
//! at or before `K`, else the datum `T`), and each stage's `__timbr_check_slots::<M, T>`
//! requires its `f{k}` arguments to match. Two stages at one slot fail a `const` assertion.
//! `input` arguments are checked against the datum type in every form.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, ExprPath};

use super::respan;
use crate::key::MAX_SLOTS;
use crate::parse::ListInput;

pub(crate) fn from_stages(input: TokenStream) -> TokenStream {
    let private = quote!(::timbr_core::__private);
    let input: ListInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(e) => {
            let e = e.to_compile_error();
            return quote!({ #e #private::erroneous_machine() });
        }
    };

    let mut aliases = Vec::new();
    let mut stages = Vec::new();
    let mut paths: Vec<(usize, &ExprPath)> = Vec::new();
    for (i, item) in input.items.iter().enumerate() {
        match item {
            Expr::Path(path) if path.qself.is_none() && path.attrs.is_empty() => {
                let p = &path.path;
                let alias = format_ident!("__TimbrStage{}", i, span = p.span());
                aliases.push(quote_spanned! {p.span()=>
                    #[allow(non_camel_case_types)]
                    type #alias = #p;
                });
                stages.push(quote_spanned!(p.span()=> <#alias as #private::StageDef>::stage()));
                paths.push((i, path));
            }
            other => stages.push(quote!(#other)),
        }
    }

    let all_paths = paths.len() == input.items.len() && input.builder.is_none();
    let machine = format_ident!("__TimbrMachine");
    // Call-site hygiene: each check is respanned onto its path (below), and must still see it.
    let datum = format_ident!("__timbr_datum");
    let built = format_ident!("__timbr_built", span = Span::mixed_site());

    let mut checks = Vec::new();
    for (i, path) in &paths {
        let alias = format_ident!("__TimbrStage{}", i);
        // Spanned on the path, so that a mismatch is reported on the stage's name in the list.
        checks.push(respan(
            quote!(#private::check_input::<#alias, _>(#datum);),
            path.span(),
        ));
        if all_paths {
            checks.push(respan(
                quote!(#private::check_slots::<#alias, #machine, _>(#datum);),
                path.span(),
            ));
        }
    }

    // Two stages at one slot: a compile error naming both (the pairs are few).
    let mut collisions = Vec::new();
    for (n, (i, first)) in paths.iter().enumerate() {
        for (j, second) in &paths[n + 1..] {
            let (a, b) = (
                format_ident!("__TimbrStage{}", i),
                format_ident!("__TimbrStage{}", j),
            );
            let message = format!(
                "stages `{}` and `{}` are at the same slot",
                path_text(first),
                path_text(second)
            );
            collisions.push(respan(
                quote! {
                    const _: () = if <#a as #private::StageDef>::SLOT == <#b as #private::StageDef>::SLOT {
                        ::core::panic!(#message)
                    };
                },
                second.span(),
            ));
        }
    }

    let slot_types = if all_paths {
        let spans: Vec<Span> = paths.iter().map(|(_, p)| p.span()).collect();
        slot_types(&machine, &spans)
    } else {
        quote!()
    };

    let build = match &input.builder {
        Some(builder) => quote!((#builder).stages([#(#stages),*]).build()),
        None => quote!(#private::Machine::from_stages([#(#stages),*])),
    };
    quote! {{
        #(#aliases)*
        #(#collisions)*
        #slot_types
        let #built = #build;
        let #datum = #private::datum_type(&#built);
        #(#checks)*
        #built
    }}
}

/// `struct M;` and `impl<T> At<K, T> for M` for every slot a stage can read.
fn slot_types(machine: &proc_macro2::Ident, spans: &[Span]) -> TokenStream {
    let private = quote!(::timbr_core::__private);
    // Each stage's part spanned on its path: a path to something else is reported there.
    let stages: Vec<_> = spans
        .iter()
        .enumerate()
        .map(|(i, span)| (format_ident!("__TimbrStage{}", i), *span))
        .collect();
    let part = |(alias, span): &(proc_macro2::Ident, Span), item: TokenStream| {
        respan(quote!(<#alias as #private::StageDef>::#item), *span)
    };
    let slots: Vec<_> = stages.iter().map(|s| part(s, quote!(SLOT))).collect();
    let impls = (0..MAX_SLOTS - 1).map(|k| {
        let mut out = quote!(__TimbrT);
        for (i, stage) in stages.iter().enumerate().rev() {
            let output = part(stage, quote!(Output));
            out = quote! {
                <#private::Cond<
                    { #private::source(__TIMBR_SLOTS, #k) == #i },
                    #output,
                    #out,
                > as #private::Choose>::Out
            };
        }
        quote! {
            impl<__TimbrT> #private::At<#k, __TimbrT> for #machine {
                type Out = #out;
            }
        }
    });
    quote! {
        struct #machine;
        const __TIMBR_SLOTS: &[usize] = &[#(#slots),*];
        #(#impls)*
    }
}

/// `a::b::c` as written, for messages.
fn path_text(path: &ExprPath) -> String {
    path.path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}
