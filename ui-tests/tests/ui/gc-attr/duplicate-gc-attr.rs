// One #[gc] per item.
use gc_runtime::{gc, Gc};

#[gc]
#[gc(no_constructor)]
struct Node {
    next: Option<Gc<Node>>,
}

fn main() {}
