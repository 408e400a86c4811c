// #[gc] needs named fields: its constructor parameters and accessors are named after them.
use gc_runtime::{gc, Gc};

#[gc]
struct Node {
    value: u64,
}

#[gc]
struct Pair(Gc<Node>, Option<Gc<Node>>);

fn main() {}
