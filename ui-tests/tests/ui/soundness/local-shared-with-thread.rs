// A local is not `Sync` either: another thread cannot even borrow it.
use std::thread;

fn main() {
    let mu = gc_runtime::attach();
    let value = mu.alloc(1_u64);
    thread::scope(|scope| {
        scope.spawn(|| assert_eq!(*value, 1));
    });
}
