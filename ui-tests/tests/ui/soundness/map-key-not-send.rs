// A `GcMap` owns its keys, and a key removed on one thread may be dropped on another (a later
// writer's): a key type that is not `Send` (here an `Rc`) makes the map neither `Send` nor
// `Sync`, so it cannot be allocated.
use std::rc::Rc;

use gc_runtime::GcMap;

fn main() {
    let mu = gc_runtime::attach();
    let _ = mu.alloc(GcMap::<Rc<u32>, u8>::new());
}
