// `Gc<_>` is a slot of an inferred type, which no item signature allows: rustc reports the
// `_` once per generated signature (field, constructor, getter, setter).
use gc_runtime::{gc, Gc};

#[gc]
struct Node {
    next: Gc<_>,
}

fn main() {}
