//! Names the derive recognises in the user's tokens.
//!
//! # Attribute keywords
//!
//! [`TRACE`] is the helper attribute (`#[trace(...)]`), with [`SKIP`] its field argument and
//! [`BOUND`] its argument on the type (`#[trace(bound = "...")]`). [`GC`]
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
//! only through `Trace` (`Gc`, `Tagged`, `Member`, `NonNullMember`, `TaggedMember`, `GcVec`, `GcMap`, `GcIdMap`,
//! `GcWeakMap`). A field
//! whose type mentions one of them, anywhere in its type path, may not be `#[trace(skip)]`.
//! The match is by path segment name, so `gc_runtime::Member<T>`, `Member<T>` and
//! `Vec<Option<Member<T>>>` all count.
//!
//! The names come from `pointer_types.rs`, a file of plain data that gc-runtime's test
//! `derive_pointer_types` includes too and checks against the runtime's exports; that file
//! also says why `Root`, `GlobalRoot` and `Weak` are not in it.
//!
//! # Types whose `NEEDS_TRACE` the derive reads
//!
//! [`PRIMITIVE_TYPES`] and [`STD_TRACE_TYPES`] are the types gc-runtime implements `Trace` for
//! (`trace_impls.rs`) with a `NEEDS_TRACE` that depends on nothing but their type arguments'
//! own; [`STD_CRATES`] are the crates whose paths cannot name a user type. A field built from
//! these alone gets an exact `NEEDS_TRACE` (`types::needs_trace_can_be_read` says why that
//! is free of cycles). A name missing here only makes a field's contribution conservative;
//! a name listed here whose impl looked at anything but its arguments could cycle.

use std::fmt::{self, Display};

use syn::{Ident, Path};

/// An identifier the derive compares user tokens against.
#[derive(Copy, Clone)]
pub(crate) struct Symbol(&'static str);

/// The helper attribute: `#[trace(...)]`.
pub(crate) const TRACE: Symbol = Symbol("trace");

/// The field attribute argument: `#[trace(skip)]`.
pub(crate) const SKIP: Symbol = Symbol("skip");

/// The type attribute argument: `#[trace(bound = "T: Trace")]`.
pub(crate) const BOUND: Symbol = Symbol("bound");

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

/// The primitive types with a `Trace` impl: none holds a GC pointer.
pub(crate) const PRIMITIVE_TYPES: &[Symbol] = &[
    Symbol("bool"),
    Symbol("char"),
    Symbol("str"),
    Symbol("u8"),
    Symbol("u16"),
    Symbol("u32"),
    Symbol("u64"),
    Symbol("u128"),
    Symbol("usize"),
    Symbol("i8"),
    Symbol("i16"),
    Symbol("i32"),
    Symbol("i64"),
    Symbol("i128"),
    Symbol("isize"),
    Symbol("f32"),
    Symbol("f64"),
];

/// The non-primitive types gc-runtime's `trace_impls.rs` implements `Trace` for, by the last
/// segment of their path. Each impl's `NEEDS_TRACE` is a constant or forwards to its type
/// arguments' (`Vec<T>`: `T::NEEDS_TRACE`); it never names another type.
///
/// `Rc`, `Cell`, `RefCell`, `HashSet` and `BTreeSet` have no impl, so a field of one
/// fails to compile whatever is listed here; leaving them out keeps that failure a single
/// error, and keeps user types of those common names (a spreadsheet's `Cell`) from being
/// taken for std ones.
pub(crate) const STD_TRACE_TYPES: &[Symbol] = &[
    Symbol("String"),
    Symbol("Box"),
    Symbol("Arc"),
    Symbol("Vec"),
    Symbol("VecDeque"),
    Symbol("Option"),
    Symbol("Result"),
    Symbol("HashMap"),
    Symbol("BTreeMap"),
    Symbol("PhantomData"),
    Symbol("Duration"),
    Symbol("Instant"),
    Symbol("AtomicBool"),
    Symbol("AtomicU8"),
    Symbol("AtomicU16"),
    Symbol("AtomicU32"),
    Symbol("AtomicU64"),
    Symbol("AtomicUsize"),
    Symbol("AtomicI8"),
    Symbol("AtomicI16"),
    Symbol("AtomicI32"),
    Symbol("AtomicI64"),
    Symbol("AtomicIsize"),
    // Re-exported by gc-runtime from crossbeam-utils.
    Symbol("AtomicCell"),
];

/// The crates a path may start with and still be taken for a type in [`PRIMITIVE_TYPES`] or
/// [`STD_TRACE_TYPES`] (`std::vec::Vec`, `::core::primitive::u8`, `gc_runtime::AtomicCell`):
/// none of them can name a type of the user's crate.
pub(crate) const STD_CRATES: &[Symbol] = &[Symbol("std"), Symbol("core"), Symbol("alloc"), Symbol("gc_runtime")];

include!("pointer_types.rs");

/// `[Symbol("Gc"), ...]` for the names `gc_pointer_types!` hands it.
macro_rules! symbols {
    ($($name:ident),* $(,)?) => {
        &[$(Symbol(stringify!($name))),*]
    };
}

/// `gc_runtime` types that hold a GC pointer; a field mentioning one may not be skipped.
pub(crate) const GC_POINTER_TYPES: &[Symbol] = gc_pointer_types!(symbols);

/// `gc_runtime` types that hold no GC pointer but count only when traced (`ExternalBytes`
/// declares memory to the pacer once allocation arms it); a field mentioning one may not be
/// skipped either.
pub(crate) const COUNTED_TYPES: &[Symbol] = &[Symbol("ExternalBytes")];

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
