// A destructuring assignment is not rewritten: only `place.slot = value` is. The slots are
// then assigned as plain fields, a type error that does not say why.
use gc_runtime::{gc, Gc};

#[gc]
struct Node {
    next: Option<Gc<Node>>,
    prev: Option<Gc<Node>>,
}

#[gc]
impl Node {
    fn link(&self, other: Gc<'_, Node>) {
        (self.next, other.prev) = (Some(other), None);
    }
}

fn main() {}
