// `constructor` is spelled in full.
use gc_runtime::{gc, Gc};

#[gc(ctor = "make")]
struct Node {
    next: Option<Gc<Node>>,
}

fn main() {}
