// A `Gc` with an argument that is not a type: reported, and the field is kept as written, so
// rustc's own errors about it follow.
use gc_runtime::{gc, Gc};

#[gc]
struct Node {
    leaf: Gc<Target = u8>,
}

fn main() {}
