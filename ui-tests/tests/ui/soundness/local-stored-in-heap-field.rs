// A heap object cannot hold a local: the collector would not see the pointer, so `Gc` does not
// implement `Trace`. Use a `Member<T>` slot (or a #[gc] struct's `Gc<T>` field, which becomes
// one).
use gc_runtime::{Gc, Trace};

#[derive(Trace)]
struct Holder<'m> {
    held: Gc<'m, u64>,
}

fn main() {}
