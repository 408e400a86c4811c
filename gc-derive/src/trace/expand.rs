//! Code generation for `#[derive(Trace)]`.
//!
//! # Output
//!
//! For `struct Foo<T> { a: A, #[trace(skip)] b: B }` the derive emits, inside
//! `const _: () = { ... };` so that nothing leaks into the user's namespace:
//!
//! ```text
//! #[automatically_derived]
//! unsafe impl<T: ::gc_runtime::Trace> ::gc_runtime::Trace for Foo<T> where /* as written */ {
//!     const NEEDS_TRACE: bool = <A as ::gc_runtime::Trace>::NEEDS_TRACE; // or `true`: below
//!     #[inline(always)]
//!     fn trace(&self, tracer: &mut ::gc_runtime::Tracer<'_>) {
//!         match self {
//!             Self { a: __binding_0, .. } => {
//!                 <A as ::gc_runtime::Trace>::trace(__binding_0, tracer);
//!             }
//!         }
//!     }
//! }
//! #[automatically_derived]
//! impl<T> ::gc_runtime::__private::TraceTypesMustNotImplementDrop
//!     for Foo<T> where /* as written */ {}
//! ```
//!
//! # Design choices
//!
//! - `trace` destructures `self` with one `match` arm per struct or variant, so adding a field
//!   or a variant can never be silently left out; skipped fields are bound as `_` or `..`.
//! - Each per-field call is built with `quote_spanned!` at the field's type and names that
//!   type, `<A as ::gc_runtime::Trace>::trace(..)`, so a field whose type does not implement
//!   `Trace` gets its error on the type and nowhere else. With `::gc_runtime::Trace::trace(..)`
//!   the unmet bound is found on the argument, a generated binding, which rustc reports at the
//!   `#[derive(Trace)]` instead (it moves spans of external macros to the call site).
//! - Local names (`tracer`, `__binding_N`) use `Span::mixed_site()`, so they cannot clash
//!   with a user's field, constant or variable of the same name.
//! - Paths are absolute (`::gc_runtime::...`, `::core::...`), so user imports cannot shadow
//!   them.
//! - `NEEDS_TRACE` is exact wherever that cannot create a const-evaluation cycle (E0391).
//!   It is `false` with no traced field. Otherwise each traced field's type `F` contributes
//!   `<F as ::gc_runtime::Trace>::NEEDS_TRACE` if `F` is built only from primitives, the
//!   input's own type parameters and the std types gc-runtime implements `Trace` for (`Vec`,
//!   `Option`, `Box`, `HashMap`, ...: `symbol::STD_TRACE_TYPES`), through tuples, arrays,
//!   slices, references and `fn` pointers; and `true` otherwise (a user type, an alias,
//!   `Self`, `T::Assoc`, `dyn`, a macro), which makes the whole constant `true`. Both are
//!   sound, since `F`'s impl is. Why the first cannot cycle: the std impls forward only to
//!   their type arguments, so the constant of `D<A1, .., An>` depends only on those of the
//!   `Ai`, strictly smaller types, and the evaluation ends; recursion (`children: Vec<Node>`,
//!   `next: Link` with `type Link = Option<Box<L>>`, `n: Node2<Foo>`) must name a type off the
//!   list, which contributes `true`. Names are matched, not resolved: the input's own name is
//!   taken off the list, and the rest of that caveat is on `types::needs_trace_can_be_read`.
//!   Each read is spanned at its field type, like the `trace` call: rustc reports an unmet
//!   bound once per span and predicate, so a field type that does not implement `Trace` still
//!   gets a single error, on the type.
//! - `trace` is `#[inline(always)]`: it is called from a few generic places in the runtime
//!   (an object's descriptor, allocation's arming, an array's per-element loop, a collection's
//!   scan), each monomorphised for one type, and inlining it there lets the tracer's sink — a
//!   constant at most of those places — fold away. With a plain `#[inline]` the optimiser kept
//!   a call per element in array loops: a Lox VM whose field tables are arrays of (name, value)
//!   entries ran binary-trees about 10% slower (CPU time, `lox_bench --against`).
//! - The second impl makes `Drop` on the type a coherence error: `__private` implements the
//!   same trait for every `T: Drop`. A second block, which holds none of the user's tokens,
//!   loads gc-runtime with an `extern crate` of its own and checks that the trait
//!   `::gc_runtime` names there is gc-runtime's: user code can rebind `::gc_runtime`
//!   (`runtime_crate.rs`).
//! - `#[trace(bound = "...")]` on the type replaces the `T: ::gc_runtime::Trace` bounds of
//!   the `Trace` impl with the predicates it lists, appended to the `where` clause as written
//!   ([`bounded_generics`]). It is for parameters that no traced field needs to be `Trace`
//!   (`PhantomData<T>`, a skipped field) or that need another spelling of the bound. It
//!   cannot make the impl unsound: see the comment on [`bounded_generics`]. The guard impl
//!   takes neither the automatic bounds nor these, only the type's own generics and `where`
//!   clause, so that no added predicate can hide its overlap with a `Drop` impl.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::{parse_quote, punctuated::Punctuated, spanned::Spanned, GenericParam, Generics, Token, WherePredicate};

use super::ast::{Data, Field, Input, NeedsTrace, Style};
use crate::runtime_crate::drop_guard_check;

/// The two impls for a checked input, wrapped in `const _: () = { ... };`.
pub(crate) fn expand(input: &Input<'_>) -> TokenStream {
    let ty = &input.original.ident;
    let generics = bounded_generics(&input.original.generics, input.attrs.bound.as_ref());
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    // The guard impl takes the type's generics and `where` clause as written, with no bound of
    // the derive's or of `#[trace(bound = "...")]`: a predicate there that coherence cannot
    // decide (a higher-ranked one) hid its overlap with the blanket impl for `Drop` types, and a
    // `Drop` impl compiled beside the derive (a hostile review).
    let (guard_generics, _, guard_where) = input.original.generics.split_for_impl();
    let tracer = Ident::new("tracer", Span::mixed_site());
    let needs_trace = needs_trace(input);
    let body = trace_body(input, &tracer);
    // With no traced field the argument is never read; mark it used without renaming it.
    let unused_tracer = (!input.has_traced_field()).then(|| quote!(let _ = #tracer;));
    let allowed_lints = allowed_lints();
    let guard_check = drop_guard_check();

    // SAFETY: the emitted `unsafe impl` meets each rule of `gc_runtime::Trace`:
    // [1] every field without #[trace(skip)] is passed to `Trace::trace`, through a `match`
    //     that names every variant and field, so no GC slot reachable through `self` is
    //     left out; a skipped field was checked in `valid` not to name a GC pointer type
    //     (a syntactic check: for types that hide one, the skip is the user's promise);
    // [2] `trace` only calls the fields' `trace`, so it allocates, writes and attaches nothing
    //     itself, and [5] it adds no panic of its own;
    // [3] the `TraceTypesMustNotImplementDrop` impl conflicts with `__private`'s blanket impl
    //     for `T: Drop`, so the type cannot also implement `Drop` — gc-runtime's trait, which
    //     `guard_check` makes sure `::gc_runtime` names, whatever the user's code rebinds
    //     (`runtime_crate.rs`);
    // [4] `NEEDS_TRACE` is `false` only when every traced field's type has `NEEDS_TRACE`
    //     `false` by its own impl (which that impl's rule [4] makes a promise that the field
    //     holds no slot), or there is no traced field; skipped fields hold none, as in [1].
    quote! {
        #allowed_lints
        const _: () = {
            #[automatically_derived]
            unsafe impl #impl_generics ::gc_runtime::Trace for #ty #ty_generics #where_clause {
                const NEEDS_TRACE: bool = #needs_trace;

                #[inline(always)]
                fn trace(&self, #tracer: &mut ::gc_runtime::Tracer<'_>) {
                    #unused_tracer
                    #body
                }
            }

            #[automatically_derived]
            impl #guard_generics ::gc_runtime::__private::TraceTypesMustNotImplementDrop
                for #ty #ty_generics #guard_where {}
        };
        #guard_check
    }
}

/// The input's generics with the bounds the `Trace` impl needs.
///
/// Without `bound` (no `#[trace(bound = "...")]`), a `::gc_runtime::Trace` bound is added to
/// every type parameter. With it, no parameter gets a bound of its own and the given
/// predicates, which may be none, are appended to the `where` clause instead. Lifetimes,
/// const parameters and the `where` clause as written are kept either way.
pub(crate) fn bounded_generics(generics: &Generics, bound: Option<&Punctuated<WherePredicate, Token![,]>>) -> Generics {
    let mut generics = generics.clone();
    // Why a user's `bound` cannot make the impl unsound, however weak it is: the bounds are
    // only the conditions under which the impl exists; they decide nothing in its body. The
    // body is the same with or without them: `trace` still calls
    // `<F as ::gc_runtime::Trace>::trace` on every traced field, and `NEEDS_TRACE` still reads
    // `<F as ::gc_runtime::Trace>::NEEDS_TRACE` of each traced field type (or is `true`).
    // Both are checked against the impl's own where clause, so if the predicates do not prove
    // `F: Trace` for some traced field type `F`, the impl fails to compile, at that field's
    // type (`ui-tests/tests/ui/derive-trace/bound-too-weak.rs`); it never compiles with a
    // field left untraced. A bound that is stronger than needed only makes the impl apply to
    // fewer types.
    match bound {
        None => {
            for param in &mut generics.params {
                if let GenericParam::Type(param) = param {
                    param.bounds.push(parse_quote!(::gc_runtime::Trace));
                }
            }
        }
        // An empty `where` is valid Rust, but only adding a clause when there is something to
        // put in it keeps the output as the user would write it.
        Some(bound) if bound.is_empty() => {}
        Some(bound) => generics.make_where_clause().predicates.extend(bound.iter().cloned()),
    }
    generics
}

/// The lints allowed on generated items, each for a reason given here.
pub(crate) fn allowed_lints() -> TokenStream {
    quote! {
        #[allow(
            // Absolute paths are deliberate (user imports cannot shadow them). rustc 1.95 does
            // not flag them, but the per-field paths carry the user's span, not an expansion's.
            unused_qualifications,
            // Naming a #[deprecated] type, variant or field in the impl is not a use the user
            // wrote (seen in mock/tests/expand.rs: `DeprecatedEnum`).
            deprecated,
        )]
    }
}

/// The value of `NEEDS_TRACE` (see the module docs, and [`Input::needs_trace`]).
fn needs_trace(input: &Input<'_>) -> TokenStream {
    match input.needs_trace() {
        NeedsTrace::Never => quote!(false),
        NeedsTrace::Always => quote!(true),
        NeedsTrace::AnyOf(types) => {
            // Spanned at the field type, like the `trace` calls: an unmet `Trace` bound is
            // reported there.
            let reads = types.iter().map(|ty| quote_spanned!(ty.span()=> <#ty as ::gc_runtime::Trace>::NEEDS_TRACE));
            quote!(#(#reads)||*)
        }
    }
}

/// The body of `trace`: a `match` on `self` with one arm per struct or variant.
fn trace_body(input: &Input<'_>, tracer: &Ident) -> TokenStream {
    match &input.data {
        Data::Struct(data) => {
            let arm = trace_arm(&quote!(Self), data.style, &data.fields, tracer);
            quote!(match self { #arm })
        }
        // `match self {}` would not be exhaustive for `&Void`; a place of type `Void` is.
        Data::Enum(data) if data.variants.is_empty() => quote!(match *self {}),
        Data::Enum(data) => {
            let arms = data.variants.iter().map(|variant| {
                let ident = &variant.original.ident;
                trace_arm(&quote!(Self::#ident), variant.style, &variant.fields, tracer)
            });
            quote!(match self { #(#arms)* })
        }
    }
}

/// One `match` arm: the pattern binding each traced field, then one `trace` call per field.
fn trace_arm(path: &TokenStream, style: Style, fields: &[Field<'_>], tracer: &Ident) -> TokenStream {
    // Mixed-site: a user constant or unit struct named `__binding_0` cannot turn the binding
    // into a path pattern.
    let binding = |i: usize| format_ident!("__binding_{}", i, span = Span::mixed_site());
    let pattern = match style {
        Style::Unit => quote!(#path),
        Style::Tuple => {
            let elems = fields.iter().enumerate().map(|(i, field)| {
                if field.is_traced() {
                    binding(i).into_token_stream()
                } else {
                    quote!(_)
                }
            });
            quote!(#path(#(#elems),*))
        }
        Style::Named => {
            let kept = fields.iter().enumerate().filter(|(_, field)| field.is_traced());
            let elems = kept.map(|(i, field)| {
                let member = &field.member;
                let binding = binding(i);
                quote!(#member: #binding)
            });
            let rest = fields.iter().any(|field| !field.is_traced()).then(|| quote!(..));
            quote!(#path { #(#elems,)* #rest })
        }
    };
    let calls = fields.iter().enumerate().filter(|(_, field)| field.is_traced()).map(|(i, field)| {
        let binding = binding(i);
        let ty = &field.original.ty;
        quote_spanned! {field.original.ty.span()=>
            <#ty as ::gc_runtime::Trace>::trace(#binding, #tracer);
        }
    });
    quote! {
        #pattern => {
            #(#calls)*
        }
    }
}
