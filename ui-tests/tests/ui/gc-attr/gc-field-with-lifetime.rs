// A #[gc] field is written `Gc<T>`: it becomes a slot, which does not borrow a mutator, so
// no lifetime (not even `'static`) belongs there.
use gc_runtime::{gc, Gc};

#[gc]
struct Leaf {
    value: u64,
}

#[gc]
struct Node {
    value: u64,
    leaf: Option<Gc<'static, Leaf>>,
}

fn main() {}
