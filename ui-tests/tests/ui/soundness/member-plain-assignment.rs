// Outside #[gc] code a slot cannot be assigned: a slot field is a `Member<T>`, and the
// barrier only runs through `set` (or through the rewrite inside #[gc] code).
use gc_runtime::{gc, Gc};

#[gc]
struct Node {
    next: Option<Gc<Node>>,
}

fn main() {
    let mu = gc_runtime::attach();
    let a = Node::new(&mu, None);
    let b = Node::new(&mu, None);
    a.next = Some(b);
}
