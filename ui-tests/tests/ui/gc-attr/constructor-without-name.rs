// `constructor` needs a name.
use gc_runtime::{gc, Gc};

#[gc(constructor)]
struct Node {
    next: Option<Gc<Node>>,
}

fn main() {}
