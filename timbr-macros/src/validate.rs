//! The checks on a stage's signature: argument names against the keys its slot may read,
//! argument types (borrowed, concrete), the function itself (not generic, async, unsafe or a
//! method) and its return type. Every mistake is recorded; what is valid is returned.

use std::fmt::Display;

use proc_macro2::Span;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{FnArg, Ident, Pat, ReturnType, Signature, Type};

use crate::errors::Errors;
use crate::key::{choices, suggest, ArgKey, MAX_ARGS};

/// One parameter as written: its pattern and, unless a closure left it out, its type.
pub(crate) struct Param<'a> {
    pub(crate) pat: &'a Pat,
    pub(crate) ty: Option<&'a Type>,
}

/// A valid argument.
pub(crate) struct Arg {
    /// Its position among the parameters.
    pub(crate) index: usize,
    /// Its name, as written (spans point at the user's code).
    pub(crate) name: Ident,
    /// The key the name reads.
    pub(crate) key: ArgKey,
    /// The referenced type: `X` of `&X`.
    pub(crate) inner: Type,
    /// The type the key holds, when the user's differs: `String` for a `&str` that is not
    /// a `_s` argument (no key holds a `str`, so `&str` reads a `String`).
    pub(crate) held: Option<Type>,
}

impl Arg {
    /// The type the key holds for this argument (`_s` and `oid` aside).
    pub(crate) fn held(&self) -> &Type {
        self.held.as_ref().unwrap_or(&self.inner)
    }
}

/// What a stage returns.
pub(crate) enum Ret {
    /// An infallible stage's value type.
    Value(Type),
    /// A fallible stage's `Result<R, E>` (spelled `Result` in its last segment).
    Result(Type),
}

/// Checks the parameters of a stage at `slot` (`None` if the slot is itself invalid) and
/// returns the valid arguments, in order, and `true` if every parameter was valid.
pub(crate) fn params(slot: Option<usize>, params: &[Param<'_>], errors: &mut Errors) -> Vec<Arg> {
    let mut args: Vec<Arg> = Vec::with_capacity(params.len());
    let mut seen: Vec<ArgKey> = Vec::with_capacity(params.len());
    for (index, param) in params.iter().enumerate() {
        if index == MAX_ARGS {
            errors.spanning(
                param.pat,
                format_args!("a stage takes at most {MAX_ARGS} arguments"),
            );
        }
        let name = name(param.pat, errors);
        let key = name.as_ref().and_then(|name| key(name, slot, errors));
        if let Some(key) = key {
            if seen.contains(&key) {
                errors.spanning(
                    param.pat,
                    format_args!(
                        "`{key_name}` is asked for twice",
                        key_name = show(param.pat)
                    ),
                );
            }
            seen.push(key);
        }
        let inner = match param.ty {
            Some(ty) => inner_type(ty, errors),
            None => {
                errors.spanning(
                    param.pat,
                    format_args!("give the argument's type: `{}: &T`", show(param.pat)),
                );
                None
            }
        };
        if let (Some(name), Some(key), Some(inner)) = (name, key, inner) {
            let is_str = matches!(strip(&inner), Type::Path(p) if p.qself.is_none() && p.path.is_ident("str"));
            let held = (is_str && !key.is_serialized() && key != ArgKey::Oid)
                .then(|| syn::parse_quote!(::std::string::String));
            args.push(Arg {
                index,
                name,
                key,
                inner,
                held,
            });
        }
    }
    args
}

fn show(tokens: impl ToTokens) -> String {
    tokens.to_token_stream().to_string()
}

/// The identifier a parameter binds, if it is a plain name.
fn name(pat: &Pat, errors: &mut Errors) -> Option<Ident> {
    match pat {
        Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Some(p.ident.clone()),
        _ => {
            errors.spanning(
                pat,
                "a stage argument must be a plain name, which says what it receives: \
                 `input`, `oid`, `f0`, `f0_s`, …",
            );
            None
        }
    }
}

/// The key an argument name reads, checked against the stage's slot.
fn key(name: &Ident, slot: Option<usize>, errors: &mut Errors) -> Option<ArgKey> {
    let text = name.to_string();
    let text = text.strip_prefix("r#").unwrap_or(&text);
    let Some(key) = ArgKey::parse(text) else {
        let hint = match suggest(text, slot) {
            Some(s) => format!(" (did you mean `{s}`?)"),
            None => String::new(),
        };
        errors.at(
            name.span(),
            format_args!(
                "unknown stage argument `{text}`{hint}: expected one of {}",
                choices(slot)
            ),
        );
        return None;
    };
    if let (Some(k), Some(n)) = (key.slot(), slot) {
        if k >= n {
            let why: &dyn Display = match n {
                0 => &"a stage at slot 0 comes first",
                _ => &format_args!("a stage at slot {n} reads only earlier slots"),
            };
            errors.at(
                name.span(),
                format_args!(
                    "`{text}` is not before this stage's slot: {why}, so expected one of {}",
                    choices(slot)
                ),
            );
            return None;
        }
    }
    Some(key)
}

/// `X` of an argument type `&X`, or the mistake recorded.
fn inner_type(ty: &Type, errors: &mut Errors) -> Option<Type> {
    let Type::Reference(r) = strip(ty) else {
        errors.spanning(
            ty,
            format_args!("a stage argument is borrowed: take it as `&{}`", pretty(ty)),
        );
        return None;
    };
    let mut ok = true;
    if let Some(m) = &r.mutability {
        errors.at(
            m.span(),
            "a stage argument is a shared reference (`&T`): stages cannot change the values they read",
        );
        ok = false;
    }
    if let Some(lifetime) = &r.lifetime {
        errors.spanning(
            lifetime,
            "remove the lifetime: a stage argument is borrowed only for the call (`&T`)",
        );
        ok = false;
    }
    if let Some(span) = find_impl(&r.elem) {
        errors.at(
            span,
            "`impl Trait` makes the stage generic: a stage's arguments need concrete types",
        );
        ok = false;
    }
    ok.then(|| (*r.elem).clone())
}

fn strip(ty: &Type) -> &Type {
    match ty {
        Type::Paren(p) => strip(&p.elem),
        Type::Group(g) => strip(&g.elem),
        other => other,
    }
}

/// The span of an `impl Trait` inside a type, if any.
fn find_impl(ty: &Type) -> Option<Span> {
    match ty {
        Type::ImplTrait(i) => Some(i.span()),
        Type::Reference(r) => find_impl(&r.elem),
        Type::Paren(p) => find_impl(&p.elem),
        Type::Group(g) => find_impl(&g.elem),
        Type::Array(a) => find_impl(&a.elem),
        Type::Slice(s) => find_impl(&s.elem),
        Type::Ptr(p) => find_impl(&p.elem),
        Type::Tuple(t) => t.elems.iter().find_map(find_impl),
        Type::Path(p) => p.path.segments.iter().find_map(|s| match &s.arguments {
            syn::PathArguments::AngleBracketed(a) => a.args.iter().find_map(|a| match a {
                syn::GenericArgument::Type(t) => find_impl(t),
                _ => None,
            }),
            _ => None,
        }),
        _ => None,
    }
}

/// A type as a user writes it (`serde_json::Value`, `Vec<u8>`), for messages.
pub(crate) fn pretty(tokens: impl ToTokens) -> String {
    let mut out = tokens.to_token_stream().to_string();
    for (from, to) in [
        (" :: ", "::"),
        (":: ", "::"),
        (" <", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" ,", ","),
        ("& ", "&"),
        ("( ", "("),
        (" )", ")"),
        ("[ ", "["),
        (" ]", "]"),
        (" ;", ";"),
    ] {
        out = out.replace(from, to);
    }
    out
}

/// The checks on a function signature, except its parameters.
pub(crate) fn signature(sig: &Signature, errors: &mut Errors) {
    if let Some(a) = &sig.asyncness {
        errors.at(
            a.span(),
            "a stage cannot be `async`: the machine calls its stages synchronously, on its own threads",
        );
    }
    if let Some(u) = &sig.unsafety {
        errors.at(
            u.span(),
            "a stage cannot be `unsafe`: the machine calls it with nothing to uphold its safety contract",
        );
    }
    if !sig.generics.params.is_empty() {
        errors.spanning(
            &sig.generics,
            "a stage cannot be generic: the machine checks its concrete argument and return types",
        );
    } else if let Some(w) = &sig.generics.where_clause {
        errors.spanning(
            w,
            "a stage cannot have a `where` clause: the machine checks concrete types",
        );
    }
    if let Some(v) = &sig.variadic {
        errors.spanning(v, "a stage cannot be variadic");
    }
    for input in &sig.inputs {
        if let FnArg::Receiver(r) = input {
            errors.spanning(
                r,
                format_args!(
                    "a stage is a free function: `self` is not an argument it can ask for \
                     (expected one of {})",
                    choices(None)
                ),
            );
        }
    }
}

/// The return type of a function stage, or the mistake recorded.
pub(crate) fn fn_return(sig: &Signature, errors: &mut Errors) -> Option<Ret> {
    match &sig.output {
        ReturnType::Default => {
            errors.at(
                sig.ident.span(),
                format_args!(
                    "a stage must return a value: add a return type, `fn {}(…) -> T`",
                    sig.ident
                ),
            );
            None
        }
        ReturnType::Type(_, ty) => return_type(ty, errors),
    }
}

/// Classifies a written return type, refusing `()`, `!` and `impl Trait`.
pub(crate) fn return_type(ty: &Type, errors: &mut Errors) -> Option<Ret> {
    match strip(ty) {
        Type::Tuple(t) if t.elems.is_empty() => {
            errors.spanning(ty, "a stage must return a value, not `()`");
            None
        }
        Type::Never(_) => {
            errors.spanning(ty, "a stage must return a value, not `!`");
            None
        }
        _ if find_impl(ty).is_some() => {
            errors.spanning(
                ty,
                "name the return type: `impl Trait` hides what the slot holds, which later \
                 stages and the machine's checks need to know",
            );
            None
        }
        Type::Path(p) if p.qself.is_none() && last_is_result(&p.path) => {
            Some(Ret::Result(ty.clone()))
        }
        _ => Some(Ret::Value(ty.clone())),
    }
}

fn last_is_result(path: &syn::Path) -> bool {
    path.segments.last().is_some_and(|s| s.ident == "Result")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_types_read_as_written() {
        let ty: Type = syn::parse_quote!(&std::collections::HashMap<String, Vec<(u8, f64)>>);
        assert_eq!(
            pretty(&ty),
            "&std::collections::HashMap<String, Vec<(u8, f64)>>"
        );
    }

    #[test]
    fn result_returns_are_recognised_by_their_last_segment() {
        let mut errors = Errors::default();
        for (ty, fallible) in [
            (syn::parse_quote!(Result<f64, String>), true),
            (syn::parse_quote!(std::io::Result<u8>), true),
            (syn::parse_quote!(Option<u8>), false),
            (syn::parse_quote!(ResultSet), false),
        ] {
            let ty: Type = ty;
            let ret = return_type(&ty, &mut errors).unwrap();
            assert_eq!(matches!(ret, Ret::Result(_)), fallible, "{}", pretty(&ty));
        }
        assert!(errors.is_empty());
    }
}
