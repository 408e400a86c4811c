// `set` takes a local, which cannot be alive after a safepoint; a stale pointer cannot be
// written into a slot.
use gc_runtime::{gc, Gc};

#[gc]
struct Node {
    next: Option<Gc<Node>>,
}

fn main() {
    let mut mu = gc_runtime::attach();
    let keep = Node::new(&mu, None).root(&mu);
    let stale = Node::new(&mu, None);
    mu.safepoint();
    keep.get(&mu).set_next(Some(stale));
}
