// A skipped GC pointer would never be marked, and its referent could be freed while reachable.
use gc_runtime::{Member, Trace};

#[derive(Trace)]
struct Node {
    value: u64,
    #[trace(skip)]
    children: Vec<Option<Member<Node>>>,
}

fn main() {}
