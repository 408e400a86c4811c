// A skipped tagged slot may hold a GC pointer the marker would never see.
use gc_runtime::{TaggedMember, Trace};

#[derive(Trace)]
struct Object {
    id: u64,
    #[trace(skip)]
    fields: [TaggedMember<Object>; 4],
}

fn main() {}
