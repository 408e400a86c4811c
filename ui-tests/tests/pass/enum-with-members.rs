// An enum holding slots derives Trace and uses `Member<T>` fields; a #[gc] struct can hold it.
#![deny(warnings)]

use gc_runtime::{gc, Gc, Member, Trace};

#[derive(Trace)]
enum Shape {
    Leaf(u64),
    Pair { left: Member<Node>, right: Member<Node> },
}

#[gc]
struct Node {
    shape: Shape,
    parent: Option<Gc<Node>>,
}

fn total(mu: &gc_runtime::Mutator, node: Gc<'_, Node>) -> u64 {
    match &node.shape {
        Shape::Leaf(value) => *value,
        Shape::Pair { left, right } => {
            left.get(mu).map_or(0, |n| total(mu, n)) + right.get(mu).map_or(0, |n| total(mu, n))
        }
    }
}

fn main() {
    let mut mu = gc_runtime::attach();
    let left = Node::new(&mu, Shape::Leaf(2), None);
    let right = Node::new(&mu, Shape::Leaf(3), None);
    let pair = Node::new(&mu, Shape::Pair { left: Member::new(), right: Member::new() }, None);
    if let Shape::Pair { left: l, right: r } = &pair.shape {
        l.set(Some(left));
        r.set(Some(right));
    }
    left.set_parent(Some(pair));
    right.set_parent(Some(pair));
    let root = pair.root(&mu);
    mu.collect();
    let pair = root.get(&mu);
    assert_eq!(total(&mu, pair), 5);
}
