// An object reached through a local or a `&T` is shared: no `&mut` to its slots.
use gc_runtime::{Member, Trace};

#[derive(Trace)]
struct Node {
    next: Member<Node>,
}

fn take(slot: &mut Member<Node>) -> Member<Node> {
    std::mem::take(slot)
}

fn main() {
    let mu = gc_runtime::attach();
    let node: &Node = mu.alloc(Node { next: Member::new() }).into_ref();
    let _ = take(&mut node.next);
}
