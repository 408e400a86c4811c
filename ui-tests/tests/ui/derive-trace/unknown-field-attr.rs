// `skip` is the only field attribute.
use gc_runtime::{Member, Trace};

#[derive(Trace)]
struct Node {
    #[trace(ignore)]
    cache: u64,
    next: Member<Node>,
}

fn main() {}
