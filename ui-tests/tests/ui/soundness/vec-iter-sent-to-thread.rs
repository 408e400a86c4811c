// A `GcVecIter` holds its thread's mutator: it cannot be sent to another thread, where it would
// hand out locals of a mutator that thread does not own.
use gc_runtime::GcVec;

fn main() {
    let mu = gc_runtime::attach();
    let v = mu.alloc(GcVec::<u64>::new());
    v.push(mu.alloc(1_u64));
    let it = v.iter(&mu);
    std::thread::scope(|s| {
        s.spawn(move || it.count());
    });
}
