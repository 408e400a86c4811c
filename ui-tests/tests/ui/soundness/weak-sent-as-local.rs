// A weak reference can go to another thread, but an upgraded local cannot: upgrade it there,
// with that thread's mutator.
use std::thread;

fn main() {
    let mu = gc_runtime::attach();
    let obj = mu.alloc(1_u64);
    let weak = obj.downgrade(&mu);
    let local = weak.upgrade(&mu).unwrap();
    thread::spawn(move || {
        assert_eq!(*local, 1);
    })
    .join()
    .unwrap();
}
