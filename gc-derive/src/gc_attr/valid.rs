//! The checks of a `#[gc]` input, each reported at the offending token with what to write
//! instead.
//!
//! # On a struct
//!
//! | mistake                              | reported at         | what the expansion does   |
//! | ------------------------------------ | ------------------- | ------------------------- |
//! | `Trace` in `#[derive(...)]`          | `Trace`             | keeps the user's derive   |
//! | `#[gc]` on a field                   | the attribute       | drops it                  |
//! | `Gc<'a, T>`                          | the lifetime        | drops it                  |
//! | `Gc`, `Gc<A, B>`                     | the `Gc` type       | keeps the field as written |
//! | `Vec<Gc<T>>` (a `Gc` in a plain type) | the inner `Gc<T>`  | makes it `Member<T>`      |
//! | `Gc<Vec<Gc<T>>>` (in a referent)     | the inner `Gc<T>`   | keeps the slot as written |
//! | `#[trace(skip)]` on a slot field     | `skip`              | drops it                  |
//! | a slot whose getter or setter is named like an earlier generated method | the field | leaves that method out |
//!
//! Each mistake is undone where it can be, so the struct still expands into what the user most
//! likely meant and the error is not followed by a cascade of the compiler's own.
//!
//! # On anything else
//!
//! A rejected input ([`Input::Rejected`]) is reported at its keyword and name, with the
//! message for its kind: what `#[gc]` supports, and what to use instead. Code (impl blocks,
//! functions, modules) has nothing to check beyond its arguments, which `args` reported.

use std::collections::HashMap;

use proc_macro2::Span;
use quote::quote;
use syn::{ext::IdentExt, Fields, Ident, Item};

use super::{
    args::Constructor,
    ast::{Input, Struct},
    attr::UNSUPPORTED,
};
use crate::{ctxt::Ctxt, types::FieldType};

/// Runs every check on `input`, reporting failures to `cx`.
pub(crate) fn check(cx: &Ctxt, input: &Input<'_>) {
    match input {
        Input::Struct(strukt, constructor) => {
            check_struct(cx, strukt);
            for clash in name_clashes(strukt, constructor) {
                cx.error_spanned_by(clash.field, clash.message());
            }
        }
        Input::Code(_) => {}
        Input::Rejected(item) => check_rejected(cx, item),
    }
}

/// The checks of a struct with named fields, in the order of its tokens.
pub(crate) fn check_struct(cx: &Ctxt, strukt: &Struct<'_>) {
    for path in &strukt.derive_trace {
        cx.error_spanned_by(path, "#[gc] already implements Trace; remove Trace from #[derive(...)]");
    }
    for field in &strukt.fields {
        for attr in &field.gc_attrs {
            cx.error_spanned_by(
                attr,
                "#[gc] goes on the struct, not on a field; a field of type `Gc<T>` or \
                 `Option<Gc<T>>` becomes a slot by itself",
            );
        }
        check_field_type(cx, &field.ty);
        if let (Some(_), Some(skip)) = (field.slot(), &field.skip) {
            cx.error_spanned_by(
                skip,
                "#[trace(skip)] is not allowed on a `Gc` field; the collector would miss it; \
                 remove #[trace(skip)]",
            );
        }
    }
}

/// A method `#[gc]` would generate under a name an earlier one already has: the getter `f` or
/// the setter `set_f` of the slot `field`, against the constructor or another slot's accessor.
pub(crate) struct NameClash<'a> {
    /// The later slot field, where the clash is reported.
    pub(crate) field: &'a Ident,
    /// The name both methods would have.
    pub(crate) name: String,
    /// What the later method is ("the setter of the slot `next`").
    what: String,
    /// What the earlier one is.
    other: String,
}

impl NameClash<'_> {
    fn message(&self) -> String {
        let fix = if self.other == "the constructor" {
            "; rename the field, or name the constructor with #[gc(constructor = \"...\")]"
        } else {
            "; rename one of the two fields"
        };
        format!("#[gc] would generate two methods named `{}`: {} and {}{fix}", self.name, self.what, self.other)
    }
}

/// The clashes among the methods `#[gc]` generates for `strukt` (the constructor, then a
/// getter `f` and a setter `set_f` per slot, in field order); without this check they are
/// rustc's "duplicate definitions" at the attribute, naming neither field. The expansion leaves
/// out each clashing method, so that error does not follow. Fields under a `#[cfg]` are left
/// out of the check: two of them may share names under exclusive conditions.
pub(crate) fn name_clashes<'a>(strukt: &Struct<'a>, constructor: &Constructor) -> Vec<NameClash<'a>> {
    let mut taken: HashMap<String, String> = HashMap::new();
    if let Constructor::Named(name) = constructor {
        taken.insert(name.unraw().to_string(), "the constructor".to_string());
    }
    let mut clashes = Vec::new();
    for field in strukt.fields.iter().filter(|field| field.slot().is_some() && field.cfgs.is_empty()) {
        let name = field.ident.unraw().to_string();
        let methods = [
            (name.clone(), format!("the getter of the slot `{name}`")),
            (format!("set_{name}"), format!("the setter of the slot `{name}`")),
        ];
        for (method, what) in methods {
            match taken.get(&method) {
                Some(other) => clashes.push(NameClash { field: field.ident, name: method, what, other: other.clone() }),
                None => {
                    taken.insert(method, what);
                }
            }
        }
    }
    clashes
}

/// Reports what is wrong with how a field's type is written.
fn check_field_type(cx: &Ctxt, ty: &FieldType<'_>) {
    let (lifetimes, malformed, nested) = match ty {
        FieldType::Slot { lifetimes, nested, .. } => (&lifetimes[..], None, nested),
        FieldType::MalformedGc { gc, lifetimes } => (&lifetimes[..], Some(gc), &None),
        FieldType::Plain { nested } => (&[][..], None, nested),
    };
    for lifetime in lifetimes {
        cx.error_spanned_by(
            lifetime,
            "remove this lifetime: a `Gc` field of a #[gc] struct is written `Gc<T>`; \
             it becomes a slot, which is not tied to a mutator borrow",
        );
    }
    if let Some(gc) = malformed {
        cx.error_spanned_by(gc, "a `Gc` field is written `Gc<T>`, with the type it points to as its only argument");
    }
    if let Some(segment) = nested {
        cx.error_spanned_by(
            segment,
            "#[gc] makes a slot only of a field whose type is `Gc<T>` or `Option<Gc<T>>`; \
             a `Gc` inside another type cannot be stored in the heap, use `Member<T>` there",
        );
    }
}

/// Reports `#[gc]` on an item it cannot expand, at its keyword and name.
pub(crate) fn check_rejected(cx: &Ctxt, item: &Item) {
    match item {
        Item::Fn(_) => {
            // The call site of an attribute macro is the attribute: that is what needs
            // arguments.
            cx.syn_error(syn::Error::new(
                Span::call_site(),
                "#[gc] on a function needs the #[gc] structs whose slots it assigns: write #[gc(Node, ...)]",
            ));
        }
        Item::Impl(item) => cx.error_spanned_by(
            &item.self_ty,
            "#[gc] cannot tell which #[gc] struct this impl block is for; \
             list the structs whose slots it assigns: #[gc(Node, ...)]",
        ),
        Item::Mod(item) => {
            let (mod_token, ident, semi) = (&item.mod_token, &item.ident, &item.semi);
            cx.error_spanned_by(
                quote!(#mod_token #ident #semi),
                "#[gc] on a module needs its body inline (`mod m { ... }`); \
                 put #[gc] on the items in that file instead",
            );
        }
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
}
