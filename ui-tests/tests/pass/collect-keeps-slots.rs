// Objects reachable only through slots set by rewritten assignments survive full collections.
#![deny(warnings)]

use gc_runtime::{gc, Gc, Mutator};

#[gc]
struct Node {
    value: u64,
    payload: Vec<u64>,
    next: Option<Gc<Node>>,
    head: Gc<Head>,
}

#[gc]
struct Head {
    name: String,
}

#[gc(Node)]
fn build<'m>(mu: &'m Mutator, head: Gc<'m, Head>, len: u64) -> Gc<'m, Node> {
    let first = Node::new(mu, 0, vec![0; 16], None, head);
    let mut last = first;
    for value in 1..len {
        let node = Node::new(mu, value, vec![value; 16], None, head);
        last.next = Some(node);
        last = node;
    }
    first
}

fn check(mu: &Mutator, first: Gc<'_, Node>, len: u64) {
    let mut at = Some(first);
    let mut expected = 0;
    while let Some(node) = at {
        assert_eq!(node.value, expected);
        assert_eq!(node.payload, vec![expected; 16]);
        assert_eq!(node.head(mu).name, "list");
        expected += 1;
        at = node.next(mu);
    }
    assert_eq!(expected, len);
}

fn main() {
    let mut mu = gc_runtime::attach();
    let head = Head::new(&mu, "list".into());
    let first = build(&mu, head, 1_000);
    let root = first.root(&mu);
    // Garbage between the collections.
    for i in 0..10_000_u64 {
        let _ = mu.alloc(vec![i; 8]);
    }
    mu.collect();
    check(&mu, root.get(&mu), 1_000);
    for _ in 0..3 {
        for i in 0..10_000_u64 {
            let _ = mu.alloc(vec![i; 8]);
        }
        mu.collect();
    }
    check(&mu, root.get(&mu), 1_000);
}
