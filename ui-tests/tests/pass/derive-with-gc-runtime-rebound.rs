// The derive works whatever the crate calls `gc_runtime`: it names the real crate through an
// `extern crate` of its own. Here `::gc_runtime` is this crate, which has no `Trace` at all.
extern crate gc_runtime as real;
extern crate self as gc_runtime;

use real::{Member, Trace};

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
