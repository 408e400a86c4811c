// #[gc] goes on the provided methods of a trait, not on the trait.
use gc_runtime::{gc, Gc};

#[gc]
struct Node {
    next: Option<Gc<Node>>,
}

#[gc]
trait Link {
    fn link(&self, a: Gc<'_, Node>, b: Gc<'_, Node>) {
        a.next = Some(b);
    }
}

fn main() {}
