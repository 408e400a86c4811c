// A skipped `GcIdMap` would never be traced, so its keys and values could be freed while
// reachable.
use gc_runtime::{GcIdMap, Trace};

#[derive(Trace)]
struct Interner {
    #[trace(skip)]
    by_object: Option<Box<GcIdMap<Interner, u32>>>,
}

fn main() {}
