//! Code generation for `#[gc]` on a struct with named fields.
//!
//! # What a field becomes
//!
//! | field as written  | field in the expanded struct    | constructor parameter     | accessors                                              |
//! | ----------------- | ------------------------------- | ------------------------- | ------------------------------------------------------ |
//! | `Gc<T>`           | `::gc_runtime::NonNullMember<T>` | `Gc<'_, T>`               | `f(&self, &'m Mutator) -> Gc<'m, T>`, `set_f(Gc<'_, T>)` |
//! | `Option<Gc<T>>`   | `::gc_runtime::Member<T>`        | `Option<Gc<'_, T>>`       | `f(..) -> Option<Gc<'m, T>>`, `set_f(Option<Gc<'_, T>>)` |
//! | anything else     | unchanged                        | the field's type          | none                                                   |
//!
//! `Gc` and `Option` are recognised by the last segment of their path (`crate::types`), so
//! `gc_runtime::Gc<T>` and `std::option::Option<Gc<T>>` count too. An `Option` that is not
//! the standard one (a type of the user's named `Option`) is a compile error at the field,
//! from a check the expansion adds (`Slot::option_check`), not a field silently replaced. The generated signatures
//! spell `Gc` with the path the field used, so they resolve the same way and the user's
//! `use gc_runtime::Gc` stays used.
//!
//! # Expansion
//!
//! 1. The struct, with slot field types replaced and `#[derive(::gc_runtime::Trace)]`
//!    appended to its attributes, followed by the struct's own `#[trace(bound = "...")]` if
//!    it has one (a derive helper must come after its derive). The derive, not this attribute, implements `Trace`: derives
//!    run after `cfg`/`cfg_attr` are applied to the fields, attribute macros before (the lesson
//!    pin-project documents), so only the derive sees which fields really exist.
//! 2. In `const _: () = { ... };`, an inherent impl with the constructor (`new`, or the name
//!    from `constructor = "..."`, or none with `no_constructor`) and a getter and a setter per
//!    slot. The constructor allocates the object with empty slots, then sets each slot through
//!    the barrier: a slot only works inside an allocated object, and a new object has no
//!    referents the barrier did not see. Every field's `#[cfg]` (and cfg-only `#[cfg_attr]`)
//!    is copied onto its constructor parameter, its initialiser, its `set` statement and its
//!    accessors, so a disabled field vanishes everywhere.
//! 3. The slot registry (`super::registry`), which hands the slot field names to `#[gc]` code
//!    elsewhere.
//!
//! # After a mistake
//!
//! The struct is expanded even when `valid` reported mistakes in it, with each undone where
//! possible: the lifetime of a `Gc<'a, T>` dropped, a `#[gc]` on a field or a `#[trace(skip)]`
//! on a slot removed, the user's `#[derive(Trace)]` used instead of ours, a `Gc` nested in a
//! plain field's type made a `Member`. So the user sees the one error and not a cascade from
//! a struct that failed to exist.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::{ext::IdentExt, GenericParam, Generics, Ident, ItemStruct, Lifetime};

use super::registry;
use crate::{
    gc_attr::{
        args::Constructor,
        ast::{Field, Struct},
        attr::{append_derive_trace, is_gc_attr, trace_skip},
        valid,
    },
    types::{keep_used, Slot},
};

/// The full expansion: struct, impl, registry.
pub(crate) fn expand(strukt: &Struct<'_>, constructor: &Constructor) -> TokenStream {
    let item = expand_struct(strukt);
    let inherent = expand_impl(strukt, constructor);
    let registry = registry::expand(&strukt.original.ident, strukt.slot_names(), &strukt.cfgs);
    let replaced: Vec<_> = strukt.fields.iter().flat_map(|field| field.replaced.iter().cloned()).collect();
    let keep_used = keep_used(&replaced);
    quote! {
        #item
        #inherent
        #registry
        #keep_used
    }
}

/// The struct with slot types in place and the derive appended.
fn expand_struct(strukt: &Struct<'_>) -> ItemStruct {
    let mut item = strukt.original.clone();
    item.attrs.retain(|attr| !is_gc_attr(attr));
    if strukt.derive_trace.is_empty() {
        append_derive_trace(&mut item.attrs);
    }
    for (field, ir) in item.fields.iter_mut().zip(&strukt.fields) {
        field.attrs.retain(|attr| !is_gc_attr(attr));
        match ir.slot() {
            Some(slot) => {
                field.attrs.retain(|attr| trace_skip(attr).is_none());
                field.ty = slot.field_type();
            }
            None => field.ty = ir.plain_type.clone(),
        }
    }
    item
}

/// `impl Name { constructor, accessors }`, in an anonymous `const`.
fn expand_impl(strukt: &Struct<'_>, constructor: &Constructor) -> TokenStream {
    let name = &strukt.original.ident;
    let (impl_generics, ty_generics, where_clause) = strukt.original.generics.split_for_impl();
    let m = fresh_lifetime(&strukt.original.generics);
    // A clash was reported (`valid::name_clashes`); leave the later method out.
    let clashing: Vec<(&Ident, String)> =
        valid::name_clashes(strukt, constructor).into_iter().map(|clash| (clash.field, clash.name)).collect();
    let constructor = match constructor {
        Constructor::Named(fn_name) => Some(expand_constructor(strukt, fn_name, &m)),
        Constructor::Omitted => None,
    };
    let accessors = strukt.fields.iter().filter_map(|field| {
        let keep = |method: &Ident| !clashing.iter().any(|(f, n)| *f == field.ident && method.unraw() == *n);
        expand_accessors(field, name, &m, keep)
    });
    let option_checks = strukt.fields.iter().filter_map(|field| {
        let check = field.slot()?.option_check()?;
        let cfgs = &field.cfgs;
        Some(quote!(#(#cfgs)* #check))
    });
    let cfgs = &strukt.cfgs;
    quote! {
        #(#cfgs)*
        const _: () = {
            #(#option_checks)*
            #[allow(
                // The paths are absolute so that user imports cannot shadow them; some
                // carry the user's spans (field types), which this lint would flag.
                unused_qualifications,
            )]
            impl #impl_generics #name #ty_generics #where_clause {
                #constructor
                #(#accessors)*
            }
        };
    }
}

/// `new(mu, field, ...)`: allocate with empty slots, then set each slot.
fn expand_constructor(strukt: &Struct<'_>, fn_name: &Ident, m: &Lifetime) -> TokenStream {
    let vis = &strukt.original.vis;
    let name = &strukt.original.ident;
    // Mixed-site: a field named `mu` or `__gc_object` is a parameter of its own.
    let mu = Ident::new("mu", Span::mixed_site());
    let object = Ident::new("__gc_object", Span::mixed_site());
    let fields_ref = Ident::new("__gc_fields", Span::mixed_site());
    let params = strukt.fields.iter().map(|field| {
        let (cfgs, ident) = (&field.cfgs, field.ident);
        let ty = match field.slot() {
            Some(slot) => param_type(slot, &quote!('_)),
            None => field.plain_type.to_token_stream(),
        };
        quote!(#(#cfgs)* #ident: #ty)
    });
    let inits = strukt.fields.iter().map(|field| {
        let (cfgs, ident) = (&field.cfgs, field.ident);
        match field.slot() {
            Some(slot) => {
                let slot_type = slot.slot_path();
                quote!(#(#cfgs)* #ident: #slot_type::new())
            }
            None => quote!(#(#cfgs)* #ident),
        }
    });
    let sets: Vec<_> = strukt
        .fields
        .iter()
        .filter_map(|field| {
            let (cfgs, ident) = (&field.cfgs, field.ident);
            let slot_type = field.slot()?.slot_path();
            Some(quote!(#(#cfgs)* #slot_type::set(&#fields_ref.#ident, #ident);))
        })
        .collect();
    let fields_ref_binding =
        (!sets.is_empty()).then(|| quote!(let #fields_ref: &Self = ::gc_runtime::Gc::into_ref(#object);));
    let bounds = allocation_bounds(&strukt.original.generics, strukt.trace_bound);
    // Spanned at the struct's name: a field type that is not `Send`, `Sync`, `'static` or
    // `Trace` makes `alloc` fail, and that is where the user should look.
    let alloc = quote_spanned!(name.span()=> ::gc_runtime::Mutator::alloc(#mu, Self { #(#inits,)* }));
    let doc = [
        format!(" Allocates a new `{name}` on the GC heap and returns a local pointing to it."),
        String::new(),
        " One parameter per field, in declaration order; the slot fields are set through the".to_owned(),
        " write barrier right after allocation. Generated by `#[gc]`.".to_owned(),
    ];
    quote! {
        #(#[doc = #doc])*
        #[allow(
            // One parameter per field.
            clippy::too_many_arguments,
        )]
        #vis fn #fn_name<#m>(#mu: &#m ::gc_runtime::Mutator, #(#params),*) -> ::gc_runtime::Gc<#m, Self>
        #bounds
        {
            let #object = #alloc;
            #fields_ref_binding
            #(#sets)*
            #object
        }
    }
}

/// The getter and the setter of a slot field; `None` for a plain field.
fn expand_accessors(
    field: &Field<'_>,
    struct_name: &Ident,
    m: &Lifetime,
    keep: impl Fn(&Ident) -> bool,
) -> Option<TokenStream> {
    let slot = field.slot()?;
    let (cfgs, ident, vis) = (&field.cfgs, field.ident, &field.original.vis);
    let setter = format_ident!("set_{}", ident.unraw(), span = ident.span());
    let mu = Ident::new("mu", Span::mixed_site());
    let value = Ident::new("value", Span::mixed_site());
    let slot_type = slot.slot_path();
    let getter_type = param_type(slot, &m.to_token_stream());
    let setter_type = param_type(slot, &quote!('_));
    let field = ident.unraw();
    let (getter_doc, setter_doc) = if slot.nullable {
        (
            format!(" The object in `{struct_name}::{field}`, as a local of `mu`; `None` if the slot is empty."),
            format!(" Stores `value` (or empties the slot) in `{struct_name}::{field}` through the write barrier."),
        )
    } else {
        (
            format!(" The object in `{struct_name}::{field}`, as a local of `mu`."),
            format!(" Stores `value` in `{struct_name}::{field}` through the write barrier."),
        )
    };
    let getter = keep(ident).then(|| {
        quote! {
            #(#cfgs)*
            #[doc = #getter_doc]
            #[inline]
            #[allow(
                // Accessors are generated for every slot, whether the program uses them or not.
                dead_code,
            )]
            #vis fn #ident<#m>(&self, #mu: &#m ::gc_runtime::Mutator) -> #getter_type {
                #slot_type::get(&self.#ident, #mu)
            }
        }
    });
    let setter = keep(&setter).then(|| {
        quote! {
            #(#cfgs)*
            #[doc = #setter_doc]
            #[inline]
            #[allow(
                // As above.
                dead_code,
            )]
            #vis fn #setter(&self, #value: #setter_type) {
                #slot_type::set(&self.#ident, #value)
            }
        }
    });
    Some(quote!(#getter #setter))
}

/// What a constructor parameter, a getter or a setter uses: `Gc<'lt, T>` or
/// `Option<Gc<'lt, T>>`, with the user's path to `Gc`.
fn param_type(slot: &Slot<'_>, lifetime: &TokenStream) -> TokenStream {
    let (gc, referent) = (slot.gc_path(), slot.referent);
    let local = quote!(#gc<#lifetime, #referent>);
    if slot.nullable {
        quote!(::core::option::Option<#local>)
    } else {
        local
    }
}

/// `'m`, unless the struct already has a lifetime of that name; then `'m1`, `'m2`, ...
fn fresh_lifetime(generics: &Generics) -> Lifetime {
    let taken: Vec<String> = generics.lifetimes().map(|param| param.lifetime.ident.to_string()).collect();
    let name = (0..)
        .map(|i| if i == 0 { "m".to_owned() } else { format!("m{i}") })
        .find(|name| !taken.contains(name))
        .unwrap_or_else(|| "m".to_owned());
    Lifetime::new(&format!("'{name}"), Span::call_site())
}

/// The `where` clause of the constructor: what `Mutator::alloc` needs of the struct's
/// parameters (`Trace + Send + Sync + 'static` for each type, `'static` for each lifetime).
///
/// With `trace_bound` (the struct has `#[trace(bound = "...")]`), a type parameter need not
/// be `Trace` for the struct to be, so the parameters lose that bound and the clause asks
/// for `Self: ::gc_runtime::Trace` instead, whatever the user's predicates make that mean.
fn allocation_bounds(generics: &Generics, trace_bound: bool) -> Option<TokenStream> {
    let trace = (!trace_bound).then(|| quote!(::gc_runtime::Trace+));
    let own = trace_bound.then(|| quote!(Self: ::gc_runtime::Trace));
    let predicates: Vec<TokenStream> = generics
        .params
        .iter()
        .filter_map(|param| match param {
            GenericParam::Type(param) => {
                let ident = &param.ident;
                Some(quote! {
                    #ident: #trace ::core::marker::Send + ::core::marker::Sync + 'static
                })
            }
            GenericParam::Lifetime(param) => {
                let lifetime = &param.lifetime;
                Some(quote!(#lifetime: 'static))
            }
            GenericParam::Const(_) => None,
        })
        .chain(own)
        .collect();
    (!predicates.is_empty()).then(|| quote!(where #(#predicates),*))
}
