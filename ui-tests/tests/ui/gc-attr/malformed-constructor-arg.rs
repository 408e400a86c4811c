// The constructor name is a string literal.
use gc_runtime::{gc, Gc};

#[gc(constructor = make)]
struct Node {
    next: Option<Gc<Node>>,
}

fn main() {}
