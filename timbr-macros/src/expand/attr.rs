//! `#[stage(n)]`: the function stays as written; a same-named hidden struct (type namespace,
//! as Rocket does for routes) carries the slot, the output type, the `Stage` and the
//! per-argument checks that `from_stages!` instantiates against its machine.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn};

use super::{adapt, keys, param_ident, respan, type_checks};
use crate::errors::Errors;
use crate::key::Key;
use crate::parse;
use crate::validate::{self, pretty, Arg, Param, Ret};

pub(crate) fn stage_attr(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let parse::AttrArgs { slot, retry } = parse::attr_args(args, &mut errors);
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(e) => {
            // A function that does not parse: rustc reports the syntax error on the item itself.
            let is_fn = item
                .clone()
                .into_iter()
                .any(|t| matches!(&t, proc_macro2::TokenTree::Ident(i) if i == "fn"));
            if !is_fn {
                errors.at(
                    e.span(),
                    "`#[stage(n)]` goes on a function: `#[stage(0)] fn text(input: &T) -> R { … }`",
                );
            }
            let errors = errors.to_compile_errors();
            return quote!(#errors #item);
        }
    };
    validate::signature(&func.sig, &mut errors);
    let params: Vec<Param<'_>> = func
        .sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(t) => Some(Param {
                pat: &t.pat,
                ty: Some(&t.ty),
            }),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let args = validate::params(slot, &params, &mut errors);
    let ret = validate::fn_return(&func.sig, &mut errors);

    let stage = Stage {
        func: &func,
        name: func.sig.ident.unraw().to_string(),
        args: &args,
        retry: retry.as_ref(),
    };
    let is_method = func
        .sig
        .inputs
        .iter()
        .any(|i| matches!(i, FnArg::Receiver(_)));
    let glue = match (errors.is_empty(), slot, &ret) {
        (true, Some(slot), Some(ret)) => stage.glue(slot, ret),
        // In an `impl`, a struct would only add errors.
        _ if is_method => quote!(),
        _ => stage.stand_in(slot, ret.as_ref()),
    };
    let errors = errors.to_compile_errors();
    let func = without_repeated_names(&func);
    quote! {
        #func
        #errors
        #glue
    }
}

/// The function with a parameter name given twice turned into `_` (already reported as an
/// argument asked for twice; rustc need not report it again).
fn without_repeated_names(func: &ItemFn) -> ItemFn {
    let mut func = func.clone();
    let mut seen = Vec::new();
    for input in func.sig.inputs.iter_mut() {
        let FnArg::Typed(typed) = input else { continue };
        let syn::Pat::Ident(p) = &*typed.pat else {
            continue;
        };
        let name = p.ident.unraw().to_string();
        if seen.contains(&name) {
            *typed.pat = syn::Pat::Wild(syn::PatWild {
                attrs: Vec::new(),
                underscore_token: syn::Token![_](p.ident.span()),
            });
        } else {
            seen.push(name);
        }
    }
    func
}

struct Stage<'a> {
    func: &'a ItemFn,
    name: String,
    args: &'a [Arg],
    /// `retry = <expr>`: the stage's `RetryPolicy`.
    retry: Option<&'a syn::Expr>,
}

impl Stage<'_> {
    /// The hidden struct, its `StageDef` impl and its checks.
    fn glue(&self, slot: usize, ret: &Ret) -> TokenStream {
        let ident = &self.func.sig.ident;
        let private = quote!(::timbr_core::__private);
        let name = &self.name;
        let keys = keys(self.args);
        let (params, calls): (Vec<_>, Vec<_>) = self
            .args
            .iter()
            .map(|arg| {
                let p = param_ident(arg.index);
                let (ty, call) = adapt(arg, &p);
                (quote!(#p: #ty), call)
            })
            .unzip();
        let ret_span = match ret {
            Ret::Value(ty) | Ret::Result(ty) => ty.span(),
        };
        let (constructor, output, return_check) = match ret {
            Ret::Value(ty) => (
                respan(quote!(#private::value_stage), ty.span()),
                quote!(#ty),
                // A `Result` behind an alias would be taken as a value: refuse it.
                quote_spanned! {ty.span()=>
                    #[allow(dead_code)]
                    fn __timbr_return_type() {
                        #[allow(unused_imports)]
                        use #private::{
                            ResultKind as _, TextResultKind as _, UnitKind as _, ValueKind as _,
                        };
                        (&&&#private::Probe::<(), #ty>::of())
                            .__timbr_kind()
                            .plain(::core::marker::PhantomData::<#ty>);
                    }
                },
            ),
            // An error type or only `Display`: chosen by autoref dispatch, as for closures.
            Ret::Result(ty) => (
                respan(
                    quote!((&&&#private::Probe::<(), #ty>::of()).__timbr_kind().build),
                    ty.span(),
                ),
                quote_spanned!(ty.span()=> <#ty as #private::ResultOk>::Ok),
                quote!(),
            ),
        };
        // The whole call spanned on the return type (callee and parentheses; the arguments
        // keep their own spans): a missing `Serialize` or `Display` is reported there.
        let mut call_args = proc_macro2::Group::new(
            proc_macro2::Delimiter::Parenthesis,
            quote!(#slot, #name, #keys, |#(#params),*| #ident(#(#calls),*)),
        );
        call_args.set_span(ret_span);
        let checks = self.wiring_checks();
        let header = self.header();
        // Spanned on the expression: one that is not a `RetryPolicy` is reported there.
        let retry = self.retry.map(|e| quote_spanned!(e.span()=> .retry(#e)));
        quote! {
            #header
            #[allow(unreachable_pub)]
            const _: () = {
                impl #private::StageDef for #ident {
                    const SLOT: usize = #slot;
                    type Output = #output;
                    type Checks = Self;
                    fn stage() -> #private::Stage {
                        #[allow(unused_imports)]
                        use #private::{
                            ResultKind as _, TextResultKind as _, UnitKind as _, ValueKind as _,
                        };
                        #constructor #call_args #retry
                    }
                }
                #checks
                #return_check
            };
        }
    }

    /// The struct and what every expansion has, valid or not.
    fn header(&self) -> TokenStream {
        let ident = &self.func.sig.ident;
        let vis = &self.func.vis;
        let doc = format!(
            "The stage of [`{ident}`](fn@{ident}) (generated by `#[stage]`): `{ident}::stage()`."
        );
        quote! {
            #[doc = #doc]
            #[doc(hidden)]
            #[allow(non_camel_case_types, dead_code, unreachable_pub)]
            #vis struct #ident {}
        }
    }

    /// The per-argument wiring checks `from_stages!` instantiates, and `name::stage()`.
    fn wiring_checks(&self) -> TokenStream {
        let ident = &self.func.sig.ident;
        let vis = &self.func.vis;
        let private = quote!(::timbr_core::__private);
        let mut traits = Vec::new();
        let mut input_bounds = Vec::new();
        let mut slot_bounds = Vec::new();
        for arg in self.args {
            let (k, is_input) = match arg.key {
                Key::Input => (0, true),
                Key::Slot(k) => (k, false),
                _ => continue,
            };
            let inner = arg.held();
            let check = format_ident!("__TimbrArg{}", arg.index);
            let arg_name = arg.name.unraw().to_string();
            let expected = pretty(&arg.inner);
            let (message, label, mut note) = if is_input {
                (
                    format!(
                        "stage `{}` expects `{arg_name}: &{expected}`, but this machine's datum is a `{{Self}}`",
                        self.name
                    ),
                    "this machine's datum is a `{Self}`".to_owned(),
                    "`input` is the datum put on the machine: the `T` of `Machine<T>`".to_owned(),
                )
            } else {
                (
                    format!(
                        "stage `{}` expects `{arg_name}: &{expected}`, but `f{k}` holds a `{{Self}}`",
                        self.name
                    ),
                    format!("`f{k}` holds a `{{Self}}` in this machine"),
                    format!(
                        "`f{k}` is what the stage at slot {k} returns; an empty slot holds what \
                         the slot before it holds (the datum, before any stage)"
                    ),
                )
            };
            if arg.held.is_some() {
                note.push_str("; a `&str` argument reads a `String`");
            }
            traits.push(quote_spanned! {arg.name.span()=>
                #[diagnostic::on_unimplemented(message = #message, label = #label, note = #note)]
                pub trait #check {}
                impl #check for #inner {}
                impl #check for #private::Erroneous {}
            });
            // Spanned on the argument: "required by this bound" then shows the user's code.
            let span = arg.name.span();
            if is_input {
                input_bounds.push(respan(quote!(__TimbrT: #check), span));
            } else {
                slot_bounds.push(respan(
                    quote! {
                        __TimbrM: #private::At<#k, __TimbrT>,
                        <__TimbrM as #private::At<#k, __TimbrT>>::Out: #check
                    },
                    span,
                ));
            }
        }
        // Spanned on the function's name: "required for `name` to implement …" points there.
        let span = ident.span();
        let check_input = respan(
            quote!(impl<__TimbrT> #private::CheckInput<__TimbrT> for #ident),
            span,
        );
        let check_slots = respan(
            quote!(impl<__TimbrM, __TimbrT> #private::CheckSlots<__TimbrM, __TimbrT> for #ident),
            span,
        );
        quote! {
            #(#traits)*
            #check_input
            where
                #(#input_bounds,)*
            {}
            #check_slots
            where
                #(#slot_bounds,)*
            {}
            #[allow(dead_code, unreachable_pub)]
            impl #ident {
                /// The [`Stage`](::timbr_core::Stage) of this `#[stage]` function.
                #vis fn stage() -> #private::Stage {
                    <Self as #private::StageDef>::stage()
                }
            }
        }
    }

    /// What stands for the glue when the stage has errors: enough for `from_stages!` and
    /// `name::stage()` to resolve, so that only the real mistakes are reported.
    fn stand_in(&self, slot: Option<usize>, ret: Option<&Ret>) -> TokenStream {
        let ident = &self.func.sig.ident;
        let vis = &self.func.vis;
        let private = quote!(::timbr_core::__private);
        // An invalid slot is placed where it shows to no other stage.
        let slot = slot.unwrap_or(usize::MAX);
        let output = match ret {
            Some(Ret::Value(ty)) => quote!(#ty),
            Some(Ret::Result(ty)) => quote!(<#ty as #private::ResultOk>::Ok),
            None => quote!(#private::Erroneous),
        };
        let header = self.header();
        let types = type_checks(self.args);
        quote! {
            #header
            #[allow(unreachable_pub)]
            const _: () = {
                impl #private::StageDef for #ident {
                    const SLOT: usize = #slot;
                    type Output = #output;
                    type Checks = Self;
                    fn stage() -> #private::Stage {
                        #private::erroneous_stage()
                    }
                }
                impl<__TimbrT> #private::CheckInput<__TimbrT> for #ident {}
                impl<__TimbrM, __TimbrT> #private::CheckSlots<__TimbrM, __TimbrT> for #ident {}
                #[allow(dead_code, unreachable_pub)]
                impl #ident {
                    #vis fn stage() -> #private::Stage {
                        #private::erroneous_stage()
                    }
                }
                #types
            };
        }
    }
}
