// An `Option<Gc<T>>` field takes an `Option<Gc<T>>`: wrap the local in `Some`.
use gc_runtime::{gc, Gc};

#[gc]
struct Node {
    next: Option<Gc<Node>>,
}

#[gc(Node)]
fn link(a: Gc<'_, Node>, b: Gc<'_, Node>) {
    a.next = b;
}

fn main() {}
