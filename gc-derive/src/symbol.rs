//! Names the derive recognises in the user's tokens.
//!
//! # Attribute keywords
//!
//! [`TRACE`] is the helper attribute (`#[trace(...)]`) and [`SKIP`] its only argument.
//!
//! # GC pointer type names
//!
//! [`GC_POINTER_TYPES`] are the `gc_runtime` types that hold a pointer the collector must see.
//! A field whose type mentions one of them, anywhere in its type path, may not be
//! `#[trace(skip)]`. The match is by last path segment name, so `gc_runtime::Member<T>`,
//! `Member<T>` and `Vec<Option<Member<T>>>` all count.

use std::fmt::{self, Display};

use syn::{Ident, Path};

/// An identifier the derive compares user tokens against.
#[derive(Copy, Clone)]
pub(crate) struct Symbol(&'static str);

/// The helper attribute: `#[trace(...)]`.
pub(crate) const TRACE: Symbol = Symbol("trace");

/// The field attribute argument: `#[trace(skip)]`.
pub(crate) const SKIP: Symbol = Symbol("skip");

/// `gc_runtime` types that hold a GC pointer; a field mentioning one may not be skipped.
pub(crate) const GC_POINTER_TYPES: &[Symbol] = &[Symbol("Gc"), Symbol("Member"), Symbol("OptMember"), Symbol("Root")];

impl PartialEq<Symbol> for Ident {
    fn eq(&self, word: &Symbol) -> bool {
        self == word.0
    }
}

impl PartialEq<Symbol> for &Ident {
    fn eq(&self, word: &Symbol) -> bool {
        *self == word.0
    }
}

impl PartialEq<Symbol> for Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl PartialEq<Symbol> for &Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl Display for Symbol {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.0)
    }
}
