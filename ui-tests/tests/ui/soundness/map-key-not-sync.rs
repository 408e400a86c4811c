// A `GcMap` is shared by every thread that reaches its object, and its lookups compare keys
// on several threads at once, with no lock: a key type that is not `Sync` (here a `Cell`) makes
// the map not `Sync`, so it cannot be allocated.
use std::cell::Cell;

use gc_runtime::GcMap;

fn main() {
    let mu = gc_runtime::attach();
    let _ = mu.alloc(GcMap::<Cell<u32>, u8>::new());
}
