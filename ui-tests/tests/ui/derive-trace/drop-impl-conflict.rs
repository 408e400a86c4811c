// A traced type may not implement `Drop`: destructors run on the sweeper, after the object's
// neighbours may already be freed.
use gc_runtime::{Member, Trace};

#[derive(Trace)]
struct Node {
    next: Member<Node>,
}

impl Drop for Node {
    fn drop(&mut self) {}
}

fn main() {}
