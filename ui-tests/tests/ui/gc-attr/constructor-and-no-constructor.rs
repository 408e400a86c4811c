// Either rename the constructor or leave it out, not both.
use gc_runtime::{gc, Gc};

#[gc(constructor = "make", no_constructor)]
struct Node {
    next: Option<Gc<Node>>,
}

fn main() {}
