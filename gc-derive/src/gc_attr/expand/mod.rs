//! Code generation for the `#[gc]` inputs that are not rejected.
//!
//! # By kind of input
//!
//! | input                         | module       | output                                              |
//! | ----------------------------- | ------------ | --------------------------------------------------- |
//! | struct with named fields      | [`strukt`]   | slot fields, derive, constructor, accessors, and its [`registry`] |
//! | code with registries to ask   | [`registry`] | a call of the next registry, which calls `#[gc]` back |
//! | impl block, function          | [`rewrite`]  | the item, slot assignments turned into barrier calls |
//! | inline module                 | [`module`]   | both, for every item inside it                      |
//!
//! An input may carry mistakes that `valid` reported; each expansion undoes them where it can
//! (see `valid`), so the output is what the user most likely meant.

pub(crate) mod module;
pub(crate) mod registry;
pub(crate) mod rewrite;
pub(crate) mod strukt;

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::Item;

use self::rewrite::{rewrite_item, Reach, Slots};
use super::{
    args::Constructor,
    ast::{Code, Struct},
};
use crate::ctxt::Ctxt;

/// `#[gc]` on a struct with named fields: the struct, its impl and its registry.
pub(crate) fn expand_struct(strukt: &Struct<'_>, constructor: &Constructor) -> TokenStream {
    strukt::expand(strukt, constructor)
}

/// `#[gc]` on code: asks the next registry, or rewrites the item once none is left.
///
/// `cx` takes the errors found in a module's items, which are only seen as the module is
/// expanded.
pub(crate) fn expand_code(cx: &Ctxt, code: &Code<'_>) -> TokenStream {
    if let Some((next, rest)) = code.registries.split_first() {
        return registry::call(next, &code.slots, rest, code.item);
    }
    let mut slots = Slots::default();
    slots.extend(&code.slots);
    match code.item {
        Item::Mod(item) => module::expand(cx, slots, item.clone()),
        item => {
            let mut item = item.clone();
            rewrite_item(&slots, &mut item, Reach::Item);
            item.into_token_stream()
        }
    }
}
