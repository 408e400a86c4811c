// A struct accepts `constructor = "name"` and `no_constructor` only.
use gc_runtime::{gc, Gc};

#[gc(builder)]
struct Node {
    next: Option<Gc<Node>>,
}

fn main() {}
