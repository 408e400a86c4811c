// `skip` may be given once per field.
use gc_runtime::{Member, Trace};

#[derive(Trace)]
struct Node {
    #[trace(skip)]
    #[trace(skip)]
    cache: u64,
    next: Member<Node>,
}

fn main() {}
