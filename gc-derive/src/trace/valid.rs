//! Checks that need more than one attribute at a time.
//!
//! # Skipped GC pointers
//!
//! `#[trace(skip)]` tells the derive not to visit a field. If that field holds a GC pointer,
//! the marker never sees the pointer, the referent stays white and the sweeper frees it while
//! it is still reachable. So a skipped field's type is searched for the names in
//! [`GC_POINTER_TYPES`] (`Gc`, `Tagged`, `Member`, `NonNullMember`, `TaggedMember`, `GcVec`, `GcMap`, `GcIdMap`,
//! `GcWeakMap`) in
//! every path segment, at any depth: `Vec<Option<Member<T>>>` is rejected. `Root`,
//! `GlobalRoot` and `Weak` are not searched for: the collector does not find their pointers
//! through `Trace`, so skipping one changes nothing (`pointer_types.rs` has the reasons).
//!
//! The search is syntactic. It cannot see through a type alias or a user type that holds a
//! pointer, so it catches the common mistake and is not a proof; the safety of a skip on such
//! a type still rests with the user.
//!
//! # Skipped declarations of external memory
//!
//! An `ExternalBytes` counts the memory it declares only once allocation arms it, which it does
//! by tracing the new object; a skipped one is never armed and never counted, silently. So a
//! skipped field whose type names [`COUNTED_TYPES`] is rejected too, with its own reason.
//!
//! # Packed types
//!
//! The generated `trace` borrows each field. Fields of a `#[repr(packed)]` type may be
//! unaligned and cannot be borrowed, so such types are rejected up front with a message,
//! rather than with the compiler's error about the generated pattern.

use syn::Attribute;

use super::ast::Input;
use crate::{
    ctxt::Ctxt,
    symbol::{COUNTED_TYPES, GC_POINTER_TYPES},
    types::find_segment,
};

/// Runs every cross-cutting check on `input`, reporting failures to `cx`.
pub(crate) fn check(cx: &Ctxt, input: &Input<'_>) {
    check_not_packed(cx, &input.original.attrs);
    for field in input.fields() {
        let Some(skip) = &field.attrs.skip else {
            continue;
        };
        if let Some(pointer) = find_segment(field.ty(), GC_POINTER_TYPES) {
            let pointer = pointer.ident;
            cx.error_spanned_by(
                skip,
                format_args!(
                    "#[trace(skip)] is not allowed on a field holding a GC pointer (`{pointer}`); \
                     the collector would not see it and could free its referent; \
                     remove #[trace(skip)]"
                ),
            );
        } else if let Some(counted) = find_segment(field.ty(), COUNTED_TYPES) {
            let counted = counted.ident;
            cx.error_spanned_by(
                skip,
                format_args!(
                    "#[trace(skip)] is not allowed on a field holding `{counted}`: it declares \
                     memory to the pacer only when traced, so a skipped one would never count; \
                     remove #[trace(skip)]"
                ),
            );
        }
    }
}

/// Rejects `#[repr(packed)]` and `#[repr(packed(N))]`.
fn check_not_packed(cx: &Ctxt, attrs: &[Attribute]) {
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("repr")) {
        // A malformed `repr` is the compiler's to report; only a well-formed one is inspected.
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("packed") {
                cx.error_spanned_by(
                    &meta.path,
                    "#[derive(Trace)] does not support #[repr(packed)] types, whose fields may \
                     be unaligned and cannot be borrowed for tracing; remove `packed`, or write \
                     an `unsafe impl Trace` by hand",
                );
            }
            // Skip `(N)` of `packed(N)` / `align(N)`.
            if meta.input.peek(syn::token::Paren) {
                let _ = meta.input.parse::<proc_macro2::Group>()?;
            }
            Ok(())
        });
    }
}
