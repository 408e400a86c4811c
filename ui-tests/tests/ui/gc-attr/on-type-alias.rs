// A type alias is not a #[gc] struct: put #[gc] on the struct it names.
use gc_runtime::{gc, Gc};

#[gc]
struct Node {
    next: Option<Gc<Node>>,
}

#[gc]
type Link = Node;

fn main() {}
