// A snapshot of a `GcIdMap` (`entries`) is a `Vec` of locals: it borrows the mutator like the
// locals in it, so it cannot be kept across a safepoint either.
use gc_runtime::GcIdMap;

fn main() {
    let mut mu = gc_runtime::attach();
    let m = mu.alloc(GcIdMap::new()).root(&mu);
    m.get(&mu).insert(mu.alloc(1_u8), mu.alloc(2_u8));
    let entries = m.get(&mu).entries(&mu);
    mu.safepoint();
    assert_eq!(*entries[0].1, 2);
}
