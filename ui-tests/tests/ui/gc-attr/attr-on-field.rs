// #[gc] goes on the struct; a `Gc<T>` field becomes a slot without it.
use gc_runtime::{gc, Gc};

#[gc]
struct Node {
    value: u64,
    #[gc]
    next: Option<Gc<Node>>,
}

fn main() {}
