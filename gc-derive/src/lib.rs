//! Derive macros for `gc-runtime`.
//!
//! This crate provides `#[derive(Trace)]`, which implements `gc_runtime::Trace` for a struct
//! or an enum by handing every field to the tracer. Use it through the re-export
//! `gc_runtime::Trace`; this crate is an implementation detail of `gc-runtime` and its
//! generated code names only `::gc_runtime::*` paths.
//!
//! # Layout
//!
//! The entry point below is deliberately thin. The work happens in `trace`, a pipeline of
//! parse (`trace::ast`, `trace::attr`), check (`trace::valid`), and generate
//! (`trace::expand`), with `trace::fallback` producing a stub impl when the input is
//! rejected. Errors are collected with `ctxt::Ctxt` so that every mistake in one input is
//! reported in one compile, each pointing at the offending token.
//!
//! This crate contains no unsafe code. The `unsafe impl` it emits is justified where it is
//! emitted, in `trace::expand`.

#![forbid(unsafe_code)]

mod ctxt;
mod symbol;
mod trace;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Implements `gc_runtime::Trace` for a struct or an enum.
///
/// The generated `trace` visits every field, in declaration order, by calling the field
/// type's `gc_runtime::Trace::trace` on it. Every generic type parameter gets a
/// `gc_runtime::Trace` bound; lifetimes, const parameters and an existing `where` clause are
/// kept as written. `NEEDS_TRACE` is `false` only when the type has no traced field at all
/// (a unit struct, an enum whose variants carry no data, or a type whose fields are all
/// skipped).
///
/// The derive also makes a `Drop` impl on the type a compile error: destructors run on the
/// sweeper, after the object's neighbours may already be freed.
///
/// # Field attribute
///
/// - `#[trace(skip)]`: the field is not traced and its type need not implement `Trace`. It is
///   rejected on a field whose type mentions `Gc`, `Member`, `OptMember` or `Root`, because
///   the collector would then miss a pointer and could free its referent.
///
/// `#[trace(...)]` is not accepted on the type itself or on enum variants, and unions are
/// rejected: write an `unsafe impl Trace` by hand for those.
///
/// # Example
///
/// ```ignore
/// use gc_runtime::{Member, Trace};
///
/// #[derive(Trace)]
/// struct Node<T> {
///     value: T,
///     next: Option<Member<Node<T>>>,
///     #[trace(skip)]
///     visits: std::cell::Cell<u64>,
/// }
/// ```
#[proc_macro_derive(Trace, attributes(trace))]
pub fn derive_trace(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    trace::derive(&input).unwrap_or_else(|error| trace::fallback::expand(&input, error)).into()
}
