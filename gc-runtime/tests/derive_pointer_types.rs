//! `#[derive(Trace)]`'s list of GC pointer types, checked against this crate's exports.
//!
//! # Why
//!
//! The derive rejects `#[trace(skip)]` on a field whose type names a type in
//! `gc-derive/src/pointer_types.rs`: skipping it would hide a pointer from the marker. The
//! derive cannot depend on this crate (this crate re-exports it), so that list is written by
//! hand. This test includes the same file and fails when the list and the runtime part ways:
//!
//! 1. every listed name is a public item of `gc_runtime` (the compiler checks it: one `use`
//!    per name, generated from the list);
//! 2. every type that `src/lib.rs` exports is sorted below into exactly one of
//!    [`FOUND_THROUGH_TRACE`], [`NOT_FOUND_THROUGH_TRACE`] and [`NO_POINTER`], so a new
//!    export cannot be missed, and the first of these is exactly the derive's list;
//! 3. the `Trace` impls agree with the sorting: the listed types that implement `Trace` need
//!    tracing (`NEEDS_TRACE`), and `Root` and `Weak` do not (checked at compile time too).
//!
//! Adding a pointer type to the runtime therefore fails this test until it is sorted here
//! and, if its pointer is found through `Trace`, added to the derive's list.

use std::collections::BTreeSet;

use gc_runtime::{
    GcIdMap, GcMap, GcValueMap, GcValueVec, GcVec, GcWeakMap, Member, NonNullMember, Root, TaggedMember, Trace, Weak,
};

include!("../../gc-derive/src/pointer_types.rs");

/// `use gc_runtime::Name as _;` for each name: fails to compile if one is not exported.
macro_rules! exported {
    ($($name:ident),* $(,)?) => {
        $(
            #[allow(unused_imports)]
            use gc_runtime::$name as _;
        )*
    };
}

/// `&["Name", ...]`.
macro_rules! names {
    ($($name:ident),* $(,)?) => {
        &[$(stringify!($name)),*]
    };
}

/// Check 1: each name in the derive's list is a public item of `gc_runtime`.
mod derive_list_is_exported {
    gc_pointer_types!(exported);
}

/// The derive's list, as strings.
const DERIVE_LIST: &[&str] = gc_pointer_types!(names);

/// Exported types whose values hold a GC pointer that the collector finds only through
/// `Trace`: skipping a field of one would hide the pointer, so the derive must reject it.
///
/// - `Member`, `NonNullMember`, `TaggedMember`: a slot; `trace` reports it (a tagged slot's
///   pointer, when it holds one).
/// - `GcVec`, `GcMap`, `GcIdMap`: collections of slots; `trace` reports every element.
/// - `GcWeakMap`: a weak map; `trace` reports each value whose key the marking reaches.
/// - `Gc`: a local. It does not implement `Trace` and cannot be kept in the heap; it is listed
///   so that `#[trace(skip)]` does not silence the "does not implement `Trace`" error that
///   storing one gets. Likewise `Tagged` and `TaggedWord`, a tagged slot's local forms (they
///   hold a `Gc`).
const FOUND_THROUGH_TRACE: &[&str] = &[
    "Gc",
    "Tagged",
    "TaggedWord",
    "Member",
    "NonNullMember",
    "TaggedMember",
    "GcVec",
    "GcValueVec",
    "GcMap",
    "GcValueMap",
    "GcIdMap",
    "GcWeakMap",
];

/// Exported types that point into the heap, but whose pointer the collector does not find
/// through `Trace`, so that skipping a field of one changes nothing:
///
/// - `Root`, `GlobalRoot`: the marker scans the root table itself; a root keeps its referent
///   alive wherever it is kept, and `Root`'s `trace` reports nothing.
/// - `Weak`: must not keep its referent alive; its `trace` reports nothing.
/// - `GcVecIter`: an iterator borrowing a `GcVec` and the `Mutator`, like a local: it is not
///   `Send`, so no object can hold one.
/// - `ValueStack`, `StackView`: a mutator's value stack and a view of it, scanned by their
///   thread and the collector as a root region (`stack_scan.rs`); neither is `Send`, so no
///   object can hold one.
const NOT_FOUND_THROUGH_TRACE: &[&str] =
    &["Root", "GlobalRoot", "Weak", "GcVecIter", "GcValueVecIter", "ValueStack", "StackView"];

/// Exported types that hold no GC pointer at all.
///
/// - `AtomicCell`: `Copy` plain data only (no slot is `Copy`, see
///   `ui-tests/tests/ui/collections/atomic-cell-of-member.rs`).
/// - `Mutator`: the thread's handle to the collector, not a pointer to an object.
/// - `ExternalBytes`: a number of bytes declared to the pacer. It must be traced all the same,
///   or it never counts, so the derive rejects a skip on it too, for that reason
///   (`gc-derive/src/symbol.rs`, `COUNTED_TYPES`).
/// - `Trace` (the trait and its derive) and `Tracer` (passes slots on, holds none); likewise
///   `StackValue` (a trait naming a value stack's element type) and `StackTracer`.
/// - `Object`: a sealed trait naming the types a GC pointer can point to; no value has it as
///   its type. Likewise `DynObject`, the trait-object types among them.
/// - `Unsize`: a coercion function (`fn(*const T) -> *const U`) for `alloc_dyn`.
/// - Configuration, statistics, states and errors, all plain data: `Config`, `BarrierKind`,
///   `Mode`, `Phase`, `Stats`, `CycleStats`, `ThreadPauseStats`, `Pause`, `PauseKind`, `PhaseChange`,
///   `MutatorCounts`, `MutatorState`, `CheckmarkFailure` (type names and addresses as text),
///   `ConfigError`, `InitError`, `AllocError`, `AttachError`, `LimitError`, `IndexOutOfRange`.
const NO_POINTER: &[&str] = &[
    "AtomicCell",
    "Mutator",
    "ExternalBytes",
    "Trace",
    "Tracer",
    "StackValue",
    "HeapValue",
    "StackTracer",
    "Object",
    "DynObject",
    "Unsize",
    "Config",
    "BarrierKind",
    "Mode",
    "Phase",
    "Stats",
    "CycleStats",
    "ThreadPauseStats",
    "Pause",
    "PauseKind",
    "HandshakeRound",
    "HandshakeKind",
    "PhaseChange",
    "MutatorCounts",
    "MutatorState",
    "CheckmarkFailure",
    "ConfigError",
    "InitError",
    "AllocError",
    "AttachError",
    "LimitError",
    "IndexOutOfRange",
    "ParseNameError",
    "Setting",
];

/// The names in `names`, as a set.
fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|&name| name.to_owned()).collect()
}

#[test]
fn derive_list_is_the_types_found_through_trace() {
    assert_eq!(
        set(DERIVE_LIST),
        set(FOUND_THROUGH_TRACE),
        "gc-derive/src/pointer_types.rs must list exactly the exported types whose GC pointers \
         the collector finds through `Trace`"
    );
}

#[test]
fn every_exported_type_is_sorted_once() {
    let sorted = [FOUND_THROUGH_TRACE, NOT_FOUND_THROUGH_TRACE, NO_POINTER];
    let mut seen = BTreeSet::new();
    for name in sorted.iter().flat_map(|list| list.iter()) {
        assert!(seen.insert((*name).to_owned()), "`{name}` is sorted twice");
    }
    let exported = exported_types();
    let unsorted: Vec<_> = exported.difference(&seen).collect();
    assert!(
        unsorted.is_empty(),
        "src/lib.rs exports {unsorted:?}, not sorted in tests/derive_pointer_types.rs: if a value of \
         one can hold a GC pointer that the collector finds through `Trace`, add it to \
         FOUND_THROUGH_TRACE here and to gc-derive/src/pointer_types.rs; otherwise to the list \
         that says why skipping it is harmless"
    );
    let stale: Vec<_> = seen.difference(&exported).collect();
    assert!(stale.is_empty(), "sorted here but no longer exported by src/lib.rs: {stale:?}");
}

/// Check 3, at compile time: the `Trace` impls agree with the sorting.
const _: () = {
    // Listed: their `trace` reports slots.
    assert!(<Member<u8> as Trace>::NEEDS_TRACE);
    assert!(<NonNullMember<u8> as Trace>::NEEDS_TRACE);
    assert!(<TaggedMember<u8> as Trace>::NEEDS_TRACE);
    assert!(<GcVec<u8> as Trace>::NEEDS_TRACE);
    assert!(<GcValueVec<Member<u8>> as Trace>::NEEDS_TRACE);
    assert!(<GcValueMap<u8, Member<u8>> as Trace>::NEEDS_TRACE);
    assert!(<GcMap<u8, u8> as Trace>::NEEDS_TRACE);
    assert!(<GcIdMap<u8, u8> as Trace>::NEEDS_TRACE);
    assert!(<GcWeakMap<u8, u8> as Trace>::NEEDS_TRACE);
    // Not listed: their `trace` reports nothing, so a skip changes nothing. If one of these
    // starts reporting slots, it belongs in the derive's list.
    assert!(!<Root<u8> as Trace>::NEEDS_TRACE);
    assert!(!<Weak<u8> as Trace>::NEEDS_TRACE);
};

/// The types `src/lib.rs` exports with `pub use`: the names brought into scope, those that
/// start with an upper-case letter and are not all upper case (not a function, a macro or a
/// constant).
fn exported_types() -> BTreeSet<String> {
    let source = include_str!("../src/lib.rs");
    // Comments and docs may mention `pub use`; only code counts.
    let code: Vec<&str> = source.lines().filter(|line| !line.trim_start().starts_with("//")).collect();
    let code = code.join("\n");
    let mut names = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(start) = rest.find("pub use ") {
        let tree = &rest[start + "pub use ".len()..];
        let end = tree.find(';').expect("a `pub use` ends with `;`");
        use_tree_names(&tree[..end], &mut names);
        rest = &tree[end..];
    }
    names.retain(|name| {
        name.starts_with(|c: char| c.is_ascii_uppercase()) && name.chars().any(|c| c.is_ascii_lowercase())
    });
    names
}

/// Adds the names a use tree (`a::{b::C, d::{E, F as G}}`) brings into scope: the last
/// segment of each leaf path, or its alias.
fn use_tree_names(tree: &str, names: &mut BTreeSet<String>) {
    let mut leaf = String::new();
    for c in tree.chars() {
        match c {
            // What came before `{` is a prefix (`a::`), not a leaf.
            '{' => leaf.clear(),
            '}' | ',' => {
                add_leaf(&leaf, names);
                leaf.clear();
            }
            c => leaf.push(c),
        }
    }
    add_leaf(&leaf, names);
}

/// Adds the name one leaf path (`b::C`, `F as G`) brings into scope.
fn add_leaf(leaf: &str, names: &mut BTreeSet<String>) {
    let words: Vec<&str> = leaf.split_whitespace().collect();
    let name = match words[..] {
        [] => return,
        [_, "as", alias] => alias.to_owned(),
        _ => words.concat().rsplit("::").next().unwrap_or_default().to_owned(),
    };
    if name != "self" && name != "_" {
        names.insert(name);
    }
}
