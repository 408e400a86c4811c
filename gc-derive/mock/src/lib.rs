//! A mock of gc-runtime for the behavioural tests of `#[derive(Trace)]` (`tests/expand.rs`):
//! the items the derive's output names, with a `Tracer` that records what was visited. This
//! package's library is called `gc_runtime`, so the derive's `extern crate gc_runtime` loads
//! it in this package's tests.

use std::marker::PhantomData;

/// Mock of `gc_runtime::Trace`, with the same items.
///
/// # Safety
///
/// Same contract as the real trait; the mock never frees anything.
pub unsafe trait Trace {
    /// See the real trait.
    const NEEDS_TRACE: bool = true;
    /// See the real trait.
    fn trace(&self, tracer: &mut Tracer<'_>);
}

/// Mock tracer: records the name of every [`Member`] it is handed, in order.
pub struct Tracer<'a> {
    /// Test-only: the names of the visited members.
    pub visited: &'a mut Vec<&'static str>,
}

/// Mock of `gc_runtime::__private`, exactly as the runtime defines it.
pub mod __private {
    /// Implemented for every `T: Drop`; derive(Trace) also implements it for the type, so a
    /// Drop impl conflicts.
    pub trait TraceTypesMustNotImplementDrop {}
    // The `Drop` bound is the point: it is what makes a `Drop` impl conflict with the derive.
    #[allow(drop_bounds)]
    impl<T: ?Sized + Drop> TraceTypesMustNotImplementDrop for T {}

    /// `G` wrapped, for [`IsGcRuntimesDropGuard`].
    pub struct DropGuard<G: ?Sized>(std::marker::PhantomData<G>);

    /// Implemented only for `DropGuard<dyn TraceTypesMustNotImplementDrop>`.
    pub trait IsGcRuntimesDropGuard {}

    impl IsGcRuntimesDropGuard for DropGuard<dyn TraceTypesMustNotImplementDrop> {}

    /// Compiles only if `G` is `dyn` of this crate's guard trait: the derive's check.
    pub const fn check_drop_guard<G: ?Sized>()
    where
        DropGuard<G>: IsGcRuntimesDropGuard,
    {
    }
}

/// Mock GC pointer; `trace` records `name`.
#[derive(Clone)]
pub struct Member<T: ?Sized> {
    name: &'static str,
    _referent: PhantomData<T>,
}

/// A member that reports `name` when traced.
#[must_use]
pub fn m<T>(name: &'static str) -> Member<T> {
    Member { name, _referent: PhantomData }
}

// SAFETY: a mock; the tracer only records.
unsafe impl<T: ?Sized> Trace for Member<T> {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        tracer.visited.push(self.name);
    }
}

// SAFETY: no GC pointers.
unsafe impl Trace for u32 {
    const NEEDS_TRACE: bool = false;
    fn trace(&self, _: &mut Tracer<'_>) {}
}

// SAFETY: forwards to the element.
unsafe impl<T: Trace> Trace for Option<T> {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE;
    fn trace(&self, tracer: &mut Tracer<'_>) {
        if let Some(value) = self {
            value.trace(tracer);
        }
    }
}

// SAFETY: forwards to the element.
unsafe impl<T: Trace + ?Sized> Trace for Box<T> {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE;
    fn trace(&self, tracer: &mut Tracer<'_>) {
        (**self).trace(tracer);
    }
}

// SAFETY: forwards to each element.
unsafe impl<T: Trace> Trace for Vec<T> {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE;
    fn trace(&self, tracer: &mut Tracer<'_>) {
        for value in self {
            value.trace(tracer);
        }
    }
}

// SAFETY: forwards to each element.
unsafe impl<T: Trace, const N: usize> Trace for [T; N] {
    const NEEDS_TRACE: bool = T::NEEDS_TRACE;
    fn trace(&self, tracer: &mut Tracer<'_>) {
        for value in self {
            value.trace(tracer);
        }
    }
}
