// The setter of the slot `next` is `set_next`, which is also the getter of the slot
// `set_next`. Rejected by rustc as a duplicate definition, at the attribute.
use gc_runtime::{gc, Gc};

#[gc]
struct Node {
    next: Option<Gc<Node>>,
    set_next: Option<Gc<Node>>,
}

fn main() {}
