// A value stack is not `Sync` either: another thread could not read it while its owner
// writes it.
use gc_runtime::{Gc, ValueStack};

fn main() {
    let mu = gc_runtime::attach();
    let stack: ValueStack<Gc<'static, u64>> = ValueStack::new(&mu);
    std::thread::scope(|s| {
        s.spawn(|| format!("{:?}", &stack));
    });
}
