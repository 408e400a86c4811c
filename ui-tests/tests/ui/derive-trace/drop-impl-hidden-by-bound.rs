// `#[trace(bound = "...")]` cannot hide a `Drop` impl from the derive's guard. Its predicates
// go on the `Trace` impl only: on the guard impl, a higher-ranked one that coherence cannot
// decide hid the guard's overlap with the blanket impl for `Drop` types, and this compiled
// (the type could not be allocated, since the same predicate kept `Foo: Trace` unprovable).
use gc_runtime::{Member, Trace};

pub trait Lk {}
impl Lk for &'static () {}

#[derive(Trace)]
#[trace(bound = "for<'b> &'b (): Lk, Foo<'a>: gc_runtime::__private::TraceTypesMustNotImplementDrop")]
pub struct Foo<'a> {
    m: Member<u64>,
    _p: std::marker::PhantomData<&'a ()>,
}

impl<'a> Drop for Foo<'a> {
    fn drop(&mut self) {}
}

fn main() {}
