// A `TaggedWord` is a local form (it may hold a `Gc`): skipping it would silence the error
// that keeping a local in the heap gets. A `TaggedMember` is the heap form.
use gc_runtime::{TaggedWord, Trace};

#[derive(Trace)]
struct Object<'m> {
    id: u64,
    #[trace(skip)]
    value: TaggedWord<'m, Object<'m>>,
}

fn main() {}
