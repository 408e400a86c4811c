//! `#[gc]` on an inline module.
//!
//! # What the module covers
//!
//! Everything inside `mod m { ... }`, at any depth (nested inline modules, impl blocks,
//! traits' provided methods, items inside function bodies), is rewritten with the slot names
//! of every `#[gc]` struct declared anywhere in it, plus those of the types listed in
//! `#[gc(...)]` on the module.
//!
//! # `#[gc]` attributes inside the module
//!
//! The module's macro runs first and owns every `#[gc]` attribute inside it, so nothing is
//! expanded twice:
//!
//! - a `#[gc]` struct is expanded here (its slots are already known);
//! - `#[gc]` on an impl of one of the module's `#[gc]` structs, on a function, or on a nested
//!   module is removed: the module's rewrite covers it;
//! - `#[gc(Types...)]` with a list, or `#[gc]` on an impl of a type declared outside the
//!   module, is kept, as `#[::gc_runtime::gc(...)]`, so it asks those types' registries
//!   afterwards; rewriting the same code twice is harmless (a rewritten assignment is a call);
//! - `#[gc]` anywhere else (an enum, a trait, a field, ...) is reported, as it would be outside
//!   a module.
//!
//! Passes: (1) collect the `#[gc]` structs and their slot names; (2) handle the attributes,
//! replacing each struct by its expansion (opaque `Item::Verbatim` tokens, which the rewrite
//! does not enter); (3) rewrite every assignment in the module.

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::{
    ext::IdentExt,
    parse_quote_spanned,
    spanned::Spanned,
    visit_mut::{self, VisitMut},
    Attribute, Fields, ForeignItem, ImplItem, ImplItemFn, Item, ItemMod, Meta, TraitItem, TraitItemFn, Type, TypePath,
    Variant,
};

use super::{
    args::{self, Args, Target},
    item_attrs, reject, reject_elsewhere,
    rewrite::{self, call_registry, Reach, Slots},
    strukt::GcStruct,
    take_gc_attrs,
};
use crate::ctxt::Ctxt;

/// `#[gc]` on `item`, a module.
pub(crate) fn expand(cx: &Ctxt, args: Args, item: ItemMod) -> TokenStream {
    if item.content.is_none() {
        let (mod_token, ident, semi) = (&item.mod_token, &item.ident, &item.semi);
        cx.error_spanned_by(
            quote!(#mod_token #ident #semi),
            "#[gc] on a module needs its body inline (`mod m { ... }`); \
             put #[gc] on the items in that file instead",
        );
        return item.into_token_stream();
    }
    let mut pending = args.types.iter();
    if let Some(next) = pending.next() {
        return call_registry(next, &args.slots, pending.as_slice(), &item);
    }
    let mut slots = Slots::default();
    slots.extend(&args.slots);
    expand_inline(cx, slots, item)
}

/// The three passes, once every listed registry has been asked.
fn expand_inline(cx: &Ctxt, mut slots: Slots, mut item: ItemMod) -> TokenStream {
    let mut collect = Collect { structs: BTreeSet::new(), slots: &mut slots };
    collect.visit_item_mod_mut(&mut item);
    let structs = collect.structs;

    let mut attrs = HandleAttrs { cx, structs: &structs };
    if let Some((_, content)) = &mut item.content {
        for inner in content.iter_mut() {
            attrs.visit_item_mut(inner);
        }
        for inner in content.iter_mut() {
            rewrite::rewrite_item(&slots, inner, Reach::Module);
        }
    }
    item.into_token_stream()
}

/// Pass 1: the names of the module's `#[gc]` structs and of their slot fields.
struct Collect<'a> {
    /// Struct names, to tell an impl of one of them from an impl of an outside type.
    structs: BTreeSet<String>,
    /// Slot names, added to.
    slots: &'a mut Slots,
}

impl VisitMut for Collect<'_> {
    fn visit_item_mut(&mut self, item: &mut Item) {
        if let Item::Struct(strukt) = item {
            if matches!(strukt.fields, Fields::Named(_)) && strukt.attrs.iter().any(super::is_gc_attr) {
                // Problems are reported once, by pass 2; this pass only needs the names.
                let scratch = Ctxt::new();
                let parsed = GcStruct::from_syn(&scratch, strukt);
                self.slots.extend(parsed.slot_names());
                self.structs.insert(strukt.ident.unraw().to_string());
                let _ = scratch.check();
            }
        }
        visit_mut::visit_item_mut(self, item);
    }
}

/// Pass 2: every `#[gc]` attribute in the module, handled or reported.
struct HandleAttrs<'a> {
    /// Errors.
    cx: &'a Ctxt,
    /// The module's `#[gc]` struct names.
    structs: &'a BTreeSet<String>,
}

impl HandleAttrs<'_> {
    /// Takes the `#[gc]` out of `attrs` (reporting any duplicate) and returns what to put
    /// back: `None` if the module covers the item, or the attribute as
    /// `#[::gc_runtime::gc(...)]` if it names registries to ask (a list of types, or an impl of
    /// a type declared outside the module).
    fn kept_attr(&self, attrs: &mut Vec<Attribute>, target: Target, self_ty: Option<&Type>) -> Option<Attribute> {
        let attr = take_gc_attrs(self.cx, attrs)?;
        let args = args::parse(self.cx, attr_args(self.cx, &attr), target);
        let outside_impl = self_ty.is_some_and(|ty| !self.is_module_struct(ty));
        if args.types.is_empty() && !outside_impl {
            return None;
        }
        let tokens = match &attr.meta {
            Meta::List(list) => list.tokens.clone(),
            _ => TokenStream::new(),
        };
        let span = attr.path().span();
        Some(if tokens.is_empty() {
            parse_quote_spanned!(span=> #[::gc_runtime::gc])
        } else {
            parse_quote_spanned!(span=> #[::gc_runtime::gc(#tokens)])
        })
    }

    /// Whether an impl's self type is one of the module's `#[gc]` structs (by name).
    fn is_module_struct(&self, ty: &Type) -> bool {
        match ty {
            Type::Path(TypePath { qself: None, path }) => {
                path.segments.last().is_some_and(|segment| self.structs.contains(&segment.ident.unraw().to_string()))
            }
            _ => false,
        }
    }

    /// Applies [`HandleAttrs::kept_attr`] to a function-like item's attributes.
    fn handle_code(&self, attrs: &mut Vec<Attribute>, target: Target, self_ty: Option<&Type>) {
        if let Some(kept) = self.kept_attr(attrs, target, self_ty) {
            attrs.insert(0, kept);
        }
    }
}

impl VisitMut for HandleAttrs<'_> {
    fn visit_item_mut(&mut self, item: &mut Item) {
        match item {
            Item::Struct(strukt) if matches!(strukt.fields, Fields::Named(_)) => {
                if let Some(attr) = take_gc_attrs(self.cx, &mut strukt.attrs) {
                    let args = args::parse(self.cx, attr_args(self.cx, &attr), Target::Struct);
                    let strukt = strukt.clone();
                    let parsed = GcStruct::from_syn(self.cx, &strukt);
                    *item = Item::Verbatim(parsed.expand(&args.constructor));
                    return;
                }
            }
            Item::Impl(imp) => {
                let self_ty = (*imp.self_ty).clone();
                self.handle_code(&mut imp.attrs, Target::Impl, Some(&self_ty));
            }
            Item::Fn(func) => self.handle_code(&mut func.attrs, Target::Fn, None),
            Item::Mod(module) => {
                if module.content.is_none() {
                    if take_gc_attrs(self.cx, &mut module.attrs).is_some() {
                        let (mod_token, ident, semi) = (&module.mod_token, &module.ident, &module.semi);
                        self.cx.error_spanned_by(
                            quote!(#mod_token #ident #semi),
                            "#[gc] on a module needs its body inline (`mod m { ... }`); \
                             put #[gc] on the items in that file instead",
                        );
                    }
                } else {
                    self.handle_code(&mut module.attrs, Target::Mod, None);
                }
            }
            _ => {
                if let Some(attrs) = item_attrs(item) {
                    if take_gc_attrs(self.cx, attrs).is_some() {
                        let rejected = std::mem::replace(item, Item::Verbatim(TokenStream::new()));
                        *item = Item::Verbatim(reject(self.cx, rejected));
                        return;
                    }
                }
            }
        }
        visit_mut::visit_item_mut(self, item);
    }

    fn visit_impl_item_mut(&mut self, item: &mut ImplItem) {
        match item {
            ImplItem::Fn(ImplItemFn { attrs, .. }) => self.handle_code(attrs, Target::Fn, None),
            ImplItem::Const(syn::ImplItemConst { attrs, .. })
            | ImplItem::Type(syn::ImplItemType { attrs, .. })
            | ImplItem::Macro(syn::ImplItemMacro { attrs, .. }) => reject_elsewhere(self.cx, attrs),
            _ => {}
        }
        visit_mut::visit_impl_item_mut(self, item);
    }

    fn visit_trait_item_mut(&mut self, item: &mut TraitItem) {
        match item {
            TraitItem::Fn(TraitItemFn { attrs, default: Some(_), .. }) => self.handle_code(attrs, Target::Fn, None),
            TraitItem::Fn(TraitItemFn { attrs, .. })
            | TraitItem::Const(syn::TraitItemConst { attrs, .. })
            | TraitItem::Type(syn::TraitItemType { attrs, .. })
            | TraitItem::Macro(syn::TraitItemMacro { attrs, .. }) => reject_elsewhere(self.cx, attrs),
            _ => {}
        }
        visit_mut::visit_trait_item_mut(self, item);
    }

    fn visit_foreign_item_mut(&mut self, item: &mut ForeignItem) {
        match item {
            ForeignItem::Fn(syn::ForeignItemFn { attrs, .. })
            | ForeignItem::Static(syn::ForeignItemStatic { attrs, .. })
            | ForeignItem::Type(syn::ForeignItemType { attrs, .. })
            | ForeignItem::Macro(syn::ForeignItemMacro { attrs, .. }) => reject_elsewhere(self.cx, attrs),
            _ => {}
        }
        visit_mut::visit_foreign_item_mut(self, item);
    }

    fn visit_field_mut(&mut self, field: &mut syn::Field) {
        reject_elsewhere(self.cx, &mut field.attrs);
        visit_mut::visit_field_mut(self, field);
    }

    fn visit_variant_mut(&mut self, variant: &mut Variant) {
        reject_elsewhere(self.cx, &mut variant.attrs);
        visit_mut::visit_variant_mut(self, variant);
    }

    fn visit_local_mut(&mut self, local: &mut syn::Local) {
        reject_elsewhere(self.cx, &mut local.attrs);
        visit_mut::visit_local_mut(self, local);
    }
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
