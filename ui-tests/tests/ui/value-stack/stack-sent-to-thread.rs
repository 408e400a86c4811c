// A value stack belongs to its mutator's thread (that thread scans it): it is not `Send`.
use gc_runtime::{Gc, ValueStack};

fn main() {
    let mu = gc_runtime::attach();
    let stack: ValueStack<Gc<'static, u64>> = ValueStack::new(&mu);
    std::thread::spawn(move || drop(stack)).join().unwrap();
}
