// Nor is it `Sync`: another thread cannot allocate or read slots through it.
use std::thread;

fn main() {
    let mu = gc_runtime::attach();
    thread::scope(|scope| {
        scope.spawn(|| {
            let _ = mu.alloc(1_u64);
        });
    });
}
