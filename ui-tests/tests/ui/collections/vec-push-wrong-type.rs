// A `GcVec<T>` holds pointers to `T` only: pushing a pointer to another type is a type error
// (the collector traces each element as a `T`).
use gc_runtime::{GcVec, Trace};

#[derive(Trace)]
struct Node {
    children: GcVec<Node>,
}

fn main() {
    let mu = gc_runtime::attach();
    let node = mu.alloc(Node { children: GcVec::new() });
    node.children.push(mu.alloc(String::from("not a node")));
}
