// `#[trace]` needs an argument: write `#[trace(skip)]`.
use gc_runtime::{Member, Trace};

#[derive(Trace)]
struct Node {
    #[trace]
    cache: u64,
    next: Member<Node>,
}

fn main() {}
