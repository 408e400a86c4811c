// The `Drop` guard cannot be sent elsewhere by rebinding `::gc_runtime`. Here the crate calls
// itself `gc_runtime`, re-exports the real `Trace`, and has a guard trait of its own, with no
// blanket impl for `Drop` types. If the derive named the guard `::gc_runtime::__private::...`,
// its impl would land on this trait, nothing would conflict, and `Evil`'s destructor — run on
// the finalizer with `&mut self` — could move an armed slot out of a dead object. The derive
// loads gc-runtime under a name of its own, so the real guard still conflicts.
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
