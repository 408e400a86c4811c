// A `GcVec` iterator yields locals of the mutator it was given, so it borrows that mutator:
// the loop cannot pass a safepoint while the iterator is alive. Collect what you need
// (plain data) first, or index with `get` after each safepoint.
use gc_runtime::GcVec;

fn main() {
    let mut mu = gc_runtime::attach();
    let v = mu.alloc(GcVec::new()).root(&mu);
    v.get(&mu).push(mu.alloc(1_u64));
    for x in v.get(&mu).iter(&mu) {
        mu.safepoint();
        assert_eq!(*x, 1);
    }
}
