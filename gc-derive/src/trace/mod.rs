//! `#[derive(Trace)]`: the pipeline from `syn` input to generated impls.
//!
//! # Stages
//!
//! 1. [`ast`] builds a typed IR from the input and parses `#[trace(...)]` through [`attr`],
//!    rejecting unions and attributes in the wrong place.
//! 2. [`valid`] runs the checks that look at a field's type and attributes together, such as
//!    `#[trace(skip)]` on a field holding a GC pointer.
//! 3. If any stage reported an error, all of them are returned together, and the entry point
//!    expands [`fallback`] instead: the errors plus a stub impl.
//! 4. Otherwise [`expand`] generates the impls.
//!
//! Every stage reports to one [`Ctxt`], so a single compile shows every mistake.

pub(crate) mod ast;
pub(crate) mod attr;
pub(crate) mod expand;
pub(crate) mod fallback;
pub(crate) mod valid;

use proc_macro2::TokenStream;
use syn::DeriveInput;

use crate::ctxt::Ctxt;

/// Expands `#[derive(Trace)]` on `input`, or returns every error found in it.
pub(crate) fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let cx = Ctxt::new();
    let ast = ast::Input::from_syn(&cx, input);
    if let Some(ast) = &ast {
        valid::check(&cx, ast);
    }
    cx.check()?;
    // `ast` is `None` only for a union, which `cx` has rejected above; so this always expands.
    Ok(ast.map(|ast| expand::expand(&ast)).unwrap_or_default())
}

#[cfg(test)]
mod tests;
