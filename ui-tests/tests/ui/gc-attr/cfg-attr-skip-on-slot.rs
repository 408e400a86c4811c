// A `#[trace(skip)]` produced by a `cfg_attr` on a slot field is not seen by #[gc], which
// rejects a plain `#[trace(skip)]` there; the derive rejects it instead, naming `Member`,
// a type the user did not write.
use gc_runtime::{gc, Gc};

#[gc]
struct Node {
    #[cfg_attr(all(), trace(skip))]
    next: Option<Gc<Node>>,
}

fn main() {}
