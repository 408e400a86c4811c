// Swapping an allocated (armed) `GcVec` out of its object would take its pointers out of the
// heap, where the collector does not see them; objects are reached only through shared
// references, so there is no `&mut` to do it with. Use `clear` or `truncate` instead.
use gc_runtime::{GcVec, Trace};

#[derive(Trace)]
struct Node {
    children: GcVec<Node>,
}

fn main() {
    let mu = gc_runtime::attach();
    let node = mu.alloc(Node { children: GcVec::new() });
    let _taken = std::mem::replace(&mut node.children, GcVec::new());
}
