// #[gc] on a function: the slots of the listed structs, in a loop, a closure and a match.
use gc_runtime::{gc, Gc};

#[gc]
struct Node {
    value: u64,
    next: Option<Gc<Node>>,
}

#[gc]
struct List {
    head: Option<Gc<Node>>,
}

#[gc(Node, List)]
fn link(list: Gc<'_, List>, nodes: &[Gc<'_, Node>]) {
    for pair in nodes.windows(2) {
        pair[0].next = Some(pair[1]);
    }
    let reset = |node: Gc<'_, Node>| node.next = None;
    match nodes.last() {
        Some(last) => reset(*last),
        None => list.head = None,
    }
    list.head = nodes.first().copied();
}

fn main() {
    let mu = gc_runtime::attach();
    let nodes: Vec<_> = (0..3).map(|value| Node::new(&mu, value, None)).collect();
    let list = List::new(&mu, None);
    link(list, &nodes);
    let mut values = Vec::new();
    let mut at = list.head(&mu);
    while let Some(node) = at {
        values.push(node.value);
        at = node.next(&mu);
    }
    assert_eq!(values, [0, 1, 2]);
}
