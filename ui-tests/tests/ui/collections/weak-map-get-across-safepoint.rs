// A value read from a `GcWeakMap` is a local like any other: it cannot be kept across a
// safepoint (the entry may be gone, and the value freed, by then). Keep a `Root` instead.
use gc_runtime::GcWeakMap;

fn main() {
    let mut mu = gc_runtime::attach();
    let m = mu.alloc(GcWeakMap::new()).root(&mu);
    let key = mu.alloc(1_u8).root(&mu);
    m.get(&mu).insert(key.get(&mu), mu.alloc(2_u8));
    let value = m.get(&mu).get(key.get(&mu), &mu).unwrap();
    mu.safepoint();
    assert_eq!(*value, 2);
}
