// Inside #[gc] code, assignments that are not to a slot field keep their meaning: locals,
// plain fields, compound assignments, tuple fields, and slots' `set` calls.
#![deny(warnings)]

use gc_runtime::{gc, Gc};

#[gc]
struct Node {
    count: std::sync::atomic::AtomicU64,
    next: Option<Gc<Node>>,
}

struct Stats {
    visits: u64,
    last: (u64, u64),
}

#[gc(Node)]
fn walk(node: Gc<'_, Node>, stats: &mut Stats) -> u64 {
    let mut total = 0;
    total += 1;
    stats.visits = stats.visits + 1;
    stats.visits += 1;
    stats.last.0 = 7;
    stats.last = (stats.last.0, 8);
    node.count.store(total, std::sync::atomic::Ordering::Relaxed);
    node.next = None;
    let mut pair = (0, 0);
    pair.1 = 3;
    total + pair.1
}

fn main() {
    let mu = gc_runtime::attach();
    let node = Node::new(&mu, 0.into(), None);
    let mut stats = Stats { visits: 0, last: (0, 0) };
    assert_eq!(walk(node, &mut stats), 4);
    assert_eq!(stats.visits, 2);
    assert_eq!(stats.last, (7, 8));
    assert_eq!(node.count.load(std::sync::atomic::Ordering::Relaxed), 1);
}
