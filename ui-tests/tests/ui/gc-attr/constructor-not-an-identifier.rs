// The constructor name must be a valid function name.
use gc_runtime::{gc, Gc};

#[gc(constructor = "make node")]
struct Node {
    next: Option<Gc<Node>>,
}

fn main() {}
