// Heap objects are shared by every thread: a field that is not `Send` cannot go in the heap.
use std::rc::Rc;

use gc_runtime::Trace;

#[derive(Trace)]
struct Node {
    value: u64,
    #[trace(skip)]
    shared: Rc<u64>,
}

fn main() {
    let mu = gc_runtime::attach();
    let _ = mu.alloc(Node { value: 1, shared: Rc::new(2) });
}
