// A mutator is its thread's registration with the collector: it is not `Send`.
use std::thread;

fn main() {
    let mu = gc_runtime::attach();
    thread::spawn(move || {
        let _ = mu.alloc(1_u64);
    })
    .join()
    .unwrap();
}
