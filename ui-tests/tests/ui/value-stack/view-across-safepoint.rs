// A view of a value stack borrows the mutator, so it cannot stay open across a safepoint:
// there, the thread scans its stacks, which must not change meanwhile. Open it again after.
use gc_runtime::{Gc, ValueStack};

fn main() {
    let mut mu = gc_runtime::attach();
    let mut stack: ValueStack<Gc<'static, u64>> = ValueStack::new(&mu);
    let mut view = stack.open(&mu);
    view.push(mu.alloc(1));
    mu.safepoint();
    view.push(mu.alloc(2));
}
