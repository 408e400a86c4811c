// A thread-local outlives every safepoint; a local cannot be kept there, because it borrows
// the mutator. Keep a `Root` instead.
use std::cell::Cell;

use gc_runtime::Gc;

thread_local! {
    static LAST: Cell<Option<Gc<'static, u64>>> = const { Cell::new(None) };
}

fn main() {
    let mu = gc_runtime::attach();
    let value = mu.alloc(1_u64);
    LAST.with(|last| last.set(Some(value)));
}
