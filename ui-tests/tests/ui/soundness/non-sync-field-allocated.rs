// Heap objects are shared by every thread: a field that is not `Sync` (here a `Cell`) would be a
// data race.
use std::cell::Cell;

use gc_runtime::Trace;

#[derive(Trace)]
struct Node {
    value: u64,
    #[trace(skip)]
    visits: Cell<u64>,
}

fn main() {
    let mu = gc_runtime::attach();
    let _ = mu.alloc(Node { value: 1, visits: Cell::new(0) });
}
