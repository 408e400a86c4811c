//! Names the derive recognises in the user's tokens.
//!
//! # Attribute keywords
//!
//! [`TRACE`] is the helper attribute (`#[trace(...)]`) and [`SKIP`] its only argument. [`GC`]
//! is the `#[gc]` attribute, with the arguments [`CONSTRUCTOR`] and [`NO_CONSTRUCTOR`], and
//! [`PRIVATE`] (`__private(slots(..), types(..))`), the form its own registry macros call it
//! with (never written by users).
//!
//! # Type and attribute names `#[gc]` looks for
//!
//! [`GC_TYPE`] and [`OPTION`] make a field a slot (`Gc<T>`, `Option<Gc<T>>`); [`DERIVE`] and
//! [`TRACE_TRAIT`] find a `#[derive(Trace)]` that `#[gc]` would duplicate; [`CFG`] and
//! [`CFG_ATTR`] are copied from fields onto the code generated for them.
//!
//! # GC pointer type names
//!
//! [`GC_POINTER_TYPES`] are the `gc_runtime` types that hold a pointer the collector finds
//! only through `Trace` (`Gc`, `Member`, `NonNullMember`, `GcVec`, `GcMap`, `GcIdMap`). A field
//! whose type mentions one of them, anywhere in its type path, may not be `#[trace(skip)]`.
//! The match is by path segment name, so `gc_runtime::Member<T>`, `Member<T>` and
//! `Vec<Option<Member<T>>>` all count.
//!
//! The names come from `pointer_types.rs`, a file of plain data that gc-runtime's test
//! `derive_pointer_types` includes too and checks against the runtime's exports; that file
//! also says why `Root`, `GlobalRoot` and `Weak` are not in it.

use std::fmt::{self, Display};

use syn::{Ident, Path};

/// An identifier the derive compares user tokens against.
#[derive(Copy, Clone)]
pub(crate) struct Symbol(&'static str);

/// The helper attribute: `#[trace(...)]`.
pub(crate) const TRACE: Symbol = Symbol("trace");

/// The field attribute argument: `#[trace(skip)]`.
pub(crate) const SKIP: Symbol = Symbol("skip");

/// The attribute macro: `#[gc]`.
pub(crate) const GC: Symbol = Symbol("gc");

/// `#[gc(constructor = "make")]`: renames the generated constructor.
pub(crate) const CONSTRUCTOR: Symbol = Symbol("constructor");

/// `#[gc(no_constructor)]`: omits the generated constructor.
pub(crate) const NO_CONSTRUCTOR: Symbol = Symbol("no_constructor");

/// `#[gc(__private(...))]`: how a registry macro hands slot names back to `#[gc]`.
pub(crate) const PRIVATE: Symbol = Symbol("__private");

/// `slots(a, b)` inside `__private(...)`: slot field names gathered so far.
pub(crate) const SLOTS: Symbol = Symbol("slots");

/// `types(A, B)` inside `__private(...)`: `#[gc]` structs whose registries are still to ask.
pub(crate) const TYPES: Symbol = Symbol("types");

/// The local pointer type; a `Gc<T>` field becomes a slot.
pub(crate) const GC_TYPE: Symbol = Symbol("Gc");

/// `Option<Gc<T>>` is a nullable slot.
pub(crate) const OPTION: Symbol = Symbol("Option");

/// `#[derive(...)]`.
pub(crate) const DERIVE: Symbol = Symbol("derive");

/// The trait `#[gc]` implements, looked for in `#[derive(...)]`.
pub(crate) const TRACE_TRAIT: Symbol = Symbol("Trace");

/// `#[cfg(...)]`.
pub(crate) const CFG: Symbol = Symbol("cfg");

/// `#[cfg_attr(...)]`.
pub(crate) const CFG_ATTR: Symbol = Symbol("cfg_attr");

include!("pointer_types.rs");

/// `[Symbol("Gc"), ...]` for the names `gc_pointer_types!` hands it.
macro_rules! symbols {
    ($($name:ident),* $(,)?) => {
        &[$(Symbol(stringify!($name))),*]
    };
}

/// `gc_runtime` types that hold a GC pointer; a field mentioning one may not be skipped.
pub(crate) const GC_POINTER_TYPES: &[Symbol] = gc_pointer_types!(symbols);

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
