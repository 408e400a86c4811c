// The closure of `alloc_cyclic` runs inside an allocation, which is not a safepoint: it cannot
// pass one (or collect) itself. Build the object's contents before, or set its slots after.
use gc_runtime::{Trace, Weak};

#[derive(Trace)]
struct Node {
    me: Weak<Node>,
}

fn main() {
    let mut mu = gc_runtime::attach();
    let _n = mu.alloc_cyclic(|me: Weak<Node>| {
        mu.safepoint();
        Node { me }
    });
}
