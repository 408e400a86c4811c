// A `Gc<T>` field (a non-null slot) takes a `Gc<T>`, not an `Option<Gc<T>>`.
use gc_runtime::{gc, Gc};

#[gc]
struct Leaf {
    value: u64,
}

#[gc]
struct Node {
    leaf: Gc<Leaf>,
}

#[gc]
impl Node {
    fn replace_leaf(&self, leaf: Option<Gc<'_, Leaf>>) {
        self.leaf = leaf;
    }
}

fn main() {}
