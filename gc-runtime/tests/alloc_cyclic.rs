//! `Mutator::alloc_cyclic`: the weak reference handed to the closure upgrades to nothing while
//! the object is built and to the object afterwards; dropped, sent to another thread, kept
//! after a panic or raced against the publication, its cell is given back exactly once; the
//! object dies like any other; and concurrent builds under every barrier with checkmark on.

use std::{
    collections::HashSet,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        mpsc, Arc, Mutex,
    },
    thread,
};

mod common;

use common::{DropProbe, Ledger, Rng};
use gc_runtime::{BarrierKind, Config, Gc, Member, Mode, Mutator, Trace, Weak};

fn serial() -> std::sync::MutexGuard<'static, ()> {
    common::serial_with_checkmark()
}

#[derive(Trace)]
struct Node {
    id: u64,
    me: Option<Weak<Node>>,
    next: Member<Node>,
    #[trace(skip)]
    probe: Option<DropProbe>,
}

fn node(id: u64, me: Option<Weak<Node>>) -> Node {
    Node { id, me, next: Member::new(), probe: None }
}

/// Weak references alive now (the cells the weak table holds).
fn weak_cells() -> usize {
    gc_runtime::stats().weak_refs
}

/// The weak references alive once the garbage earlier tests left is gone: a test's baseline.
/// (A dead object holding a weak reference gives its cell back when its destructor runs, in
/// whatever cycle frees it; two collections free it, and what only its roots kept, and wait
/// for the destructors.)
fn settled_weak_cells(mu: &mut Mutator) -> usize {
    mu.collect();
    mu.collect();
    weak_cells()
}

#[test]
fn the_weak_reference_upgrades_only_once_the_object_is_built() {
    let _s = serial();
    let mut mu = gc_runtime::attach();
    let n = mu.alloc_cyclic(|me: Weak<Node>| {
        assert!(me.is_cleared() && me.upgrade(&mu).is_none(), "no object yet");
        assert!(format!("{me:?}").contains("being built"), "{me:?}");
        node(1, Some(me))
    });
    let me = n.me.as_ref().unwrap();
    assert!(Gc::ptr_eq(me.upgrade(&mu).unwrap(), n) && !me.is_cleared());
    let root = n.root(&mu);
    mu.collect();
    let n = root.get(&mu);
    assert_eq!(n.me.as_ref().unwrap().upgrade(&mu).unwrap().id, 1);
}

#[test]
fn an_object_kept_only_by_its_own_weak_reference_dies_and_both_cells_go_back() {
    let _s = serial();
    let ledger = Ledger::new(10);
    let mut mu = gc_runtime::attach();
    let cells = settled_weak_cells(&mut mu);
    let outside = {
        let n = mu.alloc_cyclic(|me| Node { probe: Some(ledger.probe()), ..node(2, Some(me)) });
        n.downgrade(&mu)
    };
    assert_eq!(weak_cells(), cells + 2);
    mu.collect();
    assert!(outside.upgrade(&mu).is_none() && outside.is_cleared());
    ledger.check_exactly(&HashSet::new());
    drop(outside);
    assert_eq!(weak_cells(), cells, "the object's own weak reference went with it");
}

#[test]
fn weak_references_dropped_while_building_give_their_cells_back_once() {
    let _s = serial();
    let mut mu = gc_runtime::attach();
    let cells = settled_weak_cells(&mut mu);
    let mut kept = Vec::new();
    for i in 0..100 {
        let n = mu.alloc_cyclic(|me: Weak<Node>| {
            drop(me);
            // A nested build, whose weak reference is kept, may reuse the cell just dropped:
            // the outer build must then leave it alone.
            let inner = mu.alloc_cyclic(|me| node(1000 + i, Some(me)));
            kept.push(inner.me.as_ref().unwrap().upgrade(&mu).unwrap().downgrade(&mu));
            node(i, None)
        });
        assert_eq!(n.id, i);
    }
    // Per iteration: the inner node's own weak reference, and the one in `kept`.
    assert_eq!(weak_cells(), cells + 200, "no dropped reference leaked its cell or had it given back twice");
    for (i, w) in kept.iter().enumerate() {
        let inner = w.upgrade(&mu).expect("alive until the next safepoint");
        assert_eq!(inner.id, 1000 + i as u64, "every weak reference has a cell of its own");
        assert!(Gc::ptr_eq(inner.me.as_ref().unwrap().upgrade(&mu).unwrap(), inner));
    }
}

#[test]
fn a_panic_while_building_leaves_the_weak_reference_cleared_for_good() {
    let _s = serial();
    let mut mu = gc_runtime::attach();
    let cells = settled_weak_cells(&mut mu);
    let escaped: Mutex<Option<Weak<Node>>> = Mutex::new(None);
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        mu.alloc_cyclic(|me: Weak<Node>| {
            *escaped.lock().unwrap() = Some(me);
            panic!("building failed");
        })
        .id
    }))
    .unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"building failed"));
    let w = escaped.lock().unwrap().take().unwrap();
    assert!(w.is_cleared() && w.upgrade(&mu).is_none());
    assert!(format!("{w:?}").contains("cleared"));
    mu.collect();
    assert!(w.upgrade(&mu).is_none(), "still cleared after a cycle");
    drop(w);
    // The weak reference was dropped inside the closure this time, then the build panicked.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        mu.alloc_cyclic(|me: Weak<Node>| -> Node {
            drop(me);
            panic!("again");
        })
        .id
    }));
    assert_eq!(weak_cells(), cells, "both cells were given back");
}

/// The weak reference handed to the closure may be cloned there: the clones share its pending
/// cell, so each upgrades to the object once it is built, whichever of them the object keeps;
/// if every clone is dropped inside the closure, the cell is given back once; if the build
/// panics, a clone that escaped reads as cleared and the last holder gives the cell back.
#[test]
fn clones_of_the_weak_reference_made_while_building_share_its_cell() {
    let _s = serial();
    let mut mu = gc_runtime::attach();
    let cells = settled_weak_cells(&mut mu);
    let mut outside = None;
    let n = mu.alloc_cyclic(|me: Weak<Node>| {
        let kept = me.clone();
        outside = Some(me.clone());
        drop(me); // the original goes first
        assert!(kept.is_cleared() && kept.upgrade(&mu).is_none(), "no object yet");
        node(1, Some(kept))
    });
    let outside = outside.unwrap();
    assert_eq!(weak_cells(), cells + 1, "one cell for the clones");
    assert!(Gc::ptr_eq(n.me.as_ref().unwrap().upgrade(&mu).unwrap(), n));
    assert!(Gc::ptr_eq(outside.upgrade(&mu).unwrap(), n), "a clone kept outside sees the object too");
    // Every clone dropped while building: the build abandons the cell, once.
    let m = mu.alloc_cyclic(|me: Weak<Node>| {
        let clones: Vec<Weak<Node>> = (0..5).map(|_| me.clone()).collect();
        drop(me);
        drop(clones);
        node(2, None)
    });
    assert_eq!(m.id, 2);
    assert_eq!(weak_cells(), cells + 1, "the abandoned cell went back");
    // The build panics with a clone outside: cleared for good, given back by its last holder.
    let escaped: Mutex<Option<Weak<Node>>> = Mutex::new(None);
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        mu.alloc_cyclic(|me: Weak<Node>| -> Node {
            *escaped.lock().unwrap() = Some(me.clone());
            drop(me);
            panic!("building failed");
        })
        .id
    }));
    let escaped = escaped.lock().unwrap().take().unwrap();
    assert!(escaped.is_cleared() && escaped.upgrade(&mu).is_none());
    let again = escaped.clone();
    drop(escaped);
    assert_eq!(weak_cells(), cells + 2, "a holder is left");
    drop(again);
    drop(outside);
    assert_eq!(weak_cells(), cells + 1, "only the node's own reference is left");
    let root = n.root(&mu);
    mu.collect();
    assert!(Gc::ptr_eq(root.get(&mu).me.as_ref().unwrap().upgrade(&mu).unwrap(), root.get(&mu)));
}

#[test]
fn weak_references_sent_to_other_threads_race_the_publication() {
    let _s = serial();
    let mut mu = gc_runtime::attach();
    let cells = settled_weak_cells(&mut mu);
    let (tx, rx) = mpsc::channel::<(u64, Weak<Node>)>();
    let checked = Arc::new(AtomicU64::new(0));
    let reader = {
        let checked = checked.clone();
        thread::spawn(move || {
            let mu = gc_runtime::attach();
            for (id, w) in rx {
                // Either still being built (cleared) or built: then it is the right node.
                if let Some(n) = w.upgrade(&mu) {
                    assert_eq!(n.id, id, "a weak reference upgraded to another object");
                    checked.fetch_add(1, Ordering::Relaxed);
                }
                if id % 2 == 0 {
                    drop(w); // often while the builder has not published yet
                } else {
                    std::hint::black_box(w.is_cleared());
                }
            }
        })
    };
    let mut rng = Rng(7);
    let mut roots = Vec::new();
    for id in 0..2_000 {
        let n = mu.alloc_cyclic(|me: Weak<Node>| {
            tx.send((id, me)).unwrap();
            for _ in 0..rng.below(200) {
                std::hint::spin_loop();
            }
            node(id, None)
        });
        if id % 100 == 0 {
            roots.push(n.root(&mu));
        }
    }
    drop(tx);
    reader.join().unwrap();
    assert_eq!(weak_cells(), cells, "every sent reference gave its cell back once");
    assert!(roots.iter().enumerate().all(|(i, r)| r.get(&mu).id == 100 * i as u64));
}

#[test]
fn concurrent_builds_under_every_barrier_with_checkmark() {
    let _s = serial();
    for config in [
        Config::default().with_mode(Mode::StopTheWorld),
        Config::default().with_barrier(BarrierKind::Dijkstra).with_handshakes(true),
        Config::default().with_barrier(BarrierKind::Yuasa).with_handshakes(true),
        Config::default().with_barrier(BarrierKind::Hybrid).with_handshakes(false),
    ] {
        gc_runtime::reconfigure(config.with_checkmark(true).with_gc_percent(Some(50))).unwrap();
        let ledger = Ledger::new(2_000_000);
        let cells = settled_weak_cells(&mut gc_runtime::attach());
        let (cycles, ops) = common::churn(3, 400, |seed, stop: &AtomicBool, ops| build_lists(&ledger, seed, stop, ops));
        assert!(cycles >= 2 && ops > 0, "{cycles} cycles, {ops} builds");
        let mut mu = gc_runtime::attach();
        mu.collect();
        mu.collect();
        ledger.check_exactly(&HashSet::new());
        assert_eq!(weak_cells(), cells, "every node's own weak reference went with it");
    }
}

/// Build self-aware nodes into a rooted list (some builds panic), check each node's weak
/// reference upgrades to itself, and drop the list now and then.
fn build_lists(ledger: &Arc<Ledger>, seed: u64, stop: &AtomicBool, ops: &AtomicU64) {
    let mut mu = gc_runtime::attach();
    let mut rng = Rng(seed);
    let head = mu.alloc(node(u64::MAX, None)).root(&mu);
    let mut n = 0_u64;
    while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(1000) {
        {
            let head = head.get(&mu);
            if rng.below(50) == 0 {
                head.next.set(None);
            }
            let fail = rng.below(20) == 0;
            let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                mu.alloc_cyclic(|me| {
                    let probe = ledger.probe();
                    assert!(!fail, "a failing build");
                    Node { id: probe.id, me: Some(me), next: Member::new(), probe: Some(probe) }
                })
            }));
            if let Ok(new) = built {
                new.next.set(head.next.get(&mu));
                head.next.set(Some(new));
            }
            let mut at = head.next.get(&mu);
            for _ in 0..3 {
                let Some(x) = at else { break };
                let me = x.me.as_ref().unwrap().upgrade(&mu).expect("a reachable node's own weak reference");
                assert!(Gc::ptr_eq(me, x));
                assert_eq!(x.probe.as_ref().map(|p| p.id), Some(x.id));
                at = x.next.get(&mu);
            }
        }
        n += 1;
        if n % 8 == 0 {
            mu.safepoint();
        }
    }
    ops.fetch_add(n, Ordering::Relaxed);
}

#[test]
fn over_the_memory_limit_the_weak_reference_and_its_cell_are_given_back() {
    #[derive(Trace)]
    struct Big {
        me: Weak<Big>,
        pad: [u8; 16 << 10], // a large object: its allocation always checks the limit
    }
    let _s = serial();
    let mut mu = gc_runtime::attach();
    let cells = settled_weak_cells(&mut mu);
    let live = gc_runtime::stats().heap_live;
    gc_runtime::reconfigure(Config::default().with_gc_percent(None).with_memory_limit(Some(live + 4096))).unwrap();
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        mu.alloc_cyclic(|me: Weak<Big>| Big { me, pad: [0; 16 << 10] }).pad.len()
    }));
    assert!(err.is_err(), "the allocation is over the limit");
    gc_runtime::reconfigure(Config::default().with_gc_percent(None)).unwrap();
    assert_eq!(weak_cells(), cells, "the dropped value's weak reference gave its cell back");
}
