// #[gc] cannot go on an enum variant's field (outside a #[gc] item the compiler rejects it:
// an attribute macro cannot be put on a field). Inside a #[gc] module, the module reports it.
use gc_runtime::gc;

#[gc]
mod graph {
    use gc_runtime::{Member, Trace};

    #[gc]
    pub struct Node {
        pub value: u64,
    }

    #[derive(Trace)]
    pub enum Link {
        Empty,
        To(#[gc] Member<Node>),
    }
}

fn main() {}
