//! Code generation for `#[gc]` on an inline module.
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
//! - a `#[gc]` struct is expanded here (its slots are already known), through the same stages
//!   as on its own: `ast`, `valid`, then `strukt`;
//! - `#[gc]` on an impl of one of the module's `#[gc]` structs, on a function, or on a nested
//!   module is removed: the module's rewrite covers it;
//! - `#[gc(Types...)]` with a list, or `#[gc]` on an impl of a type declared outside the
//!   module, is kept, as `#[::gc_runtime::gc(...)]`, so it asks those types' registries
//!   afterwards; rewriting the same code twice is harmless (a rewritten assignment is a call);
//! - `#[gc]` anywhere else (an enum, a trait, `mod m;`, a field, ...) is reported, as it would
//!   be outside a module, and a rejected item gets the same stand-in (`fallback`).
//!
//! The errors found here are reported as they are met, to the `Ctxt` of the module's own
//! expansion, so they come out in the order of the source.
//!
//! Passes: (1) collect the `#[gc]` structs and their slot names; (2) handle the attributes,
//! replacing each struct by its expansion (opaque `Item::Verbatim` tokens, which the rewrite
//! does not enter); (3) rewrite every assignment in the module.

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{
    ext::IdentExt,
    parse_quote_spanned,
    spanned::Spanned,
    visit_mut::{self, VisitMut},
    Attribute, Fields, ForeignItem, ImplItem, ImplItemFn, Item, ItemMod, Meta, TraitItem, TraitItemFn, Type, TypePath,
    Variant,
};

use super::{
    rewrite::{self, Reach, Slots},
    strukt,
};
use crate::{
    ctxt::Ctxt,
    gc_attr::{
        args::{self, Target},
        ast::Struct,
        attr::{attr_args, is_gc_attr, item_attrs, reject_elsewhere, take_gc_attrs},
        fallback, valid,
    },
};

/// `#[gc]` on `item`, an inline module, once every registry it lists has been asked (their
/// slot names are in `slots`): the three passes.
pub(crate) fn expand(cx: &Ctxt, mut slots: Slots, mut item: ItemMod) -> TokenStream {
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
            if matches!(strukt.fields, Fields::Named(_)) && strukt.attrs.iter().any(is_gc_attr) {
                // Mistakes are reported by pass 2; this pass only needs the names.
                self.slots.extend(Struct::from_syn(strukt).slot_names());
                self.structs.insert(strukt.ident.unraw().to_string());
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
                    // The same stages as for a struct on its own.
                    let args = args::parse(self.cx, attr_args(self.cx, &attr), Target::Struct);
                    let strukt = strukt.clone();
                    let parsed = Struct::from_syn(&strukt);
                    valid::check_struct(self.cx, &parsed);
                    *item = Item::Verbatim(strukt::expand(&parsed, &args.constructor));
                    return;
                }
            }
            Item::Impl(imp) => {
                let self_ty = (*imp.self_ty).clone();
                self.handle_code(&mut imp.attrs, Target::Impl, Some(&self_ty));
            }
            Item::Fn(func) => self.handle_code(&mut func.attrs, Target::Fn, None),
            Item::Mod(module) if module.content.is_some() => self.handle_code(&mut module.attrs, Target::Mod, None),
            _ => {
                // Anything else `#[gc]` cannot expand (`mod m;` included): the same stages as
                // for a rejected item on its own.
                if let Some(attrs) = item_attrs(item) {
                    if take_gc_attrs(self.cx, attrs).is_some() {
                        valid::check_rejected(self.cx, item);
                        *item = Item::Verbatim(fallback::expand(item));
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
