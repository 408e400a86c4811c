// A local belongs to its thread's mutator: it is not `Send`. Send a `Root` instead.
use std::thread;

fn main() {
    let mu = gc_runtime::attach();
    let value = mu.alloc(1_u64);
    thread::spawn(move || {
        assert_eq!(*value, 1);
    })
    .join()
    .unwrap();
}
