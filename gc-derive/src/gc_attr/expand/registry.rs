//! The slot registries: how `#[gc]` code learns the slot names of a `#[gc]` struct declared
//! elsewhere.
//!
//! # The protocol
//!
//! A macro sees one item's tokens and no types, so the names travel through macros. Each
//! `#[gc]` struct `Node` comes with a hidden `macro_rules! __gc_slots_Node`, made nameable by a
//! `pub(crate) use` next to the struct ([`expand`]). `#[gc]` code that assigns `Node`'s slots
//! expands to a call of that macro with the item ([`call`]):
//!
//! ```text
//! a::__gc_slots_Node! { [slots gathered so far,] [registries still to ask] item }
//! ```
//!
//! and the registry expands to the item again under
//! `#[::gc_runtime::gc(__private(slots(.., its own slots), types(..)))]`, the hidden form of the
//! attribute's arguments. That call asks the next registry in the same way; when none is left,
//! it rewrites the item with every slot name gathered.
//!
//! The registry calls `#[::gc_runtime::gc]`, so only `gc_runtime`'s re-export of the attribute
//! is needed; user crates never name `gc_derive`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, ToTokens};
use syn::{ext::IdentExt, Attribute, Ident, Path, PathArguments};

/// The registry macro's name for a `#[gc]` struct named `name`: `__gc_slots_Name`.
pub(crate) fn registry_ident(name: &Ident) -> Ident {
    format_ident!("__gc_slots_{}", name.unraw(), span = name.span())
}

/// `#[doc(hidden)] macro_rules! __gc_slots_Name` and its `pub(crate) use`, for the struct
/// `name` with the slot fields `slots`, under the struct's `cfgs`.
pub(crate) fn expand<'a>(name: &Ident, slots: impl Iterator<Item = &'a Ident>, cfgs: &[&Attribute]) -> TokenStream {
    let registry = registry_ident(name);
    quote! {
        #(#cfgs)*
        #[doc(hidden)]
        #[allow(
            // Only `#[gc]` code that assigns this struct's slots calls it.
            unused_macros,
        )]
        macro_rules! #registry {
            ([$($slots:tt)*] [$($types:tt)*] $($item:tt)*) => {
                #[::gc_runtime::gc(__private(slots($($slots)* #(#slots,)*), types($($types)*)))]
                $($item)*
            };
        }
        #(#cfgs)*
        #[doc(hidden)]
        #[allow(
            // Likewise: the import exists so `#[gc]` code in other modules can name it.
            unused_imports,
        )]
        pub(crate) use #registry;
    }
}

/// `path::__gc_slots_Name! { [slots,] [rest types] item }`, asking the registry of `ty`.
///
/// The registry's name is spanned at the user's type name, so a type that is not a `#[gc]`
/// struct (or whose registry is not in scope) gets "cannot find macro `__gc_slots_Name`"
/// there.
pub(crate) fn call(ty: &Path, slots: &[Ident], rest: &[Path], item: &impl ToTokens) -> TokenStream {
    let mut registry = ty.clone();
    for segment in &mut registry.segments {
        segment.arguments = PathArguments::None;
    }
    if let Some(last) = registry.segments.last_mut() {
        last.ident = registry_ident(&last.ident);
    }
    quote! {
        #registry! { [#(#slots,)*] [#(#rest),*] #item }
    }
}
