// `#[trace(...)]` belongs on fields, not on enum variants.
use gc_runtime::{Member, Trace};

#[derive(Trace)]
enum Tree {
    Leaf,
    #[trace(skip)]
    Cached(u64),
    Branch(Member<Tree>, Member<Tree>),
}

fn main() {}
