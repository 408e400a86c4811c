// #[gc] implements Trace itself; a second derive would conflict.
use gc_runtime::{gc, Gc, Trace};

#[gc]
#[derive(Debug, Trace)]
struct Node {
    value: u64,
    next: Option<Gc<Node>>,
}

fn main() {}
