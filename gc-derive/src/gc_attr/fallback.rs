//! What `#[gc]` emits next to its errors for an input it rejected, so the user sees those
//! and not a cascade.
//!
//! # Why not just the errors
//!
//! A rejected input (`ast::Input::Rejected`) has nothing to expand. If it vanished, every use of it would add "cannot find" errors; if it were
//! emitted unchanged, each `Gc<T>` field would add "missing lifetime specifier", and each slot
//! assignment a type mismatch. So:
//!
//! - an enum, a tuple struct or a unit struct keeps its shape, with `Gc<T>` / `Option<Gc<T>>`
//!   fields turned into slots and `#[derive(::gc_runtime::Trace)]` added (unless it is
//!   there): what the user most likely meant, minus the constructor and accessors;
//! - a function or impl block whose slot names cannot be known, or a trait, keeps its
//!   signatures, with bodies that are `::core::unreachable!()` (as thiserror's fallback does),
//!   since its assignments cannot be rewritten;
//! - anything else (a static, a union, ...) is emitted unchanged.
//!
//! None of this is ever compiled into a program: it only comes with a `compile_error!`.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::{parse_quote, Attribute, Fields, ImplItem, Item, TraitItem, TraitItemFn};

use super::attr::{append_derive_trace, derive_trace_paths};
use crate::types::{classify, keep_used, without_gc, FieldType};

/// The stand-in for `item`, which `#[gc]` rejected.
pub(crate) fn expand(item: &Item) -> TokenStream {
    match item {
        Item::Struct(_) | Item::Enum(_) => data_item(item.clone()),
        Item::Trait(_) | Item::Fn(_) | Item::Impl(_) => stub_bodies(item.clone()),
        item => item.into_token_stream(),
    }
}

/// `item` with every function body (a trait's provided methods included) replaced by
/// `::core::unreachable!()`.
fn stub_bodies(mut item: Item) -> TokenStream {
    let stub = |attrs: &mut Vec<Attribute>, block: &mut syn::Block| {
        // The parameters of a stub are never read.
        attrs.push(parse_quote!(#[allow(unused_variables)]));
        *block = parse_quote!({ ::core::unreachable!() });
    };
    match &mut item {
        Item::Fn(item) => stub(&mut item.attrs, &mut item.block),
        Item::Impl(item) => {
            for impl_item in &mut item.items {
                if let ImplItem::Fn(method) = impl_item {
                    stub(&mut method.attrs, &mut method.block);
                }
            }
        }
        Item::Trait(item) => {
            for trait_item in &mut item.items {
                if let TraitItem::Fn(TraitItemFn { attrs, default: Some(block), .. }) = trait_item {
                    stub(attrs, block);
                }
            }
        }
        _ => {}
    }
    item.into_token_stream()
}

/// An enum, tuple struct or unit struct that `#[gc]` rejected, as its author most likely
/// meant it: slot field types and a derived `Trace`.
fn data_item(mut item: Item) -> TokenStream {
    // The item's own rejection is the error to show; one per unsupported `Gc` would only add
    // noise, so what is wrong with the fields is repaired without a word.
    let (attrs, fields): (&mut Vec<Attribute>, Vec<&mut Fields>) = match &mut item {
        Item::Struct(item) => (&mut item.attrs, vec![&mut item.fields]),
        Item::Enum(item) => (&mut item.attrs, item.variants.iter_mut().map(|variant| &mut variant.fields).collect()),
        _ => return item.into_token_stream(),
    };
    if derive_trace_paths(attrs).is_empty() {
        append_derive_trace(attrs);
    }
    let mut gc_paths = Vec::new();
    for field in fields.into_iter().flat_map(|fields| fields.iter_mut()) {
        let ty = match classify(&field.ty) {
            FieldType::Slot { slot, .. } => {
                gc_paths.push(slot.gc_path());
                slot.field_type()
            }
            FieldType::MalformedGc { .. } | FieldType::Plain { .. } => {
                let (ty, replaced) = without_gc(&field.ty);
                gc_paths.extend(replaced);
                ty
            }
        };
        field.ty = ty;
    }
    let keep_used = keep_used(&gc_paths);
    quote! {
        #item
        #keep_used
    }
}
