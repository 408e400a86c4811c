// A skipped `GcValueMap` would never be traced (nor armed), so the objects its values point to
// could be freed while reachable.
use gc_runtime::{GcValueMap, Member, Trace};

#[derive(Trace)]
struct Instance {
    #[trace(skip)]
    fields: GcValueMap<String, Member<Instance>>,
}

fn main() {}
