// A local cannot outlive the mutator it borrows: when the mutator is dropped, the thread
// detaches and the collector no longer waits for it.
use gc_runtime::Gc;

fn make<'a>() -> Gc<'a, u64> {
    let mu = gc_runtime::attach();
    mu.alloc(1)
}

fn main() {
    let _ = make();
}
