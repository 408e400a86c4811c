// A value read from a `GcMap` is a local: `collect` is a safepoint, so the local cannot
// survive it. Keep the map's holder in a `Root` and read the value again after collecting.
use gc_runtime::GcMap;

fn main() {
    let mut mu = gc_runtime::attach();
    let m = mu.alloc(GcMap::new()).root(&mu);
    m.get(&mu).insert("k", mu.alloc(1_u32));
    let value = m.get(&mu).get("k", &mu).unwrap();
    mu.collect();
    assert_eq!(*value, 1);
}
