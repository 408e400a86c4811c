// A new object's slots start empty and are set after allocation, through the barrier; a
// struct literal cannot put a pointer in one. Use the #[gc] constructor.
use gc_runtime::{gc, Gc};

#[gc]
struct Node {
    next: Option<Gc<Node>>,
}

fn main() {
    let mu = gc_runtime::attach();
    let a = Node::new(&mu, None);
    let _ = mu.alloc(Node { next: Some(a) });
}
