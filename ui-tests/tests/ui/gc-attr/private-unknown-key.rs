// `__private(...)` is the form the registries call #[gc] with. A user who writes it with an
// unknown key is told of a "gc-derive bug".
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
