// The rewrite reaches assignments in closures, loops, match arms, nested blocks, `if let`,
// labelled breaks and async blocks.
#![deny(warnings)]

use std::{
    future::Future,
    pin::pin,
    task::{Context, Poll, Waker},
};

use gc_runtime::{gc, Gc, Mutator};

#[gc]
struct Node {
    id: u32,
    next: Option<Gc<Node>>,
    prev: Option<Gc<Node>>,
}

#[gc(Node)]
fn link_in_a_loop(nodes: &[Gc<'_, Node>]) {
    for pair in nodes.windows(2) {
        pair[0].next = Some(pair[1]);
        {
            pair[1].prev = Some(pair[0]);
        }
    }
}

#[gc(Node)]
fn close_the_ring(nodes: &[Gc<'_, Node>]) {
    let first = nodes[0];
    let mut i = 0;
    'outer: loop {
        match nodes.get(i) {
            Some(last) if i + 1 == nodes.len() => {
                last.next = Some(first);
                first.prev = Some(*last);
                break 'outer;
            }
            Some(_) => i += 1,
            None => break,
        }
    }
}

#[gc(Node)]
fn with_closures(nodes: &[Gc<'_, Node>]) {
    let unlink = |node: Gc<'_, Node>| {
        node.next = None;
        node.prev = None;
    };
    if let Some(node) = nodes.iter().find(|node| node.id == 99) {
        unlink(*node);
    }
    nodes.iter().filter(|node| node.id == 100).for_each(|node| node.next = None);
}

#[gc(Node)]
fn in_async<'m>(node: Gc<'m, Node>, other: Gc<'m, Node>) -> impl Future<Output = ()> + 'm {
    async move {
        node.next = Some(other);
    }
}

fn ring_ids(mu: &Mutator, start: Gc<'_, Node>) -> Vec<u32> {
    let mut ids = vec![start.id];
    let mut at = start.next(mu).expect("a ring");
    while !Gc::ptr_eq(at, start) {
        ids.push(at.id);
        at = at.next(mu).expect("a ring");
    }
    ids
}

fn main() {
    let mu = gc_runtime::attach();
    let nodes: Vec<_> = (0..5).map(|id| Node::new(&mu, id, None, None)).collect();
    link_in_a_loop(&nodes);
    close_the_ring(&nodes);
    with_closures(&nodes);
    assert_eq!(ring_ids(&mu, nodes[0]), [0, 1, 2, 3, 4]);
    assert!(Gc::ptr_eq(nodes[0].prev(&mu).expect("closed"), nodes[4]));

    let extra = Node::new(&mu, 99, None, None);
    let mut future = pin!(in_async(extra, nodes[2]));
    assert_eq!(future.as_mut().poll(&mut Context::from_waker(Waker::noop())), Poll::Ready(()));
    assert_eq!(extra.next(&mu).expect("set in the async block").id, 2);
    with_closures(&[extra]);
    assert!(extra.next(&mu).is_none());
}
