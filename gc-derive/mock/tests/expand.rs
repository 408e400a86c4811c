//! Behavioural tests for `#[derive(Trace)]`, run against a mock of the runtime.
//!
//! # Why a mock
//!
//! The derive's output names gc-runtime as the crate Cargo gives it under the name
//! `gc_runtime` (through an `extern crate` of its own: see gc-derive's `runtime_crate.rs`).
//! This package's library is that crate for these tests: a mock (`src/lib.rs`) with the few
//! items the expansion uses — the `Trace` trait, a `Tracer` that records which fields were
//! visited, the `__private::TraceTypesMustNotImplementDrop` guard, and a `Member<T>` pointer
//! whose `trace` records its name. The macro is thus tested without compiling `gc-runtime`.
//!
//! # Lints
//!
//! The crate denies warnings and a set of stricter lints, so generated code that trips a lint
//! fails the build here (`unused_variables` for an unused `tracer`, `unused_qualifications`
//! for the absolute paths, `deprecated` for a deprecated field, ...).

#![deny(
    warnings,
    unused_qualifications,
    unused_results,
    unreachable_pub,
    single_use_lifetimes,
    trivial_casts,
    unused_lifetimes,
    non_local_definitions,
    clippy::pedantic
)]
// The mock runtime's impls and the test types are private items of a test crate, and
// `NEEDS_TRACE` and the `impls_trace!` probe are constants by design.
#![allow(missing_docs, dead_code, clippy::struct_field_names, clippy::assertions_on_constants)]

use std::marker::PhantomData;

use gc_derive::Trace;
use gc_runtime::{__private, m, Member, Trace, Tracer};

// --- helpers ----------------------------------------------------------------------------------

/// Runs `value.trace` and returns the names of the visited members, in order.
fn visits<T: Trace + ?Sized>(value: &T) -> Vec<&'static str> {
    let mut visited = Vec::new();
    value.trace(&mut Tracer { visited: &mut visited });
    visited
}

/// A type with no `Trace` impl, for skipped fields and negative bound checks.
#[derive(Clone, Default)]
struct NotTrace;

/// `impls_trace!(T)` is `true` iff `T: Trace`, decided at compile time without requiring it
/// (an inherent const shadows the trait's fallback only when its bound holds).
struct Probe<T: ?Sized>(PhantomData<T>);
trait ProbeFallback {
    const IMPLS: bool = false;
}
impl<T: ?Sized> ProbeFallback for Probe<T> {}
impl<T: ?Sized + Trace> Probe<T> {
    const IMPLS: bool = true;
}
macro_rules! impls_trace {
    ($ty:ty) => {
        <Probe<$ty>>::IMPLS
    };
}

/// Compiles only if the derive emitted the `Drop` guard impl for `T`.
fn assert_drop_guard<T: ?Sized + __private::TraceTypesMustNotImplementDrop>() {}

// --- structs ----------------------------------------------------------------------------------

#[derive(Trace)]
struct Named {
    a: Member<()>,
    #[trace(skip)]
    b: NotTrace,
    c: Member<()>,
}

#[test]
fn named_struct_traces_non_skipped_fields_in_order() {
    let value = Named { a: m("a"), b: NotTrace, c: m("c") };
    assert_eq!(visits(&value), ["a", "c"]);
    assert!(Named::NEEDS_TRACE);
    assert_drop_guard::<Named>();
}

#[derive(Trace)]
struct Tuple(Member<()>, #[trace(skip)] NotTrace, Member<()>, Option<Member<()>>);

#[test]
fn tuple_struct_traces_non_skipped_fields_in_order() {
    let value = Tuple(m("0"), NotTrace, m("2"), Some(m("3")));
    assert_eq!(visits(&value), ["0", "2", "3"]);
    assert!(Tuple::NEEDS_TRACE);
    assert_drop_guard::<Tuple>();
}

#[derive(Trace)]
struct Unit;

#[derive(Trace)]
struct EmptyBraces {}

#[derive(Trace)]
struct EmptyParens();

#[test]
fn fieldless_structs_do_not_need_trace() {
    assert!(visits(&Unit).is_empty());
    assert!(visits(&EmptyBraces {}).is_empty());
    assert!(visits(&EmptyParens()).is_empty());
    assert!(!Unit::NEEDS_TRACE);
    assert!(!EmptyBraces::NEEDS_TRACE);
    assert!(!EmptyParens::NEEDS_TRACE);
    assert_drop_guard::<Unit>();
}

#[derive(Trace)]
struct AllSkipped {
    #[trace(skip)]
    a: NotTrace,
    #[trace(skip)]
    b: String,
}

#[derive(Trace)]
struct AllSkippedTuple(#[trace(skip)] NotTrace);

#[test]
fn all_skipped_does_not_need_trace() {
    let value = AllSkipped { a: NotTrace, b: String::new() };
    assert!(visits(&value).is_empty());
    assert!(visits(&AllSkippedTuple(NotTrace)).is_empty());
    assert!(!AllSkipped::NEEDS_TRACE);
    assert!(!AllSkippedTuple::NEEDS_TRACE);
}

/// Fields of primitive and std types: `NEEDS_TRACE` is read from their impls, so exact.
#[derive(Trace)]
struct OnlyPlainData {
    n: u32,
    v: Vec<Option<[u32; 2]>>,
}

/// A field of a user type contributes `true` whatever that type's own `NEEDS_TRACE` (which
/// could depend on this type's, for a recursive one).
#[derive(Trace)]
struct WrapsPlainData {
    inner: OnlyPlainData,
}

/// A type parameter's `NEEDS_TRACE` is read at each instantiation.
#[derive(Trace)]
struct Wrapper<T> {
    boxed: Box<T>,
}

#[test]
fn needs_trace_reads_std_and_parameter_types_only() {
    assert!(!OnlyPlainData::NEEDS_TRACE);
    assert!(visits(&OnlyPlainData { n: 1, v: vec![Some([2, 3])] }).is_empty());
    assert!(WrapsPlainData::NEEDS_TRACE);
    assert!(!<Wrapper<u32>>::NEEDS_TRACE);
    assert!(<Wrapper<Member<()>>>::NEEDS_TRACE);
    assert!(!<Wrapper<OnlyPlainData>>::NEEDS_TRACE);
}

// --- enums ------------------------------------------------------------------------------------

#[derive(Trace)]
enum Every {
    Unit,
    EmptyTuple(),
    EmptyNamed {},
    Tuple(Member<()>, #[trace(skip)] NotTrace, Member<()>),
    Named {
        #[trace(skip)]
        skipped: NotTrace,
        x: Member<()>,
        y: Vec<Member<()>>,
    },
    AllSkipped(#[trace(skip)] NotTrace),
}

#[test]
fn enum_traces_the_live_variant_only() {
    assert!(visits(&Every::Unit).is_empty());
    assert!(visits(&Every::EmptyTuple()).is_empty());
    assert!(visits(&Every::EmptyNamed {}).is_empty());
    assert_eq!(visits(&Every::Tuple(m("t0"), NotTrace, m("t2"))), ["t0", "t2"]);
    let named = Every::Named { skipped: NotTrace, x: m("x"), y: vec![m("y0"), m("y1")] };
    assert_eq!(visits(&named), ["x", "y0", "y1"]);
    assert!(visits(&Every::AllSkipped(NotTrace)).is_empty());
    assert!(Every::NEEDS_TRACE);
    assert_drop_guard::<Every>();
}

#[derive(Trace)]
enum Fieldless {
    A,
    B,
    C(),
    D {},
}

#[derive(Trace)]
enum Void {}

#[derive(Trace)]
enum SkippedOnly {
    A(#[trace(skip)] NotTrace),
    B {
        #[trace(skip)]
        x: NotTrace,
    },
}

#[test]
fn enums_without_traced_fields_do_not_need_trace() {
    assert!(!Fieldless::NEEDS_TRACE);
    assert!(!Void::NEEDS_TRACE);
    assert!(!SkippedOnly::NEEDS_TRACE);
    for value in [Fieldless::A, Fieldless::B, Fieldless::C(), Fieldless::D {}] {
        assert!(visits(&value).is_empty());
    }
    assert!(visits(&SkippedOnly::B { x: NotTrace }).is_empty());
    assert_drop_guard::<Void>();
}

/// A recursive type: `NEEDS_TRACE` must not depend on itself.
#[derive(Trace)]
enum List {
    Nil,
    Cons(Member<()>, Box<List>),
}

#[test]
fn recursive_type() {
    let list = List::Cons(m("1"), Box::new(List::Cons(m("2"), Box::new(List::Nil))));
    assert_eq!(visits(&list), ["1", "2"]);
    assert!(List::NEEDS_TRACE);
}

// --- generics ---------------------------------------------------------------------------------

#[derive(Trace)]
struct Generic<'a, T, U: ?Sized, const N: usize>
where
    T: Clone,
{
    t: T,
    arr: [Member<()>; N],
    boxed: Box<U>,
    #[trace(skip)]
    borrowed: &'a str,
}

#[derive(Trace)]
enum GenericEnum<T, U = Member<()>>
where
    U: Clone,
{
    A(T),
    B { u: U },
}

/// Unused in a field, so only its bound is observable.
#[derive(Trace)]
struct Phantom<T> {
    #[trace(skip)]
    marker: PhantomData<T>,
}

#[test]
fn generics_get_trace_bounds_and_keep_where_clauses() {
    let value = Generic::<'_, Member<()>, Member<()>, 2> {
        t: m("t"),
        arr: [m("a0"), m("a1")],
        boxed: Box::new(m("boxed")),
        borrowed: "not traced",
    };
    assert_eq!(visits(&value), ["t", "a0", "a1", "boxed"]);

    // Type parameters are bounded by `Trace`...
    assert!(impls_trace!(Generic<'static, Member<()>, Member<()>, 1>));
    assert!(!impls_trace!(Generic<'static, NotTrace, Member<()>, 1>));
    assert!(!impls_trace!(Generic<'static, Member<()>, NotTrace, 1>));
    // ...including `?Sized` ones...
    assert!(impls_trace!(Generic<'static, Member<()>, Member<[u8]>, 1>));
    // ...and a skipped field does not remove its parameter's bound.
    // (That the written `where` clauses are kept is shown by this file compiling at all: an
    // impl for `Generic<'a, T, U, N>` without `T: Clone` would not be well-formed.)
    assert!(impls_trace!(Phantom<u32>));
    assert!(!impls_trace!(Phantom<NotTrace>));

    assert_eq!(visits(&GenericEnum::<Member<()>>::A(m("a"))), ["a"]);
    assert_eq!(visits(&GenericEnum::<u32>::B { u: m("u") }), ["u"]);
    assert!(!impls_trace!(GenericEnum<NotTrace>));
    assert!(impls_trace!(GenericEnum<u32, Member<u32>>));
}

// --- hygiene and lints ------------------------------------------------------------------------

/// Field names that collide with the expansion's own local names.
#[derive(Trace)]
struct Hygiene {
    tracer: Member<()>,
    __binding_0: Member<()>,
    r#type: Member<()>,
    #[trace(skip)]
    self_: NotTrace,
}

#[derive(Trace)]
struct WithDeprecated {
    #[deprecated = "test"]
    old: Member<()>,
}

#[derive(Trace)]
#[deprecated = "test"]
enum DeprecatedEnum {
    #[deprecated = "test"]
    Old(Member<()>),
}

#[test]
fn generated_names_do_not_clash_with_fields() {
    let value = Hygiene { tracer: m("tracer"), __binding_0: m("__binding_0"), r#type: m("type"), self_: NotTrace };
    assert_eq!(visits(&value), ["tracer", "__binding_0", "type"]);
}

#[test]
#[allow(deprecated)]
fn deprecated_fields_and_variants() {
    assert_eq!(visits(&WithDeprecated { old: m("old") }), ["old"]);
    assert_eq!(visits(&DeprecatedEnum::Old(m("old"))), ["old"]);
}

#[test]
fn derive_inside_a_function() {
    #[derive(Trace)]
    struct Local<T>(T, #[trace(skip)] NotTrace);

    assert_eq!(visits(&Local(m::<()>("local"), NotTrace)), ["local"]);
}

/// Items of the user's crate with the names the expansion uses must not be picked up.
mod shadowing {
    #![allow(non_upper_case_globals, non_camel_case_types, clippy::upper_case_acronyms)]

    use super::{m, visits, Member, NotTrace};

    // A user item named like the generated binding: a pattern `__binding_1` would match
    // against this constant if the bindings were not hygienic.
    const __binding_1: u8 = 0;
    // A user module named `core` must not capture `::core::...` paths.
    mod core {}
    // A trait named like the runtime's in scope.
    trait Trace {}

    #[derive(super::Trace)]
    struct Shadowed(Member<()>, #[trace(skip)] NotTrace, Member<()>);

    #[test]
    fn local_items_do_not_capture_generated_names() {
        assert_eq!(visits(&Shadowed(m("0"), NotTrace, m("2"))), ["0", "2"]);
    }
}
