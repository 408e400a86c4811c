// A closure defined in #[gc] code and called later, elsewhere, still runs the barrier.
#![deny(warnings)]

use gc_runtime::{gc, Gc};

#[gc]
struct Node {
    value: u64,
    next: Option<Gc<Node>>,
}

#[gc(Node)]
fn linker<'m>(target: Gc<'m, Node>) -> impl Fn(Gc<'_, Node>) + 'm {
    move |node| node.next = Some(target)
}

fn main() {
    let mu = gc_runtime::attach();
    let target = Node::new(&mu, 42, None);
    let link = linker(target);
    let nodes: Vec<_> = (0..3).map(|value| Node::new(&mu, value, None)).collect();
    for node in &nodes {
        link(*node);
    }
    for node in &nodes {
        assert_eq!(node.next(&mu).expect("linked later").value, 42);
    }
}
