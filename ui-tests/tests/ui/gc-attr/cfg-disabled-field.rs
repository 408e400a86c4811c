// A field disabled by #[cfg] is gone from the constructor and the accessors too.
use gc_runtime::{gc, Gc};

#[gc]
struct Node {
    value: u64,
    next: Option<Gc<Node>>,
    #[cfg(any())]
    debug_prev: Option<Gc<Node>>,
}

fn main() {
    let mu = gc_runtime::attach();
    let node = Node::new(&mu, 1, None, None);
    let _ = node.debug_prev(&mu);
}
