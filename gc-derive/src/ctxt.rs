//! Error accumulation for the derive pipeline.
//!
//! # Why accumulate
//!
//! A derive that stops at the first mistake makes the user fix one error per compile. Every
//! stage instead records what it finds in a [`Ctxt`] and keeps going; [`Ctxt::check`] then
//! combines all the errors into one `syn::Error`, which expands to one `compile_error!` per
//! message, each with its own span.
//!
//! # Contract
//!
//! A `Ctxt` must be consumed by [`Ctxt::check`]. Dropping one that still holds errors would
//! silently lose them, so its `Drop` treats that as a bug in this crate (not in the user's
//! input) and panics, as `serde_derive`'s `Ctxt` does.

use std::{cell::RefCell, fmt::Display, thread};

use quote::ToTokens;

/// Collects the errors found while parsing and checking one derive input.
///
/// Stages take `&Ctxt`, so the typed IR can borrow from the input while errors are recorded.
pub(crate) struct Ctxt {
    /// `Some` until [`Ctxt::check`] takes the errors out.
    errors: RefCell<Option<Vec<syn::Error>>>,
}

impl Ctxt {
    /// An empty context; it must be finished with [`Ctxt::check`].
    pub(crate) fn new() -> Self {
        Ctxt { errors: RefCell::new(Some(Vec::new())) }
    }

    /// Records an error spanning the tokens of `obj`.
    pub(crate) fn error_spanned_by<A: ToTokens, T: Display>(&self, obj: A, msg: T) {
        self.syn_error(syn::Error::new_spanned(obj.into_token_stream(), msg));
    }

    /// Records an error that was already built, such as a parse error from `syn`.
    pub(crate) fn syn_error(&self, err: syn::Error) {
        if let Some(errors) = self.errors.borrow_mut().as_mut() {
            errors.push(err);
        }
    }

    /// Consumes the context: `Ok` if nothing was recorded, else every error combined into one.
    pub(crate) fn check(self) -> syn::Result<()> {
        let mut errors = self.errors.take().unwrap_or_default().into_iter();
        let Some(mut combined) = errors.next() else {
            return Ok(());
        };
        for rest in errors {
            combined.combine(rest);
        }
        Err(combined)
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        // Only a code path in this crate that forgets `check` gets here with errors left; user
        // input cannot cause it. Do not panic while already unwinding.
        let unchecked = self.errors.borrow().as_ref().is_some_and(|e| !e.is_empty());
        assert!(thread::panicking() || !unchecked, "gc-derive bug: Ctxt dropped without checking its errors");
    }
}
