// Swapping two slots would move pointers without the barrier; objects are only reachable
// through shared references, so there is no `&mut` to a slot to swap with.
use gc_runtime::{Member, Trace};

#[derive(Trace)]
struct Node {
    next: Member<Node>,
}

fn main() {
    let mu = gc_runtime::attach();
    let a = mu.alloc(Node { next: Member::new() });
    let b = mu.alloc(Node { next: Member::new() });
    std::mem::swap(&mut a.next, &mut b.next);
}
