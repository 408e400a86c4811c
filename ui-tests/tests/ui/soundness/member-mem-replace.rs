// Replacing a slot by value would drop a pointer without the barrier; there is no `&mut`.
use gc_runtime::{Member, Trace};

#[derive(Trace)]
struct Node {
    next: Member<Node>,
}

fn main() {
    let mu = gc_runtime::attach();
    let a = mu.alloc(Node { next: Member::new() });
    let _old = std::mem::replace(&mut a.next, Member::new());
}
