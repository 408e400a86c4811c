// While a thread is detached (`blocking`), the collector may scan its stacks: a view cannot
// be used inside the closure, since it borrows the mutator that `blocking` takes mutably.
use gc_runtime::{Gc, ValueStack};

fn main() {
    let mut mu = gc_runtime::attach();
    let mut stack: ValueStack<Gc<'static, u64>> = ValueStack::new(&mu);
    let mut view = stack.open(&mu);
    mu.blocking(|| view.clear());
}
