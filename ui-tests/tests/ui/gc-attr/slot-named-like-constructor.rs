// A slot named `new` has a getter named `new`, as is the constructor; so has a constructor
// renamed to a setter's name. Rejected by #[gc] at the field (without the check: rustc's
// "duplicate definitions" at the attribute).
use gc_runtime::{gc, Gc};

#[gc]
struct Node {
    new: Option<Gc<Node>>,
}

#[gc(constructor = "set_next")]
struct Leaf {
    next: Option<Gc<Leaf>>,
}

fn main() {}
