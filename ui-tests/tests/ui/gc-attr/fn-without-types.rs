// #[gc] on a function must list the #[gc] structs whose slots it assigns.
use gc_runtime::{gc, Gc};

#[gc]
struct Node {
    next: Option<Gc<Node>>,
}

#[gc]
fn link(a: Gc<'_, Node>, b: Gc<'_, Node>) {
    a.next = Some(b);
}

fn main() {}
