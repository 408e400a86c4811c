// The `gc_runtime` types that hold a GC pointer the collector finds only through `Trace`.
//
// Plain data, shared by two crates: `symbol.rs` includes this file to build
// `GC_POINTER_TYPES`, the names `#[trace(skip)]` is rejected on, and
// `gc-runtime/tests/derive_pointer_types.rs` includes it to check the list against the
// runtime's exports, so a pointer type added to the runtime without being added here fails
// that test. `include!` accepts no inner attributes, hence `//` here and not `//!`.
//
// # Which types are listed
//
// A type is listed when skipping a field of that type would hide a pointer from the marker, so
// that its referent could be freed while still reachable:
//
// - `Member`, `NonNullMember`, `TaggedMember`: a slot; their `trace` reports it.
// - `GcVec`, `GcMap`, `GcIdMap`: collections of slots; their `trace` reports every element.
// - `GcValueVec`, `GcValueMap`: collections of values; their `trace` reports every slot of every
//   value.
// - `GcWeakMap`: a weak map; its `trace` reports each value whose key the marking reaches.
// - `Gc`: a local. It does not implement `Trace` and cannot be kept in the heap, so the user
//   who stores one in a field gets "does not implement `Trace`"; the skip that would silence
//   that error is rejected too: a `Gc` field is the mistake, and a slot (`Member<T>`) the fix.
//   Likewise `Tagged` and `TaggedWord`, the local forms of a `TaggedMember` (they hold a
//   `Gc`).
//
// The runtime has a second line of defence for slots and collections: allocation arms them by
// tracing the new object, so a skipped one is never armed and panics on every store instead of
// holding a pointer the marker cannot see (gc-runtime `member.rs`, `collections/mod.rs`). The
// rejection turns that certain panic into a compile error. The check is by name: a type alias
// or a user type hides them from it, and then the runtime's defence is all there is.
//
// Not listed, because a skip changes nothing for them (their `trace`, if any, reports nothing):
//
// - `Root`, `GlobalRoot`: the marker scans the root table directly; a root inside an object
//   keeps its referent alive whether the object traces it or not.
// - `Weak`: reports nothing by design, so that it does not keep its referent alive.
//
// The test checks both halves against the runtime: the listed types that implement `Trace`
// have `NEEDS_TRACE`, and `Root` and `Weak` do not.

/// Calls `$then! { Gc, Member, ... }` with the names of the GC pointer types, so that a name
/// can become an identifier (a path in the runtime's test) or a string (in `symbol.rs`).
macro_rules! gc_pointer_types {
    ($then:ident) => {
        $then! { Gc, Tagged, TaggedWord, Member, NonNullMember, TaggedMember, GcVec, GcValueVec, GcMap, GcValueMap, GcIdMap, GcWeakMap }
    };
}
