//! The attributes `#[gc]` looks at: its own, `#[derive(Trace)]`, `#[trace(skip)]`, `#[cfg]`.
//!
//! # Recognising `#[gc]`
//!
//! `#[gc]`, `#[gc_runtime::gc]` and `#[::gc_runtime::gc]` are all recognised, by the last
//! path segment ([`is_gc_attr`]). The compiler removes the `#[gc]` being expanded from the item;
//! any other `#[gc]` on it is a duplicate ([`strip_duplicates`]). Inside a `#[gc]` module the
//! module's expansion finds the `#[gc]`s itself, keeps the first on each item
//! ([`take_gc_attrs`]), and reports those on things `#[gc]` cannot be on, such as fields and
//! enum variants ([`reject_elsewhere`]).
//!
//! # Other attributes
//!
//! A `#[derive(...)]` that names `Trace` next to `#[gc]` is found by [`derive_trace_paths`],
//! a `#[trace(skip)]` on a field by [`trace_skip`], and the `#[cfg]`s that must follow a field
//! or a struct onto the code generated for it by [`cfgs_of`]. Malformed ones of these are left
//! for the compiler or the derive to report.

use proc_macro2::TokenStream;
use syn::{parse_quote, punctuated::Punctuated, Attribute, Item, Meta, Path, Token};

use crate::{
    ctxt::Ctxt,
    symbol::{Symbol, BOUND, DERIVE, GC, SKIP, TRACE, TRACE_TRAIT},
    util::{is_cfg_only, last_ident_is, take_value},
};

/// The message for `#[gc]` on something it does not support.
pub(crate) const UNSUPPORTED: &str =
    "#[gc] may only be used on structs with named fields, impl blocks, functions and inline modules";

/// Whether `attr` is `#[gc]`, `#[gc(...)]`, `#[gc_runtime::gc]`, ...
pub(crate) fn is_gc_attr(attr: &Attribute) -> bool {
    last_ident_is(attr.path(), GC)
}

/// The attributes of any item kind that has them.
pub(crate) fn item_attrs(item: &mut Item) -> Option<&mut Vec<Attribute>> {
    Some(match item {
        Item::Const(item) => &mut item.attrs,
        Item::Enum(item) => &mut item.attrs,
        Item::ExternCrate(item) => &mut item.attrs,
        Item::Fn(item) => &mut item.attrs,
        Item::ForeignMod(item) => &mut item.attrs,
        Item::Impl(item) => &mut item.attrs,
        Item::Macro(item) => &mut item.attrs,
        Item::Mod(item) => &mut item.attrs,
        Item::Static(item) => &mut item.attrs,
        Item::Struct(item) => &mut item.attrs,
        Item::Trait(item) => &mut item.attrs,
        Item::TraitAlias(item) => &mut item.attrs,
        Item::Type(item) => &mut item.attrs,
        Item::Union(item) => &mut item.attrs,
        Item::Use(item) => &mut item.attrs,
        _ => return None,
    })
}

/// Reports and removes every `#[gc]` in `attrs`, the attributes of the item being expanded:
/// the one being expanded is not among them, so any left is a second one.
pub(crate) fn strip_duplicates(cx: &Ctxt, attrs: &mut Vec<Attribute>) {
    for attr in attrs.iter().filter(|attr| is_gc_attr(attr)) {
        cx.error_spanned_by(attr, "duplicate #[gc] attribute; remove this one");
    }
    attrs.retain(|attr| !is_gc_attr(attr));
}

/// Removes every `#[gc]` from `attrs` and returns the first; later ones are reported.
pub(crate) fn take_gc_attrs(cx: &Ctxt, attrs: &mut Vec<Attribute>) -> Option<Attribute> {
    let mut found = attrs.iter().filter(|attr| is_gc_attr(attr)).cloned();
    let first = found.next();
    for duplicate in found {
        cx.error_spanned_by(duplicate, "duplicate #[gc] attribute; remove this one");
    }
    attrs.retain(|attr| !is_gc_attr(attr));
    first
}

/// The tokens inside `#[gc(...)]`; reports `#[gc = ...]`.
pub(crate) fn attr_args(cx: &Ctxt, attr: &Attribute) -> TokenStream {
    match &attr.meta {
        Meta::Path(_) => TokenStream::new(),
        Meta::List(list) => list.tokens.clone(),
        Meta::NameValue(meta) => {
            cx.error_spanned_by(meta, "#[gc = ...] is not supported; write #[gc] or #[gc(...)]");
            TokenStream::new()
        }
    }
}

/// Reports and removes every `#[gc]` in `attrs`, which belong to something `#[gc]` cannot be
/// on (a field, a variant, an associated const, ...), inside a `#[gc]` item.
pub(crate) fn reject_elsewhere(cx: &Ctxt, attrs: &mut Vec<Attribute>) {
    for attr in attrs.iter().filter(|attr| is_gc_attr(attr)) {
        cx.error_spanned_by(attr, UNSUPPORTED);
    }
    attrs.retain(|attr| !is_gc_attr(attr));
}

/// Appends `#[derive(::gc_runtime::Trace)]` to `attrs`, followed by the struct's own
/// `#[trace(...)]`s (`#[trace(bound = "...")]`), which the derive reads.
///
/// A derive's helper attribute written before the derive that introduces it is rejected by
/// rustc's `legacy_derive_helpers` lint (deny by default), so those attributes are moved
/// after the derive rather than left where the user wrote them.
pub(crate) fn append_derive_trace(attrs: &mut Vec<Attribute>) {
    let (helpers, rest): (Vec<_>, Vec<_>) = attrs.drain(..).partition(|attr| attr.path() == TRACE);
    *attrs = rest;
    attrs.push(parse_quote!(#[derive(::gc_runtime::Trace)]));
    attrs.extend(helpers);
}

/// Every `Trace` named in the `#[derive(...)]`s among `attrs`.
pub(crate) fn derive_trace_paths(attrs: &[Attribute]) -> Vec<Path> {
    let mut found = Vec::new();
    for attr in attrs.iter().filter(|attr| attr.path() == DERIVE) {
        // A malformed derive list is the compiler's to report.
        let Ok(paths) = attr.parse_args_with(Punctuated::<Path, Token![,]>::parse_terminated) else {
            continue;
        };
        found.extend(paths.into_iter().filter(|path| last_ident_is(path, TRACE_TRAIT)));
    }
    found
}

/// The `skip` of a `#[trace(skip)]`, if `attr` is one.
pub(crate) fn trace_skip(attr: &Attribute) -> Option<Path> {
    trace_arg(attr, SKIP)
}

/// The `bound` of a `#[trace(bound = "...")]`, if `attr` is one.
pub(crate) fn trace_bound(attr: &Attribute) -> Option<Path> {
    trace_arg(attr, BOUND)
}

/// The argument `word` of `attr`, if `attr` is a `#[trace(...)]` that has one.
fn trace_arg(attr: &Attribute, word: Symbol) -> Option<Path> {
    if attr.path() != TRACE {
        return None;
    }
    let mut found = None;
    // Malformed `#[trace(...)]` is the derive's to report.
    let _ = attr.parse_nested_meta(|meta| {
        if meta.path == word && found.is_none() {
            found = Some(meta.path.clone());
        }
        take_value(meta.input).map(drop)
    });
    found
}

/// The attributes among `attrs` that must follow generated code around (see `is_cfg_only`).
pub(crate) fn cfgs_of(attrs: &[Attribute]) -> Vec<&Attribute> {
    attrs.iter().filter(|attr| is_cfg_only(attr)).collect()
}
