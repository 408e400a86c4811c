// A #[gc] struct is shared by every thread; a `Cell` field would be a data race. The error
// points at the struct.
use std::cell::Cell;

use gc_runtime::{gc, Gc, Trace, Tracer};

struct Counter(Cell<u64>);

// SAFETY: holds no GC pointer.
unsafe impl Trace for Counter {
    fn trace(&self, _: &mut Tracer<'_>) {}
}

#[gc]
struct Node {
    visits: Counter,
    next: Option<Gc<Node>>,
}

fn main() {}
