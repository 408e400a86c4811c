// A value read out of a stack is a local: it dies at the next safepoint like any other. Read
// it from the stack again after the safepoint (the stack kept the object alive).
use gc_runtime::{Gc, ValueStack};

fn main() {
    let mut mu = gc_runtime::attach();
    let mut stack: ValueStack<Gc<'static, u64>> = ValueStack::new(&mu);
    stack.open(&mu).push(mu.alloc(1));
    let first = stack.open(&mu)[0];
    mu.safepoint();
    assert_eq!(*first, 1);
}
