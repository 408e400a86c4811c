// `GcMap` keys are plain data, never traced: a `Gc` local as a key would be a pointer the
// collector never sees. `Gc` is neither `Hash` nor `Eq` for that reason; key by object
// identity with `GcIdMap`, which keeps and traces its keys.
use gc_runtime::GcMap;

fn main() {
    let mu = gc_runtime::attach();
    let key = mu.alloc(1_u32);
    let map = GcMap::new();
    map.insert(key, mu.alloc(2_u32));
}
