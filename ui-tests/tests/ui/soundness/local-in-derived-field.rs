// A local is not a slot: a field of type `Gc` in a `#[derive(Trace)]` type does not implement
// `Trace` (and is neither `Send` nor `Sync`), so the object cannot be allocated. Use `Member<T>`.
use gc_runtime::{Gc, Trace};

#[derive(Trace)]
struct Holder {
    local: Gc<'static, u64>,
}

fn main() {}
