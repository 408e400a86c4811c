// The `Drop` guard cannot be sent elsewhere by rebinding `::gc_runtime`. Here the crate calls
// itself `gc_runtime`, re-exports the real `Trace`, and has a guard trait of its own, with no
// blanket impl for `Drop` types: the derive's guard impl lands on that trait and nothing
// conflicts — before, `Evil`'s destructor then ran on the finalizer with `&mut self` and moved
// an armed slot out of a dead object. The derive also checks, from a block that loads
// gc-runtime itself, that the guard `::gc_runtime` names is gc-runtime's: it is not.
extern crate gc_runtime as real;
extern crate self as gc_runtime;

pub use real::{Trace, Tracer};

pub mod __private {
    pub trait TraceTypesMustNotImplementDrop {}
}

use real::Member;

#[derive(Trace)]
pub struct Leaf {
    canary: u64,
}

#[derive(Trace)]
pub struct Evil {
    next: Member<Leaf>,
}

impl Drop for Evil {
    fn drop(&mut self) {
        let _escaped = std::mem::replace(&mut self.next, Member::new());
    }
}

fn main() {}
