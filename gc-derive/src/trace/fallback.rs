//! The expansion used when the input is rejected.
//!
//! # Why a stub impl
//!
//! If a rejected input expanded to errors alone, every use of the type as `Trace` elsewhere
//! (as a field of another traced type, as `Gc<Foo>`) would add an error of its own, burying
//! the real one. So alongside the errors the derive still emits a `Trace` impl, with the same
//! bounds as a real one (`#[trace(bound = "...")]` included) and a body that is never run, as thiserror's fallback does.
//!
//! Unions get no stub: a union is the error, and there is nothing the user could have meant.
//! The `Drop` guard impl is not emitted either, so a `Drop` impl does not add a second error.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use super::{
    attr,
    expand::{allowed_lints, bounded_generics},
};
use crate::ctxt::Ctxt;

/// The accumulated `error` as `compile_error!`s, plus a stub `Trace` impl unless `input` is a
/// union.
pub(crate) fn expand(input: &DeriveInput, error: syn::Error) -> TokenStream {
    let errors = error.into_compile_error();
    if let syn::Data::Union(_) = input.data {
        return errors;
    }
    let ty = &input.ident;
    // The stub takes the bounds of a real impl, `#[trace(bound = "...")]` included, so that
    // `Tagged<NotTrace>` elsewhere adds no error. A malformed attribute was already reported
    // by `derive`; parsing it again here only reads the bound, and its errors are dropped.
    let cx = Ctxt::new();
    let container = attr::container_attrs(&cx, &input.attrs, "");
    let _already_reported = cx.check();
    let generics = bounded_generics(&input.generics, container.bound.as_ref());
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let allowed_lints = allowed_lints();

    // SAFETY: this impl is emitted only next to the `compile_error!`s above, so the crate
    // never compiles and the impl can never be used.
    quote! {
        #errors
        #allowed_lints
        const _: () = {
            #[automatically_derived]
            unsafe impl #impl_generics ::gc_runtime::Trace for #ty #ty_generics #where_clause {
                fn trace(&self, _: &mut ::gc_runtime::Tracer<'_>) {
                    ::core::unreachable!()
                }
            }
        };
    }
}
