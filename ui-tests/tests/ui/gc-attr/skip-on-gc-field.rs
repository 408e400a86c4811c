// A skipped slot would never be marked, and its referent could be freed while reachable.
use gc_runtime::{gc, Gc};

#[gc]
struct Node {
    value: u64,
    #[trace(skip)]
    next: Option<Gc<Node>>,
}

fn main() {}
