// `skip` is a flag, not a key with a value.
use gc_runtime::{Member, Trace};

#[derive(Trace)]
struct Node {
    #[trace(skip = true)]
    cache: u64,
    next: Member<Node>,
}

fn main() {}
