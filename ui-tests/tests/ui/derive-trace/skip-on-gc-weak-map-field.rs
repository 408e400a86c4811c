// A skipped `GcWeakMap` would never be traced, so the values of its live keys could be freed
// while reachable.
use gc_runtime::{GcWeakMap, Trace};

#[derive(Trace)]
struct Host {
    #[trace(skip)]
    properties: GcWeakMap<Host, String>,
}

fn main() {}
