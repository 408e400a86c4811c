//! Basics: allocate, link, root, collect; what is unreachable is freed, with its fields'
//! destructors run exactly once, and what is reachable survives.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

use gc_runtime::{Member, Trace};

/// Counts drops of the objects of one test.
#[derive(Clone, Default)]
struct DropCount(Arc<AtomicUsize>);
struct Tracked(DropCount);
impl Drop for Tracked {
    fn drop(&mut self) {
        (self.0).0.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Trace)]
struct Node {
    id: usize,
    next: Member<Node>,
    #[trace(skip)]
    _tracked: Tracked,
}

#[test]
fn unreachable_objects_are_freed_and_reachable_ones_survive() {
    let drops = DropCount::default();
    let mut mu = gc_runtime::attach();
    fn mk<'m>(mu: &'m gc_runtime::Mutator, id: usize, drops: &DropCount) -> gc_runtime::Gc<'m, Node> {
        mu.alloc(Node { id, next: Member::new(), _tracked: Tracked(drops.clone()) })
    }
    // A rooted chain 0 -> 1 -> 2 and a garbage cycle 3 <-> 4.
    let a = mk(&mu, 0, &drops);
    let b = mk(&mu, 1, &drops);
    let c = mk(&mu, 2, &drops);
    a.next.set(Some(b));
    b.next.set(Some(c));
    let d = mk(&mu, 3, &drops);
    let e = mk(&mu, 4, &drops);
    d.next.set(Some(e));
    e.next.set(Some(d));
    let root = a.root(&mu);
    mu.collect();
    assert_eq!(drops.0.load(Ordering::SeqCst), 2, "the garbage cycle is freed");
    let a = root.get(&mu);
    let ids: Vec<usize> = std::iter::successors(Some(a), |n| n.next.get(&mu)).map(|n| n.id).collect();
    assert_eq!(ids, [0, 1, 2]);
    // Cut the chain after 0: 1 and 2 become garbage.
    a.next.set(None);
    mu.collect();
    assert_eq!(drops.0.load(Ordering::SeqCst), 4);
    drop(root);
    mu.collect();
    assert_eq!(drops.0.load(Ordering::SeqCst), 5, "every object dropped exactly once");
    mu.collect();
    assert_eq!(drops.0.load(Ordering::SeqCst), 5);
}

#[derive(Trace)]
struct Pair {
    first: gc_runtime::NonNullMember<Pair>,
    second: Member<Pair>,
}

#[test]
fn non_null_members_hold_a_pointer_once_set() {
    let mu = gc_runtime::attach();
    let a = mu.alloc(Pair { first: gc_runtime::NonNullMember::new(), second: Member::new() });
    a.first.set(a);
    assert!(gc_runtime::Gc::ptr_eq(a.first.get(&mu), a));
    assert!(a.first.points_to(a));
    assert!(a.second.get(&mu).is_none());
    gc_runtime::__private::assign(&a.second, Some(a));
    assert!(a.second.points_to(a));
}

#[test]
#[should_panic(expected = "read before it was set")]
fn a_non_null_member_read_before_set_panics() {
    let mu = gc_runtime::attach();
    let a = mu.alloc(Pair { first: gc_runtime::NonNullMember::new(), second: Member::new() });
    let _ = a.first.get(&mu);
}
