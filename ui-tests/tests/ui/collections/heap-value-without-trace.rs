// A `HeapValue` must implement `Trace`: the collector finds its slots through it. Derive it
// (`#[derive(Trace)]`); a value type without slots derives it too.
use std::sync::atomic::{AtomicU64, Ordering};

use gc_runtime::{HeapValue, Mutator};

struct Number(AtomicU64);

impl HeapValue for Number {
    type Local<'m> = u64;

    fn empty() -> Number {
        Number(AtomicU64::new(0))
    }

    fn load(&self, _mu: &Mutator) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn store(&self, n: u64) {
        self.0.store(n, Ordering::Relaxed);
    }
}

fn main() {}
