// A `HeapValue` is read and written by every thread that reaches its collection, so it must be
// `Sync`: plain data in it goes in atomics (or `AtomicCell`), not in a `Cell`.
use std::cell::Cell;

use gc_runtime::{HeapValue, Mutator, Trace};

#[derive(Trace)]
struct Counter(#[trace(skip)] Cell<u64>);

impl HeapValue for Counter {
    type Local<'m> = u64;

    fn empty() -> Counter {
        Counter(Cell::new(0))
    }

    fn load(&self, _mu: &Mutator) -> u64 {
        self.0.get()
    }

    fn store(&self, n: u64) {
        self.0.set(n);
    }
}

fn main() {}
