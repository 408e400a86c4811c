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

fn mk<'m>(mu: &'m gc_runtime::Mutator, id: usize, drops: &DropCount) -> gc_runtime::Gc<'m, Node> {
    mu.alloc(Node { id, next: Member::new(), _tracked: Tracked(drops.clone()) })
}

#[test]
fn unreachable_objects_are_freed_and_reachable_ones_survive() {
    let drops = DropCount::default();
    let mut mu = gc_runtime::attach();
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

struct Bomb;
impl Drop for Bomb {
    fn drop(&mut self) {
        panic!("destructor panics during sweep");
    }
}

#[derive(Trace)]
struct Fragile {
    next: Member<Fragile>,
    #[trace(skip)]
    _bomb: Bomb,
    #[trace(skip)]
    _tracked: Tracked,
}

#[test]
fn a_panicking_destructor_is_reported_and_the_heap_goes_on() {
    let drops = DropCount::default();
    let mut mu = gc_runtime::attach();
    for _ in 0..3 {
        let f = mu.alloc(Fragile { next: Member::new(), _bomb: Bomb, _tracked: Tracked(drops.clone()) });
        f.next.set(Some(f));
    }
    let survivor = mk(&mu, 99, &drops).root(&mu);
    let cycles_before = gc_runtime::stats().cycles;
    let panics_before = gc_runtime::stats().drop_panics;
    mu.collect(); // returns once the destructors (on the finalizer thread) have run
    let panics_after = gc_runtime::stats().drop_panics;
    assert!(panics_after >= panics_before + 3, "three destructors panicked and were counted");
    assert_eq!(root_id(&mu, &survivor), 99, "live objects are untouched");
    // The heap keeps working: allocate, collect, free.
    let garbage = mk(&mu, 100, &drops);
    garbage.next.set(Some(survivor.get(&mu)));
    mu.collect();
    assert_eq!(root_id(&mu, &survivor), 99);
    // Checkmark (a stop-the-world re-mark from the roots) agrees with the marking after the
    // panics; it aborts the process if not.
    gc_runtime::reconfigure(gc_runtime::Config::default().with_checkmark(true)).unwrap();
    mu.collect();
    let stats = gc_runtime::stats();
    assert!(stats.cycles >= cycles_before + 3);
    assert!(stats.recent.last().is_some_and(|c| c.checkmarked_objects.is_some()), "checkmark verified the heap");
    gc_runtime::reconfigure(gc_runtime::Config::default()).unwrap();
    assert_eq!(root_id(&mu, &survivor), 99);
}

fn root_id(mu: &gc_runtime::Mutator, r: &gc_runtime::Root<Node>) -> usize {
    r.get(mu).id
}
