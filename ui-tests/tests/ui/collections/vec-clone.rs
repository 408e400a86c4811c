// A `GcVec` is not `Clone`: a clone of an allocated vector would be an armed vector outside
// the heap. Copy the elements into a new vector inside an object instead
// (`other.extend(v.iter(&mu))`).
use gc_runtime::{GcVec, Trace};

#[derive(Trace)]
struct Node {
    children: GcVec<Node>,
}

fn main() {
    let mu = gc_runtime::attach();
    let node = mu.alloc(Node { children: GcVec::new() });
    let _copy = node.children.clone();
}
