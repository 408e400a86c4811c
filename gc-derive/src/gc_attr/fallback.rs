//! What `#[gc]` emits next to its errors, so the user sees those and not a cascade.
//!
//! # Why not just the errors
//!
//! If a rejected item vanished, every use of it would add "cannot find" errors; if it were
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
use syn::{
    parse_quote, punctuated::Punctuated, Attribute, Fields, ImplItem, Item, Path, Token, TraitItem, TraitItemFn,
};

use super::strukt::{classify, without_gc};
use crate::{
    ctxt::Ctxt,
    symbol::{DERIVE, TRACE_TRAIT},
    util::last_ident_is,
};

/// `item` with every function body (a trait's provided methods included) replaced by
/// `::core::unreachable!()`.
pub(crate) fn stub_bodies(mut item: Item) -> TokenStream {
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
pub(crate) fn data_item(mut item: Item) -> TokenStream {
    // The item's own rejection is the error to show; one per unsupported `Gc` would only add
    // noise, so field problems are collected here and dropped.
    let scratch = Ctxt::new();
    let (attrs, fields): (&mut Vec<Attribute>, Vec<&mut Fields>) = match &mut item {
        Item::Struct(item) => (&mut item.attrs, vec![&mut item.fields]),
        Item::Enum(item) => (&mut item.attrs, item.variants.iter_mut().map(|variant| &mut variant.fields).collect()),
        _ => return item.into_token_stream(),
    };
    if !derives_trace(attrs) {
        attrs.push(parse_quote!(#[derive(::gc_runtime::Trace)]));
    }
    let mut gc_paths = Vec::new();
    for field in fields.into_iter().flat_map(|fields| fields.iter_mut()) {
        let ty = match classify(&scratch, &field.ty) {
            Some(slot) => {
                gc_paths.push(slot.gc_path());
                slot.field_type()
            }
            None => {
                let (ty, replaced) = without_gc(&field.ty);
                gc_paths.extend(replaced);
                ty
            }
        };
        field.ty = ty;
    }
    let _ = scratch.check();
    let keep_used = keep_used(&gc_paths);
    quote! {
        #item
        #keep_used
    }
}

/// Names each of `gc_paths` (the user's paths to `Gc`, replaced by slot types next to an
/// error) once more, so their `use gc_runtime::Gc` does not add an "unused import" warning
/// to the error.
pub(crate) fn keep_used(gc_paths: &[Path]) -> TokenStream {
    let mut seen: Vec<String> = Vec::new();
    let mut tokens = TokenStream::new();
    for gc in gc_paths {
        let key = gc.to_token_stream().to_string();
        if !seen.contains(&key) {
            seen.push(key);
            tokens.extend(quote! {
                const _: ::core::marker::PhantomData<#gc<'static, ()>> = ::core::marker::PhantomData;
            });
        }
    }
    tokens
}

/// Whether `attrs` has a `#[derive(..., Trace, ...)]`.
fn derives_trace(attrs: &[Attribute]) -> bool {
    attrs.iter().filter(|attr| attr.path() == DERIVE).any(|attr| {
        attr.parse_args_with(Punctuated::<Path, Token![,]>::parse_terminated)
            .is_ok_and(|paths| paths.iter().any(|path| last_ident_is(path, TRACE_TRAIT)))
    })
}
