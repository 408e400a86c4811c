//! `#[gc]` on a struct with named fields: parse, check, expand.
//!
//! # What a field becomes
//!
//! | field as written  | field in the expanded struct    | constructor parameter     | accessors                                              |
//! | ----------------- | ------------------------------- | ------------------------- | ------------------------------------------------------ |
//! | `Gc<T>`           | `::gc_runtime::NonNullMember<T>` | `Gc<'_, T>`               | `f(&self, &'m Mutator) -> Gc<'m, T>`, `set_f(Gc<'_, T>)` |
//! | `Option<Gc<T>>`   | `::gc_runtime::Member<T>`        | `Option<Gc<'_, T>>`       | `f(..) -> Option<Gc<'m, T>>`, `set_f(Option<Gc<'_, T>>)` |
//! | anything else     | unchanged                        | the field's type          | none                                                   |
//!
//! `Gc` and `Option` are recognised by the last segment of their path, so `gc_runtime::Gc<T>`
//! and `std::option::Option<Gc<T>>` count too. The generated signatures spell `Gc` with the
//! path the field used, so they resolve the same way and the user's `use gc_runtime::Gc`
//! stays used.
//!
//! # Expansion
//!
//! 1. The struct, with slot field types replaced and `#[derive(::gc_runtime::Trace)]`
//!    appended to its attributes. The derive, not this attribute, implements `Trace`: derives
//!    run after `cfg`/`cfg_attr` are applied to the fields, attribute macros before (the lesson
//!    pin-project documents), so only the derive sees which fields really exist.
//! 2. In `const _: () = { ... };`, an inherent impl with the constructor (`new`, or the name
//!    from `constructor = "..."`, or none with `no_constructor`) and a getter and a setter per
//!    slot. The constructor allocates the object with empty slots, then sets each slot through
//!    the barrier: a slot only works inside an allocated object, and a new object has no
//!    referents the barrier did not see. Every field's `#[cfg]` (and cfg-only `#[cfg_attr]`)
//!    is copied onto its constructor parameter, its initialiser, its `set` statement and its
//!    accessors, so a disabled field vanishes everywhere.
//! 3. The slot registry, `macro_rules! __gc_slots_Name` plus `pub(crate) use`, which hands the
//!    slot field names to `#[gc]` code elsewhere (see the parent module's docs).
//!
//! # Checks
//!
//! A `Gc` with a lifetime (`Gc<'a, T>`), a `Gc` nested in another type (`Vec<Gc<T>>`), a
//! `#[derive(Trace)]` next to `#[gc]`, `#[gc]` on a field and `#[trace(skip)]` on a slot
//! field are each reported at the offending token. The expansion still happens, with the
//! mistake undone where possible (the lifetime dropped, the attribute removed, the user's
//! derive used instead of ours), so the user sees the one error and not a cascade from a
//! struct that failed to exist.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::{
    ext::IdentExt,
    parse_quote, parse_quote_spanned,
    punctuated::Punctuated,
    spanned::Spanned,
    visit_mut::{self, VisitMut},
    Attribute, GenericArgument, GenericParam, Generics, Ident, ItemStruct, Lifetime, Path, PathArguments, PathSegment,
    Token, Type, TypePath,
};

use super::{args::Constructor, fallback, is_gc_attr};
use crate::{
    ctxt::Ctxt,
    symbol::{DERIVE, GC_TYPE, OPTION, SKIP, TRACE, TRACE_TRAIT},
    util::{is_cfg_only, last_ident_is},
};

/// A `#[gc]` struct with named fields, checked.
pub(crate) struct GcStruct<'a> {
    /// The struct as written.
    pub(crate) original: &'a ItemStruct,
    /// Its named fields, in declaration order.
    pub(crate) fields: Vec<Field<'a>>,
    /// The struct's `#[cfg]`s, copied onto every item generated next to it.
    cfgs: Vec<&'a Attribute>,
    /// Whether the user also wrote `#[derive(Trace)]` (reported; then theirs is kept, not
    /// doubled).
    derives_trace: bool,
}

/// One named field.
pub(crate) struct Field<'a> {
    /// The field as written.
    original: &'a syn::Field,
    /// Its name.
    pub(crate) ident: &'a Ident,
    /// `Some` if it is a slot.
    pub(crate) slot: Option<Slot<'a>>,
    /// A plain field's type as emitted: as written, except that a `Gc` nested in it (already
    /// reported) becomes `Member`, so the error is not followed by "missing lifetime" ones.
    plain_type: Type,
    /// The paths of the `Gc`s so replaced.
    replaced: Vec<Path>,
    /// Its `#[cfg]`s, copied onto the code generated for it.
    cfgs: Vec<&'a Attribute>,
}

/// A field declared `Gc<T>` or `Option<Gc<T>>`.
pub(crate) struct Slot<'a> {
    /// `Option<Gc<T>>` (a `Member<T>`) rather than `Gc<T>` (a `NonNullMember<T>`).
    pub(crate) nullable: bool,
    /// `T`.
    pub(crate) referent: &'a Type,
    /// The `Gc` path as written (`Gc`, `gc_runtime::Gc`, ...), reused for the accessors' and
    /// the constructor's types: they resolve as the field did, and the user's `use` of `Gc`
    /// stays used.
    gc: &'a Path,
    /// The field type as written, for spans.
    written: &'a Type,
}

impl<'a> GcStruct<'a> {
    /// Reads and checks `item`, whose fields must be named; misuse goes to `cx`.
    pub(crate) fn from_syn(cx: &Ctxt, item: &'a ItemStruct) -> Self {
        let derives_trace = find_derive_trace(cx, &item.attrs);
        let fields = item
            .fields
            .iter()
            .filter_map(|field| {
                let ident = field.ident.as_ref()?;
                for attr in field.attrs.iter().filter(|attr| is_gc_attr(attr)) {
                    cx.error_spanned_by(
                        attr,
                        "#[gc] goes on the struct, not on a field; a field of type `Gc<T>` or \
                         `Option<Gc<T>>` becomes a slot by itself",
                    );
                }
                let slot = classify(cx, &field.ty);
                if slot.is_some() {
                    if let Some(skip) = field.attrs.iter().find_map(skip_of) {
                        cx.error_spanned_by(
                            skip,
                            "#[trace(skip)] is not allowed on a `Gc` field; the collector would miss it; \
                             remove #[trace(skip)]",
                        );
                    }
                }
                let (plain_type, replaced) = match slot {
                    Some(_) => (field.ty.clone(), Vec::new()),
                    None => without_gc(&field.ty),
                };
                Some(Field { original: field, ident, slot, plain_type, replaced, cfgs: cfgs_of(&field.attrs) })
            })
            .collect();
        GcStruct { original: item, fields, cfgs: cfgs_of(&item.attrs), derives_trace }
    }

    /// The slot fields' names, for the registry and for a module's rewrite.
    pub(crate) fn slot_names(&self) -> impl Iterator<Item = &'a Ident> + '_ {
        self.fields.iter().filter(|field| field.slot.is_some()).map(|field| field.ident)
    }

    /// The full expansion: struct, impl, registry.
    pub(crate) fn expand(&self, constructor: &Constructor) -> TokenStream {
        let item = self.expand_struct();
        let inherent = self.expand_impl(constructor);
        let registry = self.expand_registry();
        let replaced: Vec<_> = self.fields.iter().flat_map(|field| field.replaced.iter().cloned()).collect();
        let keep_used = fallback::keep_used(&replaced);
        quote! {
            #item
            #inherent
            #registry
            #keep_used
        }
    }

    /// The struct with slot types in place and the derive appended.
    fn expand_struct(&self) -> ItemStruct {
        let mut item = self.original.clone();
        item.attrs.retain(|attr| !is_gc_attr(attr));
        if !self.derives_trace {
            item.attrs.push(parse_quote!(#[derive(::gc_runtime::Trace)]));
        }
        for (field, ir) in item.fields.iter_mut().zip(&self.fields) {
            field.attrs.retain(|attr| !is_gc_attr(attr));
            match &ir.slot {
                Some(slot) => {
                    field.attrs.retain(|attr| skip_of(attr).is_none());
                    field.ty = slot.field_type();
                }
                None => field.ty = ir.plain_type.clone(),
            }
        }
        item
    }

    /// `impl Name { constructor, accessors }`, in an anonymous `const`.
    fn expand_impl(&self, constructor: &Constructor) -> TokenStream {
        let name = &self.original.ident;
        let (impl_generics, ty_generics, where_clause) = self.original.generics.split_for_impl();
        let m = fresh_lifetime(&self.original.generics);
        let constructor = match constructor {
            Constructor::Named(fn_name) => Some(self.expand_constructor(fn_name, &m)),
            Constructor::Omitted => None,
        };
        let accessors = self.fields.iter().filter_map(|field| field.expand_accessors(name, &m));
        let cfgs = &self.cfgs;
        quote! {
            #(#cfgs)*
            const _: () = {
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
    fn expand_constructor(&self, fn_name: &Ident, m: &Lifetime) -> TokenStream {
        let vis = &self.original.vis;
        let name = &self.original.ident;
        // Mixed-site: a field named `mu` or `__gc_object` is a parameter of its own.
        let mu = Ident::new("mu", Span::mixed_site());
        let object = Ident::new("__gc_object", Span::mixed_site());
        let fields_ref = Ident::new("__gc_fields", Span::mixed_site());
        let params = self.fields.iter().map(|field| {
            let (cfgs, ident) = (&field.cfgs, field.ident);
            let ty = match &field.slot {
                Some(slot) => slot.param_type(&quote!('_)),
                None => field.plain_type.to_token_stream(),
            };
            quote!(#(#cfgs)* #ident: #ty)
        });
        let inits = self.fields.iter().map(|field| {
            let (cfgs, ident) = (&field.cfgs, field.ident);
            match &field.slot {
                Some(slot) => {
                    let slot_type = slot.slot_path();
                    quote!(#(#cfgs)* #ident: #slot_type::new())
                }
                None => quote!(#(#cfgs)* #ident),
            }
        });
        let sets: Vec<_> = self
            .fields
            .iter()
            .filter_map(|field| {
                let (cfgs, ident) = (&field.cfgs, field.ident);
                let slot_type = field.slot.as_ref()?.slot_path();
                Some(quote!(#(#cfgs)* #slot_type::set(&#fields_ref.#ident, #ident);))
            })
            .collect();
        let fields_ref_binding =
            (!sets.is_empty()).then(|| quote!(let #fields_ref: &Self = ::gc_runtime::Gc::into_ref(#object);));
        let bounds = allocation_bounds(&self.original.generics);
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

    /// `#[doc(hidden)] macro_rules! __gc_slots_Name` and its `pub(crate) use`.
    fn expand_registry(&self) -> TokenStream {
        let registry = registry_ident(&self.original.ident);
        let names = self.slot_names();
        let cfgs = &self.cfgs;
        quote! {
            #(#cfgs)*
            #[doc(hidden)]
            #[allow(
                // Only `#[gc]` code that assigns this struct's slots calls it.
                unused_macros,
            )]
            macro_rules! #registry {
                ([$($slots:tt)*] [$($types:tt)*] $($item:tt)*) => {
                    #[::gc_runtime::gc(__private(slots($($slots)* #(#names,)*), types($($types)*)))]
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
}

impl Field<'_> {
    /// The getter and the setter of a slot field; `None` for a plain field.
    fn expand_accessors(&self, struct_name: &Ident, m: &Lifetime) -> Option<TokenStream> {
        let slot = self.slot.as_ref()?;
        let (cfgs, ident, vis) = (&self.cfgs, self.ident, &self.original.vis);
        let setter = format_ident!("set_{}", ident.unraw(), span = ident.span());
        let mu = Ident::new("mu", Span::mixed_site());
        let value = Ident::new("value", Span::mixed_site());
        let slot_type = slot.slot_path();
        let getter_type = slot.param_type(&m.to_token_stream());
        let setter_type = slot.param_type(&quote!('_));
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
        Some(quote! {
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
        })
    }
}

impl Slot<'_> {
    /// `::gc_runtime::Member` or `::gc_runtime::NonNullMember`, spanned at the field type.
    fn slot_path(&self) -> TokenStream {
        if self.nullable {
            quote_spanned!(self.written.span()=> ::gc_runtime::Member)
        } else {
            quote_spanned!(self.written.span()=> ::gc_runtime::NonNullMember)
        }
    }

    /// The user's path to `Gc`, without arguments.
    pub(crate) fn gc_path(&self) -> Path {
        let mut gc = self.gc.clone();
        if let Some(last) = gc.segments.last_mut() {
            last.arguments = PathArguments::None;
        }
        gc
    }

    /// The field's type in the expanded struct.
    pub(crate) fn field_type(&self) -> Type {
        let (slot_type, referent) = (self.slot_path(), self.referent);
        parse_quote_spanned!(self.written.span()=> #slot_type<#referent>)
    }

    /// What a constructor parameter, a getter or a setter uses: `Gc<'lt, T>` or
    /// `Option<Gc<'lt, T>>`, with the user's path to `Gc`.
    fn param_type(&self, lifetime: &TokenStream) -> TokenStream {
        let (gc, referent) = (self.gc_path(), self.referent);
        let local = quote!(#gc<#lifetime, #referent>);
        if self.nullable {
            quote!(::core::option::Option<#local>)
        } else {
            local
        }
    }
}

/// The registry macro's name for a `#[gc]` struct named `name`: `__gc_slots_Name`.
pub(crate) fn registry_ident(name: &Ident) -> Ident {
    format_ident!("__gc_slots_{}", name.unraw(), span = name.span())
}

/// Whether `ty` is a slot type, and which; reports a `Gc` that cannot become a slot.
///
/// Also used on enum and tuple-struct fields by the fallback, so a rejected item does not add
/// a "missing lifetime" error per `Gc` field.
pub(crate) fn classify<'a>(cx: &Ctxt, ty: &'a Type) -> Option<Slot<'a>> {
    let (nullable, gc) = match option_argument(ty) {
        Some(inner) if gc_path(inner).is_some() => (true, inner),
        _ if gc_path(ty).is_some() => (false, ty),
        _ => {
            report_nested_gc(cx, ty);
            return None;
        }
    };
    let referent = gc_referent(cx, gc)?;
    report_nested_gc(cx, referent);
    Some(Slot { nullable, referent, gc: gc_path(gc)?, written: ty })
}

/// The `T` of `Option<T>` (any path ending in `Option`).
fn option_argument(ty: &Type) -> Option<&Type> {
    let segment = plain_path(ty)?.segments.last()?;
    if segment.ident != OPTION {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &segment.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>()[..] {
        [GenericArgument::Type(inner)] => Some(inner),
        _ => None,
    }
}

/// `ty`'s path if it is a path ending in `Gc`.
fn gc_path(ty: &Type) -> Option<&Path> {
    plain_path(ty).filter(|path| last_ident_is(path, GC_TYPE))
}

/// A type path without a `<T as Trait>::` qualifier.
fn plain_path(ty: &Type) -> Option<&Path> {
    match ty {
        Type::Path(TypePath { qself: None, path }) => Some(path),
        _ => None,
    }
}

/// The `T` of a `Gc<T>`; a lifetime argument is reported (and ignored), any other shape
/// reported.
fn gc_referent<'a>(cx: &Ctxt, gc: &'a Type) -> Option<&'a Type> {
    let segment = gc_path(gc)?.segments.last()?;
    let mut types = Vec::new();
    let mut well_formed = true;
    if let PathArguments::AngleBracketed(args) = &segment.arguments {
        for arg in &args.args {
            match arg {
                GenericArgument::Lifetime(lifetime) => cx.error_spanned_by(
                    lifetime,
                    "remove this lifetime: a `Gc` field of a #[gc] struct is written `Gc<T>`; \
                     it becomes a slot, which is not tied to a mutator borrow",
                ),
                GenericArgument::Type(ty) => types.push(ty),
                _ => well_formed = false,
            }
        }
    }
    match types[..] {
        [referent] if well_formed => Some(referent),
        _ => {
            cx.error_spanned_by(gc, "a `Gc` field is written `Gc<T>`, with the type it points to as its only argument");
            None
        }
    }
}

/// Reports the first `Gc` path segment inside `ty`: it could not live in the heap.
fn report_nested_gc(cx: &Ctxt, ty: &Type) {
    struct Finder(Option<PathSegment>);
    impl VisitMut for Finder {
        fn visit_path_segment_mut(&mut self, segment: &mut PathSegment) {
            if self.0.is_none() && segment.ident == GC_TYPE {
                self.0 = Some(segment.clone());
            }
            visit_mut::visit_path_segment_mut(self, segment);
        }
    }
    let mut finder = Finder(None);
    finder.visit_type_mut(&mut ty.clone());
    if let Some(segment) = finder.0 {
        cx.error_spanned_by(
            segment,
            "#[gc] makes a slot only of a field whose type is `Gc<T>` or `Option<Gc<T>>`; \
             a `Gc` inside another type cannot be stored in the heap, use `Member<T>` there",
        );
    }
}

/// `ty` with every `Gc<T>` (or `Gc<'a, T>`) inside it replaced by `::gc_runtime::Member<T>`,
/// and the paths of the `Gc`s replaced.
///
/// Only used where the nested `Gc` was reported: it is the fix the message suggests, and it
/// keeps the expansion free of the compiler's own errors about that `Gc`.
pub(crate) fn without_gc(ty: &Type) -> (Type, Vec<Path>) {
    struct Replace(Vec<Path>);
    impl VisitMut for Replace {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            visit_mut::visit_type_mut(self, ty);
            let Some(segment) = gc_path(ty).and_then(|path| path.segments.last()) else {
                return;
            };
            let PathArguments::AngleBracketed(args) = &segment.arguments else {
                return;
            };
            let types: Vec<_> = args
                .args
                .iter()
                .filter_map(|arg| match arg {
                    GenericArgument::Type(ty) => Some(ty),
                    _ => None,
                })
                .collect();
            if let [referent] = types[..] {
                let mut gc = gc_path(ty).cloned().unwrap_or_else(|| segment.ident.clone().into());
                if let Some(last) = gc.segments.last_mut() {
                    last.arguments = PathArguments::None;
                }
                *ty = parse_quote_spanned!(segment.ident.span()=> ::gc_runtime::Member<#referent>);
                self.0.push(gc);
            }
        }
    }
    let mut ty = ty.clone();
    let mut replace = Replace(Vec::new());
    replace.visit_type_mut(&mut ty);
    (ty, replace.0)
}

/// Reports each `Trace` in a `#[derive(...)]`; returns whether there was one.
fn find_derive_trace(cx: &Ctxt, attrs: &[Attribute]) -> bool {
    let mut found = false;
    for attr in attrs.iter().filter(|attr| attr.path() == DERIVE) {
        // A malformed derive list is the compiler's to report.
        let Ok(paths) = attr.parse_args_with(Punctuated::<Path, Token![,]>::parse_terminated) else {
            continue;
        };
        for path in paths.iter().filter(|path| last_ident_is(path, TRACE_TRAIT)) {
            cx.error_spanned_by(path, "#[gc] already implements Trace; remove Trace from #[derive(...)]");
            found = true;
        }
    }
    found
}

/// The `skip` of a `#[trace(skip)]`, if `attr` is one.
fn skip_of(attr: &Attribute) -> Option<Path> {
    if attr.path() != TRACE {
        return None;
    }
    let mut skip = None;
    // Malformed `#[trace(...)]` is the derive's to report.
    let _ = attr.parse_nested_meta(|meta| {
        if meta.path == SKIP {
            skip = Some(meta.path.clone());
        }
        crate::util::take_value(meta.input).map(drop)
    });
    skip
}

/// The attributes among `attrs` that must follow generated code around (see `is_cfg_only`).
pub(crate) fn cfgs_of(attrs: &[Attribute]) -> Vec<&Attribute> {
    attrs.iter().filter(|attr| is_cfg_only(attr)).collect()
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
fn allocation_bounds(generics: &Generics) -> Option<TokenStream> {
    let predicates: Vec<TokenStream> = generics
        .params
        .iter()
        .filter_map(|param| match param {
            GenericParam::Type(param) => {
                let ident = &param.ident;
                Some(quote! {
                    #ident: ::gc_runtime::Trace + ::core::marker::Send + ::core::marker::Sync + 'static
                })
            }
            GenericParam::Lifetime(param) => {
                let lifetime = &param.lifetime;
                Some(quote!(#lifetime: 'static))
            }
            GenericParam::Const(_) => None,
        })
        .collect();
    (!predicates.is_empty()).then(|| quote!(where #(#predicates),*))
}
