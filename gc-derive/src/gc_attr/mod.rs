//! `#[gc]`: slot fields on structs, barriered assignments in code.
//!
//! # Pipeline
//!
//! The entry point parses the item and dispatches on its kind; each kind is parse → check →
//! expand, reporting to one [`Ctxt`], and every path emits its output even when it reported
//! errors (with the mistake undone, or the [`fallback`]), so the user sees their errors and
//! not a cascade.
//!
//! | item                        | module       | what happens                                    |
//! | --------------------------- | ------------ | ----------------------------------------------- |
//! | struct with named fields    | [`strukt`]   | slot fields, derive, constructor, accessors, registry |
//! | `impl` block, function      | [`rewrite`]  | slot assignments become barrier calls           |
//! | inline module               | [`module`]   | both, for everything inside                     |
//! | anything else               | [`reject`]   | "`#[gc]` may only be used on ..."               |
//!
//! Arguments are parsed by [`args`] for the item kind.
//!
//! # How the rewrite knows the slot names
//!
//! The rewrite turns `place.field = value` into a barrier call when `field` is the name of a
//! slot field of a `#[gc]` struct. A macro sees one item's tokens and no types, so the names
//! have to reach it:
//!
//! - **`#[gc] mod m { ... }`**: the slot fields of every `#[gc]` struct declared anywhere
//!   inside the module, which the module's own expansion reads directly.
//! - **`#[gc] impl Type { ... }`** (outside such a module): the slots of `Type`. Each `#[gc]`
//!   struct `Type` comes with a hidden registry, `macro_rules! __gc_slots_Type`, made nameable
//!   by a `pub(crate) use` next to the struct. `#[gc] impl Type` expands to a call of
//!   `__gc_slots_Type!` (with the path the impl gives, so `#[gc] impl a::Type` calls
//!   `a::__gc_slots_Type!`); the registry calls `#[gc]` back with the slot names and the item,
//!   through the hidden argument `__private(slots(...), types(...))`, and that call rewrites.
//!   The struct must therefore be declared with `#[gc]` in the same module, or reached by a
//!   path, or its registry imported next to it (`use a::{Type, __gc_slots_Type};`).
//! - **`#[gc(Type1, Type2)] fn f(...)`** or **`#[gc(Type1)] impl Other`**: the slots of the
//!   listed types, asked from their registries one after another. A list replaces the impl's
//!   self type: write `#[gc(Other, Type1)]` if `Other` is a `#[gc]` struct too. `#[gc]` on a
//!   function with no list is an error, since there is nothing to ask.
//!
//! The registry calls `#[::gc_runtime::gc]`, so only `gc_runtime`'s re-export of the attribute
//! is needed; user crates never name `gc_derive`.
//!
//! # Name collisions
//!
//! The rewrite is by field name, not by type. Inside `#[gc]` code, assigning a plain field
//! that happens to share its name with a slot field (`other.next = 3` where `next` is a slot of
//! a listed struct) is rewritten too, and fails to compile with the runtime's `SlotAssign`
//! message: "`u32` is not a GC slot that accepts `{integer}`", whose note says to assign it
//! outside `#[gc]` code or rename it. It never compiles into a wrong store.
//!
//! # Recognising `#[gc]` and the types
//!
//! `#[gc]`, `#[gc_runtime::gc]` and `#[::gc_runtime::gc]` are all recognised (by the last
//! path segment), as are `Gc<T>` and `Option<Gc<T>>` spelled with any path; a user type named
//! `Gc` in a `#[gc]` struct is taken for ours.

pub(crate) mod args;
pub(crate) mod fallback;
pub(crate) mod module;
pub(crate) mod rewrite;
pub(crate) mod strukt;

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::{Attribute, Fields, Item};

use self::args::Target;
use crate::{ctxt::Ctxt, symbol::GC, util::last_ident_is};

/// `#[gc(args)] item`: the whole expansion, errors included.
pub(crate) fn expand(args: TokenStream, input: TokenStream) -> TokenStream {
    let mut item = match syn::parse2::<Item>(input.clone()) {
        Ok(item) => item,
        Err(err) => {
            // Not an item syn knows; keep the user's tokens so only this error shows.
            let mut tokens = err.into_compile_error();
            tokens.extend(input);
            return tokens;
        }
    };
    let cx = Ctxt::new();
    if let Some(attrs) = item_attrs(&mut item) {
        // The attribute being expanded is not among them: any `#[gc]` left is a second one.
        for attr in attrs.iter().filter(|attr| is_gc_attr(attr)) {
            cx.error_spanned_by(attr, "duplicate #[gc] attribute; remove this one");
        }
        attrs.retain(|attr| !is_gc_attr(attr));
    }
    let output = match item {
        Item::Struct(item) if matches!(item.fields, Fields::Named(_)) => {
            let args = args::parse(&cx, args, Target::Struct);
            strukt::GcStruct::from_syn(&cx, &item).expand(&args.constructor)
        }
        Item::Impl(item) => rewrite::expand_impl(&cx, args::parse(&cx, args, Target::Impl), item),
        Item::Fn(item) => rewrite::expand_fn(&cx, args::parse(&cx, args, Target::Fn), item),
        Item::Mod(item) => module::expand(&cx, args::parse(&cx, args, Target::Mod), item),
        item => reject(&cx, item),
    };
    match cx.check() {
        Ok(()) => output,
        Err(err) => {
            let mut tokens = err.into_compile_error();
            tokens.extend(output);
            tokens
        }
    }
}

/// The message for `#[gc]` on an item it does not support.
const UNSUPPORTED: &str =
    "#[gc] may only be used on structs with named fields, impl blocks, functions and inline modules";

/// Reports `#[gc]` on an unsupported `item`, at its keyword and name, and returns the
/// fallback for it.
pub(crate) fn reject(cx: &Ctxt, item: Item) -> TokenStream {
    match &item {
        Item::Struct(item) => match &item.fields {
            Fields::Unnamed(fields) => cx.error_spanned_by(
                fields,
                "#[gc] supports structs with named fields; name this struct's fields \
                 (`struct Name { field: Type }`)",
            ),
            _ => {
                let (struct_token, ident) = (&item.struct_token, &item.ident);
                cx.error_spanned_by(
                    quote!(#struct_token #ident),
                    "#[gc] supports structs with named fields; a unit struct has no slots, \
                     use #[derive(Trace)]",
                );
            }
        },
        Item::Enum(item) => {
            let (enum_token, ident) = (&item.enum_token, &item.ident);
            cx.error_spanned_by(
                quote!(#enum_token #ident),
                "#[gc] supports structs with named fields; for an enum, use Member<T> fields \
                 and #[derive(Trace)]",
            );
        }
        Item::Union(item) => {
            let (union_token, ident) = (&item.union_token, &item.ident);
            cx.error_spanned_by(
                quote!(#union_token #ident),
                "#[gc] supports structs with named fields; a union cannot be traced",
            );
        }
        Item::Trait(item) => {
            let (trait_token, ident) = (&item.trait_token, &item.ident);
            cx.error_spanned_by(
                quote!(#trait_token #ident),
                format_args!(
                    "{UNSUPPORTED}; for a trait, put #[gc(Node, ...)] on each provided method that \
                     assigns slots"
                ),
            );
        }
        Item::Static(item) => {
            let (static_token, ident) = (&item.static_token, &item.ident);
            cx.error_spanned_by(quote!(#static_token #ident), UNSUPPORTED);
        }
        Item::Const(item) => {
            let (const_token, ident) = (&item.const_token, &item.ident);
            cx.error_spanned_by(quote!(#const_token #ident), UNSUPPORTED);
        }
        Item::Type(item) => {
            let (type_token, ident) = (&item.type_token, &item.ident);
            cx.error_spanned_by(quote!(#type_token #ident), UNSUPPORTED);
        }
        Item::Use(item) => cx.error_spanned_by(item.use_token, UNSUPPORTED),
        Item::ForeignMod(item) => cx.error_spanned_by(&item.abi, UNSUPPORTED),
        Item::ExternCrate(item) => {
            let (extern_token, crate_token, ident) = (&item.extern_token, &item.crate_token, &item.ident);
            cx.error_spanned_by(quote!(#extern_token #crate_token #ident), UNSUPPORTED);
        }
        Item::Macro(item) => cx.error_spanned_by(&item.mac.path, UNSUPPORTED),
        other => cx.error_spanned_by(other, UNSUPPORTED),
    }
    match item {
        Item::Struct(_) | Item::Enum(_) => fallback::data_item(item),
        Item::Trait(_) => fallback::stub_bodies(item),
        item => item.into_token_stream(),
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

#[cfg(test)]
mod snapshot;
#[cfg(test)]
mod tests;
