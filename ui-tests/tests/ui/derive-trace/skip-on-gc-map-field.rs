// A skipped `GcMap` would never be traced, so its values could be freed while reachable.
use gc_runtime::{GcMap, Trace};

#[derive(Trace)]
struct Scope {
    #[trace(skip)]
    variables: GcMap<String, Scope>,
}

fn main() {}
