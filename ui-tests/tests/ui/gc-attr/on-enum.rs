// #[gc] supports structs with named fields; an enum that holds GC pointers uses `Member<T>`
// fields and #[derive(Trace)].
use gc_runtime::{gc, Gc};

#[gc]
struct Node {
    value: u64,
}

#[gc]
enum Link {
    Empty,
    To(Gc<Node>),
}

fn main() {}
