// A field's #[cfg] follows it into the constructor and the accessors.
#![deny(warnings)]

use gc_runtime::{gc, Gc};

#[gc]
struct Node {
    value: u64,
    #[cfg(any())]
    debug_prev: Option<Gc<Node>>,
    #[cfg(all())]
    next: Option<Gc<Node>>,
    #[cfg_attr(any(), cfg(any()))]
    kept: Gc<Node>,
}

#[gc(Node)]
fn relink(node: Gc<'_, Node>, next: Gc<'_, Node>) {
    node.next = None;
    #[cfg(all())]
    node.next = Some(next);
    #[cfg(any())]
    node.debug_prev = None;
}

fn main() {
    let mu = gc_runtime::attach();
    let tail = mu.alloc(Node { value: 0, next: gc_runtime::Member::new(), kept: gc_runtime::NonNullMember::new() });
    tail.set_kept(tail);
    // Three parameters: `debug_prev` is gone.
    let head = Node::new(&mu, 1, None, tail);
    relink(head, tail);
    assert_eq!(head.next(&mu).expect("relinked").value, 0);
    assert_eq!(head.kept(&mu).value, 0);
    assert_eq!(std::mem::size_of::<Node>(), 3 * std::mem::size_of::<usize>());
}
