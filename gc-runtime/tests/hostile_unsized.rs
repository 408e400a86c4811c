//! A hostile (safe-Rust-only) user against unsized GC objects: `Gc<[E]>`, `Gc<str>`, and the
//! slots, roots, weak references and collections of them. Programs that try to make an element
//! be dropped twice or never, an object be freed while an array still reaches it, an array's
//! collections go unarmed or untraced, a weak reference to an array or a string hand out a
//! freed or reused object, the memory limit lose an element, or the collector crash or hang.
//! Scenarios that could crash the process run in a child process (this test binary re-run with
//! one test selected, see `common/child.rs`); the rest run in process, serialised by `SERIAL`,
//! mostly under every configuration (stop-the-world, and each barrier with and without
//! handshakes) with checkmark on, so a missed object aborts.
//!
//! What is tried, in file order:
//!
//! - user code on the allocation path: `Into<Vec<E>>` impls that allocate (nested slices and
//!   strings) or panic half-way; iterators for `alloc_from_iter` that allocate recursively or
//!   panic half-way; `Clone` impls (for `alloc_slice(&[E])`) that try to attach, or allocate on
//!   another thread and put a root in the element;
//! - user code on the finalizer: element destructors that try to attach, read statistics, drop
//!   roots and weak references they hold; one element destructor that panics (the others still
//!   run, exactly once); two that panic in one array (child process);
//! - arrays whose elements are collections (`GcVec`, `GcMap`, `GcIdMap`, `GcWeakMap`, an
//!   `Option<GcVec>`), small and large: armed, traced, their values kept and freed, weak-map
//!   keys dying;
//! - zero-length arrays, zero-sized elements with destructors (also over-aligned to a page),
//!   page-aligned elements with slots;
//! - an array that reaches itself (a cycle through an array), and one that keys its own
//!   elements' weak maps;
//! - identity and typing of strings and byte slices as map keys and values;
//! - the marked and live byte counts of arrays (the pacer's inputs);
//! - the memory limit: every element comes back from `try_alloc_slice`, and is dropped exactly
//!   once, also when `alloc_slice` panics;
//! - concurrent stress in every configuration: a shared large array of slots rewired by two
//!   threads (`set`, `swap`, `take`, `compare_exchange`, nested slot arrays); an array of
//!   collections pushed, popped and moved between; weak references to arrays and strings
//!   upgraded while their roots come and go; a global root of a string swapped and read;
//!   a huge (> 1 MiB) array of slots filled by two threads;
//! - a leaked mutator's arrays handed out as `&'static [Member<_>]` and `&'static str` to
//!   other threads, which keep storing into them after the leaking thread ended (child);
//! - an array whose first element's weak map has an entry pending (its key reached late, at
//!   the end of a long list) while another thread keeps its last element's vector locked
//!   (child, small and large arrays);
//! - also: pointers to unsized objects are one word; dead arrays' and strings' addresses
//!   reused are not found through weak references or weak maps; a local read from a global
//!   root outlives the root's clearing while another thread's cycle waits.
//!
//! One of these found a bug, since fixed:
//! `two_panicking_element_destructors_in_one_array_do_not_abort_the_process` (see its comment).
//!
//! Checked outside this file, since they must not compile (and they do not): a `&[E]` or a
//! `Gc<str>` kept across `safepoint`, `collect`, `blocking` or an upgrade's safepoint; a
//! `Gc<[u8]>` of invalid UTF-8 used as a `Gc<str>`, stored into a `Member<str>`, rooted as
//! `Root<[u8]>` from a `str`, pushed into a `GcVec<str>`; a `Gc<[u8; 4]>` coerced to
//! `Gc<[u8]>`; a `Member<[&'static str]>` shrunk to `Member<[&'a str]>`; a slice sorted or a
//! string upper-cased in place through a `Gc`; a `Gc<[E]>` sent to another thread; a slice
//! borrowed past the drop of its mutator; `Object` implemented for a user's unsized type or a
//! `dyn Trait`; `mu.safepoint()` inside `alloc_from_iter`'s iterator; `alloc_slice` of
//! non-`Sync` or non-`'static` elements.

use std::{
    collections::{HashSet, VecDeque},
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    thread,
    time::{Duration, Instant},
};

mod common;

use common::{
    child::{child, in_child, spawn_collector, DEADLINE},
    BoomElem, DropProbe, Ledger, Rng,
};
use gc_runtime::{
    AttachError, BarrierKind, Config, Gc, GcIdMap, GcMap, GcVec, GcWeakMap, GlobalRoot, Member, Mode, Mutator, Root,
    Trace, Weak,
};

/// Serialises the in-process tests of this file: they share the heap and reconfigure it.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    gc_runtime::reconfigure(base()).unwrap();
    guard
}

/// Checkmark on, no automatic cycles.
fn base() -> Config {
    Config::default().with_gc_percent(None).with_checkmark(true)
}

use common::every_config as configs;

use common::collect2;

const MAGIC: u64 = 0x9E37_79B9_7F4A_7C15;

// ---------------------------------------------------------------------------------------------
// Shared types.

/// A leaf object: a canary, a name (a string object) and kids (an array of slots).
#[derive(Trace)]
struct Leaf {
    id: u64,
    canary: u64,
    name: Member<str>,
    kids: Member<[Member<Leaf>]>,
    #[trace(skip)]
    probe: DropProbe,
}

impl Leaf {
    /// Checks the leaf and its name (not its kids); returns its id.
    fn check(&self, mu: &Mutator) -> u64 {
        assert_eq!(self.canary, self.id ^ MAGIC, "canary of leaf {} corrupted (freed while reachable?)", self.id);
        assert_eq!(self.probe.id, self.id, "probe of leaf {} corrupted", self.id);
        if let Some(name) = self.name.get(mu) {
            assert_eq!(&*name, leaf_name(self.id), "name of leaf {} corrupted", self.id);
        }
        self.id
    }
}

fn leaf_name(id: u64) -> String {
    format!("leaf-{id}-{}", id.wrapping_mul(31))
}

fn leaf<'m>(mu: &'m Mutator, ledger: &Arc<Ledger>) -> Gc<'m, Leaf> {
    let probe = ledger.probe();
    let id = probe.id;
    let l = mu.alloc(Leaf { id, canary: id ^ MAGIC, name: Member::new(), kids: Member::new(), probe });
    l.name.set(Some(mu.alloc_str(&leaf_name(id))));
    l
}

/// An array of `n` empty slots.
fn slots<'m, T: ?Sized + 'static>(mu: &'m Mutator, n: usize) -> Gc<'m, [Member<T>]>
where
    Member<T>: Trace + Send + Sync,
{
    mu.alloc_slice((0..n).map(|_| Member::new()).collect::<Vec<_>>())
}

/// The ids of every leaf reachable from `roots` through slots and kid arrays, each checked.
fn reachable_leaves<'m>(mu: &'m Mutator, roots: impl IntoIterator<Item = Gc<'m, Leaf>>) -> HashSet<u64> {
    let mut seen = HashSet::new();
    let mut stack: Vec<Gc<'m, Leaf>> = roots.into_iter().collect();
    while let Some(l) = stack.pop() {
        if !seen.insert(l.check(mu)) {
            continue;
        }
        if let Some(kids) = l.kids.get(mu) {
            stack.extend(kids.iter().filter_map(|k| k.get(mu)));
        }
    }
    seen
}

/// An element that records its drop.
#[derive(Trace)]
struct Probed {
    id: u64,
    #[trace(skip)]
    probe: DropProbe,
}

fn probed(ledger: &Arc<Ledger>) -> Probed {
    let probe = ledger.probe();
    Probed { id: probe.id, probe }
}

// ---------------------------------------------------------------------------------------------
// User code on the allocation path.

/// A source of elements whose conversion into a `Vec` allocates on the same mutator: strings,
/// nested slices, and slices built by `alloc_slice` from inside the conversion — and roots
/// them in the elements it returns.
struct Allocating<'a> {
    mu: &'a Mutator,
    ledger: &'a Arc<Ledger>,
    count: usize,
    panic_at: Option<usize>,
}

#[derive(Trace)]
struct Rooted {
    id: u64,
    #[trace(skip)]
    name: Root<str>,
    #[trace(skip)]
    nested: Root<[Probed]>,
    #[trace(skip)]
    probe: DropProbe,
}

impl From<Allocating<'_>> for Vec<Rooted> {
    fn from(src: Allocating<'_>) -> Vec<Rooted> {
        let mu = src.mu;
        let mut out = Vec::new();
        for i in 0..src.count {
            if src.panic_at == Some(i) {
                panic!("Into<Vec> panics at element {i}");
            }
            let probe = src.ledger.probe();
            let id = probe.id;
            let name = mu.alloc_str(&format!("rooted-{id}")).root(mu);
            // A slice allocated (recursively, through its own `Into`) while the outer slice's
            // elements are being gathered.
            let nested = mu.alloc_slice((0..3).map(|_| probed(src.ledger)).collect::<Vec<_>>()).root(mu);
            out.push(Rooted { id, name, nested, probe });
        }
        out
    }
}

#[test]
fn into_vec_impls_that_allocate_or_panic_half_way() {
    let _s = serial();
    let ledger = Ledger::new(1000);
    let mut mu = gc_runtime::attach();
    let root = mu.alloc_slice(Allocating { mu: &mu, ledger: &ledger, count: 20, panic_at: None }).root(&mu);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        mu.alloc_slice(Allocating { mu: &mu, ledger: &ledger, count: 20, panic_at: Some(7) }).len()
    }));
    let err = r.expect_err("the conversion panicked");
    assert_eq!(err.downcast_ref::<String>().map(String::as_str), Some("Into<Vec> panics at element 7"));
    collect2(&mut mu);
    {
        let arr = root.get(&mu);
        assert_eq!(arr.len(), 20);
        for r in arr.iter() {
            assert_eq!(r.probe.id, r.id);
            assert_eq!(&*r.name.get(&mu), format!("rooted-{}", r.id));
            let nested = r.nested.get(&mu);
            assert_eq!(nested.len(), 3);
            assert!(nested.iter().all(|p| p.probe.id == p.id));
        }
    }
    // Alive: the 20 outer elements and their 60 nested ones; the panicking conversion's 7
    // elements (28 probes) were dropped by its unwinding, exactly once.
    let alive: HashSet<u64> = {
        let arr = root.get(&mu);
        arr.iter()
            .flat_map(|r| std::iter::once(r.id).chain(r.nested.get(&mu).iter().map(|p| p.id)).collect::<Vec<_>>())
            .collect()
    };
    assert_eq!(alive.len(), 80);
    ledger.check_exactly(&alive);
    // The outer array holds the roots of the nested ones: when it dies, its elements' roots
    // are dropped (on the finalizer), and the nested arrays die at the next cycle.
    drop(root);
    collect2(&mut mu);
    mu.collect();
    ledger.check_exactly(&HashSet::new());
}

#[test]
fn iterators_that_allocate_recursively_or_panic_half_way() {
    let _s = serial();
    let ledger = Ledger::new(10_000);
    let mut mu = gc_runtime::attach();
    let weak_inner: Mutex<Vec<Weak<[u64]>>> = Mutex::new(Vec::new());
    // Each item allocates a slice from an iterator that itself allocates strings.
    let outer = mu
        .alloc_from_iter((0..30_u64).map(|i| {
            let inner = mu.alloc_from_iter((0..i).map(|j| {
                let s = mu.alloc_str(&"x".repeat(j as usize));
                s.len() as u64 + i * 1000
            }));
            weak_inner.lock().unwrap().push(inner.downgrade(&mu));
            assert!(inner.iter().enumerate().all(|(j, &v)| v == j as u64 + i * 1000));
            inner.iter().sum::<u64>()
        }))
        .root(&mu);
    {
        let o = outer.get(&mu);
        for (i, &sum) in o.iter().enumerate() {
            let i = i as u64;
            assert_eq!(sum, (0..i).map(|j| j + i * 1000).sum::<u64>());
        }
    }
    // An iterator that panics after 11 items: those 11 are dropped once.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        mu.alloc_from_iter((0..100).map(|i| {
            assert!(i != 11, "iterator panics at item 11");
            probed(&ledger)
        }))
        .len()
    }));
    assert!(r.is_err());
    assert_eq!(ledger.created(), 11);
    assert_eq!(ledger.total_drops(), 11, "the items gathered before the panic are dropped once");
    // An iterator of iterator-built slices' roots, and one that stops early (a `take`).
    let roots = mu.alloc_from_iter((0..5).map(|k| mu.alloc_from_iter((0..k).map(|_| probed(&ledger))).root(&mu)));
    let half = mu.alloc_from_iter((0..).map(|_| probed(&ledger)).take(7)).root(&mu);
    assert_eq!(roots.iter().map(|r| r.get(&mu).len()).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
    assert_eq!(half.get(&mu).len(), 7);
    let alive: HashSet<u64> = half.get(&mu).iter().map(|p| p.id).collect();
    let alive: HashSet<u64> = alive.union(&(11..21).collect()).copied().collect();
    let roots_root = roots.root(&mu);
    collect2(&mut mu);
    ledger.check_exactly(&alive);
    assert!(weak_inner.lock().unwrap().iter().all(|w| w.upgrade(&mu).is_none()), "the unrooted inner slices died");
    assert_eq!(outer.get(&mu).len(), 30);
    drop((roots_root, half));
    collect2(&mut mu);
    mu.collect();
    ledger.check_exactly(&HashSet::new());
}

/// An element whose `Clone` tries to attach (refused: the thread has a mutator), and
/// allocates a string on another thread (which attaches its own mutator) and keeps it by a
/// root in the clone.
#[derive(Trace)]
struct Cloner {
    n: u32,
    #[trace(skip)]
    name: Option<Root<str>>,
}

static CLONE_ATTACH_REFUSED: AtomicUsize = AtomicUsize::new(0);

impl Clone for Cloner {
    fn clone(&self) -> Self {
        if let Err(AttachError::AlreadyAttached) = gc_runtime::try_attach() {
            CLONE_ATTACH_REFUSED.fetch_add(1, Ordering::SeqCst);
        }
        let n = self.n;
        let name = thread::scope(|s| {
            s.spawn(move || {
                let mu = gc_runtime::attach();
                mu.alloc_str(&format!("clone-{n}")).root(&mu)
            })
            .join()
            .unwrap()
        });
        Cloner { n, name: Some(name) }
    }
}

#[test]
fn clones_that_attach_or_allocate_on_another_thread() {
    let _s = serial();
    CLONE_ATTACH_REFUSED.store(0, Ordering::SeqCst);
    let mut mu = gc_runtime::attach();
    let source: Vec<Cloner> = (0..6).map(|n| Cloner { n, name: None }).collect();
    let (root, weaks) = {
        let arr = mu.alloc_slice(&source[..]);
        let weaks: Vec<Weak<str>> = arr.iter().map(|c| c.name.as_ref().unwrap().get(&mu).downgrade(&mu)).collect();
        (arr.root(&mu), weaks)
    };
    assert_eq!(CLONE_ATTACH_REFUSED.load(Ordering::SeqCst), 6, "try_attach inside Clone is refused");
    collect2(&mut mu);
    {
        let arr = root.get(&mu);
        for (i, c) in arr.iter().enumerate() {
            assert_eq!(c.n, i as u32);
            assert_eq!(&*c.name.as_ref().unwrap().get(&mu), format!("clone-{i}"));
        }
    }
    assert!(weaks.iter().all(|w| w.upgrade(&mu).is_some()), "strings rooted by live elements live");
    drop(root);
    collect2(&mut mu); // the array dies; its elements' roots are dropped on the finalizer
    mu.collect(); // now the strings are unreachable
    assert!(weaks.iter().all(|w| w.upgrade(&mu).is_none()), "strings whose roots died with the array are freed");
}

// ---------------------------------------------------------------------------------------------
// User code on the finalizer.

static SPY_ON_FINALIZER: AtomicUsize = AtomicUsize::new(0);
static SPY_ATTACH_REFUSED: AtomicUsize = AtomicUsize::new(0);
static SPY_ATTACHED: AtomicUsize = AtomicUsize::new(0);

/// A destructor that tries everything a destructor may try.
struct Spy {
    _probe: DropProbe,
    hold: Option<Root<[u64]>>,
    weak: Option<Weak<str>>,
}

impl Drop for Spy {
    fn drop(&mut self) {
        if thread::current().name() == Some("gc-finalizer") {
            SPY_ON_FINALIZER.fetch_add(1, Ordering::SeqCst);
        }
        match gc_runtime::try_attach() {
            Err(AttachError::CollectorThread) => {
                SPY_ATTACH_REFUSED.fetch_add(1, Ordering::SeqCst);
            }
            Ok(_mu) => {
                SPY_ATTACHED.fetch_add(1, Ordering::SeqCst);
            }
            Err(_) => {}
        }
        let _ = gc_runtime::stats().cycles;
        let _ = gc_runtime::phase();
        let _ = self.weak.as_ref().map(Weak::is_cleared);
        // Dropping a root and a weak reference here is allowed.
        self.hold.take();
        self.weak.take();
    }
}

#[derive(Trace)]
struct SpyElem {
    #[trace(skip)]
    _spy: Spy,
}

#[test]
fn element_destructors_run_on_the_finalizer_and_cannot_attach() {
    let _s = serial();
    for (i, config) in configs().into_iter().enumerate() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        SPY_ON_FINALIZER.store(0, Ordering::SeqCst);
        SPY_ATTACH_REFUSED.store(0, Ordering::SeqCst);
        SPY_ATTACHED.store(0, Ordering::SeqCst);
        let ledger = Ledger::new(10_000);
        let mut mu = gc_runtime::attach();
        // Small (in a page) and large (its own block) arrays of spies.
        let n = [5, 2000][i % 2];
        let held_weak = {
            let held = mu.alloc_slice(vec![7_u64; 100]);
            let w = held.downgrade(&mu);
            let name = mu.alloc_str("spied");
            let arr = mu.alloc_from_iter((0..n).map(|_| SpyElem {
                _spy: Spy { _probe: ledger.probe(), hold: Some(held.root(&mu)), weak: Some(name.downgrade(&mu)) },
            }));
            assert_eq!(arr.len(), n);
            w
        };
        collect2(&mut mu);
        assert_eq!(
            SPY_ON_FINALIZER.load(Ordering::SeqCst),
            n,
            "{config:?}: every element destructor ran on the finalizer"
        );
        assert_eq!(SPY_ATTACH_REFUSED.load(Ordering::SeqCst), n, "{config:?}: attaching from a destructor is refused");
        assert_eq!(SPY_ATTACHED.load(Ordering::SeqCst), 0);
        ledger.check_exactly(&HashSet::new());
        mu.collect(); // the roots dropped by the destructors were the last to hold `held`
        assert!(held_weak.upgrade(&mu).is_none(), "{config:?}: the array held by the dead elements' roots is freed");
    }
}

#[test]
fn one_panicking_element_destructor_still_drops_the_other_elements_once() {
    let _s = serial();
    common::quiet_panics_on_the_finalizer();
    let ledger = Ledger::new(10_000);
    let mut mu = gc_runtime::attach();
    mu.collect();
    let before = gc_runtime::stats().drop_panics;
    // (length, index of the panicking element, how it panics)
    let cases = [(5, 2, 1), (1, 0, 1), (3000, 2999, 1), (3000, 0, 1), (7, 3, 2), (2000, 1, 2)];
    for (len, bad, how) in cases {
        let arr = mu.alloc_from_iter((0..len).map(|i| BoomElem::new(&ledger, if i == bad { how } else { 0 })));
        assert_eq!(arr.len(), len);
    }
    collect2(&mut mu);
    assert_eq!(gc_runtime::stats().drop_panics - before, cases.len() as u64, "one panic counted per array");
    // Every element of every array dropped exactly once, before and after the panicking one.
    ledger.check_exactly(&HashSet::new());
}

fn two_panicking_elements_scenario() {
    common::quiet_panics_on_the_finalizer();
    gc_runtime::reconfigure(base()).unwrap();
    let ledger = Ledger::new(100);
    let mut mu = gc_runtime::attach();
    mu.collect();
    let before = gc_runtime::stats().drop_panics;
    {
        let arr = mu.alloc_from_iter((0..4).map(|i| BoomElem::new(&ledger, u8::from(i == 1 || i == 2))));
        assert_eq!(arr.len(), 4);
    }
    collect2(&mut mu);
    let panics = gc_runtime::stats().drop_panics - before;
    println!("drop panics: {panics}, probes dropped: {}", ledger.total_drops());
    assert_eq!(panics, 1, "the array's destructor panicked");
    ledger.check_exactly(&HashSet::new());
    println!("done");
}

#[test]
fn child_two_panicking_element_destructors() {
    if in_child() {
        two_panicking_elements_scenario();
    }
}

/// An array whose elements' destructors panic twice: the crate docs promise that a panicking
/// destructor is counted and its object freed. Dropping a slice keeps dropping the other
/// elements while the first panic unwinds, so the second element's panic is a panic during
/// unwinding, which aborts the process ("panic in a destructor during cleanup").
///
/// This was a bug: the child aborted on the finalizer thread, because `drop_array`
/// (`object/layout.rs`) dropped the whole slice with one `drop_in_place` under the single
/// `catch_unwind` of `heap::run_destructor`. It now drops the elements one at a time, each
/// under its own guard. (A sized object with two panicking fields, or a `Vec` field of two
/// panicking elements, still aborts: that is Rust's drop glue.)
#[test]
fn two_panicking_element_destructors_in_one_array_do_not_abort_the_process() {
    let out = child("child_two_panicking_element_destructors", &[], DEADLINE);
    assert!(
        out.success && out.stdout.contains("done"),
        "an array with two elements whose destructors panic took the process down on the finalizer \
         thread (the docs say a destructor panic is caught, counted in Stats::drop_panics, and the \
         object freed):\n{}",
        out.describe()
    );
}

// ---------------------------------------------------------------------------------------------
// Arrays of collections.

#[derive(Trace)]
struct Bucket {
    vec: GcVec<Leaf>,
    by_id: GcMap<u64, [u64]>,
    names: GcIdMap<str, Leaf>,
    notes: GcWeakMap<Leaf, str>,
    maybe: Option<GcVec<str>>,
}

fn bucket() -> Bucket {
    Bucket {
        vec: GcVec::new(),
        by_id: GcMap::new(),
        names: GcIdMap::new(),
        notes: GcWeakMap::new(),
        maybe: Some(GcVec::new()),
    }
}

#[test]
fn arrays_of_collections_are_armed_traced_and_freed() {
    let _s = serial();
    for config in configs() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let ledger = Ledger::new(100_000);
        let mut mu = gc_runtime::attach();
        // 3 buckets in a page, 200 (tens of KiB) in a large block.
        for n in [3_usize, 200] {
            let first = ledger.created() as u64;
            let (root, temp_weaks) = {
                let arr = mu.alloc_from_iter((0..n).map(|_| bucket()));
                let mut temp_weaks = Vec::new();
                for (i, b) in arr.iter().enumerate() {
                    let kept = leaf(&mu, &ledger);
                    b.vec.push(kept);
                    b.by_id.insert(kept.id, mu.alloc_slice(vec![kept.id; i % 5]));
                    let name = mu.alloc_str(&format!("bucket-{i}"));
                    b.names.insert(name, kept);
                    b.maybe.as_ref().unwrap().push(name);
                    b.notes.insert(kept, mu.alloc_str(&format!("note-{}", kept.id)));
                    // A key that dies: its entry goes, and so does its value.
                    let doomed = leaf(&mu, &ledger);
                    let note = mu.alloc_str("doomed");
                    temp_weaks.push(note.downgrade(&mu));
                    b.notes.insert(doomed, note);
                    assert_eq!(b.notes.len(), 2);
                }
                (arr.root(&mu), temp_weaks)
            };
            collect2(&mut mu);
            let arr = root.get(&mu);
            let mut alive = HashSet::new();
            for (i, b) in arr.iter().enumerate() {
                assert_eq!(b.vec.len(), 1, "{config:?}");
                let kept = b.vec.get(0, &mu).unwrap();
                alive.insert(kept.check(&mu));
                assert_eq!(&*b.by_id.get(&kept.id, &mu).unwrap(), &vec![kept.id; i % 5][..], "{config:?}");
                let name = b.maybe.as_ref().unwrap().get(0, &mu).unwrap();
                assert_eq!(&*name, format!("bucket-{i}"));
                assert!(Gc::ptr_eq(b.names.get(name, &mu).unwrap(), kept), "{config:?}");
                assert_eq!(b.notes.len(), 1, "{config:?}: the dead key's entry was removed");
                assert_eq!(&*b.notes.get(kept, &mu).unwrap(), format!("note-{}", kept.id));
            }
            assert!(temp_weaks.iter().all(|w| w.upgrade(&mu).is_none()), "{config:?}: dead keys' values freed");
            ledger.check_exactly(&alive);
            // Empty half the buckets: their leaves die, the rest live on.
            for b in arr.iter().step_by(2) {
                let l = b.vec.pop(&mu).unwrap();
                b.names.clear();
                alive.remove(&l.id);
            }
            collect2(&mut mu);
            ledger.check_exactly(&alive);
            drop(root);
            collect2(&mut mu);
            mu.collect(); // the weak maps of the dead array unregistered on the finalizer
            ledger.check_exactly(&HashSet::new());
            assert!(ledger.created() as u64 > first);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Zero-length arrays, zero-sized and over-aligned elements.

static ZST_DROPS: AtomicUsize = AtomicUsize::new(0);
static PAGE_ZST_DROPS: AtomicUsize = AtomicUsize::new(0);

/// A zero-sized value with a destructor.
#[derive(Clone)]
struct Tick;

impl Drop for Tick {
    fn drop(&mut self) {
        ZST_DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

/// A zero-sized value aligned to a page, with a destructor.
#[derive(Clone)]
#[repr(align(4096))]
struct PageTick;

/// Zero-sized elements with destructors (a `Trace` type cannot implement `Drop` itself).
#[derive(Trace, Clone)]
struct TickElem(#[trace(skip)] Tick);

#[derive(Trace, Clone)]
struct PageTickElem(#[trace(skip)] PageTick);

impl Drop for PageTick {
    fn drop(&mut self) {
        PAGE_ZST_DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn zero_length_arrays_and_zero_sized_elements_with_destructors() {
    let _s = serial();
    let mut mu = gc_runtime::attach();
    collect2(&mut mu);
    ZST_DROPS.store(0, Ordering::SeqCst);
    PAGE_ZST_DROPS.store(0, Ordering::SeqCst);
    let (roots, weaks) = {
        let e1: Gc<[Member<Leaf>]> = slots(&mu, 0);
        let e2: Gc<[Member<Leaf>]> = slots(&mu, 0);
        assert!(!Gc::ptr_eq(e1, e2), "two empty arrays are two objects");
        let e3: Gc<[GcVec<Leaf>]> = mu.alloc_slice(Vec::new());
        let s = mu.alloc_str("");
        let ticks = mu.alloc_slice(vec![TickElem(Tick); 100_000]);
        let page_ticks = mu.alloc_slice(vec![PageTickElem(PageTick); 1000]);
        let empty_page_ticks = mu.alloc_slice(Vec::<PageTickElem>::new());
        assert_eq!(page_ticks.as_ptr() as usize % 4096, 0);
        assert_eq!((ticks.len(), page_ticks.len(), empty_page_ticks.len()), (100_000, 1000, 0));
        assert!(e1.is_empty() && e3.is_empty() && s.is_empty());
        let weaks = (e2.downgrade(&mu), ticks.downgrade(&mu), page_ticks.downgrade(&mu), s.downgrade(&mu));
        (e1.root(&mu), weaks)
    };
    assert_eq!(ZST_DROPS.load(Ordering::SeqCst), 0, "vec![x; n] moves its template in as the last element");
    assert_eq!(PAGE_ZST_DROPS.load(Ordering::SeqCst), 0);
    collect2(&mut mu);
    assert_eq!(roots.get(&mu).len(), 0);
    assert!(weaks.0.upgrade(&mu).is_none() && weaks.1.upgrade(&mu).is_none());
    assert!(weaks.2.upgrade(&mu).is_none() && weaks.3.upgrade(&mu).is_none());
    assert_eq!(ZST_DROPS.load(Ordering::SeqCst), 100_000, "each zero-sized element dropped exactly once");
    assert_eq!(PAGE_ZST_DROPS.load(Ordering::SeqCst), 1000);
}

/// A page-aligned element with a slot and a name.
#[derive(Trace)]
#[repr(align(4096))]
struct PageSized {
    id: u64,
    slot: Member<Leaf>,
    name: Member<str>,
}

/// A 16-aligned element with a slot (small arrays of it go to size classes whose slots are
/// 16-aligned).
#[derive(Trace)]
#[repr(align(16))]
struct Aligned16 {
    id: u8,
    slot: Member<Leaf>,
}

#[test]
fn page_aligned_elements_with_slots() {
    let _s = serial();
    let ledger = Ledger::new(1000);
    let mut mu = gc_runtime::attach();
    let mut roots = Vec::new();
    for len in [0_usize, 1, 3, 17] {
        let arr =
            mu.alloc_from_iter((0..len as u64).map(|id| PageSized { id, slot: Member::new(), name: Member::new() }));
        assert_eq!(arr.as_ptr() as usize % 4096, 0, "elements aligned to their type");
        for e in arr.iter() {
            e.slot.set(Some(leaf(&mu, &ledger)));
            e.name.set(Some(mu.alloc_str(&format!("page-{}", e.id))));
        }
        roots.push(arr.root(&mu));
    }
    let mut small = Vec::new();
    for len in [1_usize, 2, 5, 30, 600] {
        let arr = mu.alloc_from_iter((0..len).map(|i| Aligned16 { id: i as u8, slot: Member::new() }));
        assert_eq!(arr.as_ptr() as usize % 16, 0);
        for e in arr.iter() {
            e.slot.set(Some(leaf(&mu, &ledger)));
        }
        small.push(arr.root(&mu));
    }
    collect2(&mut mu);
    let mut alive = HashSet::new();
    for r in &small {
        for (i, e) in r.get(&mu).iter().enumerate() {
            assert_eq!(e.id, i as u8);
            alive.insert(e.slot.get(&mu).expect("slot of a 16-aligned element kept").check(&mu));
        }
    }
    for r in &roots {
        for (i, e) in r.get(&mu).iter().enumerate() {
            assert_eq!(e.id, i as u64);
            alive.insert(e.slot.get(&mu).expect("slot of a page-aligned element kept").check(&mu));
            assert_eq!(&*e.name.get(&mu).unwrap(), format!("page-{i}"));
        }
    }
    ledger.check_exactly(&alive);
    roots.clear();
    small.clear();
    collect2(&mut mu);
    ledger.check_exactly(&HashSet::new());
}

// ---------------------------------------------------------------------------------------------
// Arrays that reach themselves.

#[derive(Trace)]
struct Cyc {
    i: u64,
    me: Member<[Cyc]>,
    #[trace(skip)]
    _probe: DropProbe,
}

#[derive(Trace)]
struct Holder {
    i: u64,
    /// Keyed by the array this element lives in.
    map: GcWeakMap<[Holder], Leaf>,
    next: Member<[Holder]>,
}

#[test]
fn arrays_in_cycles_through_themselves_and_keying_their_own_weak_maps() {
    let _s = serial();
    for config in configs() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let ledger = Ledger::new(10_000);
        let mut mu = gc_runtime::attach();
        // A cycle through an array: every element points back at the array.
        let (weak, root) = {
            let arr = mu.alloc_from_iter((0..50).map(|i| Cyc { i, me: Member::new(), _probe: ledger.probe() }));
            for e in arr.iter() {
                e.me.set(Some(arr));
            }
            (arr.downgrade(&mu), arr.root(&mu))
        };
        // Two arrays of weak-map holders, each map keyed by the array holding it (and by the
        // other array), with each array's elements pointing at the other array.
        let (hroot, hweak, leaf_ids) = {
            let a = mu.alloc_from_iter((0..4).map(|i| Holder { i, map: GcWeakMap::new(), next: Member::new() }));
            let b = mu.alloc_from_iter((0..300).map(|i| Holder { i, map: GcWeakMap::new(), next: Member::new() }));
            let mut ids = Vec::new();
            for (x, y) in [(a, b), (b, a)] {
                for h in x.iter() {
                    h.next.set(Some(y));
                    let own = leaf(&mu, &ledger);
                    let other = leaf(&mu, &ledger);
                    ids.push(own.id);
                    ids.push(other.id);
                    h.map.insert(x, own);
                    h.map.insert(y, other);
                }
            }
            (a.root(&mu), b.downgrade(&mu), ids)
        };
        collect2(&mut mu);
        {
            let arr = root.get(&mu);
            for (i, e) in arr.iter().enumerate() {
                assert_eq!(e.i, i as u64);
                assert!(Gc::ptr_eq(e.me.get(&mu).unwrap(), arr));
            }
            let a = hroot.get(&mu);
            let b = hweak.upgrade(&mu).expect("reachable from the rooted array's elements");
            for (x, y) in [(a, b), (b, a)] {
                for h in x.iter() {
                    assert_eq!(h.map.len(), 2, "{config:?}");
                    h.map.get(x, &mu).expect("self-keyed value kept").check(&mu);
                    h.map.get(y, &mu).expect("other-keyed value kept").check(&mu);
                }
            }
        }
        let alive: HashSet<u64> = (0..50).chain(leaf_ids.iter().copied()).collect();
        ledger.check_exactly(&alive);
        drop(root);
        drop(hroot);
        collect2(&mut mu);
        mu.collect();
        assert!(weak.upgrade(&mu).is_none() && hweak.upgrade(&mu).is_none(), "{config:?}");
        ledger.check_exactly(&HashSet::new());
    }
}

// ---------------------------------------------------------------------------------------------
// Identity and typing of strings and bytes.

#[derive(Trace)]
struct Dict {
    by_name: GcIdMap<str, str>,
    weak_by_name: GcWeakMap<str, [u8]>,
    bytes: GcMap<Vec<u8>, [u8]>,
    list: GcVec<str>,
}

#[test]
fn strings_and_byte_slices_are_objects_with_identity() {
    let _s = serial();
    let mut mu = gc_runtime::attach();
    let root = {
        let d = mu.alloc(Dict {
            by_name: GcIdMap::new(),
            weak_by_name: GcWeakMap::new(),
            bytes: GcMap::new(),
            list: GcVec::new(),
        });
        let a1 = mu.alloc_str("same");
        let a2 = mu.alloc_str("same");
        d.list.push(a1);
        d.list.push(a2);
        d.by_name.insert(a1, mu.alloc_str("first"));
        d.by_name.insert(a2, mu.alloc_str("second"));
        d.weak_by_name.insert(a1, mu.alloc_slice(b"\xff\xfe".to_vec()));
        d.weak_by_name.insert(mu.alloc_str("same"), mu.alloc_slice(b"dies".to_vec()));
        // Bytes that are not UTF-8, stored under the bytes of a valid string.
        d.bytes.insert(b"same".to_vec(), mu.alloc_slice(vec![0xC0, 0x80, 0xFF]));
        d.root(&mu)
    };
    collect2(&mut mu);
    let d = root.get(&mu);
    let (a1, a2) = (d.list.get(0, &mu).unwrap(), d.list.get(1, &mu).unwrap());
    assert!(!Gc::ptr_eq(a1, a2) && *a1 == *a2);
    assert_eq!(&*d.by_name.get(a1, &mu).unwrap(), "first", "identity, not equality");
    assert_eq!(&*d.by_name.get(a2, &mu).unwrap(), "second");
    assert_eq!(d.weak_by_name.len(), 1, "the entry of the dead equal-valued key is gone");
    assert_eq!(&*d.weak_by_name.get(a1, &mu).unwrap(), b"\xff\xfe");
    assert!(d.weak_by_name.get(a2, &mu).is_none());
    assert_eq!(&*d.bytes.get(&b"same".to_vec(), &mu).unwrap(), &[0xC0, 0x80, 0xFF]);
    // A string object is read-only, and its bytes are the string's.
    assert_eq!(a1.as_bytes(), b"same");
    assert!(std::str::from_utf8(&d.bytes.get(&b"same".to_vec(), &mu).unwrap()).is_err());
}

#[test]
fn pointers_to_unsized_objects_are_one_word() {
    let word = std::mem::size_of::<usize>();
    assert_eq!(std::mem::size_of::<Gc<'static, str>>(), word);
    assert_eq!(std::mem::size_of::<Gc<'static, [Member<Leaf>]>>(), word);
    assert_eq!(std::mem::size_of::<Option<Gc<'static, [u8]>>>(), word, "a local has a niche");
    assert_eq!(std::mem::size_of::<Member<str>>(), word);
    assert_eq!(std::mem::size_of::<Member<[u64]>>(), word);
}

#[derive(Trace)]
struct ByArray {
    map: GcWeakMap<[u64], str>,
}

/// Weak references and weak-map entries of arrays and strings that died: new objects of the
/// same shapes, allocated right after the dead ones were freed (so at their addresses), must
/// not be found through them.
#[test]
fn dead_arrays_addresses_reused_are_not_found_through_weak_references_or_weak_maps() {
    let _s = serial();
    for config in configs() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let mut mu = gc_runtime::attach();
        let table = mu.alloc(ByArray { map: GcWeakMap::new() }).root(&mu);
        let mut weaks: Vec<(Weak<[u64]>, Weak<str>)> = Vec::new();
        let kept: Vec<(u64, Root<[u64]>)> = {
            let t = table.get(&mu);
            let mut kept = Vec::new();
            for i in 0..600_u64 {
                let len = [0, 1, 3, 40, 1500][(i % 5) as usize];
                let key = mu.alloc_slice(vec![i; len]);
                let s = mu.alloc_str(&format!("dead-{i}"));
                t.map.insert(key, mu.alloc_str(&format!("value-{i}")));
                weaks.push((key.downgrade(&mu), s.downgrade(&mu)));
                if i % 47 == 0 {
                    kept.push((i, key.root(&mu)));
                }
            }
            kept
        };
        collect2(&mut mu);
        let t = table.get(&mu);
        assert_eq!(t.map.len(), kept.len(), "{config:?}: only the live keys' entries are left");
        for (i, r) in &kept {
            let k = r.get(&mu);
            assert!(k.iter().all(|x| x == i), "{config:?}");
            assert_eq!(&*t.map.get(k, &mu).unwrap(), format!("value-{i}"), "{config:?}");
        }
        // New objects of the same sizes: the freed slots are reused.
        let fresh: Vec<Gc<[u64]>> =
            (0..600_u64).map(|i| mu.alloc_slice(vec![i + 1000; [0, 1, 3, 40, 1500][(i % 5) as usize]])).collect();
        let fresh_strs: Vec<Gc<str>> = (0..600).map(|i| mu.alloc_str(&format!("new!-{i}"))).collect();
        for (i, f) in fresh.iter().enumerate() {
            assert!(t.map.get(*f, &mu).is_none(), "{config:?}: fresh array {i} found a dead key's entry");
        }
        for (i, (wa, ws)) in weaks.iter().enumerate() {
            if let Some(a) = wa.upgrade(&mu) {
                assert!(i % 47 == 0, "{config:?}: weak reference {i} to a dead array upgraded");
                assert!(a.iter().all(|&x| x == i as u64), "{config:?}: weak reference {i} gave another array");
            }
            assert!(ws.upgrade(&mu).is_none(), "{config:?}: weak reference {i} to a dead string upgraded");
        }
        assert_eq!(fresh.len() + fresh_strs.len(), 1200);
    }
}

/// A local read from a global root stays valid after the global is cleared, while another
/// thread's collection waits for this thread: locals are not roots the collector scans, but
/// no cycle can end before this thread's next safepoint.
#[test]
fn a_local_outlives_the_clearing_of_its_global_root_while_another_thread_collects() {
    static NAME: GlobalRoot<str> = GlobalRoot::new();
    static DATA: GlobalRoot<[u64]> = GlobalRoot::new();
    let _s = serial();
    for config in configs() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let mut mu = gc_runtime::attach();
        NAME.set(&mu, mu.alloc_str("only through the global"));
        DATA.set(&mu, mu.alloc_from_iter(0..5000_u64));
        let cycles_before = gc_runtime::stats().cycles;
        let done = AtomicBool::new(false);
        thread::scope(|s| {
            let (name, data) = (NAME.get(&mu).unwrap(), DATA.get(&mu).unwrap());
            NAME.clear();
            DATA.clear();
            s.spawn(|| {
                let mut mu = gc_runtime::attach();
                mu.collect();
                done.store(true, Ordering::SeqCst);
            });
            // The other thread's cycle runs (and waits for this thread) meanwhile.
            let started = Instant::now();
            while started.elapsed() < Duration::from_millis(30) {
                assert_eq!(&*name, "only through the global", "{config:?}");
                assert!(data.iter().enumerate().all(|(i, &x)| x == i as u64), "{config:?}");
                assert!(!done.load(Ordering::SeqCst), "{config:?}: a cycle ended while this thread held locals");
                std::hint::spin_loop();
            }
            let _ = mu.alloc_slice(vec![0_u8; 100_000]); // allocating is not a safepoint
            assert_eq!(&*name, "only through the global", "{config:?}");
            assert_eq!(data[4999], 4999);
            mu.safepoint();
            // Wait for the collector, detached (the locals are gone: the borrow checker says so).
            mu.blocking(|| {
                while !done.load(Ordering::SeqCst) {
                    thread::sleep(Duration::from_millis(1));
                }
            });
        });
        assert!(gc_runtime::stats().cycles > cycles_before);
    }
}

// ---------------------------------------------------------------------------------------------
// Byte counts: the pacer's inputs.

#[test]
fn marked_and_live_bytes_count_the_elements() {
    let _s = serial();
    let ledger = Ledger::new(10);
    let mut mu = gc_runtime::attach();
    collect2(&mut mu);
    let live_before = gc_runtime::stats().heap_live;
    const BYTES: usize = 6 << 20;
    const SLOTS: usize = 100_000;
    let (bytes, table) = {
        let b = mu.alloc_slice(vec![1_u8; BYTES]);
        let t = slots::<Leaf>(&mu, SLOTS);
        t[0].set(Some(leaf(&mu, &ledger)));
        (b.root(&mu), t.root(&mu))
    };
    collect2(&mut mu);
    let s = gc_runtime::stats();
    let last = s.recent.last().unwrap();
    assert!(
        last.heap_marked >= BYTES + SLOTS * 8,
        "a cycle that reached a {BYTES}-byte array and a {SLOTS}-slot array marked only {} bytes",
        last.heap_marked
    );
    assert!(s.heap_live >= live_before + BYTES + SLOTS * 8, "live {} before {live_before}", s.heap_live);
    drop((bytes, table));
    collect2(&mut mu);
    let live_after = gc_runtime::stats().heap_live;
    assert!(
        live_after < live_before + (1 << 20),
        "the freed arrays' bytes are given back: live {live_after}, before {live_before}"
    );
    ledger.check_exactly(&HashSet::new());
}

// ---------------------------------------------------------------------------------------------
// The memory limit.

/// An element of about a KiB that records its drop, with a slot and a collection: a refused
/// element must come back unarmed (allocation arms them; an armed slot out of the heap would
/// trip the arming's check when the element is allocated again).
#[derive(Trace)]
struct Fat {
    id: u64,
    pad: [u64; 120],
    slot: Member<Leaf>,
    vec: GcVec<str>,
    #[trace(skip)]
    probe: DropProbe,
}

fn fat(ledger: &Arc<Ledger>) -> Fat {
    let probe = ledger.probe();
    Fat { id: probe.id, pad: [probe.id; 120], slot: Member::new(), vec: GcVec::new(), probe }
}

#[test]
fn over_the_memory_limit_every_element_comes_back_and_is_dropped_once() {
    const PER: usize = 480; // ~490 KiB per array: a large object
    let _s = serial();
    let ledger = Ledger::new(200_000);
    let mut mu = gc_runtime::attach();
    collect2(&mut mu);
    gc_runtime::reconfigure(base().with_memory_limit(Some(8 << 20))).unwrap();
    let mut kept: VecDeque<Root<[Fat]>> = VecDeque::new();
    let (mut refused, mut made, mut panicked) = (0, 0, 0);
    for round in 0..60_u64 {
        // 6 arrays kept (~3 MiB live), plus garbage.
        let elements: Vec<Fat> = (0..PER).map(|_| fat(&ledger)).collect();
        let first = elements[0].id;
        let elements = match mu.try_alloc_slice(elements) {
            Ok(arr) => {
                kept.push_back(arr.root(&mu));
                made += 1;
                None
            }
            Err(e) => Some(e.into_value()),
        };
        if let Some(back) = elements {
            refused += 1;
            assert_eq!(back.len(), PER, "every element came back");
            assert!(back
                .iter()
                .enumerate()
                .all(|(i, f)| f.id == first + i as u64 && f.probe.id == f.id && f.pad[119] == f.id));
            let refused_armed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                back[0].vec.push(mu.alloc_str("into a refused element"));
            }));
            assert!(refused_armed.is_err(), "a refused element's collection came back armed");
            let _ = mu.try_reserve(PER * std::mem::size_of::<Fat>() + 64);
            if let Ok(arr) = mu.try_alloc_slice(back) {
                // Armed now: stores work.
                arr[0].vec.push(mu.alloc_str("stored"));
                arr[0].slot.set(Some(leaf(&mu, &ledger)));
                kept.push_back(arr.root(&mu));
                made += 1;
            } // else: the elements are dropped here, once
        }
        if kept.len() > 6 {
            kept.pop_front();
        }
        // Garbage: a big byte array, and a string over the limit on its own.
        if round % 7 == 0 {
            let _ = mu.try_alloc_slice(vec![0_u8; 3 << 20]);
            let text = "y".repeat(9 << 20);
            let err = mu.try_alloc_str(&text).unwrap_err();
            assert!(std::ptr::eq(err.into_value(), text.as_str()), "the very text comes back");
        }
        // `alloc_slice` over the limit panics; the elements in its panic are dropped once.
        if round % 10 == 0 {
            let big: Vec<Fat> = (0..12_000).map(|_| fat(&ledger)).collect(); // 12 MiB
            let big_first = big[0].id;
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| mu.alloc_slice(big).len()));
            assert!(r.is_err(), "alloc_slice over the limit panics");
            panicked += 1;
            assert!(
                (big_first..big_first + 12_000).all(|id| ledger.drops(id) == 1),
                "the refused elements were dropped once"
            );
        }
        mu.safepoint();
    }
    assert!(made > 20, "most arrays fit ({made} made, {refused} refused)");
    assert_eq!(panicked, 6);
    let mut alive = HashSet::new();
    for r in &kept {
        for f in r.get(&mu).iter() {
            alive.insert(f.id);
            if let Some(l) = f.slot.get(&mu) {
                alive.insert(l.check(&mu));
                assert_eq!(&*f.vec.get(0, &mu).unwrap(), "stored");
            }
        }
    }
    collect2(&mut mu);
    ledger.check_exactly(&alive);
    kept.clear();
    gc_runtime::reconfigure(base()).unwrap();
    collect2(&mut mu);
    ledger.check_exactly(&HashSet::new());
    assert_eq!(ledger.total_drops(), ledger.created());
}

// ---------------------------------------------------------------------------------------------
// Concurrent stress.

/// How long each configuration of a stress test runs.
const STRESS_MILLIS: u64 = 110;

/// Run `work` on two mutator threads (given their index) while a third collects back to back,
/// for `STRESS_MILLIS` and until `progress` says the threads got somewhere (at most
/// `STRESS_CAP_MILLIS`, for a loaded machine); the calling thread's mutator is detached
/// meanwhile. Returns the cycles run.
fn with_two_threads_and_a_collector(
    mu: &mut Mutator,
    progress: impl Fn() -> bool,
    work: impl Fn(u64, &AtomicBool) + Sync,
) -> u64 {
    let stop = Arc::new(AtomicBool::new(false));
    mu.blocking(|| {
        let collector = spawn_collector(&stop);
        thread::scope(|s| {
            for t in 0..2 {
                let (work, stop) = (&work, &stop);
                s.spawn(move || work(t, stop));
            }
            let started = Instant::now();
            while started.elapsed() < Duration::from_millis(STRESS_MILLIS)
                || (!progress() && started.elapsed() < Duration::from_millis(STRESS_CAP_MILLIS))
            {
                thread::sleep(Duration::from_millis(5));
            }
            stop.store(true, Ordering::Relaxed);
        });
        collector.join().unwrap()
    })
}

/// The longest a stress configuration waits for progress (a minute: a loaded machine may need
/// far longer than `STRESS_MILLIS` for it).
const STRESS_CAP_MILLIS: u64 = 60_000;

const TABLE: usize = 3000; // 24 KiB of slots: a large object

/// Two threads rewire one shared, rooted, large array of slots: new leaves, swaps, takes,
/// compare-exchanges, moves, leaves given nested kid arrays made from other slots; every leaf
/// read is checked. At the end, exactly the leaves reachable from the array are alive.
#[test]
fn a_shared_array_of_slots_rewired_by_two_threads() {
    let _s = serial();
    for config in configs() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let ledger = Ledger::new(2_000_000);
        let mut mu = gc_runtime::attach();
        let table: Root<[Member<Leaf>]> = slots(&mu, TABLE).root(&mu);
        let ops = AtomicU64::new(0);
        let cycles_before = gc_runtime::stats().cycles;
        let cycles = with_two_threads_and_a_collector(
            &mut mu,
            || ledger.created() > 100 && gc_runtime::stats().cycles > cycles_before + 1,
            |t, stop| {
                let mut mu = gc_runtime::attach();
                let mut rng = Rng(0x5DEE_CE66 + t * 7919);
                let mut n = 0_u64;
                while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(10_000) {
                    {
                        let tab = table.get(&mu);
                        let slot = &tab[rng.below(TABLE)];
                        match rng.below(9) {
                            0 | 1 => slot.set(Some(leaf(&mu, &ledger))),
                            2 => {
                                if let Some(old) = slot.swap(Some(leaf(&mu, &ledger)), &mu) {
                                    old.check(&mu);
                                    tab[rng.below(TABLE)].set(Some(old));
                                }
                            }
                            3 => {
                                if let Some(old) = slot.take(&mu) {
                                    old.check(&mu);
                                    if rng.below(2) == 0 {
                                        tab[rng.below(TABLE)].set(Some(old));
                                    }
                                }
                            }
                            4 => {
                                let current = slot.get(&mu);
                                let new = tab[rng.below(TABLE)].get(&mu);
                                match slot.compare_exchange(current, new, &mu) {
                                    Ok(old) | Err(old) => {
                                        if let Some(old) = old {
                                            old.check(&mu);
                                        }
                                    }
                                }
                            }
                            5 => {
                                if let Some(l) = slot.get(&mu) {
                                    let k = rng.below(5);
                                    let kids = slots::<Leaf>(&mu, k);
                                    for kid in kids.iter() {
                                        kid.set(tab[rng.below(TABLE)].get(&mu));
                                    }
                                    l.kids.set(Some(kids));
                                }
                            }
                            6 => {
                                // A leaf reachable only through another leaf's kid array, moved into
                                // the table.
                                if let Some(kid) = slot
                                    .get(&mu)
                                    .and_then(|l| l.kids.get(&mu))
                                    .and_then(|k| k.first().and_then(|m| m.get(&mu)))
                                {
                                    kid.check(&mu);
                                    tab[rng.below(TABLE)].set(Some(kid));
                                }
                            }
                            7 => {
                                if let Some(l) = slot.get(&mu) {
                                    l.check(&mu);
                                    if let Some(kids) = l.kids.get(&mu) {
                                        kids.iter().filter_map(|k| k.get(&mu)).for_each(|k| {
                                            k.check(&mu);
                                        });
                                    }
                                }
                            }
                            _ => slot.set(None),
                        }
                    }
                    n += 1;
                    if n % 8 == 0 {
                        mu.safepoint();
                    }
                }
                ops.fetch_add(n, Ordering::Relaxed);
            },
        );
        assert!(cycles >= 1, "{config:?}: no cycle ran");
        assert!(ops.load(Ordering::Relaxed) > 0);
        collect2(&mut mu);
        let alive = {
            let tab = table.get(&mu);
            reachable_leaves(&mu, tab.iter().filter_map(|m| m.get(&mu)))
        };
        ledger.check_exactly(&alive);
        drop(table);
        collect2(&mut mu);
        ledger.check_exactly(&HashSet::new());
    }
}

const BUCKETS: usize = 150;

/// Two threads push, pop, move and set leaves between the collections of one shared, rooted
/// array of buckets (a large object holding 750 collections), while the collector runs.
#[test]
fn an_array_of_collections_used_by_two_threads() {
    let _s = serial();
    for config in configs() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let ledger = Ledger::new(2_000_000);
        let mut mu = gc_runtime::attach();
        let table: Root<[Bucket]> = mu.alloc_from_iter((0..BUCKETS).map(|_| bucket())).root(&mu);
        let ops = AtomicU64::new(0);
        let cycles_before = gc_runtime::stats().cycles;
        let cycles = with_two_threads_and_a_collector(
            &mut mu,
            || ledger.created() > 100 && gc_runtime::stats().cycles > cycles_before + 1,
            |t, stop| {
                let mut mu = gc_runtime::attach();
                let mut rng = Rng(0xA076_1D64 + t * 104_729);
                let mut n = 0_u64;
                while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(10_000) {
                    {
                        let tab = table.get(&mu);
                        let b = &tab[rng.below(BUCKETS)];
                        let other = &tab[rng.below(BUCKETS)];
                        match rng.below(11) {
                            0 | 1 => {
                                let l = leaf(&mu, &ledger);
                                b.vec.push(l);
                                b.by_id.insert(l.id, mu.alloc_slice(vec![l.id; 1 + (l.id % 4) as usize]));
                            }
                            2 => {
                                if let Some(l) = b.vec.pop(&mu) {
                                    l.check(&mu);
                                    other.vec.push(l);
                                }
                            }
                            3 => {
                                if let Some(l) = b.vec.last(&mu) {
                                    l.check(&mu);
                                    if let Some(v) = b.by_id.get(&l.id, &mu) {
                                        assert!(v.iter().all(|&x| x == l.id), "slice value of leaf {} corrupted", l.id);
                                    }
                                    let note = mu.alloc_str(&format!("note-{}", l.id));
                                    other.notes.insert(l, note);
                                    let name = mu.alloc_str(&leaf_name(l.id));
                                    other.names.insert(name, l);
                                    if let Some(v) = other.maybe.as_ref() {
                                        v.push(name);
                                    }
                                }
                            }
                            4 => {
                                // The other thread may shrink the vector meanwhile: `try_set`.
                                let len = b.vec.len();
                                if len > 0 {
                                    let _ = b.vec.try_set(rng.below(len), leaf(&mu, &ledger));
                                }
                            }
                            5 => {
                                if b.vec.len() > 20 {
                                    b.vec.truncate(10);
                                }
                                if let Some(v) = b.maybe.as_ref() {
                                    if v.len() > 20 {
                                        v.clear();
                                        b.names.clear();
                                    }
                                }
                            }
                            6 => {
                                for l in b.vec.iter(&mu) {
                                    l.check(&mu);
                                    if let Some(note) = b.notes.get(l, &mu) {
                                        assert_eq!(&*note, format!("note-{}", l.id));
                                    }
                                }
                            }
                            7 => {
                                b.names.for_each(&mu, |name, l| {
                                    assert_eq!(&*name, leaf_name(l.check(&mu)));
                                });
                            }
                            8 => {
                                if let Some(l) = b.vec.get(0, &mu) {
                                    l.kids.set(Some(slots(&mu, 2)));
                                    l.kids.get(&mu).unwrap()[0].set(other.vec.last(&mu));
                                }
                            }
                            9 => {
                                if rng.below(8) == 0 {
                                    b.by_id.clear();
                                    b.notes.clear();
                                }
                            }
                            _ => {
                                // A short-lived array of buckets whose weak maps register (one
                                // per element) and die with it: purged by cycles, unregistered
                                // by the finalizer, while the table's maps are in use.
                                let temp = mu.alloc_from_iter((0..3).map(|_| bucket()));
                                for t in temp.iter() {
                                    if let Some(l) = b.vec.last(&mu) {
                                        t.notes.insert(l, mu.alloc_str(&format!("note-{}", l.id)));
                                        t.vec.push(l);
                                    }
                                    t.notes.insert(leaf(&mu, &ledger), mu.alloc_str("short-lived"));
                                }
                            }
                        }
                    }
                    n += 1;
                    if n % 8 == 0 {
                        mu.safepoint();
                    }
                }
                ops.fetch_add(n, Ordering::Relaxed);
            },
        );
        assert!(cycles >= 1, "{config:?}: no cycle ran");
        collect2(&mut mu);
        let alive = {
            let tab = table.get(&mu);
            let mut from = Vec::new();
            for b in tab.iter() {
                from.extend(b.vec.iter(&mu));
                from.extend(b.names.values(&mu));
                // Weak-map values are strings; their keys must be reachable from elsewhere.
                for l in b.vec.iter(&mu) {
                    if let Some(note) = b.notes.get(l, &mu) {
                        assert_eq!(&*note, format!("note-{}", l.id), "{config:?}");
                    }
                }
                for (id, v) in b.by_id.entries(&mu) {
                    assert!(v.iter().all(|&x| x == id), "{config:?}");
                }
            }
            reachable_leaves(&mu, from)
        };
        ledger.check_exactly(&alive);
        drop(table);
        collect2(&mut mu);
        mu.collect();
        ledger.check_exactly(&HashSet::new());
    }
}

/// A string's and an array's expected contents, from an id.
fn expected_str(id: u64) -> String {
    format!("s{id}:{}", "z".repeat((id % 97) as usize))
}

/// The id is in the high bits: `first >> 20` gives it back (arrays are shorter than 2^20).
fn expected_elem(id: u64, i: usize) -> u64 {
    (id << 20) | i as u64
}

/// One thread makes arrays (small and large) and strings, hands out weak references to them,
/// and keeps only a few rooted for a while; the other upgrades the weak references and checks
/// the contents, and stores what it upgraded in its own rooted array of slots (slots of
/// arrays), which it checks again later. An upgrade must give the very object or `None`.
#[test]
fn weak_references_to_arrays_and_strings_race_with_collection() {
    let _s = serial();
    for config in configs() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let mut mu = gc_runtime::attach();
        type Shared = Mutex<VecDeque<(u64, Weak<[u64]>, Weak<str>)>>;
        let shared: Shared = Mutex::new(VecDeque::new());
        let (upgraded, lost, next_id) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(1));
        with_two_threads_and_a_collector(
            &mut mu,
            || upgraded.load(Ordering::Relaxed) > 0,
            |t, stop| {
                let mut mu = gc_runtime::attach();
                let mut rng = Rng(0xC2B2_AE35 + t);
                if t == 0 {
                    let mut kept: VecDeque<(Root<[u64]>, Root<str>)> = VecDeque::new();
                    let mut n = 0_u64;
                    while !stop.load(Ordering::Relaxed) {
                        {
                            let id = next_id.fetch_add(1, Ordering::Relaxed);
                            let len = [0, 1, 5, 300, 2000][rng.below(5)];
                            let arr = mu.alloc_from_iter((0..len).map(|i| expected_elem(id, i)));
                            let s = mu.alloc_str(&expected_str(id));
                            let entry = (id, arr.downgrade(&mu), s.downgrade(&mu));
                            let mut q = shared.lock().unwrap();
                            q.push_back(entry);
                            if q.len() > 300 {
                                q.pop_front();
                            }
                            drop(q);
                            if rng.below(3) == 0 {
                                kept.push_back((arr.root(&mu), s.root(&mu)));
                                if kept.len() > 4 {
                                    kept.pop_front();
                                }
                            }
                        }
                        n += 1;
                        if n % 4 == 0 {
                            mu.safepoint();
                        }
                    }
                } else {
                    let mine: Root<[Member<[u64]>]> = slots::<[u64]>(&mu, 64).root(&mu);
                    let my_strs: Root<[Member<str>]> = slots::<str>(&mu, 64).root(&mu);
                    let mut n = 0_u64;
                    while !stop.load(Ordering::Relaxed) {
                        // Take an entry out (a weak reference is not `Clone`), maybe put it back.
                        let entry = {
                            let mut q = shared.lock().unwrap();
                            let i = rng.below(q.len());
                            q.remove(i)
                        };
                        if let Some((id, wa, ws)) = entry {
                            let slot = rng.below(64);
                            match wa.upgrade(&mu) {
                                Some(arr) => {
                                    upgraded.fetch_add(1, Ordering::Relaxed);
                                    assert!(
                                        arr.iter().enumerate().all(|(i, &x)| x == expected_elem(id, i)),
                                        "array {id} read wrong contents through an upgraded weak reference"
                                    );
                                    mine.get(&mu)[slot].set(Some(arr));
                                }
                                None => {
                                    lost.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            if let Some(s) = ws.upgrade(&mu) {
                                assert_eq!(
                                    &*s,
                                    expected_str(id),
                                    "string {id} read wrong through an upgraded weak reference"
                                );
                                my_strs.get(&mu)[slot].set(Some(s));
                            }
                            let mut q = shared.lock().unwrap();
                            if q.len() < 200 && rng.below(4) != 0 {
                                q.push_back((id, wa, ws));
                            }
                        }
                        n += 1;
                        if n % 4 == 0 {
                            mu.safepoint();
                            // Everything stored earlier is still what it was.
                            for m in mine.get(&mu).iter() {
                                if let Some(arr) = m.get(&mu) {
                                    if let Some(&first) = arr.first() {
                                        let id = first >> 20;
                                        assert!(
                                            arr.iter().enumerate().all(|(i, &x)| x == expected_elem(id, i)),
                                            "array {id} stored in a slot corrupted"
                                        );
                                    }
                                }
                            }
                            for m in my_strs.get(&mu).iter() {
                                if let Some(s) = m.get(&mu) {
                                    let id: u64 = s[1..s.find(':').unwrap()].parse().unwrap();
                                    assert_eq!(&*s, expected_str(id), "string stored in a slot corrupted");
                                }
                            }
                        }
                    }
                }
            },
        );
        assert!(upgraded.load(Ordering::Relaxed) > 0, "{config:?}: no upgrade succeeded");
        shared.lock().unwrap().clear();
        collect2(&mut mu);
    }
}

static GLOBAL_STR: GlobalRoot<str> = GlobalRoot::new();
static GLOBAL_SLICE: GlobalRoot<[u64]> = GlobalRoot::new();

/// Two threads set and read a global root of a string and one of a slice while the collector
/// runs: each read is a whole value some thread stored.
#[test]
fn global_roots_of_unsized_objects_swapped_and_read_by_two_threads() {
    let _s = serial();
    for config in configs() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let mut mu = gc_runtime::attach();
        let reads = AtomicU64::new(0);
        with_two_threads_and_a_collector(
            &mut mu,
            || reads.load(Ordering::Relaxed) > 0,
            |t, stop| {
                let mu = gc_runtime::attach();
                let mut mu = mu;
                let mut rng = Rng(0x1234_5678 + t);
                let mut n = 0_u64;
                while !stop.load(Ordering::Relaxed) {
                    let id = rng.next() % 1_000_000;
                    if rng.below(2) == 0 {
                        GLOBAL_STR.set(&mu, mu.alloc_str(&expected_str(id)));
                        GLOBAL_SLICE
                            .set(&mu, mu.alloc_from_iter((0..(id % 700) as usize).map(|i| expected_elem(id, i))));
                    } else {
                        if let Some(s) = GLOBAL_STR.get(&mu) {
                            let id: u64 = s[1..s.find(':').unwrap()].parse().unwrap();
                            assert_eq!(&*s, expected_str(id), "a global string read wrong");
                            reads.fetch_add(1, Ordering::Relaxed);
                        }
                        if let Some(a) = GLOBAL_SLICE.get(&mu) {
                            if let Some(&first) = a.first() {
                                let id = first >> 20;
                                assert_eq!(a.len(), (id % 700) as usize);
                                assert!(
                                    a.iter().enumerate().all(|(i, &x)| x == expected_elem(id, i)),
                                    "a global slice read wrong"
                                );
                            }
                        }
                    }
                    n += 1;
                    if n % 4 == 0 {
                        mu.safepoint();
                    }
                }
            },
        );
        assert!(reads.load(Ordering::Relaxed) > 0, "{config:?}");
        GLOBAL_STR.clear();
        GLOBAL_SLICE.clear();
        collect2(&mut mu);
    }
}

const HUGE: usize = 160_000; // 1.25 MiB of slots

/// Two threads fill the two halves of one rooted array of slots larger than a MiB with fresh
/// leaves (each leaf pointing at a neighbour through a kid array), while the collector runs;
/// then every slot is read back and the odd ones cleared.
#[test]
fn a_huge_array_of_slots_filled_by_two_threads() {
    let _s = serial();
    // Two configurations (under stop-the-world, back-to-back cycles over this heap keep the
    // fillers parked most of the time: seconds): Yuasa with handshakes, Hybrid with global stops.
    for config in [configs()[3].clone(), configs()[6].clone()] {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let ledger = Ledger::new(HUGE + 10);
        let mut mu = gc_runtime::attach();
        let table: Root<[Member<Leaf>]> = slots(&mu, HUGE).root(&mu);
        let stop = Arc::new(AtomicBool::new(false));
        let cycles = mu.blocking(|| {
            let collector = spawn_collector(&stop);
            thread::scope(|s| {
                for t in 0..2 {
                    let (table, ledger) = (&table, &ledger);
                    s.spawn(move || {
                        let mut mu = gc_runtime::attach();
                        let half = HUGE / 2;
                        for i in t * half..(t + 1) * half {
                            {
                                let tab = table.get(&mu);
                                let l = leaf(&mu, ledger);
                                if i > t * half {
                                    let kids = slots::<Leaf>(&mu, 1);
                                    kids[0].set(tab[i - 1].get(&mu));
                                    l.kids.set(Some(kids));
                                }
                                tab[i].set(Some(l));
                            }
                            if i % 64 == 0 {
                                mu.safepoint();
                            }
                        }
                    });
                }
            });
            stop.store(true, Ordering::Relaxed);
            collector.join().unwrap()
        });
        assert!(cycles >= 1, "{config:?}: no cycle ran during the fill");
        collect2(&mut mu);
        let mut alive = HashSet::new();
        let ends = {
            let tab = table.get(&mu);
            let ends = [tab[HUGE / 2 - 1].get(&mu).unwrap().id, tab[HUGE - 1].get(&mu).unwrap().id];
            for (i, m) in tab.iter().enumerate() {
                let l = m.get(&mu).unwrap_or_else(|| panic!("{config:?}: slot {i} of the huge array lost its leaf"));
                alive.insert(l.check(&mu));
                if i % (HUGE / 2) != 0 {
                    let prev = l.kids.get(&mu).unwrap()[0].get(&mu).unwrap();
                    assert!(
                        Gc::ptr_eq(prev, tab[i - 1].get(&mu).unwrap()),
                        "{config:?}: slot {i}'s kid is not slot {}'s leaf",
                        i - 1
                    );
                }
            }
            // Clear the odd slots: their leaves stay reachable only through the next leaf's
            // kid array, so every leaf lives but the last of each half.
            for m in tab.iter().skip(1).step_by(2) {
                m.set(None);
            }
            ends
        };
        collect2(&mut mu);
        // The odd leaves at the end of each half had no successor to reach them.
        for id in ends {
            alive.remove(&id);
        }
        let reached = {
            let tab = table.get(&mu);
            reachable_leaves(&mu, tab.iter().filter_map(|m| m.get(&mu)))
        };
        assert_eq!(reached, alive, "{config:?}: the leaves reachable after clearing the odd slots");
        ledger.check_exactly(&alive);
        drop(table);
        collect2(&mut mu);
        ledger.check_exactly(&HashSet::new());
    }
}

// ---------------------------------------------------------------------------------------------
// A leaked mutator's arrays as `'static` borrows.

/// A thread leaks its mutator and hands out `&'static` borrows of an array of slots and of a
/// string, then ends (its objects are pinned). Another thread keeps storing fresh leaves into
/// the pinned array and reading them back, through the borrow, while the collector runs.
fn leaked_mutator_scenario() {
    gc_runtime::reconfigure(base()).unwrap();
    let ledger = Ledger::new(1_000_000);
    let (table, name): (&'static [Member<Leaf>], &'static str) = thread::spawn(|| {
        let mu: &'static Mutator = Box::leak(Box::new(gc_runtime::attach()));
        let table = slots::<Leaf>(mu, 500).into_ref();
        let name = mu.alloc_str("pinned for good").into_ref();
        (table, name)
    })
    .join()
    .unwrap();
    let mut mu = gc_runtime::attach();
    collect2(&mut mu);
    assert!(gc_runtime::stats().pinned_objects >= 2, "the leaked thread's objects are pinned");
    let stop = Arc::new(AtomicBool::new(false));
    let collector = spawn_collector(&stop);
    let mut rng = Rng(99);
    let started = Instant::now();
    let mut n = 0_u64;
    while started.elapsed() < Duration::from_millis(400) && !ledger.nearly_full(1000) {
        {
            let slot = &table[rng.below(table.len())];
            if let Some(old) = slot.swap(Some(leaf(&mu, &ledger)), &mu) {
                old.check(&mu);
            }
            assert_eq!(name, "pinned for good");
        }
        n += 1;
        if n % 8 == 0 {
            mu.safepoint();
        }
    }
    stop.store(true, Ordering::Relaxed);
    let cycles = mu.blocking(|| collector.join().unwrap());
    collect2(&mut mu);
    let alive: HashSet<u64> = table.iter().filter_map(|m| m.get(&mu)).map(|l| l.check(&mu)).collect();
    ledger.check_exactly(&alive);
    println!("done: {n} stores, {cycles} cycles, {} leaves alive", alive.len());
}

#[test]
fn child_leaked_mutator_arrays() {
    if in_child() {
        leaked_mutator_scenario();
    }
}

#[test]
fn a_leaked_mutators_arrays_stay_valid_and_traced_after_its_thread_ended() {
    child("child_leaked_mutator_arrays", &[], DEADLINE).assert_completed();
}

// ---------------------------------------------------------------------------------------------
// A pending ephemeron entry in one element, a locked collection in a later one.

/// An element of the holder array: the first elements' weak maps get the entries, the last
/// element's vector is kept write-locked by another thread.
#[derive(Trace)]
struct Pending {
    map: GcWeakMap<Leaf, Leaf>,
    busy: GcVec<str>,
}

#[derive(Trace)]
struct Link {
    next: Member<Link>,
    end: Member<Leaf>,
}

/// The marker visits an array whose element 0 holds a weak-map entry whose key is not marked
/// yet (so the array must be looked at again before marking ends), and whose last element
/// holds a vector another thread keeps write-locking: the visit is abandoned and the array
/// deferred. The key is reached late, at the end of a long list; its value, reachable only
/// through the entry, must survive, every cycle. (The array form of
/// `hostile_weak_map.rs`'s `a_pending_entry_survives_a_visit_abandoned_for_a_lock`.)
fn pending_entry_in_an_array_scenario(elements: usize) {
    gc_runtime::reconfigure(
        Config::default()
            .with_mode(Mode::Concurrent)
            .with_barrier(BarrierKind::Dijkstra)
            .with_checkmark(true)
            .with_gc_percent(None),
    )
    .unwrap();
    const CYCLES: usize = 30;
    const LIST: usize = 20_000;
    let ledger = Ledger::new(4 * CYCLES);
    let mut mu = gc_runtime::attach();
    let holder: Arc<Root<[Pending]>> = Arc::new(
        mu.alloc_from_iter((0..elements).map(|_| Pending { map: GcWeakMap::new(), busy: GcVec::new() })).root(&mu),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let locker = {
        let (holder, stop) = (holder.clone(), stop.clone());
        thread::spawn(move || {
            let mut mu = gc_runtime::attach();
            let mut n = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                {
                    let h = holder.get(&mu);
                    let last = &h[h.len() - 1];
                    for _ in 0..256 {
                        last.busy.clear();
                    }
                }
                n += 1;
                mu.safepoint();
            }
            n
        })
    };
    let mut lost = Vec::new();
    for cycle in 0..CYCLES {
        let (list, value_id) = {
            let key = leaf(&mu, &ledger);
            let value = leaf(&mu, &ledger);
            value.kids.set(Some(slots(&mu, 1)));
            value.kids.get(&mu).unwrap()[0].set(Some(leaf(&mu, &ledger)));
            holder.get(&mu)[0].map.insert(key, value);
            let mut head = mu.alloc(Link { next: Member::new(), end: Member::new() });
            head.end.set(Some(key));
            for _ in 0..LIST {
                let l = mu.alloc(Link { next: Member::new(), end: Member::new() });
                l.next.set(Some(head));
                head = l;
            }
            (head.root(&mu), value.id)
        };
        mu.collect();
        let mut link = list.get(&mu);
        while let Some(next) = link.next.get(&mu) {
            link = next;
        }
        let key = link.end.get(&mu).unwrap();
        key.check(&mu);
        let h = holder.get(&mu);
        match h[0].map.get(key, &mu) {
            Some(_) if ledger.drops(value_id) != 0 => lost.push((cycle, "get returned the freed value")),
            None => lost.push((cycle, "entry gone")),
            Some(v) => {
                assert_eq!(v.check(&mu), value_id);
                v.kids.get(&mu).unwrap()[0].get(&mu).unwrap().check(&mu);
            }
        }
        h[0].map.clear();
        drop(list);
    }
    stop.store(true, Ordering::Relaxed);
    let rounds = mu.blocking(|| locker.join().unwrap());
    assert!(lost.is_empty(), "values freed while their keys were alive, in cycles {lost:?} of {CYCLES}");
    println!("done: {rounds} lock rounds");
}

#[test]
fn child_pending_entry_in_a_small_array() {
    if in_child() {
        pending_entry_in_an_array_scenario(2);
    }
}

#[test]
fn child_pending_entry_in_a_large_array() {
    if in_child() {
        pending_entry_in_an_array_scenario(400);
    }
}

#[test]
fn a_pending_entry_in_an_array_survives_a_visit_abandoned_for_a_lock() {
    child("child_pending_entry_in_a_small_array", &[], DEADLINE).assert_completed();
    child("child_pending_entry_in_a_large_array", &[], DEADLINE).assert_completed();
}
