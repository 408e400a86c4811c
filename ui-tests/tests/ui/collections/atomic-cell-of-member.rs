// `AtomicCell` is traced only for `Copy` contents: `AtomicCell::swap` on a slot would move an
// armed slot out of the heap. A GC pointer field is a `Member` (or a collection), on its own.
use gc_runtime::{AtomicCell, Member, Trace};

#[derive(Trace)]
struct Node {
    next: AtomicCell<Member<Node>>,
}

fn main() {}
