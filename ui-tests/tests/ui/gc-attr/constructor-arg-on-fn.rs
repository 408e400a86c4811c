// `constructor` is a struct argument; on a function, #[gc(...)] lists #[gc] structs.
use gc_runtime::{gc, Gc};

#[gc]
struct Node {
    next: Option<Gc<Node>>,
}

#[gc(Node, constructor = "make")]
fn link(a: Gc<'_, Node>, b: Gc<'_, Node>) {
    a.next = Some(b);
}

fn main() {}
