// `__private(...)` is the form the registries call #[gc] with. A user who writes it with an
// unknown key is told that the key is not one, and what to write instead.
use gc_runtime::{gc, Gc};

#[gc]
struct Node {
    next: Option<Gc<Node>>,
}

#[gc(__private(fields(next)))]
fn unlink(node: Gc<'_, Node>) {
    node.next = None;
}

fn main() {}
