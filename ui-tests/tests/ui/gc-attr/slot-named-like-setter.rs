// The setter of the slot `next` is `set_next`, which is also the getter of the slot
// `set_next`. Rejected by #[gc] at the later field (without the check: rustc's "duplicate
// definitions" at the attribute, naming neither field).
use gc_runtime::{gc, Gc};

#[gc]
struct Node {
    next: Option<Gc<Node>>,
    set_next: Option<Gc<Node>>,
}

fn main() {}
