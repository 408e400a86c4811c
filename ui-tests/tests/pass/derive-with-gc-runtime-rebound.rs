// A crate may call something else `gc_runtime`, as long as that names gc-runtime's items: here
// `::gc_runtime` is this crate, which re-exports them, `__private` included. The derive's check
// that its `Drop` guard is gc-runtime's passes, and the type works.
extern crate gc_runtime as real;
extern crate self as gc_runtime;

pub use real::{Trace, Tracer};

pub mod __private {
    pub use real::__private::*;
}

use real::Member;

#[derive(Trace)]
struct Leaf {
    canary: u64,
}

#[derive(Trace)]
struct Node<T> {
    leaf: Member<Leaf>,
    extra: T,
}

fn main() {
    let mut mu = real::attach();
    let leaf = mu.alloc(Leaf { canary: 7 });
    let node = mu.alloc(Node { leaf: Member::new(), extra: 1u8 });
    node.leaf.set(Some(leaf));
    let root = node.root(&mu);
    mu.collect();
    let node = root.get(&mu);
    assert_eq!(node.leaf.get(&mu).map(|l| l.canary), Some(7));
    assert_eq!(node.extra, 1);
    assert!(<Node<u8> as Trace>::NEEDS_TRACE && !<Leaf as Trace>::NEEDS_TRACE);
}
