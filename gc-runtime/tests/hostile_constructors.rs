//! A hostile (safe-Rust-only) user against the in-place constructors of `Mutator`:
//! `alloc_slice_from_fn` / `try_alloc_slice_from_fn` (element `i` is `make(i)`, written straight
//! into the new `Gc<[E]>`; `make` may allocate and may panic, leaving a well-formed garbage
//! object) and `alloc_cyclic` (the closure gets a `Weak` to the object it builds, which upgrades
//! to nothing until the object exists).
//!
//! What is tried, in file order:
//!
//! - `make` panicking at the first and at the last index, of small and large arrays, with the
//!   element being made carried out in the panic payload; a payload whose own destructor panics
//!   (the allocator must pass it through untouched); half-made arrays whose elements'
//!   destructors panic; `make` itself (a closure owning a probe) dropped exactly once on success,
//!   on refusal and on panic, and so is `alloc_cyclic`'s closure;
//! - `make` re-entering the allocator: nested `alloc_slice_from_fn`, `try_alloc_slice_from_fn`
//!   and `alloc_cyclic` calls, inner panics caught inside `make`, roots to fresh objects kept in
//!   the elements of an array that is then abandoned by a panic;
//! - no collection can complete while `make` or `build` runs (another thread asks for one and
//!   waits; the closure allocates and sleeps meanwhile): that is what keeps a half-filled object
//!   and a pending weak cell away from the sweeper and the clearing scan;
//! - zero-length arrays, zero-sized elements (also `len == usize::MAX`, stopped by a panic),
//!   over-aligned elements (32, 256, a page) on the small and large paths, with slots that must
//!   be armed and traced;
//! - sizes that overflow `isize` (clean panic before `make` is called, also from the `try_`
//!   form), a size just below `isize::MAX` that the large-object block cannot hold (child
//!   process), and one the system cannot allocate (child process: aborts like `Box`, never
//!   hands out a bogus object);
//! - the memory limit reached half-way by `make`'s own allocations, and a `try_` refusal of a
//!   huge array under a limit;
//! - `alloc_cyclic`: the weak reference thrown out in the panic payload; nested builds that keep
//!   the outer, still pending, weak reference in the inner object; a recursive chain of builds,
//!   each child holding its pending parent; an inner build that panics while owning the outer
//!   weak reference; the weak reference moved into a heap object held by a `GcWeakMap`, into
//!   the elements of an array built (or half-built and abandoned) inside `build`, so that its
//!   drop comes from the finalizer thread; `mem::forget` of it; another thread polling it from
//!   before the publication until after the object's death;
//! - a concurrent run under every configuration (checkmark on): two threads build arrays whose
//!   `make` allocates nested arrays, strings and large objects (sometimes panicking) and
//!   self-aware nodes whose kids, built inside `build`, point back at them, while a third thread
//!   collects back to back.
//!
//! Checked by the compiler rather than here: `make` and `build` only get `&Mutator` (the
//! constructors borrow the mutator shared), so they cannot call `collect`, `safepoint`,
//! `blocking` or `try_reserve`, which take `&mut Mutator`.
//!
//! One of these found a bug, since fixed: `a_size_just_under_isize_max_leaves_the_live_byte_count_alone`
//! (the heap charged the bytes of an array whose large-object block could not exist, then
//! panicked; the live-byte count stayed 2^63 too high for the rest of the process).

use std::{
    cell::Cell,
    collections::HashSet,
    panic::{catch_unwind, AssertUnwindSafe},
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        mpsc, Arc, Mutex,
    },
    thread,
    time::{Duration, Instant},
};

mod common;

use common::{
    child::{child, in_child},
    every_config, BoomElem, DropProbe, Ledger, Rng,
};
use gc_runtime::{Config, Gc, GcWeakMap, Member, Mutator, Root, Trace, Weak};

// ---------------------------------------------------------------------------------------------
// Shared helpers and types.

/// Serialises the in-process tests of this file; checkmark on, no automatic cycles.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    common::serial_with_checkmark()
}

/// Checkmark on, no automatic cycles.
fn base() -> Config {
    Config::default().with_gc_percent(None).with_checkmark(true)
}

/// Enough collections for garbage that holds roots to other garbage: the first frees the
/// garbage (its destructors drop the roots), the next ones what only those roots kept.
fn collect3(mu: &mut Mutator) {
    mu.collect();
    mu.collect();
    mu.collect();
}

/// Weak references alive now.
fn weak_cells() -> usize {
    gc_runtime::stats().weak_refs
}

/// Roots registered now.
fn roots() -> usize {
    gc_runtime::stats().roots
}

/// The text of a panic payload (`&str` or `String`), or a placeholder.
fn message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<not a string>".to_owned()
    }
}

/// Mixed into the stress elements' ids as a canary.
const MAGIC: u64 = 0x9E37_79B9_7F4A_7C15;

/// An element that records its drop, with a slot to arm.
#[derive(Trace)]
struct Probed {
    id: u64,
    slot: Member<str>,
    #[trace(skip)]
    _probe: DropProbe,
}

/// A [`Probed`] with the ledger's next id.
fn probed(ledger: &Arc<Ledger>) -> Probed {
    let probe = ledger.probe();
    Probed { id: probe.id, slot: Member::new(), _probe: probe }
}

/// A self-aware node; its kids (built inside `alloc_cyclic`'s closure) may point back at it.
#[derive(Trace)]
struct Node {
    id: u64,
    me: Option<Weak<Node>>,
    kids: Member<[Kid]>,
    #[trace(skip)]
    _probe: Option<DropProbe>,
}

/// A [`Node`] without kids or probe.
fn node(id: u64, me: Option<Weak<Node>>) -> Node {
    Node { id, me, kids: Member::new(), _probe: None }
}

/// A kid of a [`Node`], possibly holding its parent's weak reference.
#[derive(Trace)]
struct Kid {
    id: u64,
    parent: Option<Weak<Node>>,
    #[trace(skip)]
    _probe: Option<DropProbe>,
}

// ---------------------------------------------------------------------------------------------
// Panics in `make`.

/// `make` panics at index 0 and at the last index of small and large arrays, in every
/// configuration; the element being made travels out in the panic payload. The payload's
/// element is dropped once, by the catcher; the elements written are dropped once, with the
/// garbage object; nothing else is lost or dropped twice, and the heap goes on working.
#[test]
fn make_panicking_at_the_first_or_last_index_leaves_well_formed_garbage() {
    let _s = serial();
    for config in every_config() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let ledger = Ledger::new(100_000);
        let mut mu = gc_runtime::attach();
        mu.collect();
        let live_before = gc_runtime::stats().heap_live;
        // 1 and 40 elements fit a page; 2000 `Probed` (32 bytes each) take a large block.
        for len in [1_usize, 40, 2000] {
            for bad in [0, len - 1] {
                let before = ledger.created();
                let err = catch_unwind(AssertUnwindSafe(|| {
                    mu.alloc_slice_from_fn(len, |i| {
                        let p = probed(&ledger);
                        if i == bad {
                            std::panic::panic_any(p);
                        }
                        p
                    })
                    .len()
                }))
                .unwrap_err();
                let carried = err.downcast::<Probed>().expect("the payload is the element being made");
                assert_eq!(carried.id as usize, before + bad, "{config:?}");
                assert_eq!(ledger.drops(carried.id), 0, "the allocator did not touch the payload");
                drop(carried);
                assert_eq!(ledger.drops((before + bad) as u64), 1);
                assert_eq!(ledger.created() - before, bad + 1, "make was called up to the panic");
            }
        }
        // The heap still allocates, also arrays of the same shapes, which read back intact.
        let kept = mu.alloc_slice_from_fn(2000, |_| probed(&ledger));
        kept[1999].slot.set(Some(mu.alloc_str("last")));
        let kept = kept.root(&mu);
        collect3(&mut mu);
        let alive: HashSet<u64> = kept.get(&mu).iter().map(|p| p.id).collect();
        assert_eq!(alive.len(), 2000);
        assert_eq!(&*kept.get(&mu)[1999].slot.get(&mu).unwrap(), "last");
        ledger.check_exactly(&alive);
        drop(kept);
        collect3(&mut mu);
        ledger.check_exactly(&HashSet::new());
        let live_after = gc_runtime::stats().heap_live;
        assert!(
            live_after <= live_before + (1 << 20),
            "{config:?}: the half-made arrays were freed ({live_before} -> {live_after} live bytes)"
        );
    }
}

static PAYLOAD_DROPS: AtomicUsize = AtomicUsize::new(0);

/// A panic payload whose destructor panics.
struct ExplodingPayload(u32);

impl Drop for ExplodingPayload {
    fn drop(&mut self) {
        PAYLOAD_DROPS.fetch_add(1, Ordering::SeqCst);
        panic!("the payload's destructor panics too");
    }
}

/// A panic payload whose destructor panics, thrown by `make` (half-way through a large array)
/// and by `alloc_cyclic`'s closure: the constructors pass it through without dropping it (a
/// drop there would be a panic during unwinding: an abort); the elements made are dropped once
/// and the pending weak cell is given back.
#[test]
fn a_panic_payload_whose_destructor_panics_passes_through_untouched() {
    let _s = serial();
    let ledger = Ledger::new(10_000);
    let mut mu = gc_runtime::attach();
    collect3(&mut mu); // earlier garbage finalized before counting
    let cells = weak_cells();
    PAYLOAD_DROPS.store(0, Ordering::SeqCst);
    let thrown: Vec<Box<dyn std::any::Any + Send>> = vec![
        catch_unwind(AssertUnwindSafe(|| {
            mu.alloc_slice_from_fn(3000, |i| {
                if i == 1500 {
                    std::panic::panic_any(ExplodingPayload(1));
                }
                probed(&ledger)
            })
            .len()
        }))
        .unwrap_err(),
        catch_unwind(AssertUnwindSafe(|| {
            mu.alloc_cyclic(|me: Weak<Node>| -> Node {
                let _keep = me;
                std::panic::panic_any(ExplodingPayload(2));
            })
            .id
        }))
        .unwrap_err(),
    ];
    assert_eq!(PAYLOAD_DROPS.load(Ordering::SeqCst), 0, "neither constructor dropped the payload");
    for (i, payload) in thrown.into_iter().enumerate() {
        assert_eq!(payload.downcast_ref::<ExplodingPayload>().map(|p| p.0), Some(i as u32 + 1));
        let second = catch_unwind(AssertUnwindSafe(move || drop(payload))).unwrap_err();
        assert_eq!(message(&*second), "the payload's destructor panics too");
    }
    assert_eq!(PAYLOAD_DROPS.load(Ordering::SeqCst), 2);
    assert_eq!(weak_cells(), cells, "the pending weak reference gave its cell back");
    assert_eq!(ledger.created(), 1500);
    collect3(&mut mu);
    ledger.check_exactly(&HashSet::new());
}

/// Half-made arrays (`make` panics at `bad`) whose written elements include two with
/// panicking destructors (one of them with a payload that panics when dropped): every written
/// element is still dropped exactly once, one destructor panic is counted per array, and the
/// finalizer survives.
#[test]
fn half_made_arrays_with_panicking_element_destructors() {
    let _s = serial();
    common::quiet_panics_on_the_finalizer();
    let ledger = Ledger::new(10_000);
    let mut mu = gc_runtime::attach();
    mu.collect();
    let panics_before = gc_runtime::stats().drop_panics;
    // (length, index where make panics); the elements at 1 and bad - 1 panic when dropped.
    let cases = [(10_usize, 5_usize), (4, 3), (4000, 2500), (4000, 3999)];
    for (len, bad) in cases {
        let before = ledger.created();
        let err = catch_unwind(AssertUnwindSafe(|| {
            mu.alloc_slice_from_fn(len, |i| {
                assert!(i != bad, "make gives up");
                let panics = if i == 1 {
                    1
                } else if i == bad - 1 {
                    2
                } else {
                    0
                };
                BoomElem::new(&ledger, panics)
            })
            .len()
        }))
        .unwrap_err();
        assert_eq!(message(&*err), "make gives up");
        assert_eq!(ledger.created() - before, bad);
    }
    collect3(&mut mu);
    assert_eq!(gc_runtime::stats().drop_panics - panics_before, cases.len() as u64, "one panic counted per array");
    ledger.check_exactly(&HashSet::new());
    // The finalizer still works.
    let after = ledger.created();
    let _ = mu.alloc_slice_from_fn(3, |_| probed(&ledger));
    collect3(&mut mu);
    assert!((after as u64..ledger.created() as u64).all(|id| ledger.drops(id) == 1));
}

/// `make` itself — a closure owning a probe — is dropped exactly once: right after a success,
/// with the error after a refusal (after being called through `into_value`), and while
/// unwinding from its own panic. The same for `alloc_cyclic`'s closure.
#[test]
fn the_closures_are_dropped_exactly_once_on_success_refusal_and_panic() {
    let _s = serial();
    let ledger = Ledger::new(100);
    let mut mu = gc_runtime::attach();
    // Success.
    let owned = ledger.probe();
    let id = owned.id;
    let arr = mu
        .try_alloc_slice_from_fn(3, move |i| {
            std::hint::black_box(&owned);
            i * 2
        })
        .unwrap();
    assert_eq!(&*arr, &[0, 2, 4]);
    assert_eq!(ledger.drops(id), 1, "make dropped once it was done");
    // Panic.
    let owned = ledger.probe();
    let id = owned.id;
    let _ = catch_unwind(AssertUnwindSafe(|| {
        mu.alloc_slice_from_fn(3, move |i| {
            std::hint::black_box(&owned);
            assert!(i < 2, "stop");
            i
        })
        .len()
    }));
    assert_eq!(ledger.drops(id), 1, "make dropped once while unwinding");
    // Refusal: a 64 MiB array under a limit a few MiB above what is live.
    mu.collect();
    let live = gc_runtime::stats().heap_live;
    gc_runtime::reconfigure(base().with_memory_limit(Some(live + (4 << 20)))).unwrap();
    let owned = ledger.probe();
    let id = owned.id;
    let err = mu
        .try_alloc_slice_from_fn(8 << 20, move |i| {
            std::hint::black_box(&owned);
            i as u64
        })
        .unwrap_err();
    assert!(err.state().requested >= 64 << 20, "{:?}", err.state());
    assert!(format!("{err}").contains("memory limit"), "{err}");
    assert_eq!(ledger.drops(id), 0, "the error holds make");
    let mut make = err.into_value();
    assert_eq!(make(21), 21);
    assert_eq!(ledger.drops(id), 0);
    let small = mu.try_alloc_slice_from_fn(2, make).expect("a small array fits");
    assert_eq!(&*small, &[0, 1]);
    assert_eq!(ledger.drops(id), 1, "given back, used again, then dropped once");
    gc_runtime::reconfigure(base()).unwrap();
    // `alloc_cyclic`'s closure: on success and on panic.
    let owned = ledger.probe();
    let id = owned.id;
    let n = mu.alloc_cyclic(move |me| {
        std::hint::black_box(&owned);
        node(1, Some(me))
    });
    assert_eq!(n.id, 1);
    assert_eq!(ledger.drops(id), 1);
    let owned = ledger.probe();
    let id = owned.id;
    let _ = catch_unwind(AssertUnwindSafe(|| {
        mu.alloc_cyclic(move |me: Weak<Node>| -> Node {
            std::hint::black_box((&owned, me));
            panic!("no node")
        })
        .id
    }));
    assert_eq!(ledger.drops(id), 1);
}

// ---------------------------------------------------------------------------------------------
// `make` re-entering the allocator.

/// An element holding a root to an array `make` allocated, and maybe a self-aware node.
#[derive(Trace)]
struct Holder {
    index: usize,
    inner: Option<Root<[u64]>>,
    node: Option<Root<Node>>,
    #[trace(skip)]
    probe: DropProbe,
}

/// `make` re-enters the allocator: nested `alloc_slice_from_fn` calls (two deep, some of them
/// panicking, caught inside `make`), `try_alloc_slice_from_fn` and `alloc_cyclic`, keeping
/// roots to what it made in the elements. The outer array reads back intact across
/// collections; an outer array abandoned by a panic drops its roots from the finalizer, and
/// then what only those roots kept is freed too.
#[test]
fn make_reenters_the_allocator_and_catches_inner_panics() {
    let _s = serial();
    for config in every_config() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let ledger = Ledger::new(100_000);
        let mut mu = gc_runtime::attach();
        collect3(&mut mu);
        let (root_count, cells) = (roots(), weak_cells());
        let make = |i: usize, mu: &Mutator| -> Holder {
            let inner_failed = catch_unwind(AssertUnwindSafe(|| {
                mu.alloc_slice_from_fn(i + 1, |j| {
                    assert!(i % 3 != 1 || j != i / 2, "inner make fails");
                    // Two deep: a small array per element, dropped at once.
                    mu.alloc_slice_from_fn(j % 4, |k| k as u64).len() as u64 + j as u64
                })
                .root(mu)
            }));
            let inner = match inner_failed {
                Ok(root) => Some(root),
                Err(e) => {
                    assert_eq!(message(&*e), "inner make fails");
                    None
                }
            };
            let node = (i % 2 == 0).then(|| {
                let n = mu.alloc_cyclic(|me| node(i as u64, Some(me)));
                let tried = mu.try_alloc_slice_from_fn(2, |k| Kid { id: k as u64, parent: None, _probe: None });
                n.kids.set(Some(tried.expect("no limit")));
                n.root(mu)
            });
            Holder { index: i, inner, node, probe: ledger.probe() }
        };
        let check = |h: &Holder, mu: &Mutator| {
            if let Some(inner) = &h.inner {
                let inner = inner.get(mu);
                assert_eq!(inner.len(), h.index + 1);
                assert!(inner.iter().enumerate().all(|(j, &v)| v == (j % 4 + j) as u64));
            } else {
                assert_eq!(h.index % 3, 1, "only the inner builds told to fail failed");
            }
            if let Some(n) = &h.node {
                let n = n.get(mu);
                assert_eq!(n.id, h.index as u64);
                assert!(Gc::ptr_eq(n.me.as_ref().unwrap().upgrade(mu).unwrap(), n));
                assert_eq!(n.kids.get(mu).unwrap().len(), 2);
            }
        };
        // An outer array that is kept (large: 600 holders), and one abandoned at element 50.
        let kept = mu.alloc_slice_from_fn(600, |i| make(i, &mu)).root(&mu);
        let err = catch_unwind(AssertUnwindSafe(|| {
            mu.alloc_slice_from_fn(100, |i| {
                assert!(i != 50, "outer make fails");
                make(i, &mu)
            })
            .len()
        }))
        .unwrap_err();
        assert_eq!(message(&*err), "outer make fails");
        assert!(roots() > root_count + 600, "the abandoned array's elements hold roots");
        collect3(&mut mu);
        let kept_ids: HashSet<u64> = kept.get(&mu).iter().map(|h| h.probe.id).collect();
        for h in kept.get(&mu).iter() {
            check(h, &mu);
        }
        ledger.check_exactly(&kept_ids);
        let kept_roots: usize =
            kept.get(&mu).iter().map(|h| usize::from(h.inner.is_some()) + usize::from(h.node.is_some())).sum();
        assert_eq!(roots(), root_count + 1 + kept_roots, "{config:?}: the abandoned array's roots went");
        drop(kept);
        collect3(&mut mu);
        ledger.check_exactly(&HashSet::new());
        assert_eq!((roots(), weak_cells()), (root_count, cells), "{config:?}");
    }
}

/// No collection completes while `make` or `build` runs: another thread asks for one and
/// waits, and the closure sees the request (`safepoint_requested`), allocates and sleeps, but
/// cannot reach a safepoint, so the cycle cannot end before the constructor returns. This is
/// what keeps a half-filled array (in this thread's cached page, or an unlisted large block) and
/// a pending weak cell away from the sweeper and the clearing scan. Every configuration.
#[test]
fn no_collection_completes_while_make_or_build_runs() {
    let _s = serial();
    for config in every_config() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let mut mu = gc_runtime::attach();
        mu.collect();
        for large in [false, true] {
            let done = Arc::new(AtomicBool::new(false));
            let collector = {
                let done = done.clone();
                thread::spawn(move || {
                    let mut mu = gc_runtime::attach();
                    mu.collect();
                    done.store(true, Ordering::SeqCst);
                })
            };
            let wait_for_request = |mu: &Mutator| {
                let start = Instant::now();
                while !mu.safepoint_requested() {
                    // A minute: a loaded machine may be slow to start the cycle.
                    assert!(start.elapsed() < Duration::from_secs(60), "{config:?}: the collector never asked");
                    thread::sleep(Duration::from_millis(1));
                }
            };
            let len = if large { 3000 } else { 3 };
            let arr = mu.alloc_slice_from_fn(len, |i| {
                if i == 0 {
                    wait_for_request(&mu);
                }
                if i < 3 {
                    // Allocation is not a safepoint: small, large, and another array made in place.
                    let _ = (mu.alloc_str("meanwhile"), mu.alloc_slice_from_fn(2000, |j| j as u64));
                    thread::sleep(Duration::from_millis(10));
                    assert!(!done.load(Ordering::SeqCst), "{config:?}: a collection completed inside make");
                }
                i as u64
            });
            assert!(arr.iter().enumerate().all(|(i, &v)| v == i as u64));
            let n = mu.alloc_cyclic(|me: Weak<Node>| {
                assert!(me.upgrade(&mu).is_none());
                let _ = mu.alloc_slice_from_fn(2000, |j| j as u64);
                thread::sleep(Duration::from_millis(10));
                assert!(!done.load(Ordering::SeqCst), "{config:?}: a collection completed inside build");
                node(3, Some(me))
            });
            assert!(Gc::ptr_eq(n.me.as_ref().unwrap().upgrade(&mu).unwrap(), n));
            mu.blocking(|| collector.join().unwrap());
            assert!(done.load(Ordering::SeqCst));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Shapes: zero length, zero-sized and over-aligned elements.

static TICKS: AtomicUsize = AtomicUsize::new(0);
static PAGE_TICKS: AtomicUsize = AtomicUsize::new(0);

/// A zero-sized value with a destructor.
struct Tick;

impl Drop for Tick {
    fn drop(&mut self) {
        TICKS.fetch_add(1, Ordering::SeqCst);
    }
}

/// A zero-sized value aligned to a page, with a destructor.
#[repr(align(4096))]
struct PageTick;

impl Drop for PageTick {
    fn drop(&mut self) {
        PAGE_TICKS.fetch_add(1, Ordering::SeqCst);
    }
}

/// A zero-sized element with a destructor (a `Trace` type cannot implement `Drop` itself).
#[derive(Trace)]
struct TickElem(#[trace(skip)] Tick);

/// A page-aligned zero-sized element with a destructor.
#[derive(Trace)]
struct PageTickElem(#[trace(skip)] PageTick);

/// Zero-length arrays (`make` never called, each a distinct object) and zero-sized elements:
/// 100 000 of them made and dropped once each; `len == usize::MAX` stopped by a panic at 1000
/// (the object holds 1000, dropped once each); page-aligned zero-sized elements, aligned.
#[test]
fn zero_length_arrays_and_zero_sized_elements() {
    let _s = serial();
    let mut mu = gc_runtime::attach();
    collect3(&mut mu);
    TICKS.store(0, Ordering::SeqCst);
    PAGE_TICKS.store(0, Ordering::SeqCst);
    let weaks = {
        let never = |_: usize| -> u64 { panic!("make called for an empty array") };
        let (a, b) = (mu.alloc_slice_from_fn(0, never), mu.try_alloc_slice_from_fn(0, never).unwrap());
        let c = mu.alloc_slice_from_fn(0, |_| -> PageTickElem { panic!("make called") });
        assert!(a.is_empty() && b.is_empty() && c.is_empty());
        assert!(!Gc::ptr_eq(a, b), "two empty arrays are two objects");
        let calls = Cell::new(0_usize);
        let ticks = mu.alloc_slice_from_fn(100_000, |i| {
            assert_eq!(i, calls.get(), "made in order");
            calls.set(i + 1);
            TickElem(Tick)
        });
        assert_eq!((ticks.len(), calls.get()), (100_000, 100_000));
        let page_ticks = mu.alloc_slice_from_fn(3, |_| PageTickElem(PageTick));
        assert_eq!(page_ticks.as_ptr() as usize % 4096, 0, "page-aligned elements");
        calls.set(0);
        let err = catch_unwind(AssertUnwindSafe(|| {
            mu.alloc_slice_from_fn(usize::MAX, |i| {
                calls.set(i + 1);
                assert!(i < 1000, "enough");
                TickElem(Tick)
            })
            .len()
        }))
        .unwrap_err();
        assert_eq!((message(&*err), calls.get()), ("enough".to_owned(), 1001));
        assert_eq!(TICKS.load(Ordering::SeqCst), 0, "nothing dropped while the arrays may live");
        (ticks.downgrade(&mu), page_ticks.downgrade(&mu), a.downgrade(&mu))
    };
    collect3(&mut mu);
    assert!(weaks.0.upgrade(&mu).is_none() && weaks.1.upgrade(&mu).is_none() && weaks.2.upgrade(&mu).is_none());
    assert_eq!(TICKS.load(Ordering::SeqCst), 100_000 + 1000, "each element, whole or half-made array, dropped once");
    assert_eq!(PAGE_TICKS.load(Ordering::SeqCst), 3);
}

/// An over-aligned element with a slot and a probe: a trait to build arrays of any of them.
trait Aligned: Trace + Send + Sync + Sized + 'static {
    const ALIGN: usize;
    fn new(probe: DropProbe) -> Self;
    fn id(&self) -> u64;
    fn slot(&self) -> &Member<str>;
}

macro_rules! aligned {
    ($name:ident, $align:literal) => {
        /// An element aligned to
        #[doc = stringify!($align)]
        #[derive(Trace)]
        #[repr(align($align))]
        struct $name {
            id: u64,
            slot: Member<str>,
            #[trace(skip)]
            _probe: DropProbe,
        }

        impl Aligned for $name {
            const ALIGN: usize = $align;
            fn new(probe: DropProbe) -> Self {
                $name { id: probe.id, slot: Member::new(), _probe: probe }
            }
            fn id(&self) -> u64 {
                self.id
            }
            fn slot(&self) -> &Member<str> {
                &self.slot
            }
        }
    };
}

aligned!(Align32, 32);
aligned!(Align256, 256);
aligned!(Align4096, 4096);

/// Build arrays of `E` of several lengths (small and large paths; one half-made by a panic),
/// set every slot, and return roots to the whole ones, after checking their alignment.
fn aligned_arrays<E: Aligned>(mu: &Mutator, ledger: &Arc<Ledger>) -> Vec<Root<[E]>> {
    let mut kept = Vec::new();
    for len in [1_usize, 2, 7, 40] {
        let arr = mu.alloc_slice_from_fn(len, |_| E::new(ledger.probe()));
        for (i, e) in arr.iter().enumerate() {
            assert_eq!(e as *const E as usize % E::ALIGN, 0, "element {i} of {len} aligned to {}", E::ALIGN);
            e.slot().set(Some(mu.alloc_str(&format!("slot-{}", e.id()))));
        }
        kept.push(arr.root(mu));
    }
    let err = catch_unwind(AssertUnwindSafe(|| {
        mu.alloc_slice_from_fn(40, |i| {
            assert!(i != 20, "half-way");
            E::new(ledger.probe())
        })
        .len()
    }));
    assert!(err.is_err());
    kept
}

/// Elements aligned to 32, 256 and 4096 bytes, made in place on the small and large paths, in
/// every configuration: aligned, armed (their slots can be set) and traced (what the slots hold
/// survives collections while the arrays are rooted), dropped once afterwards, half-made ones
/// included.
#[test]
fn over_aligned_elements_are_aligned_armed_and_traced() {
    let _s = serial();
    for config in every_config() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let ledger = Ledger::new(10_000);
        let mut mu = gc_runtime::attach();
        let a = aligned_arrays::<Align32>(&mu, &ledger);
        let b = aligned_arrays::<Align256>(&mu, &ledger);
        let c = aligned_arrays::<Align4096>(&mu, &ledger);
        collect3(&mut mu);
        let mut alive = HashSet::new();
        fn check<E: Aligned>(roots: &[Root<[E]>], mu: &Mutator, alive: &mut HashSet<u64>) {
            for r in roots {
                for e in r.get(mu).iter() {
                    assert_eq!(&*e.slot().get(mu).expect("traced"), format!("slot-{}", e.id()));
                    alive.insert(e.id());
                }
            }
        }
        check(&a, &mu, &mut alive);
        check(&b, &mu, &mut alive);
        check(&c, &mu, &mut alive);
        assert_eq!(alive.len(), 3 * 50);
        ledger.check_exactly(&alive);
        drop((a, b, c));
        collect3(&mut mu);
        ledger.check_exactly(&HashSet::new());
    }
}

// ---------------------------------------------------------------------------------------------
// Sizes: overflow, and more than can be had.

/// `len` elements of `E` are refused with a clean panic (the object's size overflows `isize`)
/// by both forms, before `make` is called and before anything is allocated.
fn refused_as_too_large<E: Trace + Send + Sync + 'static>(mu: &Mutator, len: usize) {
    let calls = Cell::new(0);
    let live = gc_runtime::stats().heap_live;
    let e1 = catch_unwind(AssertUnwindSafe(|| {
        mu.alloc_slice_from_fn(len, |_| -> E {
            calls.set(calls.get() + 1);
            panic!("make called")
        })
        .len()
    }))
    .unwrap_err();
    let e2 = catch_unwind(AssertUnwindSafe(|| {
        mu.try_alloc_slice_from_fn(len, |_| -> E {
            calls.set(calls.get() + 1);
            panic!("make called")
        })
        .map(|a| a.len())
        .map_err(|e| e.state())
    }))
    .unwrap_err();
    for e in [e1, e2] {
        let m = message(&*e);
        assert!(m.contains("too large"), "{len} x {}: {m}", std::any::type_name::<E>());
    }
    assert_eq!(calls.get(), 0, "make was not called");
    assert_eq!(gc_runtime::stats().heap_live, live, "nothing was allocated or charged");
}

/// Lengths whose size overflows `usize` or `isize` — `usize::MAX`, `usize::MAX / size`, just
/// over `isize::MAX / size` — for 1-, 8- and 4096-byte (page-aligned) elements: a clean panic
/// from both forms, `make` uncalled, nothing charged; the heap works afterwards.
#[test]
fn sizes_that_overflow_isize_panic_before_make_is_called() {
    let _s = serial();
    let mut mu = gc_runtime::attach();
    collect3(&mut mu);
    let half = isize::MAX as usize;
    for len in [usize::MAX, usize::MAX - 15, half + 1, half] {
        refused_as_too_large::<u8>(&mu, len);
    }
    for len in [usize::MAX, usize::MAX / 8, half / 8 + 1, half / 8] {
        refused_as_too_large::<u64>(&mu, len);
    }
    for len in [usize::MAX, usize::MAX / 4096, half / 4096 + 1, half / 4096] {
        refused_as_too_large::<Align4096>(&mu, len);
    }
    assert_eq!(&*mu.alloc_slice_from_fn(3, |i| i as u8), &[0, 1, 2]);
}

/// Just under `isize::MAX` bytes of `u8` (2^63 - 28 elements: a valid object layout, but one
/// the large-object block, which adds the mark word in front, cannot hold): too large.
const JUST_UNDER: usize = (1 << 63) - 28;

/// The longest array of `u8` whose large-object block fits `isize` (2^63 - 32 elements).
const LARGEST: usize = (1 << 63) - 32;

/// Under a memory limit, `try_alloc_slice_from_fn` of an array of nearly `isize::MAX` bytes is
/// an error that gives `make` back uncalled, and `alloc_slice_from_fn` panics with the limit's
/// message; nothing is charged to the heap.
#[test]
fn under_a_memory_limit_a_huge_array_is_refused_cleanly() {
    let _s = serial();
    let mut mu = gc_runtime::attach();
    collect3(&mut mu);
    let live = gc_runtime::stats().heap_live;
    gc_runtime::reconfigure(base().with_memory_limit(Some(live + (64 << 20)))).unwrap();
    let calls = Cell::new(0);
    for len in [LARGEST, 1 << 62, 1 << 40] {
        let err = mu
            .try_alloc_slice_from_fn(len, |_| {
                calls.set(calls.get() + 1);
                0_u8
            })
            .unwrap_err();
        assert!(err.state().requested >= len, "{:?}", err.state());
        let mut make = err.into_value();
        assert_eq!(make(0), 0);
        let panicked = catch_unwind(AssertUnwindSafe(|| mu.alloc_slice_from_fn(len, |_| 0_u8).len())).unwrap_err();
        assert!(message(&*panicked).contains("memory limit"), "{}", message(&*panicked));
    }
    assert_eq!(calls.get(), 3, "make was only called by this test, through into_value");
    let now = gc_runtime::stats().heap_live;
    assert!(now <= live + (1 << 20), "nothing was charged: {live} -> {now} live bytes");
    gc_runtime::reconfigure(base()).unwrap();
}

/// The child side of [`a_size_just_under_isize_max_leaves_the_live_byte_count_alone`].
fn just_under_isize_max_scenario() {
    gc_runtime::reconfigure(base()).unwrap();
    let mut mu = gc_runtime::attach();
    mu.collect();
    let live = gc_runtime::stats().heap_live;
    let calls = Cell::new(0);
    let err = catch_unwind(AssertUnwindSafe(|| {
        mu.alloc_slice_from_fn(JUST_UNDER, |_| {
            calls.set(calls.get() + 1);
            0_u8
        })
        .len()
    }));
    let after = gc_runtime::stats().heap_live;
    // What the live count drives next. Under a memory limit 256 MiB above what is really live,
    // a 16 KiB array (a large object: its allocation checks the limit) must fit.
    gc_runtime::reconfigure(base().with_memory_limit(Some(live + (256 << 20)))).unwrap();
    mu.collect();
    let fits = mu.try_alloc_slice_from_fn(16 << 10, |_| 0_u8).is_ok();
    // With pacing on (a 4 MiB minimum heap), 1 MiB of allocation must not start a cycle.
    gc_runtime::reconfigure(base().with_gc_percent(Some(100))).unwrap();
    mu.collect();
    let cycles = gc_runtime::stats().cycles;
    for _ in 0..16 {
        let _ = mu.alloc_slice_from_fn(64 << 10, |_| 0_u8);
        mu.safepoint();
        mu.blocking(|| thread::sleep(Duration::from_millis(2)));
    }
    let paced = gc_runtime::stats().cycles - cycles;
    gc_runtime::reconfigure(base()).unwrap();
    println!(
        "outcome: {}, make calls: {}, heap_live before {live}, after {after}; a 16 KiB array under \
         a limit of live + 256 MiB: {}; cycles started by 1 MiB of allocation: {paced}",
        match &err {
            Ok(_) => "allocated".to_owned(),
            Err(e) => format!("panic: {}", message(&**e)),
        },
        calls.get(),
        if fits { "allocated" } else { "refused" },
    );
    assert!(err.is_err(), "no such array can exist");
    if let Err(e) = &err {
        assert!(message(&**e).contains("too large to allocate"), "{}", message(&**e));
    }
    assert_eq!(calls.get(), 0, "make was not called");
    assert!(after <= live + (1 << 20), "a refused allocation was charged to the heap: {live} -> {after} live bytes");
    assert!(fits, "a small allocation under a generous limit");
    assert_eq!(paced, 0, "the pacer started cycles for a heap far under its minimum");
    println!("done");
}

/// Entry point of the child process of the next test.
#[test]
fn child_just_under_isize_max() {
    if in_child() {
        just_under_isize_max_scenario();
    }
}

/// An array of 2^63 - 28 bytes: its layout is valid (under `isize::MAX`), so it takes the
/// large-object path, whose block (mark word + object) no longer fits in `isize`: a clean panic
/// is expected, `make` uncalled, and the heap's accounts untouched. Runs in a child process
/// because a wrong live count would poison the other tests.
///
/// This was a bug: `PageHeap::alloc_large` added the layout's size to the live bytes before
/// the block's layout was computed, which then panicked, so 2^63 - 12 bytes stayed charged for
/// good (every later allocation under a memory limit refused, a cycle asked for at every page
/// refill). Now the allocator checks that the block fits before it charges anything, and the
/// panic is the "too large" one of any array that cannot exist.
#[test]
fn a_size_just_under_isize_max_leaves_the_live_byte_count_alone() {
    if in_child() {
        return;
    }
    child("child_just_under_isize_max", &[], Duration::from_secs(60)).assert_completed();
}

/// The child side of [`an_array_the_system_cannot_allocate_aborts_like_box`].
fn unallocatable_scenario() {
    gc_runtime::reconfigure(base()).unwrap();
    let mu = gc_runtime::attach();
    let calls = AtomicUsize::new(0);
    let arr = mu.alloc_slice_from_fn(1 << 62, |_| {
        calls.fetch_add(1, Ordering::SeqCst);
        0_u8
    });
    // Not reached if the allocation fails as it must.
    println!("allocated {} bytes, make called {} times", arr.len(), calls.load(Ordering::SeqCst));
}

/// Entry point of the child process of the next test.
#[test]
fn child_unallocatable() {
    if in_child() {
        unallocatable_scenario();
    }
}

/// An array of 4 EiB of bytes: a valid layout and block, which no system can provide. Without
/// a memory limit the allocator can only do what `Box` and `Vec` do: abort the process with
/// "memory allocation of N bytes failed". The child must end that way — not hand out an object,
/// not call `make`, not crash otherwise or hang. (With a limit, it is an `AllocError`: see
/// `under_a_memory_limit_a_huge_array_is_refused_cleanly`.)
#[test]
fn an_array_the_system_cannot_allocate_aborts_like_box() {
    if in_child() {
        return;
    }
    let out = child("child_unallocatable", &[], Duration::from_secs(60));
    assert!(!out.success && !out.timed_out, "{}", out.describe());
    assert!(!out.stdout.contains("allocated"), "{}", out.describe());
    assert!(out.stderr.contains("memory allocation of"), "{}", out.describe());
}

/// `make` allocates large arrays until the memory limit stops it half-way (its own `alloc`
/// panics); nested `try_alloc_slice_from_fn` calls refused on the way give their closures back,
/// which `make` then calls itself. Everything made — the elements, which root what they made,
/// and the abandoned large outer array — is freed by the next collections, and the heap returns
/// to where it was.
#[test]
fn make_runs_into_the_memory_limit_half_way() {
    let _s = serial();
    let ledger = Ledger::new(10_000);
    let mut mu = gc_runtime::attach();
    collect3(&mut mu);
    let (live, root_count) = (gc_runtime::stats().heap_live, roots());
    gc_runtime::reconfigure(base().with_memory_limit(Some(live + (8 << 20)))).unwrap();
    let refusals = Cell::new(0);
    let made = Cell::new(0);
    let err = catch_unwind(AssertUnwindSafe(|| {
        // 2000 holders: the outer array is a large object too.
        mu.alloc_slice_from_fn(2000, |i| {
            let inner = match mu.try_alloc_slice_from_fn(32 << 10, |j| j as u64) {
                Ok(a) => a,
                Err(e) => {
                    refusals.set(refusals.get() + 1);
                    let mut again = e.into_value();
                    assert_eq!(again(5), 5, "given back and callable");
                    // The plain form now panics with the limit's message.
                    mu.alloc_slice_from_fn(32 << 10, again)
                }
            };
            made.set(made.get() + 1);
            Holder { index: i, inner: Some(inner.root(&mu)), node: None, probe: ledger.probe() }
        })
        .len()
    }))
    .unwrap_err();
    assert!(message(&*err).contains("memory limit"), "{}", message(&*err));
    assert_eq!(refusals.get(), 1, "the first refusal ended it");
    assert!((10..40).contains(&made.get()), "about 8 MiB of 256 KiB arrays: {}", made.get());
    assert_eq!(ledger.created(), made.get());
    // Over the limit with garbage: refused without a safepoint, given back; then a safepoint
    // that collects makes room.
    assert!(mu.try_alloc_slice_from_fn(1 << 20, |j| j as u64).is_err());
    collect3(&mut mu);
    mu.try_reserve(4 << 20).expect("the garbage was freed");
    assert_eq!(mu.try_alloc_slice_from_fn(1 << 19, |j| j as u64).unwrap().len(), 1 << 19);
    collect3(&mut mu);
    ledger.check_exactly(&HashSet::new());
    assert_eq!(roots(), root_count);
    let now = gc_runtime::stats().heap_live;
    assert!(now <= live + (1 << 20), "the heap returned to where it was: {live} -> {now}");
    gc_runtime::reconfigure(base()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// `alloc_cyclic`.

/// The weak reference thrown out of `build` as the panic payload: outside, it reads as cleared
/// for good (also after a cycle), and gives its cell back when the catcher drops it.
#[test]
fn the_weak_reference_escapes_in_the_panic_payload() {
    let _s = serial();
    let mut mu = gc_runtime::attach();
    collect3(&mut mu); // earlier garbage finalized before counting
    let cells = weak_cells();
    let err = catch_unwind(AssertUnwindSafe(|| {
        mu.alloc_cyclic(|me: Weak<Node>| -> Node {
            assert!(me.upgrade(&mu).is_none());
            std::panic::panic_any(me)
        })
        .id
    }))
    .unwrap_err();
    let w = err.downcast::<Weak<Node>>().expect("the payload is the weak reference");
    assert!(w.is_cleared() && w.upgrade(&mu).is_none());
    assert!(format!("{w:?}").contains("cleared"), "{w:?}");
    assert_eq!(weak_cells(), cells + 1, "the payload still owns its cell");
    // A new object may now take the address a failed build never used; the cell stays clear.
    let others: Vec<_> = (0..100).map(|i| mu.alloc(node(i, None)).root(&mu)).collect();
    mu.collect();
    assert!(w.upgrade(&mu).is_none());
    drop(w);
    assert_eq!(weak_cells(), cells);
    assert_eq!(others.len(), 100);
}

/// An inner self-aware object.
#[derive(Trace)]
struct Inner {
    outer: Option<Weak<Outer>>,
    me: Option<Weak<Inner>>,
    #[trace(skip)]
    _probe: DropProbe,
}

/// An outer self-aware object, whose inner one is built inside its closure.
#[derive(Trace)]
struct Outer {
    id: u64,
    inner: Member<Inner>,
    #[trace(skip)]
    _probe: DropProbe,
}

/// Nested builds: the outer closure builds an inner object that keeps the outer's weak
/// reference, still pending (it upgrades to nothing while the inner one upgrades to itself);
/// once the outer object exists, both upgrade to their objects; both die together, and every
/// cell goes back. Every configuration.
#[test]
fn nested_builds_keep_the_outer_weak_reference_pending_inside() {
    let _s = serial();
    for config in every_config() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let ledger = Ledger::new(100);
        let mut mu = gc_runtime::attach();
        collect3(&mut mu); // earlier garbage finalized before counting
        let cells = weak_cells();
        let (root, weak_outer) = {
            let mut stash = None;
            let outer = mu.alloc_cyclic(|me: Weak<Outer>| {
                let inner = mu.alloc_cyclic(|inner_me: Weak<Inner>| Inner {
                    outer: Some(me),
                    me: Some(inner_me),
                    _probe: ledger.probe(),
                });
                assert!(Gc::ptr_eq(inner.me.as_ref().unwrap().upgrade(&mu).unwrap(), inner));
                let pending = inner.outer.as_ref().unwrap();
                assert!(pending.is_cleared() && pending.upgrade(&mu).is_none(), "the outer object is not built");
                stash = Some(inner);
                Outer { id: 11, inner: Member::new(), _probe: ledger.probe() }
            });
            let inner = stash.unwrap();
            outer.inner.set(Some(inner));
            assert!(Gc::ptr_eq(inner.outer.as_ref().unwrap().upgrade(&mu).unwrap(), outer));
            (outer.root(&mu), outer.downgrade(&mu))
        };
        collect3(&mut mu);
        {
            let outer = root.get(&mu);
            let inner = outer.inner.get(&mu).unwrap();
            assert_eq!(inner.outer.as_ref().unwrap().upgrade(&mu).unwrap().id, 11);
            assert!(Gc::ptr_eq(inner.me.as_ref().unwrap().upgrade(&mu).unwrap(), inner));
        }
        ledger.check_exactly(&[0, 1].into_iter().collect());
        drop(root);
        collect3(&mut mu);
        assert!(weak_outer.upgrade(&mu).is_none());
        drop(weak_outer);
        ledger.check_exactly(&HashSet::new());
        assert_eq!(weak_cells(), cells, "{config:?}");
    }
}

/// A link of a chain built recursively inside `alloc_cyclic` closures.
#[derive(Trace)]
struct Link {
    depth: u64,
    parent: Option<Weak<Link>>,
    child: Member<Link>,
}

/// Build a chain of `depth + 1` links, each inside its parent's closure (so every ancestor is
/// pending while a link is built), each holding its parent's weak reference.
fn chain<'m>(mu: &'m Mutator, depth: u64, parent: Option<Weak<Link>>) -> Gc<'m, Link> {
    let mut child = None;
    let link = mu.alloc_cyclic(|me: Weak<Link>| {
        if depth > 0 {
            let c = chain(mu, depth - 1, Some(me));
            assert!(c.parent.as_ref().unwrap().upgrade(mu).is_none(), "an ancestor is still being built");
            child = Some(c);
        }
        Link { depth, parent, child: Member::new() }
    });
    if let Some(c) = child {
        link.child.set(Some(c));
        assert!(Gc::ptr_eq(c.parent.as_ref().unwrap().upgrade(mu).unwrap(), link));
    }
    link
}

/// A chain of 200 builds nested in each other's closures: 200 weak cells pending at once,
/// published from the innermost out; afterwards every link's parent reference upgrades to its
/// parent, across collections, and the chain dies whole with every cell given back.
#[test]
fn a_chain_of_recursive_builds_publishes_every_pending_parent() {
    let _s = serial();
    let mut mu = gc_runtime::attach();
    collect3(&mut mu); // earlier garbage finalized before counting
    let cells = weak_cells();
    let root = chain(&mu, 199, None).root(&mu);
    assert_eq!(weak_cells(), cells + 199);
    collect3(&mut mu);
    let mut at = root.get(&mu);
    let mut n = 1;
    while let Some(c) = at.child.get(&mu) {
        assert_eq!(c.depth + 1, at.depth);
        assert!(Gc::ptr_eq(c.parent.as_ref().unwrap().upgrade(&mu).unwrap(), at));
        at = c;
        n += 1;
    }
    assert_eq!((n, at.depth), (200, 0));
    drop(root);
    collect3(&mut mu);
    assert_eq!(weak_cells(), cells);
}

/// An inner build that panics while owning the outer, pending, weak reference: the outer
/// reference is dropped while pending (abandoned); the outer closure catches the panic and
/// still returns, so the outer build finds its cell abandoned and gives it back. Also the
/// inner object's own cell. Every configuration.
#[test]
fn an_inner_build_that_panics_with_the_outer_weak_reference_abandons_it() {
    let _s = serial();
    for config in every_config() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let mut mu = gc_runtime::attach();
        collect3(&mut mu); // earlier garbage finalized before counting
        let cells = weak_cells();
        let outer = mu.alloc_cyclic(|me: Weak<Node>| {
            let err = catch_unwind(AssertUnwindSafe(|| {
                mu.alloc_cyclic(|inner_me: Weak<Node>| -> Node {
                    let _owned = (me, inner_me);
                    panic!("inner build fails")
                })
                .id
            }))
            .unwrap_err();
            assert_eq!(message(&*err), "inner build fails");
            node(21, None)
        });
        assert_eq!(outer.id, 21);
        assert_eq!(weak_cells(), cells, "{config:?}: both cells given back once");
        let w = outer.downgrade(&mu);
        assert!(Gc::ptr_eq(w.upgrade(&mu).unwrap(), outer));
        collect3(&mut mu);
        assert!(w.upgrade(&mu).is_none());
        drop(w);
        assert_eq!(weak_cells(), cells);
    }
}

/// A heap object holding a weak reference to a node.
#[derive(Trace)]
struct WeakBox {
    w: Option<Weak<Node>>,
}

/// A weak map from keys to [`WeakBox`]es.
#[derive(Trace)]
struct Registry {
    map: GcWeakMap<Node, WeakBox>,
}

/// The weak reference leaves `build` inside heap objects, so that its drop comes from the
/// finalizer thread: moved into a `WeakBox` held by a `GcWeakMap` (under a key that dies
/// later), into an element of an array built in the closure and then kept by the node, into an
/// element of an array half-made and abandoned by a panic (before the publication, then a
/// normal weak reference inside garbage), and the same with the build then panicking too (a
/// cleared reference inside garbage). Every cell goes back exactly once. Every configuration.
#[test]
fn the_weak_reference_moved_into_heap_objects_is_dropped_by_the_finalizer() {
    let _s = serial();
    for config in every_config() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let ledger = Ledger::new(1000);
        let mut mu = gc_runtime::attach();
        collect3(&mut mu);
        let cells = weak_cells();
        let registry = mu.alloc(Registry { map: GcWeakMap::new() }).root(&mu);
        let key = mu.alloc(node(0, None)).root(&mu);
        // 1. Into a box in a weak map.
        let n1 = {
            let reg = registry.get(&mu);
            let n = mu.alloc_cyclic(|me: Weak<Node>| {
                let b = mu.alloc(WeakBox { w: Some(me) });
                assert!(!reg.map.insert(key.get(&mu), b), "a new entry");
                assert!(b.w.as_ref().unwrap().upgrade(&mu).is_none());
                node(1, None)
            });
            let b = reg.map.get(key.get(&mu), &mu).unwrap();
            assert!(Gc::ptr_eq(b.w.as_ref().unwrap().upgrade(&mu).unwrap(), n));
            n.root(&mu)
        };
        // 2. Into a kid of an array the node keeps.
        let n2 = {
            let mut kids = None;
            let n = mu.alloc_cyclic(|me: Weak<Node>| {
                let mut me = Some(me);
                let k = mu.alloc_slice_from_fn(5, |i| Kid {
                    id: i as u64,
                    parent: if i == 3 { me.take() } else { None },
                    _probe: Some(ledger.probe()),
                });
                assert!(k[3].parent.as_ref().unwrap().upgrade(&mu).is_none());
                kids = Some(k);
                node(2, None)
            });
            let kids = kids.unwrap();
            n.kids.set(Some(kids));
            assert!(Gc::ptr_eq(kids[3].parent.as_ref().unwrap().upgrade(&mu).unwrap(), n));
            n.downgrade(&mu) // kept by nothing: the node, its kids and the cycle die together
        };
        // 3. Into an element of a half-made array; the build then succeeds.
        let n3 = {
            let n = mu.alloc_cyclic(|me: Weak<Node>| {
                let mut me = Some(me);
                let err = catch_unwind(AssertUnwindSafe(|| {
                    mu.alloc_slice_from_fn(3000, |i| {
                        assert!(i != 2000, "half-made");
                        Kid { id: i as u64, parent: if i == 1999 { me.take() } else { None }, _probe: None }
                    })
                    .len()
                }));
                assert!(err.is_err() && me.is_none());
                node(3, None)
            });
            n.root(&mu)
        };
        // 4. The same, and then the build panics.
        let err = catch_unwind(AssertUnwindSafe(|| {
            mu.alloc_cyclic(|me: Weak<Node>| -> Node {
                let mut me = Some(me);
                let _ = catch_unwind(AssertUnwindSafe(|| {
                    mu.alloc_slice_from_fn(4, |i| {
                        assert!(i != 2, "half-made");
                        Kid { id: i as u64, parent: me.take(), _probe: None }
                    })
                    .len()
                }));
                panic!("the build fails too")
            })
            .id
        }));
        assert!(err.is_err());
        // Live now: n1's box, n2's kid, the reference in the garbage array of 3 (published),
        // the one of 4 (cleared), and n2's outside reference.
        assert_eq!(weak_cells(), cells + 5, "{config:?}");
        collect3(&mut mu);
        assert!(n2.upgrade(&mu).is_none(), "the node with its kids died");
        drop(n2);
        assert_eq!(weak_cells(), cells + 1, "{config:?}: the garbage's references went with it");
        {
            let b = registry.get(&mu).map.get(key.get(&mu), &mu).expect("the key is alive");
            assert!(Gc::ptr_eq(b.w.as_ref().unwrap().upgrade(&mu).unwrap(), n1.get(&mu)));
        }
        assert_eq!(n3.get(&mu).id, 3);
        drop(key);
        collect3(&mut mu);
        assert!(registry.get(&mu).map.is_empty(), "the entry went with its key");
        assert_eq!(weak_cells(), cells, "{config:?}: the box's reference went with the entry");
        drop((n1, n3, registry));
        collect3(&mut mu);
        ledger.check_exactly(&HashSet::new());
        assert_eq!(weak_cells(), cells);
    }
}

/// `mem::forget` of the weak reference inside `build` (a successful build, and one that
/// panics): the object lives and dies normally, collections clear the forgotten cell without
/// trouble, and exactly one cell per forgotten reference stays allocated, as with any forgotten
/// `Weak`; nothing is given back twice.
#[test]
fn a_forgotten_weak_reference_leaks_its_cell_and_nothing_else() {
    let _s = serial();
    let mut mu = gc_runtime::attach();
    collect3(&mut mu); // earlier garbage finalized before counting
    let cells = weak_cells();
    let outside = {
        let n = mu.alloc_cyclic(|me: Weak<Node>| {
            std::mem::forget(me);
            node(31, None)
        });
        n.downgrade(&mu)
    };
    let _ = catch_unwind(AssertUnwindSafe(|| {
        mu.alloc_cyclic(|me: Weak<Node>| -> Node {
            std::mem::forget(me);
            panic!("forgotten, then failed")
        })
        .id
    }));
    assert_eq!(weak_cells(), cells + 3);
    collect3(&mut mu);
    assert!(outside.upgrade(&mu).is_none());
    drop(outside);
    // New weak references and objects reuse what they may; the leaked cells are left alone.
    for i in 0..200 {
        let n = mu.alloc_cyclic(|me| node(i, Some(me)));
        assert!(Gc::ptr_eq(n.me.as_ref().unwrap().upgrade(&mu).unwrap(), n));
    }
    collect3(&mut mu);
    assert_eq!(weak_cells(), cells + 2, "one cell per forgotten reference, no more, no less");
}

/// Another thread gets the weak reference while the object is being built (the build waits
/// until it has polled it pending 100 times) and keeps upgrading it, passing safepoints once it
/// is built: it sees
/// nothing while pending, then the very object while it is rooted (across collections), then
/// nothing ever again once it died — never the object again after that, never another object.
/// Every configuration.
#[test]
fn a_weak_reference_polled_by_another_thread_from_pending_to_dead() {
    let _s = serial();
    for config in every_config() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let mut mu = gc_runtime::attach();
        collect3(&mut mu); // earlier garbage finalized before counting
        let cells = weak_cells();
        let (tx, rx) = mpsc::channel::<Weak<Node>>();
        let (polled_tx, polled_rx) = mpsc::channel::<()>();
        let seen_alive = AtomicBool::new(false);
        let dead = AtomicBool::new(false);
        // The states the poller went through, each recorded when it changed.
        let log: Mutex<Vec<u8>> = Mutex::new(vec![0]);
        let (seen_alive, dead, log_ref) = (&seen_alive, &dead, &log);
        thread::scope(|s| {
            let poller = s.spawn(move || {
                let mut mu = gc_runtime::attach();
                let w = rx.recv().unwrap();
                // No safepoint here: the builder is inside its closure, so a pause could never
                // start; a thread parked for one would wait for ever.
                for _ in 0..100 {
                    assert!(w.upgrade(&mu).is_none() && w.is_cleared(), "pending: nothing to upgrade to");
                }
                polled_tx.send(()).unwrap();
                // 0: pending, 1: alive, 2: dead.
                let mut state = 0_u8;
                loop {
                    let finished = dead.load(Ordering::SeqCst);
                    match w.upgrade(&mu) {
                        Some(n) => {
                            assert_eq!(n.id, 41, "another object");
                            assert!(state < 2, "the object came back after it was seen dead");
                            assert!(!finished, "the object outlived the collections that freed it");
                            state = 1;
                            seen_alive.store(true, Ordering::SeqCst);
                        }
                        None if state == 1 => state = 2,
                        None => {}
                    }
                    let mut log = log_ref.lock().unwrap();
                    if log.last() != Some(&state) {
                        log.push(state);
                    }
                    drop(log);
                    mu.safepoint();
                    if finished {
                        break;
                    }
                }
                drop(w);
            });
            let root = {
                let n = mu.alloc_cyclic(|me: Weak<Node>| {
                    tx.send(me).unwrap();
                    polled_rx.recv().unwrap();
                    node(41, None)
                });
                n.root(&mu)
            };
            mu.collect();
            let start = Instant::now();
            while !seen_alive.load(Ordering::SeqCst) {
                // A minute: a loaded machine may be slow to schedule the poller.
                assert!(start.elapsed() < Duration::from_secs(60), "the poller never saw the object");
                mu.blocking(|| thread::sleep(Duration::from_millis(1)));
            }
            mu.collect();
            assert_eq!(root.get(&mu).id, 41);
            drop(root);
            mu.collect();
            mu.collect();
            dead.store(true, Ordering::SeqCst);
            mu.blocking(|| poller.join().unwrap());
        });
        let log = log.into_inner().unwrap();
        assert_eq!(log, [0, 1, 2], "{config:?}: seen pending, then alive, then dead");
        assert_eq!(weak_cells(), cells, "{config:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Concurrent stress.

/// An element made under stress: checked fields, a root to an array `make` made, and a slot
/// set afterwards.
#[derive(Trace)]
struct Built {
    id: u64,
    check: u64,
    index: usize,
    nested: Root<[u64]>,
    name: Member<str>,
    #[trace(skip)]
    probe: DropProbe,
}

impl Built {
    fn verify(&self, mu: &Mutator) {
        assert_eq!(self.check, self.id ^ MAGIC, "element {} corrupted", self.id);
        assert_eq!(self.probe.id, self.id);
        let nested = self.nested.get(mu);
        assert_eq!(nested.len(), nested_len(self.index));
        assert!(nested.iter().enumerate().all(|(j, &v)| v == self.id.wrapping_mul(j as u64 + 1)));
        if let Some(name) = self.name.get(mu) {
            assert_eq!(&*name, format!("built-{}", self.id));
        }
    }
}

/// The length of the array element `index` roots: mostly tiny, now and then a large object.
fn nested_len(index: usize) -> usize {
    if index % 97 == 5 {
        2000
    } else {
        index % 5
    }
}

/// Each stress thread's rooted state.
#[derive(Trace)]
struct Bench {
    arrays: Member<[Built]>,
    node: Member<Node>,
}

/// One stress thread: build arrays whose `make` allocates (nested arrays made in place, some
/// large; strings) and sometimes panics; keep the last one and check it; build self-aware nodes
/// whose kids, made inside the closure, hold the node's weak reference; check the last node.
fn build_under_churn(ledger: &Arc<Ledger>, seed: u64, stop: &AtomicBool, ops: &AtomicU64) {
    let mut mu = gc_runtime::attach();
    let mut rng = Rng(seed);
    let bench = mu.alloc(Bench { arrays: Member::new(), node: Member::new() }).root(&mu);
    let mut n = 0_u64;
    while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(5000) {
        {
            let b = bench.get(&mu);
            let len = [0, 1, 7, 60, 700][rng.below(5)];
            let fail_at = (len > 0 && rng.below(6) == 0).then(|| rng.below(len));
            let garbage = rng.below(3) == 0;
            let built = catch_unwind(AssertUnwindSafe(|| {
                mu.alloc_slice_from_fn(len, |i| {
                    assert!(Some(i) != fail_at, "make fails");
                    let probe = ledger.probe();
                    let id = probe.id;
                    let nested = mu.alloc_slice_from_fn(nested_len(i), |j| id.wrapping_mul(j as u64 + 1));
                    if garbage {
                        let _ = mu.alloc_str("garbage made by make");
                    }
                    Built { id, check: id ^ MAGIC, index: i, nested: nested.root(&mu), name: Member::new(), probe }
                })
            }));
            match built {
                Ok(arr) => {
                    assert!(fail_at.is_none() && arr.len() == len);
                    for e in arr.iter().take(3) {
                        e.name.set(Some(mu.alloc_str(&format!("built-{}", e.id))));
                    }
                    b.arrays.set(Some(arr));
                }
                Err(e) => assert_eq!((message(&*e), fail_at.is_some()), ("make fails".to_owned(), true)),
            }
            if let Some(arr) = b.arrays.get(&mu) {
                arr.iter().for_each(|e| e.verify(&mu));
            }
            if let Some(old) = b.node.get(&mu) {
                let kids = old.kids.get(&mu).expect("set right after the build");
                let with_parent: Vec<_> = kids.iter().filter_map(|k| k.parent.as_ref()).collect();
                assert_eq!(with_parent.len(), 1);
                assert!(Gc::ptr_eq(with_parent[0].upgrade(&mu).expect("the node is alive"), old));
            }
            let k = rng.below(4);
            let mut kids = None;
            let node = mu.alloc_cyclic(|me: Weak<Node>| {
                let mut me = Some(me);
                let made = mu.alloc_slice_from_fn(4, |i| Kid {
                    id: i as u64,
                    parent: if i == k { me.take() } else { None },
                    _probe: Some(ledger.probe()),
                });
                assert!(made[k].parent.as_ref().unwrap().upgrade(&mu).is_none());
                kids = Some(made);
                Node { id: n, me: None, kids: Member::new(), _probe: Some(ledger.probe()) }
            });
            let kids = kids.unwrap();
            node.kids.set(Some(kids));
            assert!(Gc::ptr_eq(kids[k].parent.as_ref().unwrap().upgrade(&mu).unwrap(), node));
            b.node.set(Some(node));
        }
        n += 1;
        mu.safepoint();
    }
    ops.fetch_add(n, Ordering::Relaxed);
}

/// Two threads build with both constructors (see `build_under_churn`) while a third collects
/// back to back, in every configuration with checkmark on; then everything made is dropped
/// exactly once, and every root and weak cell is given back.
#[test]
fn building_in_place_while_the_collector_cycles_in_every_configuration() {
    let _s = serial();
    for config in every_config() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let ledger = Ledger::new(2_000_000);
        // Earlier garbage finalized before counting; this thread detached during the run.
        collect3(&mut gc_runtime::attach());
        let (root_count, cells) = (roots(), weak_cells());
        let (cycles, ops) =
            common::churn(2, 300, |seed, stop: &AtomicBool, ops| build_under_churn(&ledger, seed, stop, ops));
        assert!(cycles >= 2 && ops > 0, "{config:?}: {cycles} cycles, {ops} rounds");
        let mut mu = gc_runtime::attach();
        collect3(&mut mu);
        ledger.check_exactly(&HashSet::new());
        assert_eq!((roots(), weak_cells()), (root_count, cells), "{config:?}");
    }
}
