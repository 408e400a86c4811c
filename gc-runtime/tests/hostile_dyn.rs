//! A hostile (safe-Rust-only) user against trait objects in the heap: `Gc<dyn Trait>`,
//! `Member<dyn Trait>`, `Root<dyn Trait>`, `Weak<dyn Trait>` and the collections of them. Each
//! test is one attack; it asserts what must hold, so a passing test is an attack that failed.
//!
//! What is tried, in file order:
//!
//! - trait methods, called through the view, that allocate more trait objects, store them (and
//!   their own object) into their own slots, and recurse into what they made;
//! - destructors that panic behind a trait object (small and large objects);
//! - cycles through trait-object slots: self-cycles, rings of mixed layouts, a garbage ring
//!   pointing into a live one;
//! - zero-sized values (with and without drop glue, one page-aligned), values without drop
//!   glue, page-aligned values with slots, values of several MiB (large objects);
//! - `dyn Any` downcasts of thirty-odd types, a bare `Member` and a `GcVec` as the whole
//!   value; `dyn Debug` and `dyn Display` of values whose slots and collections reach the
//!   object itself;
//! - one concrete type under several trait-object types (`dyn A`, `dyn A + Send`,
//!   `dyn A + Send + Sync`, `dyn B`, a subtrait and its upcasts); a generic trait under many
//!   instances, one of them over a root of another;
//! - the same objects read by several threads through roots and a `GlobalRoot<dyn Node>`
//!   while one rewires them and another collects back to back;
//! - `alloc_dyn` inside `alloc_slice_from_fn`'s closure (also panicking half-way) and inside
//!   `alloc_cyclic`'s (also panicking after it gave its weak reference away);
//! - the memory limit: refused trait objects come back intact and unarmed, `alloc_dyn`
//!   panics cleanly and drops the value once, nothing is charged;
//! - weak references, weak maps and identity maps keyed by trait objects; trait objects that
//!   keep a weak reference to themselves and upgrade it in their own methods;
//! - a user's struct with an unsized tail declared with `dyn_object!` (`Framed<[u64]>`,
//!   `Framed<dyn Display>`, `Framed<dyn Node>`);
//! - a concurrent rewiring stress of a graph of three layouts (small, over-aligned large,
//!   out-of-line slots with a collection) plus weak references, under every configuration.
//!
//! Checked outside this file (in a scratch crate), since they must not compile (and they do
//! not): a reference from `alloc_dyn_split` kept across `collect`; a `Gc<dyn Trait>` sent to
//! another thread; a `&dyn Trait` (not `Sync`) shared with one; `unsize!` of a type that does
//! not implement the trait, to a sized type, or to an undeclared `dyn Trait`; an `Unsize` proof
//! made for one type used for another, or built from its private fields; `alloc_dyn` of a
//! non-`Send`/`Sync` or non-`'static` value, or to `dyn Trait + 'a`, or to a generic instance
//! over a borrowed type; `dyn_object!` of a sized type, a foreign `dyn Any + Sync`, `[Local]`
//! or `str`; `DynObject` implemented without `unsafe`; a `Gc<dyn A>` coerced to `Gc<dyn B>`, a
//! `Gc<dyn A + Send>` to `Gc<dyn A>`, a `Gc<T>` to `Gc<dyn A>`; a `Gc<dyn B>` stored into a
//! `Member<dyn A>`; a trait method taking `&mut Mutator` (to collect) called on a `Gc` of the
//! same mutator.
//!
//! Also checked outside: declaring both `dyn for<'a> T<'a>` and `dyn T<'static>` compiles only
//! with `coherence_leak_check` future-compatibility warnings; a `Gc` of the first then becomes
//! a `Gc` of the second by subtyping (locals are covariant), and reads correctly (the vtables
//! are the same after lifetime erasure). Not kept here: a future compiler may reject it.

use std::{
    any::Any,
    collections::{BTreeMap, HashMap, HashSet, VecDeque},
    fmt::{self, Debug, Display},
    panic::{catch_unwind, AssertUnwindSafe},
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex, MutexGuard,
    },
    thread,
    time::{Duration, Instant},
};

mod common;

use common::{BoomElem, DropProbe, Ledger, Rng};
use gc_runtime::{
    dyn_object, unsize, Config, Gc, GcIdMap, GcMap, GcVec, GcWeakMap, GlobalRoot, Member, Mutator, Root, Trace, Weak,
};

fn serial() -> MutexGuard<'static, ()> {
    common::serial_with_checkmark()
}

/// Checkmark on, no automatic cycles (what [`serial`] configures).
fn base() -> Config {
    Config::default().with_gc_percent(None).with_checkmark(true)
}

use common::collect2;

const MAGIC: u64 = 0x9E37_79B9_7F4A_7C15;

/// The text of a panic payload.
fn message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else {
        "<non-string payload>".to_string()
    }
}

/// The address of the value a reference points to (its data pointer, metadata dropped).
fn value_addr<T: ?Sized>(r: &T) -> usize {
    (r as *const T).cast::<u8>() as usize
}

// ---------------------------------------------------------------------------------------------
// The graph the tests build: nodes of four layouts behind one trait.

/// A node of a graph of trait objects.
trait Node {
    fn id(&self) -> u64;
    /// Panics unless the value is the one that was allocated (canaries, probe, shape).
    fn check(&self);
    fn kids(&self) -> &[Member<dyn Node>];

    /// Fill every empty slot of this node with a node made here (`alloc_dyn` called from a
    /// method of a trait object, through its view) and grow those, `depth` levels down; a
    /// leaf's first slot points at the leaf itself. `this` is this very object.
    fn grow<'m>(&self, this: Gc<'m, dyn Node>, mu: &'m Mutator, ledger: &Arc<Ledger>, depth: u32) {
        assert!(std::ptr::addr_eq(this.into_ref(), self), "`this` is the object the method runs on");
        if depth == 0 {
            self.kids()[0].set(Some(this));
            return;
        }
        for slot in self.kids() {
            if slot.is_none() {
                let kid = node(mu, ledger);
                slot.set(Some(kid));
                kid.grow(kid, mu, ledger, depth - 1);
            }
        }
    }

    /// Rotate the slots by one, through `take` and `set` on the node's own slots.
    fn rotate(&self, mu: &Mutator) {
        let kids = self.kids();
        let first = kids[0].take(mu);
        for i in 1..kids.len() {
            kids[i - 1].set(kids[i].get(mu));
        }
        kids[kids.len() - 1].set(first);
    }
}
dyn_object!(dyn Node);

/// Small: a size class.
#[derive(Trace)]
struct Twig {
    id: u64,
    canary: u64,
    kids: [Member<dyn Node>; 2],
    #[trace(skip)]
    probe: DropProbe,
}

/// Aligned to 64: a large object, its view 64 bytes after the header.
#[derive(Trace)]
#[repr(align(64))]
struct Knot {
    canary: u64,
    kids: [Member<dyn Node>; 3],
    pad: [u8; 40],
    id: u64,
    #[trace(skip)]
    probe: DropProbe,
}

/// Slots out of line, in a boxed slice.
#[derive(Trace)]
struct Bag {
    id: u64,
    kids: Box<[Member<dyn Node>]>,
    canary: u64,
    #[trace(skip)]
    probe: DropProbe,
}

/// Aligned to a page: its view sits a page after the header, its value a page after that.
#[derive(Trace)]
#[repr(align(4096))]
struct Page {
    canary: u64,
    id: u64,
    kids: [Member<dyn Node>; 1],
    #[trace(skip)]
    probe: DropProbe,
}

impl Node for Twig {
    fn id(&self) -> u64 {
        self.id
    }
    fn check(&self) {
        assert_eq!(self.canary, self.id ^ MAGIC, "twig {} corrupted", self.id);
        assert_eq!(self.probe.id, self.id);
    }
    fn kids(&self) -> &[Member<dyn Node>] {
        &self.kids
    }
}

impl Node for Knot {
    fn id(&self) -> u64 {
        self.id
    }
    fn check(&self) {
        assert_eq!(self.canary, !self.id, "knot {} corrupted", self.id);
        assert!(self.pad.iter().all(|&p| p == self.id as u8), "knot {} padding corrupted", self.id);
        assert_eq!(self.probe.id, self.id);
        assert_eq!(value_addr(self) % 64, 0, "knot {} misaligned", self.id);
    }
    fn kids(&self) -> &[Member<dyn Node>] {
        &self.kids
    }
}

impl Node for Bag {
    fn id(&self) -> u64 {
        self.id
    }
    fn check(&self) {
        assert_eq!(self.canary, self.id.rotate_left(17), "bag {} corrupted", self.id);
        assert_eq!(self.kids.len(), 4, "bag {}: its boxed slots", self.id);
        assert_eq!(self.probe.id, self.id);
    }
    fn kids(&self) -> &[Member<dyn Node>] {
        &self.kids
    }
}

impl Node for Page {
    fn id(&self) -> u64 {
        self.id
    }
    fn check(&self) {
        assert_eq!(self.canary, self.id.wrapping_mul(3) ^ MAGIC, "page {} corrupted", self.id);
        assert_eq!(self.probe.id, self.id);
        assert_eq!(value_addr(self) % 4096, 0, "page {} misaligned", self.id);
    }
    fn kids(&self) -> &[Member<dyn Node>] {
        &self.kids
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Twig,
    Knot,
    Bag,
    Page,
}

const KINDS: [Kind; 4] = [Kind::Twig, Kind::Knot, Kind::Bag, Kind::Page];

fn node_of<'m>(mu: &'m Mutator, ledger: &Arc<Ledger>, kind: Kind) -> Gc<'m, dyn Node> {
    let probe = ledger.probe();
    let id = probe.id;
    match kind {
        Kind::Twig => mu.alloc_dyn(
            Twig { id, canary: id ^ MAGIC, kids: [Member::new(), Member::new()], probe },
            unsize!(Twig => dyn Node),
        ),
        Kind::Knot => mu.alloc_dyn(
            Knot { canary: !id, kids: std::array::from_fn(|_| Member::new()), pad: [id as u8; 40], id, probe },
            unsize!(Knot => dyn Node),
        ),
        Kind::Bag => mu.alloc_dyn(
            Bag { id, kids: (0..4).map(|_| Member::new()).collect(), canary: id.rotate_left(17), probe },
            unsize!(Bag => dyn Node),
        ),
        Kind::Page => mu.alloc_dyn(
            Page { canary: id.wrapping_mul(3) ^ MAGIC, id, kids: [Member::new()], probe },
            unsize!(Page => dyn Node),
        ),
    }
}

/// A node of the kind its id picks.
fn node<'m>(mu: &'m Mutator, ledger: &Arc<Ledger>) -> Gc<'m, dyn Node> {
    let kind = KINDS[ledger.created() % KINDS.len()];
    node_of(mu, ledger, kind)
}

/// The ids of every node reachable from `from`, each checked; at most `limit` nodes.
fn walk_limited<'m>(mu: &'m Mutator, from: impl IntoIterator<Item = Gc<'m, dyn Node>>, limit: usize) -> HashSet<u64> {
    let mut seen = HashSet::new();
    let mut ids = HashSet::new();
    let mut stack: Vec<Gc<'m, dyn Node>> = from.into_iter().collect();
    while let Some(n) = stack.pop() {
        if !seen.insert(n.addr()) {
            continue;
        }
        n.check();
        assert!(ids.insert(n.id()), "two objects with id {}", n.id());
        if ids.len() >= limit {
            break;
        }
        stack.extend(n.kids().iter().filter_map(|k| k.get(mu)));
    }
    ids
}

fn walk<'m>(mu: &'m Mutator, from: impl IntoIterator<Item = Gc<'m, dyn Node>>) -> HashSet<u64> {
    walk_limited(mu, from, usize::MAX)
}

// ---------------------------------------------------------------------------------------------
// Re-entry: trait methods that allocate.

/// Trait methods called through `Gc<dyn Node>` allocate more trait objects (re-entering
/// `alloc_dyn` while `&self` is a reference into the heap through the view), store them and
/// their own object into their own slots, recurse into what they made, and rotate their slots
/// with `take`/`set`. Must hold: every node made is reachable and intact after collections;
/// a cut subtree's nodes are dropped exactly once and nothing reachable is; growing the
/// survivors again works; at the end every node is dropped exactly once.
#[test]
fn trait_methods_that_allocate_and_store_into_their_own_slots() {
    let _s = serial();
    let ledger = Ledger::new(10_000);
    let mut mu = gc_runtime::attach();
    let root = {
        let top = node_of(&mu, &ledger, Kind::Bag);
        top.grow(top, &mu, &ledger, 4);
        top.root(&mu)
    };
    let made = ledger.created();
    assert!(made > 40, "only {made} nodes");
    collect2(&mut mu);
    let alive = walk(&mu, [root.get(&mu)]);
    assert_eq!(alive.len(), made, "every node the methods made is reachable");
    ledger.check_exactly(&alive);
    {
        let top = root.get(&mu);
        for _ in 0..3 {
            top.rotate(&mu);
        }
        top.kids()[0].set(None);
        for kid in top.kids().iter().filter_map(|k| k.get(&mu)) {
            kid.rotate(&mu);
        }
    }
    let alive = walk(&mu, [root.get(&mu)]);
    assert!(alive.len() < made, "a subtree was cut");
    collect2(&mut mu);
    ledger.check_exactly(&alive);
    {
        let top = root.get(&mu);
        top.grow(top, &mu, &ledger, 3);
    }
    collect2(&mut mu);
    let alive = walk(&mu, [root.get(&mu)]);
    ledger.check_exactly(&alive);
    drop(root);
    collect2(&mut mu);
    ledger.check_exactly(&HashSet::new());
}

// ---------------------------------------------------------------------------------------------
// Destructors that panic.

#[derive(Trace)]
struct AnyBox {
    item: Member<dyn Any>,
}

/// A page-aligned value (a large object) whose destructor may panic.
#[derive(Trace)]
#[repr(align(4096))]
struct AlignedBoom {
    inner: BoomElem,
}

/// Values whose destructors panic (with a string, and with a payload whose own destructor
/// panics), allocated as `dyn Any`, small and large, one of them kept reachable through a
/// `Member<dyn Any>`. Must hold: each dead one's panic is counted once in
/// `Stats::drop_panics`, every value is dropped exactly once (its other fields too), the live
/// one is untouched and still downcasts, and the heap keeps working (checkmark on).
#[test]
fn panicking_destructors_behind_trait_objects_are_counted_and_the_heap_stays_consistent() {
    let _s = serial();
    common::quiet_panics_on_the_finalizer();
    let ledger = Ledger::new(1000);
    let mut mu = gc_runtime::attach();
    collect2(&mut mu);
    let before = gc_runtime::stats().drop_panics;
    let holder = {
        for i in 0..9 {
            let panics = (i % 3) as u8;
            let small: Gc<dyn Any> = mu.alloc_dyn(BoomElem::new(&ledger, panics), unsize!(BoomElem => dyn Any));
            assert!(small.into_ref().is::<BoomElem>());
            let large: Gc<dyn Any + Send + Sync> = mu.alloc_dyn(
                AlignedBoom { inner: BoomElem::new(&ledger, panics) },
                unsize!(AlignedBoom => dyn Any + Send + Sync),
            );
            assert_eq!(value_addr(large.into_ref()) % 4096, 0);
        }
        let holder = mu.alloc(AnyBox { item: Member::new() });
        holder.item.set(Some(mu.alloc_dyn(BoomElem::new(&ledger, 1), unsize!(BoomElem => dyn Any))));
        holder.root(&mu)
    };
    let kept_id = ledger.created() as u64 - 1;
    collect2(&mut mu);
    assert_eq!(gc_runtime::stats().drop_panics - before, 12, "one panic counted per panicking object");
    ledger.check_exactly(&HashSet::from([kept_id]));
    {
        let kept = holder.get(&mu).item.get(&mu).unwrap();
        let boom = kept.into_ref().downcast_ref::<BoomElem>().expect("still a BoomElem");
        assert_eq!((boom.boom.probe.id, boom.boom.panics), (kept_id, 1));
    }
    // The heap keeps working around it.
    let tree = {
        let top = node_of(&mu, &ledger, Kind::Knot);
        top.grow(top, &mu, &ledger, 3);
        top.root(&mu)
    };
    collect2(&mut mu);
    let mut alive = walk(&mu, [tree.get(&mu)]);
    alive.insert(kept_id);
    ledger.check_exactly(&alive);
    drop((holder, tree));
    collect2(&mut mu);
    assert_eq!(gc_runtime::stats().drop_panics - before, 13);
    ledger.check_exactly(&HashSet::new());
}

// ---------------------------------------------------------------------------------------------
// Cycles.

/// A ring of `n` nodes of every layout: each node's first slot is the next node, its last
/// slot (if it has more than one) the node itself, a bag's middle slots the previous node and
/// `anchor`.
fn ring<'m>(
    mu: &'m Mutator,
    ledger: &Arc<Ledger>,
    n: usize,
    anchor: Option<Gc<'m, dyn Node>>,
) -> Vec<Gc<'m, dyn Node>> {
    let nodes: Vec<_> = (0..n).map(|_| node(mu, ledger)).collect();
    for (i, a) in nodes.iter().enumerate() {
        let kids = a.kids();
        kids[0].set(Some(nodes[(i + 1) % n]));
        if kids.len() > 1 {
            kids[kids.len() - 1].set(Some(*a));
        }
        if kids.len() == 4 {
            kids[1].set(Some(nodes[(i + n - 1) % n]));
            kids[2].set(anchor);
        }
    }
    nodes
}

/// Cycles through `Member<dyn Node>` slots (derived `Trace`): self-cycles, a ring of mixed
/// layouts with back edges, and a second ring that points into the first while nothing points
/// to it. Must hold: the rooted ring survives, intact; the other ring is collected, each of its
/// values dropped exactly once, its weak references cleared; once the root goes, the first
/// ring is collected the same way.
#[test]
fn cycles_through_trait_object_slots_are_collected_and_dropped_once() {
    let _s = serial();
    let ledger = Ledger::new(1000);
    let mut mu = gc_runtime::attach();
    let (root, weak_a, weak_b) = {
        let a = ring(&mu, &ledger, 24, None);
        let b = ring(&mu, &ledger, 24, Some(a[3]));
        let weak_a: Vec<Weak<dyn Node>> = a.iter().map(|n| n.downgrade(&mu)).collect();
        let weak_b: Vec<Weak<dyn Node>> = b.iter().map(|n| n.downgrade(&mu)).collect();
        (a[0].root(&mu), weak_a, weak_b)
    };
    collect2(&mut mu);
    let alive = walk(&mu, [root.get(&mu)]);
    assert_eq!(alive.len(), 24);
    ledger.check_exactly(&alive);
    assert!(weak_b.iter().all(|w| w.upgrade(&mu).is_none()), "the garbage ring's weak references are cleared");
    for w in &weak_a {
        let n = w.upgrade(&mu).expect("the rooted ring is alive");
        n.check();
        assert!(alive.contains(&n.id()));
    }
    drop(root);
    collect2(&mut mu);
    ledger.check_exactly(&HashSet::new());
    assert!(weak_a.iter().all(Weak::is_cleared));
}

// ---------------------------------------------------------------------------------------------
// Zero-sized, drop-glue-free, over-aligned and huge values.

trait Label {
    fn label(&self) -> String;
    /// The object itself, through a weak reference it keeps to itself (if it keeps one).
    fn myself<'m>(&self, _mu: &'m Mutator) -> Option<Gc<'m, dyn Label>> {
        None
    }
}
dyn_object!(dyn Label);

/// Zero-sized, no drop glue.
#[derive(Trace)]
struct Unit;

static GHOST_DROPS: AtomicUsize = AtomicUsize::new(0);

/// Zero-sized, with a destructor (a `Trace` type cannot implement `Drop` itself).
struct CountsDrop;

impl Drop for CountsDrop {
    fn drop(&mut self) {
        GHOST_DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

/// Zero-sized with drop glue.
#[derive(Trace)]
struct Ghost {
    #[trace(skip)]
    _c: CountsDrop,
}

/// Zero-sized with drop glue, aligned to a page.
#[derive(Trace)]
#[repr(align(4096))]
struct PageGhost {
    #[trace(skip)]
    _c: CountsDrop,
}

impl Label for Unit {
    fn label(&self) -> String {
        "unit".into()
    }
}
impl Label for Ghost {
    fn label(&self) -> String {
        "ghost".into()
    }
}
impl Label for PageGhost {
    fn label(&self) -> String {
        "page ghost".into()
    }
}
impl Label for u32 {
    fn label(&self) -> String {
        format!("u32 {self}")
    }
}
impl Label for () {
    fn label(&self) -> String {
        "()".into()
    }
}
impl Label for [u8; 3] {
    fn label(&self) -> String {
        format!("bytes {self:?}")
    }
}

#[derive(Trace)]
struct Shelf {
    items: GcVec<dyn Label>,
}

/// Many zero-sized trait objects (no drop glue, drop glue, page-aligned with drop glue) and
/// values with no drop glue at all (`u32`, `()`, `[u8; 3]`). Must hold: each is an object of
/// its own (distinct addresses), methods dispatch, sizes and alignment are the concrete
/// type's; the dead ones are freed (counted in `objects_freed`) and the ones with drop glue
/// dropped exactly once; the kept ones survive and are dropped once at the end.
#[test]
fn zero_sized_values_and_values_without_drop_glue() {
    let _s = serial();
    let mut mu = gc_runtime::attach();
    collect2(&mut mu);
    GHOST_DROPS.store(0, Ordering::SeqCst);
    let freed_before = gc_runtime::stats().objects_freed;
    const N: usize = 200;
    const PAGES: usize = 16;
    let shelf = {
        let shelf = mu.alloc(Shelf { items: GcVec::new() });
        let mut all: Vec<Gc<dyn Label>> = Vec::new();
        for i in 0..N {
            all.push(mu.alloc_dyn(Unit, unsize!(Unit => dyn Label)));
            all.push(mu.alloc_dyn(Ghost { _c: CountsDrop }, unsize!(Ghost => dyn Label)));
            all.push(mu.alloc_dyn(i as u32, unsize!(u32 => dyn Label)));
            all.push(mu.alloc_dyn((), unsize!(() => dyn Label)));
            all.push(mu.alloc_dyn([i as u8, 1, 2], unsize!([u8; 3] => dyn Label)));
            if i < PAGES {
                let p = mu.alloc_dyn(PageGhost { _c: CountsDrop }, unsize!(PageGhost => dyn Label));
                assert_eq!(value_addr(p.into_ref()) % 4096, 0, "a page-aligned zero-sized value");
                assert_eq!(std::mem::align_of_val(p.into_ref()), 4096);
                all.push(p);
            }
        }
        let addrs: HashSet<usize> = all.iter().map(|g| g.addr()).collect();
        assert_eq!(addrs.len(), all.len(), "every zero-sized value is an object of its own");
        for g in &all {
            let label = g.label();
            let size = std::mem::size_of_val(g.into_ref());
            match label.as_str() {
                "unit" | "ghost" | "page ghost" | "()" => assert_eq!(size, 0, "{label}"),
                l if l.starts_with("u32") => assert_eq!(size, 4),
                l => assert!(l.starts_with("bytes") && size == 3, "{l}"),
            }
        }
        // Keep the first six (one of each kind).
        for g in &all[..6] {
            shelf.items.push(*g);
        }
        shelf.root(&mu)
    };
    collect2(&mut mu);
    let garbage = 5 * N + PAGES - 6;
    assert_eq!(GHOST_DROPS.load(Ordering::SeqCst), N + PAGES - 2, "every dead zero-sized value dropped once");
    let freed = gc_runtime::stats().objects_freed - freed_before;
    assert!(freed >= garbage as u64, "{freed} objects freed, {garbage} were garbage");
    {
        let shelf = shelf.get(&mu);
        let labels: Vec<String> = shelf.items.iter(&mu).map(|g| g.label()).collect();
        assert_eq!(labels, ["unit", "ghost", "u32 0", "()", "bytes [0, 1, 2]", "page ghost"]);
    }
    drop(shelf);
    collect2(&mut mu);
    assert_eq!(GHOST_DROPS.load(Ordering::SeqCst), N + PAGES, "the kept ones too, once");
}

/// Chains of page-aligned and 64-aligned nodes with slots. Must hold: every value sits at its
/// alignment (the view is found at the descriptor's value offset, a page after the header),
/// its slots keep the chain alive through collections, and each dies exactly once.
#[test]
fn over_aligned_values_keep_their_alignment_and_their_slots() {
    let _s = serial();
    let ledger = Ledger::new(1000);
    let mut mu = gc_runtime::attach();
    let root = {
        let nodes: Vec<_> =
            (0..40).map(|i| node_of(&mu, &ledger, if i % 2 == 0 { Kind::Page } else { Kind::Knot })).collect();
        for w in nodes.windows(2) {
            w[0].kids()[0].set(Some(w[1]));
        }
        for n in &nodes {
            let align = std::mem::align_of_val(n.into_ref());
            assert!(align == 4096 || align == 64);
            assert_eq!(value_addr(n.into_ref()) % align, 0);
        }
        nodes[0].root(&mu)
    };
    collect2(&mut mu);
    let alive = walk(&mu, [root.get(&mu)]);
    assert_eq!(alive.len(), 40);
    ledger.check_exactly(&alive);
    // Cut the chain in the middle.
    {
        let mut n = root.get(&mu);
        for _ in 0..19 {
            n = n.kids()[0].get(&mu).unwrap();
        }
        n.kids()[0].set(None);
    }
    collect2(&mut mu);
    let alive = walk(&mu, [root.get(&mu)]);
    assert_eq!(alive.len(), 20);
    ledger.check_exactly(&alive);
    drop(root);
    collect2(&mut mu);
    ledger.check_exactly(&HashSet::new());
}

trait Blob {
    fn checksum(&self) -> u64;
    fn expected(&self) -> u64;
    fn link(&self) -> &Member<dyn Blob>;
}
dyn_object!(dyn Blob);

/// A MiB of bytes inline: a large object.
#[derive(Trace)]
struct Mega {
    head: u64,
    data: [u8; 1 << 20],
    next: Member<dyn Blob>,
    tail: u64,
    #[trace(skip)]
    probe: DropProbe,
}

/// Two MiB, page-aligned.
#[derive(Trace)]
#[repr(align(4096))]
struct PagedMega {
    data: [u64; 1 << 18],
    next: Member<dyn Blob>,
    #[trace(skip)]
    probe: DropProbe,
}

impl Blob for Mega {
    fn checksum(&self) -> u64 {
        self.head ^ self.tail ^ self.data.iter().map(|&b| u64::from(b)).sum::<u64>()
    }
    fn expected(&self) -> u64 {
        let sum: u64 = (0..1_u64 << 20).map(|i| (i * 7 + self.probe.id) % 251).sum();
        self.probe.id ^ !self.probe.id ^ sum
    }
    fn link(&self) -> &Member<dyn Blob> {
        &self.next
    }
}

impl Blob for PagedMega {
    fn checksum(&self) -> u64 {
        self.data.iter().fold(0, |a, &x| a.wrapping_add(x))
    }
    fn expected(&self) -> u64 {
        (0..1_u64 << 18).fold(0, |a, i| a.wrapping_add(i ^ self.probe.id))
    }
    fn link(&self) -> &Member<dyn Blob> {
        &self.next
    }
}

/// Trait objects of one and two MiB (large objects; the two-MiB one page-aligned), built on a
/// thread with a big stack, chained through their slots. Must hold: the live byte count grows
/// by their size, every byte reads back through the view after collections, they are dropped
/// exactly once when unreachable and the live byte count comes back down.
#[test]
fn huge_values_are_large_objects_read_intact_and_freed() {
    let _s = serial();
    let ledger = Ledger::new(100);
    thread::scope(|s| {
        let ledger = &ledger;
        thread::Builder::new()
            .stack_size(256 << 20)
            .spawn_scoped(s, move || {
                let mut mu = gc_runtime::attach();
                collect2(&mut mu);
                let live0 = gc_runtime::stats().heap_live;
                let root = {
                    let mut chain: Vec<Gc<dyn Blob>> = Vec::new();
                    for i in 0..5 {
                        let probe = ledger.probe();
                        let id = probe.id;
                        chain.push(if i % 2 == 0 {
                            let mut data = [0_u8; 1 << 20];
                            for (j, b) in data.iter_mut().enumerate() {
                                *b = ((j as u64 * 7 + id) % 251) as u8;
                            }
                            mu.alloc_dyn(
                                Mega { head: id, data, next: Member::new(), tail: !id, probe },
                                unsize!(Mega => dyn Blob),
                            )
                        } else {
                            let data = std::array::from_fn(|j| j as u64 ^ id);
                            let big = mu.alloc_dyn(
                                PagedMega { data, next: Member::new(), probe },
                                unsize!(PagedMega => dyn Blob),
                            );
                            assert_eq!(value_addr(big.into_ref()) % 4096, 0);
                            big
                        });
                    }
                    for w in chain.windows(2) {
                        w[0].link().set(Some(w[1]));
                    }
                    chain[0].root(&mu)
                };
                let live1 = gc_runtime::stats().heap_live;
                assert!(live1 >= live0 + (7 << 20), "live bytes {live0} -> {live1}");
                collect2(&mut mu);
                let mut n = 0;
                let mut cur = Some(root.get(&mu));
                while let Some(b) = cur {
                    assert_eq!(b.checksum(), b.expected(), "blob {n} corrupted");
                    n += 1;
                    cur = b.link().get(&mu);
                }
                assert_eq!(n, 5);
                assert_eq!(ledger.total_drops(), 0);
                drop(root);
                collect2(&mut mu);
                ledger.check_exactly(&HashSet::new());
                let live2 = gc_runtime::stats().heap_live;
                assert!(live2 + (6 << 20) <= live1, "the large objects' bytes are no longer live: {live1} -> {live2}");
            })
            .unwrap();
    });
}

// ---------------------------------------------------------------------------------------------
// `dyn Any`, `dyn Debug`, `dyn Display`.

#[derive(Trace, PartialEq, Debug)]
struct Tagged<T>(T);

fn double(x: u32) -> u32 {
    x * 2
}

/// One type of the `dyn Any` test: how to allocate a value of it, whether a `dyn Any` is of
/// it, whether it holds that value.
struct AnyCase {
    alloc: for<'m> fn(&'m Mutator) -> Gc<'m, dyn Any>,
    is: fn(&dyn Any) -> bool,
    ok: fn(&dyn Any) -> bool,
    name: &'static str,
}

macro_rules! any_case {
    ($t:ty, $v:expr, |$x:ident| $ok:expr) => {
        AnyCase {
            alloc: |mu| mu.alloc_dyn::<$t, dyn Any>($v, unsize!($t => dyn Any)),
            is: |a| a.is::<$t>(),
            ok: |a| match a.downcast_ref::<$t>() {
                Some($x) => $ok,
                None => false,
            },
            name: stringify!($t),
        }
    };
    ($t:ty, $v:expr) => {
        any_case!($t, $v, |x| *x == $v)
    };
}

fn any_cases() -> Vec<AnyCase> {
    vec![
        any_case!((), ()),
        any_case!(bool, true),
        any_case!(char, 'λ'),
        any_case!(u8, 7),
        any_case!(i16, -300),
        any_case!(u32, 0xDEAD_BEEF),
        any_case!(i64, -1),
        any_case!(u128, u128::MAX - 5),
        any_case!(usize, 12345),
        any_case!(f32, 1.5),
        any_case!(f64, -2.25),
        any_case!(String, String::from("string")),
        any_case!(Vec<u8>, vec![1, 2, 3]),
        any_case!(Vec<String>, vec![String::from("a"), String::from("b")]),
        any_case!(Option<u32>, Some(5)),
        any_case!(Option<Box<u64>>, Some(Box::new(9))),
        any_case!(Box<str>, Box::from("boxed")),
        any_case!((u8, String), (1, String::from("t"))),
        any_case!([u16; 5], [1, 2, 3, 4, 5]),
        any_case!([u8; 0], []),
        any_case!(Result<u8, String>, Err(String::from("e"))),
        any_case!(Tagged<u8>, Tagged(1)),
        any_case!(Tagged<u16>, Tagged(1)),
        any_case!(fn(u32) -> u32, double, |f| f(21) == 42),
        any_case!(&'static str, "static"),
        any_case!(Arc<String>, Arc::new(String::from("arc")), |x| **x == "arc"),
        any_case!(Duration, Duration::from_millis(3)),
        any_case!(AtomicU64, AtomicU64::new(77), |x| x.load(Ordering::Relaxed) == 77),
        any_case!(VecDeque<u8>, VecDeque::from([4, 5])),
        any_case!(HashMap<String, u32>, HashMap::from([(String::from("k"), 1)])),
        any_case!(BTreeMap<u8, u8>, BTreeMap::from([(1, 2)])),
        any_case!(Member<dyn Any>, Member::new(), |m| m.is_none()),
        any_case!(GcVec<dyn Any>, GcVec::new(), |v| v.is_empty()),
        any_case!(AnyBox, AnyBox { item: Member::new() }, |b| b.item.is_none()),
    ]
}

/// Thirty-odd types allocated as `dyn Any` (numbers, strings, containers, a function
/// pointer, a `&'static str`, an `Arc`, two instances of one generic struct, and — as the whole
/// value — a bare `Member<dyn Any>` and a `GcVec<dyn Any>`), kept in a `GcVec<dyn Any>`; also
/// `dyn Any + Send` and `+ Send + Sync`. Must hold: after collections each element downcasts
/// to its own type only, with its value; the slot and the vector reached only by downcasting
/// work (armed at allocation) and keep what they hold alive.
#[test]
fn dyn_any_downcasts_of_many_types() {
    let _s = serial();
    let mut mu = gc_runtime::attach();
    let cases = any_cases();
    let names: HashSet<&str> = cases.iter().map(|c| c.name).collect();
    assert_eq!(names.len(), cases.len(), "distinct types");
    let (all, send, sync) = {
        let all = mu.alloc(GcVec::<dyn Any>::new());
        for case in &cases {
            all.push((case.alloc)(&mu));
        }
        let send: Gc<dyn Any + Send> =
            mu.alloc_dyn(Tagged(String::from("send")), unsize!(Tagged<String> => dyn Any + Send));
        let sync: Gc<dyn Any + Send + Sync> =
            mu.alloc_dyn(Tagged(3_u64), unsize!(Tagged<u64> => dyn Any + Send + Sync));
        (all.root(&mu), send.root(&mu), sync.root(&mu))
    };
    collect2(&mut mu);
    {
        let all = all.get(&mu);
        assert_eq!(all.len(), cases.len());
        for (i, elem) in all.iter(&mu).enumerate() {
            let a = elem.into_ref();
            for (j, case) in cases.iter().enumerate() {
                assert_eq!((case.is)(a), i == j, "element {} ({}) tested as {}", i, cases[i].name, case.name);
            }
            assert!((cases[i].ok)(a), "element {i} ({}) holds its value", cases[i].name);
        }
        assert_eq!(send.get(&mu).into_ref().downcast_ref::<Tagged<String>>().map(|t| t.0.as_str()), Some("send"));
        let shared = sync.get(&mu).into_ref();
        assert_eq!(shared.downcast_ref::<Tagged<u64>>(), Some(&Tagged(3)));
        let plain: &dyn Any = shared;
        assert!(plain.is::<Tagged<u64>>() && !plain.is::<Tagged<u32>>());
        // The slot and the vector that are the whole value: store into them.
        let slot = all.iter(&mu).find_map(|e| e.into_ref().downcast_ref::<Member<dyn Any>>()).unwrap();
        slot.set(Some(mu.alloc_dyn(String::from("in the slot"), unsize!(String => dyn Any))));
        let vec = all.iter(&mu).find_map(|e| e.into_ref().downcast_ref::<GcVec<dyn Any>>()).unwrap();
        for i in 0..10_u32 {
            vec.push(mu.alloc_dyn(Tagged(i), unsize!(Tagged<u32> => dyn Any)));
        }
    }
    collect2(&mut mu);
    {
        let all = all.get(&mu);
        let slot = all.iter(&mu).find_map(|e| e.into_ref().downcast_ref::<Member<dyn Any>>()).unwrap();
        let held = slot.get(&mu).expect("the slot kept its referent");
        assert_eq!(held.into_ref().downcast_ref::<String>().map(String::as_str), Some("in the slot"));
        let vec = all.iter(&mu).find_map(|e| e.into_ref().downcast_ref::<GcVec<dyn Any>>()).unwrap();
        let got: Vec<u32> = vec.iter(&mu).map(|e| e.into_ref().downcast_ref::<Tagged<u32>>().unwrap().0).collect();
        assert_eq!(got, (0..10).collect::<Vec<_>>());
    }
}

/// A value whose slots and collections all reach the object itself.
#[derive(Trace, Debug)]
struct Chatty {
    name: String,
    me: Member<dyn Debug>,
    all: GcVec<dyn Debug>,
    named: GcMap<String, dyn Debug>,
    weak: GcWeakMap<dyn Debug, dyn Debug>,
}

impl Display for Chatty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:?})", self.name, self.me)
    }
}

fn chatty(name: &str) -> Chatty {
    Chatty { name: name.into(), me: Member::new(), all: GcVec::new(), named: GcMap::new(), weak: GcWeakMap::new() }
}

/// `Debug` of a `Gc<dyn Debug>` whose value's slot, vector, map and weak map all point back
/// at the object itself (and at a second one), `{:?}` and `{:#?}`; `Display` of another view
/// of the same kind of value; `Debug` of roots and weak references to trait objects. Must
/// hold: formatting terminates without following any slot (it prints addresses: the object's
/// own), and the objects are intact after.
#[test]
fn debug_of_a_trait_object_whose_slots_reach_itself_does_not_follow_them() {
    let _s = serial();
    let mut mu = gc_runtime::attach();
    let roots = {
        let a: Gc<dyn Debug> = mu.alloc_dyn(chatty("a"), unsize!(Chatty => dyn Debug));
        let (b, b_value) = mu.alloc_dyn_split(chatty("b"), unsize!(Chatty => dyn Debug));
        b_value.me.set(Some(b));
        b_value.all.push(b);
        b_value.all.push(a);
        b_value.named.insert("self".into(), b);
        b_value.weak.insert(b, b);
        b_value.weak.insert(a, b);
        let plain = format!("{b:?}");
        let pretty = format!("{b:#?}");
        for text in [&plain, &pretty] {
            assert!(text.contains(&format!("Member({:p})", b)), "{text}");
            assert!(text.contains(&format!("{:#x}", b.addr())), "{text}");
            assert!(text.contains(&format!("{:#x}", a.addr())), "{text}");
            assert!(text.contains("\"self\""), "{text}");
        }
        assert!(format!("{a:?}").contains("Member(None)"));
        let (shown, shown_value) = mu.alloc_dyn_split(chatty("shown"), unsize!(Chatty => dyn Display));
        shown_value.all.push(b);
        assert_eq!(shown.to_string(), "shown (Member(None))");
        let root: Root<dyn Debug> = b.root(&mu);
        let weak: Weak<dyn Debug> = b.downgrade(&mu);
        assert!(format!("{root:?}").starts_with("Root<"), "{root:?}");
        assert!(format!("{weak:?}").starts_with("Weak<"), "{weak:?}");
        (root, a.root(&mu), shown.root(&mu), weak)
    };
    collect2(&mut mu);
    let b = roots.0.get(&mu);
    let text = format!("{b:?}");
    assert!(text.contains("name: \"b\"") && text.contains(&format!("Member({b:p})")), "{text}");
    assert!(format!("{:?}", roots.1.get(&mu)).contains("name: \"a\""));
    assert_eq!(roots.2.get(&mu).to_string(), "shown (Member(None))");
    assert!(roots.3.upgrade(&mu).is_some());
}

// ---------------------------------------------------------------------------------------------
// Several trait-object types, generic traits.

trait Speak {
    fn speak(&self) -> String;
}
trait Count {
    fn count(&self) -> u64;
}
trait Shout: Speak + Count {
    fn shout(&self) -> String {
        format!("{}x{}!", self.speak().to_uppercase(), self.count())
    }
}
dyn_object!(dyn Speak);
dyn_object!(dyn Speak + Send);
dyn_object!(dyn Speak + Send + Sync);
dyn_object!(dyn Count);
dyn_object!(dyn Shout);

#[derive(Trace)]
struct Parrot {
    word: String,
    times: u64,
    #[trace(skip)]
    probe: DropProbe,
}

/// A different layout, so that a view with another type's vtable would read garbage.
#[derive(Trace)]
#[repr(align(32))]
struct Crow {
    times: u64,
    pad: [u64; 5],
    word: &'static str,
    #[trace(skip)]
    probe: DropProbe,
}

impl Speak for Parrot {
    fn speak(&self) -> String {
        format!("{} {}", self.word, self.probe.id)
    }
}
impl Count for Parrot {
    fn count(&self) -> u64 {
        self.times
    }
}
impl Shout for Parrot {}
impl Speak for Crow {
    fn speak(&self) -> String {
        assert_eq!(self.pad, [self.times; 5]);
        format!("{} {}", self.word, self.probe.id)
    }
}
impl Count for Crow {
    fn count(&self) -> u64 {
        self.times + 1000
    }
}
impl Shout for Crow {
    fn shout(&self) -> String {
        format!("crow {}", self.speak())
    }
}

#[derive(Trace)]
struct Perch {
    speak: Member<dyn Speak>,
    send: Member<dyn Speak + Send>,
    sync: Member<dyn Speak + Send + Sync>,
    count: Member<dyn Count>,
    shout: Member<dyn Shout>,
    shouts: GcVec<dyn Shout>,
}

fn parrot(ledger: &Arc<Ledger>, times: u64) -> Parrot {
    Parrot { word: "polly".into(), times, probe: ledger.probe() }
}

fn crow(ledger: &Arc<Ledger>, times: u64) -> Crow {
    Crow { times, pad: [times; 5], word: "caw", probe: ledger.probe() }
}

/// Two concrete types of different layouts, each under five trait-object types (`dyn Speak`,
/// `dyn Speak + Send`, `dyn Speak + Send + Sync`, `dyn Count`, the subtrait `dyn Shout`), in
/// slots and a vector of one object. Must hold: every slot dispatches to its own object's
/// concrete methods after collections; a `dyn Shout` upcasts (as a reference) to `dyn Speak`
/// and `dyn Count` with the right vtables; dropping auto traits keeps the vtable; every value
/// is dropped exactly once at the end.
#[test]
fn one_concrete_type_under_several_trait_object_types() {
    let _s = serial();
    let ledger = Ledger::new(100);
    let mut mu = gc_runtime::attach();
    let perch = {
        let perch = mu.alloc(Perch {
            speak: Member::new(),
            send: Member::new(),
            sync: Member::new(),
            count: Member::new(),
            shout: Member::new(),
            shouts: GcVec::new(),
        });
        perch.speak.set(Some(mu.alloc_dyn(parrot(&ledger, 1), unsize!(Parrot => dyn Speak)))); // 0
        perch.send.set(Some(mu.alloc_dyn(crow(&ledger, 2), unsize!(Crow => dyn Speak + Send)))); // 1
        perch.sync.set(Some(mu.alloc_dyn(parrot(&ledger, 3), unsize!(Parrot => dyn Speak + Send + Sync)))); // 2
        perch.count.set(Some(mu.alloc_dyn(crow(&ledger, 4), unsize!(Crow => dyn Count)))); // 3
        perch.shout.set(Some(mu.alloc_dyn(parrot(&ledger, 5), unsize!(Parrot => dyn Shout)))); // 4
        for i in 0..6 {
            let s: Gc<dyn Shout> = if i % 2 == 0 {
                mu.alloc_dyn(crow(&ledger, 10 + i), unsize!(Crow => dyn Shout))
            } else {
                mu.alloc_dyn(parrot(&ledger, 10 + i), unsize!(Parrot => dyn Shout))
            };
            perch.shouts.push(s);
        }
        // Garbage under every view.
        let _ = mu.alloc_dyn(parrot(&ledger, 0), unsize!(Parrot => dyn Count));
        let _ = mu.alloc_dyn(crow(&ledger, 0), unsize!(Crow => dyn Speak + Send + Sync));
        perch.root(&mu)
    };
    collect2(&mut mu);
    let alive: HashSet<u64> = (0..11).collect();
    ledger.check_exactly(&alive);
    {
        let p = perch.get(&mu);
        assert_eq!(p.speak.get(&mu).unwrap().speak(), "polly 0");
        assert_eq!(p.send.get(&mu).unwrap().speak(), "caw 1");
        let sync = p.sync.get(&mu).unwrap();
        assert_eq!(sync.speak(), "polly 2");
        let plain: &dyn Speak = sync.into_ref();
        assert_eq!(plain.speak(), "polly 2");
        assert_eq!(p.count.get(&mu).unwrap().count(), 1004);
        let shout = p.shout.get(&mu).unwrap();
        assert_eq!(shout.shout(), "POLLY 4x5!");
        let as_speak: &dyn Speak = shout.into_ref();
        let as_count: &dyn Count = shout.into_ref();
        assert_eq!((as_speak.speak(), as_count.count()), ("polly 4".to_string(), 5));
        let all: Vec<(String, u64, String)> = p
            .shouts
            .iter(&mu)
            .map(|s| {
                let r = s.into_ref();
                let up: &dyn Speak = r;
                (r.shout(), (r as &dyn Count).count(), up.speak())
            })
            .collect();
        for (i, (shout, count, speak)) in all.iter().enumerate() {
            let id = 5 + i;
            let times = 10 + i as u64;
            if i % 2 == 0 {
                assert_eq!((shout.as_str(), *count), (format!("crow caw {id}").as_str(), times + 1000));
                assert_eq!(speak, &format!("caw {id}"));
            } else {
                assert_eq!((shout.as_str(), *count), (format!("POLLY {id}x{times}!").as_str(), times));
                assert_eq!(speak, &format!("polly {id}"));
            }
        }
    }
    drop(perch);
    collect2(&mut mu);
    ledger.check_exactly(&HashSet::new());
}

trait Conv<T> {
    fn conv(&self, x: T) -> T;
}
dyn_object!(<T> dyn Conv<T>);

/// The identity, for every `T`.
#[derive(Trace)]
struct Same;
impl<T> Conv<T> for Same {
    fn conv(&self, x: T) -> T {
        x
    }
}

/// Doubles, for a few `T`.
#[derive(Trace)]
struct Twice;
impl Conv<u8> for Twice {
    fn conv(&self, x: u8) -> u8 {
        x.wrapping_mul(2)
    }
}
impl Conv<u64> for Twice {
    fn conv(&self, x: u64) -> u64 {
        x * 2
    }
}
impl Conv<String> for Twice {
    fn conv(&self, x: String) -> String {
        x.repeat(2)
    }
}
impl Conv<Vec<u32>> for Twice {
    fn conv(&self, x: Vec<u32>) -> Vec<u32> {
        x.iter().chain(&x).copied().collect()
    }
}

/// Adds its own value: a generic concrete type, instantiated for several `N`.
#[derive(Trace)]
struct Offset<N>(N);
impl Conv<u8> for Offset<u8> {
    fn conv(&self, x: u8) -> u8 {
        x.wrapping_add(self.0)
    }
}
impl Conv<u64> for Offset<u64> {
    fn conv(&self, x: u64) -> u64 {
        x + self.0
    }
}
impl Conv<u64> for Offset<[u64; 40]> {
    fn conv(&self, x: u64) -> u64 {
        x + self.0.iter().sum::<u64>()
    }
}

fn same<T: 'static>(mu: &Mutator) -> Gc<'_, dyn Conv<T>> {
    mu.alloc_dyn(Same, unsize!(Same => dyn Conv<T>))
}

#[derive(Trace)]
struct Converters {
    bytes: Member<dyn Conv<u8>>,
    words: GcVec<dyn Conv<u64>>,
    strings: Member<dyn Conv<String>>,
    vecs: Member<dyn Conv<Vec<u32>>>,
    pairs: Member<dyn Conv<(u8, char)>>,
    options: Member<dyn Conv<Option<String>>>,
    arrays: Member<dyn Conv<[u16; 3]>>,
    units: Member<dyn Conv<()>>,
    /// A converter of roots of another instance's objects.
    roots: Member<dyn Conv<Root<dyn Conv<u8>>>>,
}

/// A generic trait declared once (`dyn_object!(<T> dyn Conv<T>)`) and used under many
/// instances — numbers, strings, vectors, tuples, options, arrays, `()`, and roots of another
/// instance's objects — by generic and non-generic concrete types of several sizes. Must
/// hold: every slot dispatches to the right instance's method after collections.
#[test]
fn a_generic_trait_under_many_instances() {
    let _s = serial();
    let mut mu = gc_runtime::attach();
    let conv = {
        let c = mu.alloc(Converters {
            bytes: Member::new(),
            words: GcVec::new(),
            strings: Member::new(),
            vecs: Member::new(),
            pairs: Member::new(),
            options: Member::new(),
            arrays: Member::new(),
            units: Member::new(),
            roots: Member::new(),
        });
        c.bytes.set(Some(mu.alloc_dyn(Offset(200_u8), unsize!(Offset<u8> => dyn Conv<u8>))));
        c.words.push(same::<u64>(&mu));
        c.words.push(mu.alloc_dyn(Twice, unsize!(Twice => dyn Conv<u64>)));
        c.words.push(mu.alloc_dyn(Offset(5_u64), unsize!(Offset<u64> => dyn Conv<u64>)));
        c.words.push(mu.alloc_dyn(Offset([1_u64; 40]), unsize!(Offset<[u64; 40]> => dyn Conv<u64>)));
        c.strings.set(Some(mu.alloc_dyn(Twice, unsize!(Twice => dyn Conv<String>))));
        c.vecs.set(Some(mu.alloc_dyn(Twice, unsize!(Twice => dyn Conv<Vec<u32>>))));
        c.pairs.set(Some(same(&mu)));
        c.options.set(Some(same(&mu)));
        c.arrays.set(Some(same(&mu)));
        c.units.set(Some(same(&mu)));
        c.roots.set(Some(same(&mu)));
        c.root(&mu)
    };
    collect2(&mut mu);
    let c = conv.get(&mu);
    let bytes = c.bytes.get(&mu).unwrap();
    assert_eq!(bytes.conv(100), 44);
    let words: Vec<u64> = c.words.iter(&mu).map(|w| w.conv(10)).collect();
    assert_eq!(words, [10, 20, 15, 50]);
    assert_eq!(c.strings.get(&mu).unwrap().conv("ab".into()), "abab");
    assert_eq!(c.vecs.get(&mu).unwrap().conv(vec![1, 2]), [1, 2, 1, 2]);
    assert_eq!(c.pairs.get(&mu).unwrap().conv((1, 'x')), (1, 'x'));
    assert_eq!(c.options.get(&mu).unwrap().conv(Some("o".into())), Some("o".to_string()));
    assert_eq!(c.arrays.get(&mu).unwrap().conv([1, 2, 3]), [1, 2, 3]);
    c.units.get(&mu).unwrap().conv(());
    let back = c.roots.get(&mu).unwrap().conv(bytes.root(&mu));
    assert_eq!(back.get(&mu).conv(1), 201);
}

// ---------------------------------------------------------------------------------------------
// Threads.

/// A global root of a trait object, set by one thread and read by another.
static GLOBAL: GlobalRoot<dyn Node> = GlobalRoot::new();

/// One worker of [`the_same_trait_objects_read_by_several_threads_while_cycles_run`]: walks
/// the shared graph from its root and checks every node; worker 0 also rewires the graph
/// (new nodes, edges to nodes elsewhere in it, cuts), worker 1 moves its own root around it,
/// worker 2 points a global root at nodes it finds, worker 3 walks from that global root.
fn graph_worker(t: usize, root: Root<dyn Node>, ledger: &Arc<Ledger>, stop: &AtomicBool, walks: &AtomicU64) {
    let mut mu = gc_runtime::attach();
    let mut rng = Rng(0x2545_F491_4F6C_DD1D_u64.wrapping_mul(t as u64 + 1));
    while !stop.load(Ordering::Relaxed) {
        {
            let top = root.get(&mu);
            let ids = walk_limited(&mu, [top], 400);
            assert!(!ids.is_empty());
            walks.fetch_add(1, Ordering::Relaxed);
            // A random node reachable from the root.
            let mut n = top;
            for _ in 0..rng.below(6) {
                let kids = n.kids();
                match kids[rng.below(kids.len())].get(&mu) {
                    Some(k) => n = k,
                    None => break,
                }
            }
            n.check();
            let slot = &n.kids()[rng.below(n.kids().len())];
            match (t, rng.below(4)) {
                (0, 0) if ids.len() < 300 && !ledger.nearly_full(100) => {
                    let fresh = node(&mu, ledger);
                    fresh.kids()[0].set(Some(top));
                    slot.set(Some(fresh));
                }
                (0, 1) => slot.set(Some(top)),
                (0, 2) if ids.len() > 50 => slot.set(None),
                (0, _) => {
                    let other = slot.get(&mu);
                    n.kids()[0].set(other);
                }
                (1, 0) if n.kids().iter().any(|k| !k.is_none()) => root.set(n),
                (2, 0) => GLOBAL.set(&mu, n),
                (3, _) => {
                    if let Some(g) = GLOBAL.get(&mu) {
                        walk_limited(&mu, [g], 100);
                    }
                }
                _ => {}
            }
        }
        mu.safepoint();
    }
}

/// The same trait objects (four layouts) reached through `Root<dyn Node>`s sent to four
/// threads, each attached, reading and checking the graph while one rewires it, one moves its
/// root, one points a `GlobalRoot<dyn Node>` into it that another reads, and a fifth thread
/// collects back to back (concurrent mode, checkmark on). Must hold: every node read is intact;
/// every thread made progress; cycles ran; at the end every node is dropped exactly once.
#[test]
fn the_same_trait_objects_read_by_several_threads_while_cycles_run() {
    let _s = common::serial_only();
    gc_runtime::reconfigure(base()).unwrap();
    let ledger = Ledger::new(1_000_000);
    let mut mu = gc_runtime::attach();
    let (shared, roots) = {
        let top = node_of(&mu, &ledger, Kind::Bag);
        top.grow(top, &mu, &ledger, 3);
        let roots: Vec<Root<dyn Node>> = (0..4).map(|_| top.root(&mu)).collect();
        (top.root(&mu), roots)
    };
    let cycles_before = gc_runtime::stats().cycles;
    let stop = AtomicBool::new(false);
    let walks: [AtomicU64; 4] = Default::default();
    let started = Instant::now();
    mu.blocking(|| {
        thread::scope(|s| {
            let (ledger, stop, walks) = (&ledger, &stop, &walks);
            for (t, root) in roots.into_iter().enumerate() {
                s.spawn(move || graph_worker(t, root, ledger, stop, &walks[t]));
            }
            s.spawn(move || {
                let mut mu = gc_runtime::attach();
                while !stop.load(Ordering::Relaxed) {
                    mu.collect();
                }
            });
            // At least 300 ms, and until every thread walked and a few cycles ran (a stalled
            // collector or reader fails the assertions below after a minute: a loaded machine
            // may take far longer than usual).
            while started.elapsed() < Duration::from_secs(60)
                && (started.elapsed() < Duration::from_millis(300)
                    || gc_runtime::stats().cycles - cycles_before < 3
                    || walks.iter().any(|w| w.load(Ordering::Relaxed) < 10))
            {
                thread::sleep(Duration::from_millis(10));
            }
            stop.store(true, Ordering::Relaxed);
        })
    });
    let walks: Vec<u64> = walks.iter().map(|w| w.load(Ordering::Relaxed)).collect();
    let cycles = gc_runtime::stats().cycles - cycles_before;
    assert!(walks.iter().all(|&w| w >= 10), "every thread walked the graph: {walks:?} in {:?}", started.elapsed());
    assert!(cycles >= 3, "only {cycles} cycles ran in {:?}", started.elapsed());
    collect2(&mut mu);
    let alive = walk(&mu, [shared.get(&mu)].into_iter().chain(GLOBAL.get(&mu)));
    ledger.check_exactly(&alive);
    GLOBAL.clear();
    drop(shared);
    collect2(&mut mu);
    ledger.check_exactly(&HashSet::new());
}

// ---------------------------------------------------------------------------------------------
// Allocation inside other allocators' closures.

/// An array element holding a trait object by a root, and a slot for it.
#[derive(Trace)]
struct Held {
    node: Root<dyn Node>,
    slot: Member<dyn Node>,
    #[trace(skip)]
    probe: DropProbe,
}

/// `alloc_dyn` (and nodes growing themselves, and a nested `alloc_slice_from_fn`) inside
/// `alloc_slice_from_fn`'s closure, whose elements keep the new trait objects by roots; then
/// the same closure panicking half-way. Must hold: the finished array's elements and their
/// trait objects are intact after collections; the half-made array's elements are dropped
/// exactly once, which frees the trait objects only they kept; no node is dropped twice.
#[test]
fn alloc_dyn_inside_alloc_slice_from_fn() {
    let _s = serial();
    let ledger = Ledger::new(10_000);
    let mut mu = gc_runtime::attach();
    let arr = {
        let arr = mu.alloc_slice_from_fn(12, |i| {
            let n = node(&mu, &ledger);
            n.grow(n, &mu, &ledger, 1);
            // A nested array of trait objects, made and dropped in here.
            let inner = mu.alloc_slice_from_fn(3, |_| node(&mu, &ledger).root(&mu));
            n.kids()[0].set(Some(inner[i % 3].get(&mu)));
            Held { node: n.root(&mu), slot: Member::new(), probe: ledger.probe() }
        });
        for held in arr.iter() {
            held.slot.set(Some(held.node.get(&mu)));
        }
        arr.root(&mu)
    };
    let made = ledger.created();
    let half = catch_unwind(AssertUnwindSafe(|| {
        mu.alloc_slice_from_fn(10, |i| {
            let n = node(&mu, &ledger);
            if i == 6 {
                panic!("half-way");
            }
            Held { node: n.root(&mu), slot: Member::new(), probe: ledger.probe() }
        })
        .len()
    }));
    assert_eq!(message(&*half.unwrap_err()), "half-way");
    let half_made: HashSet<u64> = (made as u64..ledger.created() as u64).collect();
    assert_eq!(half_made.len(), 7 + 6, "seven nodes, six elements' probes");
    collect2(&mut mu);
    let mut alive = HashSet::new();
    {
        let arr = arr.get(&mu);
        for held in arr.iter() {
            let n = held.node.get(&mu);
            assert!(held.slot.points_to(n));
            alive.insert(held.probe.id);
            alive.extend(walk(&mu, [n]));
        }
    }
    ledger.check_exactly(&alive);
    assert!(half_made.iter().all(|&id| ledger.drops(id) == 1), "the half-made array's elements and nodes are dropped");
    drop(arr);
    collect2(&mut mu);
    ledger.check_exactly(&HashSet::new());
}

trait Part {
    fn owner_name(&self, mu: &Mutator) -> Option<String>;
    fn check(&self);
}
dyn_object!(dyn Part);

#[derive(Trace)]
struct Owner {
    name: String,
    parts: [Member<dyn Part>; 2],
    #[trace(skip)]
    probe: DropProbe,
}

/// A part that knows its owner by a weak reference.
#[derive(Trace)]
struct Backref {
    owner: Weak<Owner>,
    canary: u64,
    #[trace(skip)]
    probe: DropProbe,
}

/// A part that knows nothing.
#[derive(Trace)]
#[repr(align(64))]
struct Loner {
    canary: u64,
    #[trace(skip)]
    probe: DropProbe,
}

impl Part for Backref {
    fn owner_name(&self, mu: &Mutator) -> Option<String> {
        self.owner.upgrade(mu).map(|o| o.name.clone())
    }
    fn check(&self) {
        assert_eq!(self.canary, self.probe.id ^ MAGIC);
    }
}

impl Part for Loner {
    fn owner_name(&self, _: &Mutator) -> Option<String> {
        None
    }
    fn check(&self) {
        assert_eq!(self.canary, !self.probe.id);
    }
}

fn backref<'m>(mu: &'m Mutator, ledger: &Arc<Ledger>, owner: Weak<Owner>) -> Gc<'m, dyn Part> {
    let probe = ledger.probe();
    mu.alloc_dyn(Backref { owner, canary: probe.id ^ MAGIC, probe }, unsize!(Backref => dyn Part))
}

fn loner<'m>(mu: &'m Mutator, ledger: &Arc<Ledger>) -> Gc<'m, dyn Part> {
    let probe = ledger.probe();
    mu.alloc_dyn(Loner { canary: !probe.id, probe }, unsize!(Loner => dyn Part))
}

/// `alloc_dyn` inside `alloc_cyclic`'s closure: a part holding the owner's (pending) weak
/// reference, and another part, both made while the owner is being built, stored into it
/// afterwards; then a closure that gives its weak reference to a part and panics. Must hold:
/// the weak reference upgrades to nothing while building and to the owner after; the parts
/// and owner survive collections together and die together, each dropped once; the part of
/// the failed build keeps a weak reference that stays cleared for good, and is dropped once.
#[test]
fn alloc_dyn_inside_alloc_cyclic() {
    let _s = serial();
    let ledger = Ledger::new(100);
    let mut mu = gc_runtime::attach();
    let (owner, weak_owner) = {
        let mut made: Vec<Gc<dyn Part>> = Vec::new();
        let owner = mu.alloc_cyclic(|me: Weak<Owner>| {
            assert!(me.upgrade(&mu).is_none() && me.is_cleared(), "nothing to upgrade to while building");
            let part = backref(&mu, &ledger, me);
            assert_eq!(part.owner_name(&mu), None, "still building");
            made.push(part);
            made.push(loner(&mu, &ledger));
            Owner { name: "owner".into(), parts: [Member::new(), Member::new()], probe: ledger.probe() }
        });
        for (slot, part) in owner.parts.iter().zip(&made) {
            slot.set(Some(*part));
        }
        assert_eq!(made[0].owner_name(&mu).as_deref(), Some("owner"));
        (owner.root(&mu), owner.downgrade(&mu))
    };
    let mut orphan: Option<Root<dyn Part>> = None;
    let failed = catch_unwind(AssertUnwindSafe(|| {
        mu.alloc_cyclic(|me: Weak<Owner>| -> Owner {
            orphan = Some(backref(&mu, &ledger, me).root(&mu));
            panic!("the build fails");
        })
        .name
        .clone()
    }));
    assert_eq!(message(&*failed.unwrap_err()), "the build fails");
    let orphan = orphan.expect("made before the panic");
    collect2(&mut mu);
    ledger.check_exactly(&(0..4).collect());
    {
        let owner = owner.get(&mu);
        assert_eq!((owner.name.as_str(), owner.probe.id), ("owner", 2));
        let parts: Vec<_> = owner.parts.iter().map(|p| p.get(&mu).unwrap()).collect();
        for p in &parts {
            p.check();
        }
        assert_eq!(parts[0].owner_name(&mu).as_deref(), Some("owner"));
        assert_eq!(parts[1].owner_name(&mu), None);
        let o = orphan.get(&mu);
        o.check();
        assert_eq!(o.owner_name(&mu), None, "a failed build's weak reference stays cleared");
    }
    drop(owner);
    collect2(&mut mu);
    assert!(weak_owner.upgrade(&mu).is_none());
    ledger.check_exactly(&HashSet::from([3]));
    assert_eq!(orphan.get(&mu).owner_name(&mu), None);
    drop(orphan);
    collect2(&mut mu);
    ledger.check_exactly(&HashSet::new());
}

// ---------------------------------------------------------------------------------------------
// The memory limit.

/// A large trait object with a collection and a slot, to be refused.
#[derive(Trace)]
struct Cargo {
    bytes: [u8; 96 << 10],
    list: GcVec<dyn Node>,
    slot: Member<dyn Node>,
    canary: u64,
    #[trace(skip)]
    probe: DropProbe,
}

impl Cargo {
    fn new(ledger: &Arc<Ledger>) -> Cargo {
        let probe = ledger.probe();
        Cargo {
            bytes: [probe.id as u8; 96 << 10],
            list: GcVec::new(),
            slot: Member::new(),
            canary: probe.id ^ MAGIC,
            probe,
        }
    }
}

impl Node for Cargo {
    fn id(&self) -> u64 {
        self.probe.id
    }
    fn check(&self) {
        assert_eq!(self.canary, self.probe.id ^ MAGIC);
        assert!(self.bytes.iter().all(|&b| b == self.probe.id as u8));
    }
    fn kids(&self) -> &[Member<dyn Node>] {
        std::slice::from_ref(&self.slot)
    }
}

fn page_value(ledger: &Arc<Ledger>) -> Page {
    let probe = ledger.probe();
    Page { canary: probe.id.wrapping_mul(3) ^ MAGIC, id: probe.id, kids: [Member::new()], probe }
}

fn twig_value(ledger: &Arc<Ledger>) -> Twig {
    let probe = ledger.probe();
    Twig { id: probe.id, canary: probe.id ^ MAGIC, kids: [Member::new(), Member::new()], probe }
}

/// Under a memory limit with the heap nearly full of live data: `try_alloc_dyn` of a large
/// value (with a `GcVec` and a slot) and of small values until one is refused; `alloc_dyn`
/// over the limit. Must hold: refused values come back intact and undropped; nothing is
/// charged to the live byte count for them; `alloc_dyn` panics with the limit's message and
/// drops its value exactly once, on this thread; once room is made, the values that came back
/// allocate, and their collection and slot work (they came back unarmed); everything is
/// dropped exactly once at the end and the live byte count returns.
#[test]
fn over_the_memory_limit_trait_objects_come_back_intact_and_nothing_is_charged() {
    let _s = serial();
    let ledger = Ledger::new(1_000_000);
    let mut mu = gc_runtime::attach();
    collect2(&mut mu);
    let live0 = gc_runtime::stats().heap_live;
    gc_runtime::reconfigure(base().with_memory_limit(Some(live0 + (4 << 20)))).unwrap();
    // Leave a few pages of room: small trait objects fill them until one is refused.
    let ballast = mu.alloc_slice(vec![0_u8; (4 << 20) - (256 << 10)]).root(&mu);
    let mut fitted = 0_usize;
    let small = loop {
        match mu.try_alloc_dyn(twig_value(&ledger), unsize!(Twig => dyn Node)) {
            Ok(t) => {
                t.check();
                fitted += 1;
                assert!(fitted < 500_000, "small trait objects never hit the limit");
            }
            Err(e) => break e.into_value(),
        }
    };
    small.check();
    assert!(fitted > 0, "some small objects fit in the room left");
    // Less than a page is left now: a large value is refused too.
    let live1 = gc_runtime::stats().heap_live;
    let big = match mu.try_alloc_dyn(Cargo::new(&ledger), unsize!(Cargo => dyn Node)) {
        Err(e) => {
            assert!(e.to_string().contains("limit"), "{e}");
            e.into_value()
        }
        Ok(_) => panic!("96 KiB more fits in less than a page"),
    };
    big.check();
    assert!(gc_runtime::stats().heap_live <= live1, "a refused large object is not charged");
    assert_eq!(ledger.total_drops(), 0, "nothing refused was dropped");
    let doomed = ledger.created() as u64;
    let caught = catch_unwind(AssertUnwindSafe(|| mu.alloc_dyn(Cargo::new(&ledger), unsize!(Cargo => dyn Node)).id()));
    let msg = message(&*caught.unwrap_err());
    assert!(msg.contains("memory limit"), "{msg}");
    assert_eq!(ledger.drops(doomed), 1, "alloc_dyn dropped its value once, on the way out");
    drop(ballast);
    collect2(&mut mu);
    let kept = {
        let (node, cargo) = mu.alloc_dyn_split(big, unsize!(Cargo => dyn Node));
        let small = mu.alloc_dyn(small, unsize!(Twig => dyn Node));
        cargo.slot.set(Some(small));
        cargo.list.push(small);
        cargo.list.push(node);
        small.kids()[1].set(Some(node));
        node.root(&mu)
    };
    gc_runtime::reconfigure(base()).unwrap();
    collect2(&mut mu);
    {
        let node = kept.get(&mu);
        let alive = walk(&mu, [node]);
        assert_eq!(alive.len(), 2);
        ledger.check_exactly(&alive);
    }
    drop(kept);
    collect2(&mut mu);
    ledger.check_exactly(&HashSet::new());
    let live2 = gc_runtime::stats().heap_live;
    assert!(live2 <= live0 + (1 << 20), "live bytes back to about where they were: {live0} -> {live2}");
}

// ---------------------------------------------------------------------------------------------
// Weak references and maps keyed by trait objects.

#[derive(Trace)]
struct Maps {
    weak: GcWeakMap<dyn Node, dyn Node>,
    ids: GcIdMap<dyn Node, dyn Any>,
}

/// Weak references to trait objects along a chain that is cut in two steps, and a weak map
/// and an identity map keyed by trait objects (values reachable only through the weak map).
/// Must hold: a weak reference upgrades while its object is reachable and is cleared by the
/// first collection after it is not, never before; a weak map's entry lives exactly as long as
/// its key (its value kept by the entry alone), and each value is dropped once after; the
/// identity map finds its entries by object identity.
#[test]
fn weak_references_and_weak_maps_of_trait_objects() {
    let _s = serial();
    let ledger = Ledger::new(1000);
    let mut mu = gc_runtime::attach();
    let (root, maps, weaks, key_root) = {
        let chain: Vec<_> = (0..8).map(|_| node_of(&mu, &ledger, Kind::Twig)).collect();
        for w in chain.windows(2) {
            w[0].kids()[0].set(Some(w[1]));
        }
        let weaks: Vec<Weak<dyn Node>> = chain.iter().map(|n| n.downgrade(&mu)).collect();
        let maps = mu.alloc(Maps { weak: GcWeakMap::new(), ids: GcIdMap::new() });
        // Keys: a chain member (alive while the chain is), a rooted lone node, a garbage one.
        let lone = node(&mu, &ledger);
        let garbage = node(&mu, &ledger);
        for key in [chain[5], lone, garbage] {
            maps.weak.insert(key, node(&mu, &ledger));
        }
        // The identity map holds its keys strongly: only live keys go in.
        for key in [chain[5], lone] {
            maps.ids.insert(key, mu.alloc_dyn(key.id(), unsize!(u64 => dyn Any)));
        }
        (chain[0].root(&mu), maps.root(&mu), weaks, lone.root(&mu))
    };
    let check_weaks = |mu: &Mutator, live: usize| {
        for (i, w) in weaks.iter().enumerate() {
            match w.upgrade(mu) {
                Some(n) => {
                    assert!(i < live, "weak reference {i} still upgrades");
                    n.check();
                    assert_eq!(n.id(), i as u64);
                }
                None => assert!(i >= live, "weak reference {i} cleared while reachable"),
            }
        }
    };
    collect2(&mut mu);
    check_weaks(&mu, 8);
    {
        let maps = maps.get(&mu);
        // The garbage key is gone from the weak map.
        assert_eq!(maps.weak.len(), 2);
        assert_eq!(maps.ids.len(), 2);
        let lone = key_root.get(&mu);
        let value = maps.weak.get(lone, &mu).expect("the lone key's entry");
        value.check();
        let id = maps.ids.get(lone, &mu).unwrap();
        assert_eq!(id.into_ref().downcast_ref::<u64>(), Some(&lone.id()));
        // Cut the chain after node 5.
        let mut n = root.get(&mu);
        for _ in 0..5 {
            n = n.kids()[0].get(&mu).unwrap();
        }
        n.kids()[0].set(None);
    }
    check_weaks(&mu, 8); // not collected yet
    collect2(&mut mu);
    check_weaks(&mu, 6);
    // Cut after node 2: key chain[5] dies, and its entry's value with it.
    {
        let n = root.get(&mu).kids()[0].get(&mu).unwrap().kids()[0].get(&mu).unwrap();
        n.kids()[0].set(None);
        maps.get(&mu).ids.clear();
    }
    collect2(&mut mu);
    check_weaks(&mu, 3);
    {
        let maps = maps.get(&mu);
        assert_eq!(maps.weak.len(), 1, "the entry of the dead chain key is gone");
        assert!(maps.weak.contains_key(key_root.get(&mu)));
    }
    let mut alive = walk(&mu, [root.get(&mu), key_root.get(&mu)]);
    let lone_value = maps.get(&mu).weak.get(key_root.get(&mu), &mu).unwrap().id();
    alive.insert(lone_value);
    ledger.check_exactly(&alive);
    drop(key_root);
    collect2(&mut mu);
    assert!(maps.get(&mu).weak.is_empty());
    drop((root, maps));
    collect2(&mut mu);
    check_weaks(&mu, 0);
    ledger.check_exactly(&HashSet::new());
}

/// A trait object that keeps a weak reference to itself.
#[derive(Trace)]
struct SelfAware {
    #[trace(skip)]
    me: Mutex<Option<Weak<dyn Label>>>,
    #[trace(skip)]
    probe: DropProbe,
}

impl Label for SelfAware {
    fn label(&self) -> String {
        format!("self-aware {}", self.probe.id)
    }
    fn myself<'m>(&self, mu: &'m Mutator) -> Option<Gc<'m, dyn Label>> {
        self.me.lock().unwrap().as_ref()?.upgrade(mu)
    }
}

/// Trait objects that keep a weak reference to themselves (stored after allocation, through
/// the concrete value `alloc_dyn_split` hands out) and upgrade it from inside their own trait
/// method; an outside weak reference to each; half of them kept. Must hold: while reachable,
/// the method finds the object itself; an unreachable one is collected all the same (its own
/// weak reference does not keep it), dropped exactly once — dropping, in its destructor, its
/// weak reference to itself — and its outside weak reference is cleared; no weak reference
/// cell is leaked.
#[test]
fn trait_objects_with_weak_references_to_themselves() {
    let _s = serial();
    let ledger = Ledger::new(100);
    let mut mu = gc_runtime::attach();
    collect2(&mut mu);
    let weak_refs0 = gc_runtime::stats().weak_refs;
    let (kept, outside) = {
        let shelf = mu.alloc(Shelf { items: GcVec::new() });
        let mut outside: Vec<Weak<dyn Label>> = Vec::new();
        for i in 0..10 {
            let value = SelfAware { me: Mutex::new(None), probe: ledger.probe() };
            let (g, value) = mu.alloc_dyn_split(value, unsize!(SelfAware => dyn Label));
            *value.me.lock().unwrap() = Some(g.downgrade(&mu));
            assert!(Gc::ptr_eq(g.myself(&mu).unwrap(), g));
            outside.push(g.downgrade(&mu));
            if i % 2 == 0 {
                shelf.items.push(g);
            }
        }
        (shelf.root(&mu), outside)
    };
    collect2(&mut mu);
    ledger.check_exactly(&(0..10).step_by(2).collect());
    for (i, w) in outside.iter().enumerate() {
        assert_eq!(w.upgrade(&mu).is_some(), i % 2 == 0, "outside weak reference {i}");
    }
    for item in kept.get(&mu).items.iter(&mu) {
        assert!(Gc::ptr_eq(item.myself(&mu).unwrap(), item), "{}", item.label());
    }
    drop(kept);
    collect2(&mut mu);
    ledger.check_exactly(&HashSet::new());
    assert!(outside.iter().all(Weak::is_cleared));
    assert_eq!(gc_runtime::stats().weak_refs, weak_refs0 + 10, "only the outside weak references are left");
    drop(outside);
    assert_eq!(gc_runtime::stats().weak_refs, weak_refs0);
}

// ---------------------------------------------------------------------------------------------
// A user's struct with an unsized tail.

/// A struct whose last field may be unsized: `dyn_object!` accepts it for the user's own type,
/// and `unsize!` then makes a struct-tail unsizing coercion.
#[derive(Trace)]
struct Framed<T: ?Sized> {
    canary: u64,
    slot: Member<dyn Node>,
    #[trace(skip)]
    probe: DropProbe,
    value: T,
}
dyn_object!(Framed<[u64]>);
dyn_object!(Framed<dyn Display>);
dyn_object!(Framed<dyn Node>);

#[derive(Trace)]
struct Frames {
    slices: GcVec<Framed<[u64]>>,
    shown: Member<Framed<dyn Display>>,
    nodes: GcVec<Framed<dyn Node>>,
}

/// `dyn_object!` for a user's struct with an unsized tail (`Framed<[u64]>`,
/// `Framed<dyn Display>`, `Framed<dyn Node>`: a trait object inside a trait object's tail,
/// one of them page-aligned), allocated through struct-tail unsizing. Must hold: the length or vtable is
/// the concrete value's (a slice of its array's length, the right `Display`, the inner node's
/// own methods), the fields before the tail are intact, the slots in the head and in the tail
/// keep their referents, and every value is dropped exactly once.
#[test]
fn a_users_struct_with_an_unsized_tail() {
    let _s = serial();
    let ledger = Ledger::new(1000);
    let mut mu = gc_runtime::attach();
    let frames = {
        let frames = mu.alloc(Frames { slices: GcVec::new(), shown: Member::new(), nodes: GcVec::new() });
        for len in [0_usize, 1, 5, 300] {
            let probe = ledger.probe();
            let canary = probe.id ^ MAGIC;
            let f: Gc<Framed<[u64]>> = match len {
                0 => mu.alloc_dyn(
                    Framed { canary, slot: Member::new(), probe, value: [0_u64; 0] },
                    unsize!(Framed<[u64; 0]> => Framed<[u64]>),
                ),
                1 => mu.alloc_dyn(
                    Framed { canary, slot: Member::new(), probe, value: [1_u64; 1] },
                    unsize!(Framed<[u64; 1]> => Framed<[u64]>),
                ),
                5 => mu.alloc_dyn(
                    Framed { canary, slot: Member::new(), probe, value: [5_u64; 5] },
                    unsize!(Framed<[u64; 5]> => Framed<[u64]>),
                ),
                _ => mu.alloc_dyn(
                    Framed { canary, slot: Member::new(), probe, value: [300_u64; 300] },
                    unsize!(Framed<[u64; 300]> => Framed<[u64]>),
                ),
            };
            assert_eq!(f.value.len(), len);
            f.slot.set(Some(node(&mu, &ledger)));
            frames.slices.push(f);
        }
        let probe = ledger.probe();
        let shown = mu.alloc_dyn(
            Framed { canary: probe.id ^ MAGIC, slot: Member::new(), probe, value: 2.5_f64 },
            unsize!(Framed<f64> => Framed<dyn Display>),
        );
        frames.shown.set(Some(shown));
        // A small inner node, and a page-aligned one (the tail's offset then comes from the
        // vtable's alignment: a page).
        let probe = ledger.probe();
        let inner = twig_value(&ledger);
        let framed_twig = mu.alloc_dyn(
            Framed { canary: probe.id ^ MAGIC, slot: Member::new(), probe, value: inner },
            unsize!(Framed<Twig> => Framed<dyn Node>),
        );
        let probe = ledger.probe();
        let inner = page_value(&ledger);
        let framed_page = mu.alloc_dyn(
            Framed { canary: probe.id ^ MAGIC, slot: Member::new(), probe, value: inner },
            unsize!(Framed<Page> => Framed<dyn Node>),
        );
        assert_eq!(value_addr(&framed_page.value) % 4096, 0, "the tail of a framed page is page-aligned");
        for framed_node in [framed_twig, framed_page] {
            framed_node.value.kids()[0].set(Some(node(&mu, &ledger)));
            framed_node.slot.set(Some(node(&mu, &ledger)));
            frames.nodes.push(framed_node);
        }
        // Garbage of each kind.
        let probe = ledger.probe();
        let _ = mu.alloc_dyn(
            Framed { canary: 0, slot: Member::new(), probe, value: [7_u64; 9] },
            unsize!(Framed<[u64; 9]> => Framed<[u64]>),
        );
        frames.root(&mu)
    };
    let garbage = ledger.created() as u64 - 1;
    collect2(&mut mu);
    let mut alive = HashSet::new();
    {
        let frames = frames.get(&mu);
        for f in frames.slices.iter(&mu) {
            assert_eq!(f.canary, f.probe.id ^ MAGIC);
            assert!(f.value.iter().all(|&v| v == f.value.len() as u64));
            alive.insert(f.probe.id);
            alive.extend(walk(&mu, f.slot.get(&mu)));
        }
        let lens: Vec<usize> = frames.slices.iter(&mu).map(|f| f.value.len()).collect();
        assert_eq!(lens, [0, 1, 5, 300]);
        let shown = frames.shown.get(&mu).unwrap();
        assert_eq!((shown.value.to_string(), shown.canary ^ MAGIC), ("2.5".to_string(), shown.probe.id));
        alive.insert(shown.probe.id);
        assert_eq!(frames.nodes.len(), 2);
        for framed_node in frames.nodes.iter(&mu) {
            assert_eq!(framed_node.canary ^ MAGIC, framed_node.probe.id);
            framed_node.value.check();
            alive.insert(framed_node.probe.id);
            alive.insert(framed_node.value.id());
            alive.extend(walk(&mu, framed_node.value.kids()[0].get(&mu)));
            alive.extend(walk(&mu, framed_node.slot.get(&mu)));
        }
    }
    assert!(!alive.contains(&garbage));
    ledger.check_exactly(&alive);
    drop(frames);
    collect2(&mut mu);
    ledger.check_exactly(&HashSet::new());
}

// ---------------------------------------------------------------------------------------------
// Concurrent stress under every configuration.

trait Vert {
    fn id(&self) -> u64;
    fn check(&self);
    fn edges(&self) -> &[Member<dyn Vert>];
    fn list(&self) -> Option<&GcVec<dyn Vert>> {
        None
    }
}
dyn_object!(dyn Vert);

/// Small: a size class.
#[derive(Trace)]
struct VSmall {
    id: u64,
    canary: u64,
    edges: [Member<dyn Vert>; 2],
    #[trace(skip)]
    probe: DropProbe,
}

/// Over-aligned: the large-object path.
#[derive(Trace)]
#[repr(align(64))]
struct VWide {
    canary: u64,
    payload: [u64; 6],
    edges: [Member<dyn Vert>; 3],
    id: u64,
    #[trace(skip)]
    probe: DropProbe,
}

/// Slots out of line, and a collection of trait objects.
#[derive(Trace)]
struct VList {
    id: u64,
    edges: Box<[Member<dyn Vert>]>,
    list: GcVec<dyn Vert>,
    canary: u64,
    #[trace(skip)]
    probe: DropProbe,
}

impl Vert for VSmall {
    fn id(&self) -> u64 {
        self.id
    }
    fn check(&self) {
        assert_eq!((self.canary, self.probe.id), (self.id ^ MAGIC, self.id), "small vertex corrupted");
    }
    fn edges(&self) -> &[Member<dyn Vert>] {
        &self.edges
    }
}

impl Vert for VWide {
    fn id(&self) -> u64 {
        self.id
    }
    fn check(&self) {
        assert_eq!((self.canary, self.probe.id), (!self.id, self.id), "wide vertex corrupted");
        assert!(self.payload.iter().enumerate().all(|(i, &p)| p == self.id.wrapping_add(i as u64)));
        assert_eq!(value_addr(self) % 64, 0);
    }
    fn edges(&self) -> &[Member<dyn Vert>] {
        &self.edges
    }
}

impl Vert for VList {
    fn id(&self) -> u64 {
        self.id
    }
    fn check(&self) {
        assert_eq!((self.canary, self.probe.id), (self.id.rotate_left(9), self.id), "list vertex corrupted");
        assert_eq!(self.edges.len(), 3);
    }
    fn edges(&self) -> &[Member<dyn Vert>] {
        &self.edges
    }
    fn list(&self) -> Option<&GcVec<dyn Vert>> {
        Some(&self.list)
    }
}

fn vert<'m>(mu: &'m Mutator, ledger: &Arc<Ledger>, rng: &mut Rng) -> Gc<'m, dyn Vert> {
    let probe = ledger.probe();
    let id = probe.id;
    match rng.below(3) {
        0 => mu.alloc_dyn(
            VSmall { id, canary: id ^ MAGIC, edges: [Member::new(), Member::new()], probe },
            unsize!(VSmall => dyn Vert),
        ),
        1 => mu.alloc_dyn(
            VWide {
                canary: !id,
                payload: std::array::from_fn(|i| id.wrapping_add(i as u64)),
                edges: std::array::from_fn(|_| Member::new()),
                id,
                probe,
            },
            unsize!(VWide => dyn Vert),
        ),
        _ => mu.alloc_dyn(
            VList {
                id,
                edges: (0..3).map(|_| Member::new()).collect(),
                list: GcVec::new(),
                canary: id.rotate_left(9),
                probe,
            },
            unsize!(VList => dyn Vert),
        ),
    }
}

const SLOTS: usize = 32;

#[derive(Trace)]
struct WorkingSet {
    slots: [Member<dyn Vert>; SLOTS],
}

/// One stress thread: rewire a working set of vertices (new vertices, edges, moves from edges
/// and lists into the set, list pushes and pops, clears), keep weak references to some and
/// upgrade them, check every vertex read.
fn stress_mutator(ledger: &Arc<Ledger>, seed: u64, stop: &AtomicBool, ops: &AtomicU64) {
    let mut mu = gc_runtime::attach();
    let mut rng = Rng(seed);
    let set = mu.alloc(WorkingSet { slots: std::array::from_fn(|_| Member::new()) }).root(&mu);
    let mut weaks: Vec<Weak<dyn Vert>> = Vec::new();
    let mut n = 0_u64;
    while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(1000) {
        {
            let set = set.get(&mu);
            let slot = &set.slots[rng.below(SLOTS)];
            let other = set.slots[rng.below(SLOTS)].get(&mu);
            match (rng.below(9), slot.get(&mu)) {
                (0 | 1, _) => slot.set(Some(vert(&mu, ledger, &mut rng))),
                (2, Some(a)) => a.edges()[rng.below(a.edges().len())].set(other),
                (3, Some(a)) => {
                    if let Some(b) = a.edges().iter().find_map(|e| e.get(&mu)) {
                        b.check();
                        slot.set(Some(b));
                    }
                }
                (4, Some(a)) => {
                    if let (Some(list), Some(o)) = (a.list(), other) {
                        if list.len() > 8 {
                            list.pop(&mu).unwrap().check();
                        }
                        list.push(o);
                    }
                }
                (5, Some(a)) => {
                    if let Some(b) = a.list().and_then(|l| l.get(rng.below(l.len()), &mu)) {
                        b.check();
                        slot.set(Some(b));
                    }
                }
                (6, Some(a)) => {
                    if weaks.len() < 8 {
                        weaks.push(a.downgrade(&mu));
                    } else {
                        weaks[rng.below(8)] = a.downgrade(&mu);
                    }
                }
                (7, _) if !weaks.is_empty() => {
                    if let Some(b) = weaks[rng.below(weaks.len())].upgrade(&mu) {
                        b.check();
                        if rng.below(4) == 0 {
                            slot.set(Some(b));
                        }
                    }
                }
                (8, Some(a)) => {
                    a.check();
                    for b in a.edges().iter().filter_map(|e| e.get(&mu)) {
                        b.check();
                    }
                    slot.set(None);
                }
                _ => {}
            }
        }
        n += 1;
        if n % 8 == 0 {
            mu.safepoint();
        }
    }
    let set = set.get(&mu);
    for a in set.slots.iter().filter_map(|s| s.get(&mu)) {
        a.check();
        assert!(a.id() < ledger.created() as u64);
    }
    ops.fetch_add(n, Ordering::Relaxed);
}

/// Three threads rewire graphs of trait objects of three layouts (small; over-aligned, on the
/// large-object path; slots in a box plus a `GcVec` of trait objects) and keep weak references
/// to them, while a fourth collects back to back, under every configuration (stop-the-world,
/// each barrier with and without handshakes), checkmark on. Must hold: every vertex read is
/// intact (canaries, probe, alignment), checkmark finds nothing missed, cycles ran, and at the
/// end every vertex is dropped exactly once.
#[test]
fn concurrent_rewiring_of_three_layouts_under_every_configuration() {
    for config in common::every_config() {
        let _s = common::serial_only();
        let label = format!("{config:?}");
        gc_runtime::reconfigure(config.with_gc_percent(Some(50))).unwrap();
        let ledger = Ledger::new(2_000_000);
        let (cycles, ops) = common::churn(3, 400, |seed, stop, ops| stress_mutator(&ledger, seed, stop, ops));
        assert!(cycles >= 2, "{label}: only {cycles} cycles ran");
        assert!(ops > 0, "{label}");
        let mut mu = gc_runtime::attach();
        collect2(&mut mu);
        ledger.check_exactly(&HashSet::new());
    }
    gc_runtime::reconfigure(base()).unwrap();
}
