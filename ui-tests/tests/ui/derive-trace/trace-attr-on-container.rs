// `#[trace(...)]` belongs on fields, not on the type.
use gc_runtime::{Member, Trace};

#[derive(Trace)]
#[trace(skip)]
struct Node {
    cache: u64,
    next: Member<Node>,
}

fn main() {}
