//! Stress with a hostile object mix: mutator threads churn a shared graph of small, large
//! (over 8 KiB) and over-aligned objects, whose fields' destructors allocate, panic (with a
//! payload that panics again), try to attach, and drop roots and weak references, next to a
//! map whose keys allocate in `Hash` and `Eq` — while cycles run back to back with checkmark
//! on, once per barrier.
//!
//! Every node carries a canary checked on each access; at the end one more collection must
//! leave exactly the nodes reachable from the roots alive, and every freed node's fields must
//! have been dropped exactly once. The long profile sets `GC_STRESS_MILLIS`; CI runs this file
//! under ThreadSanitizer, and its small form (sizes shrink under `cfg(miri)`) under Miri.

use std::{
    cell::RefCell,
    hash::{Hash, Hasher},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    thread,
    time::{Duration, Instant},
};

mod common;

use common::{child::spawn_collector, DropProbe, Ledger, Rng};
use gc_runtime::{BarrierKind, Config, Gc, GcMap, Member, Mode, Mutator, Root, Trace, Weak};

const INITIAL_NODES: usize = if cfg!(miri) { 32 } else { 4_000 };
const ROOT_SLOTS: usize = 16;
/// Root slots `0..STABLE_ROOTS` hold chains the mutators never cut.
const STABLE_ROOTS: usize = 4;
const MUTATORS: usize = 2;
const RUN_FOR_MILLIS: u64 = if cfg!(miri) { 100 } else { 1500 };
const LEDGER: usize = if cfg!(miri) { 20_000 } else { 4_000_000 };
/// Ids kept in reserve: mutators stop when fewer are left.
const LEDGER_MARGIN: usize = if cfg!(miri) { 5_000 } else { 50_000 };
const MAGIC: u64 = 0xA076_1D64_78BD_642F;
/// Rounds every mutator runs whatever the clock says (under Miri a run of 100 ms of wall time
/// may otherwise do almost nothing).
const MIN_ROUNDS: usize = if cfg!(miri) { 4 } else { 1 };
/// Operations a mutator runs between two safepoints.
const OPS_PER_SAFEPOINT: usize = if cfg!(miri) { 4 } else { 32 };

static SERIAL: Mutex<()> = Mutex::new(());

thread_local! {
    /// The mutating thread's mutator, reachable from keys' `Hash`/`Eq` (and, on a mutator
    /// thread, from any destructor that would run there — none should).
    static THREAD_MUTATOR: RefCell<Option<Mutator>> = const { RefCell::new(None) };
}

/// What a node's fields do when they are dropped.
enum OnDrop {
    Nothing,
    /// Try to allocate through this thread's mutator, or to attach one.
    Allocate,
    /// Panic with a payload whose destructor panics too.
    Panic,
    /// Drop a root and a weak reference (on whatever thread destructors run).
    DropHandles(Option<Root<Node>>, Option<Weak<Node>>),
}

/// Set if a destructor ever reached a mutator or attached one (it must not be able to).
static DESTRUCTOR_USED_THE_HEAP: AtomicBool = AtomicBool::new(false);

struct Payload;

impl Drop for Payload {
    fn drop(&mut self) {
        panic!("the panic payload's destructor panics");
    }
}

struct Hostile(OnDrop);

impl Drop for Hostile {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.0, OnDrop::Nothing) {
            OnDrop::Nothing => {}
            OnDrop::Allocate => {
                let allocated = THREAD_MUTATOR
                    .try_with(|m| {
                        let m = m.try_borrow().ok()?;
                        let mu = m.as_ref()?;
                        Some(mu.alloc(String::from("allocated in a destructor")).len())
                    })
                    .ok()
                    .flatten();
                // Not asserted here: a panic in a destructor is caught and only counted.
                if allocated.is_some() || gc_runtime::try_attach().is_ok() {
                    DESTRUCTOR_USED_THE_HEAP.store(true, Ordering::SeqCst);
                }
            }
            OnDrop::Panic => std::panic::panic_any(Payload),
            OnDrop::DropHandles(root, weak) => {
                drop(root);
                drop(weak);
            }
        }
    }
}

#[derive(Trace)]
struct Node {
    id: u64,
    canary: u64,
    edges: [Member<Node>; 2],
    #[trace(skip)]
    probe: DropProbe,
    #[trace(skip)]
    hostile: Hostile,
}

/// Over 8 KiB: a large object.
#[derive(Trace)]
struct BigNode {
    node: Node,
    bulk: [u64; 1100],
}

/// Aligned past 16: a large object too.
#[derive(Trace)]
#[repr(align(64))]
struct AlignedNode {
    node: Node,
}

/// Shared maps, reachable from one root: nodes under allocating keys, and the big and aligned
/// nodes (each wraps a `Node`, whose edges and handles link it into the graph).
#[derive(Trace)]
struct Hub {
    by_key: GcMap<AllocatingKey, Node>,
    big: GcMap<u64, BigNode>,
    aligned: GcMap<u64, AlignedNode>,
}

impl Node {
    fn check(&self) -> u64 {
        assert_eq!(self.canary, self.id ^ MAGIC, "canary of node {} corrupted", self.id);
        assert_eq!(self.probe.id, self.id);
        self.id
    }
}

/// A key whose `Hash` and `Eq` allocate through the thread's mutator.
#[derive(Clone)]
struct AllocatingKey(u64);

fn allocate_a_little() {
    let _ = THREAD_MUTATOR.try_with(|m| {
        if let Ok(m) = m.try_borrow() {
            if let Some(mu) = m.as_ref() {
                mu.alloc([0u64; 16]);
            }
        }
    });
}

impl Hash for AllocatingKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        allocate_a_little();
        self.0.hash(state);
    }
}

impl PartialEq for AllocatingKey {
    fn eq(&self, other: &Self) -> bool {
        allocate_a_little();
        self.0 == other.0
    }
}

impl Eq for AllocatingKey {}

struct Shared {
    ledger: Arc<Ledger>,
    roots: Vec<Mutex<Option<Root<Node>>>>,
    hub: Mutex<Option<Root<Hub>>>,
    /// Leaf nodes that roots held in nodes' fields point to (see [`anchor`]).
    anchors: Mutex<Vec<Root<Node>>>,
}

const ANCHORS: usize = 4;

fn node_value(mu: &Mutator, shared: &Shared, rng: &mut Rng, keep: Option<Gc<'_, Node>>) -> Node {
    let probe = shared.ledger.probe();
    let id = probe.id;
    let hostile = match rng.below(6) {
        0 => OnDrop::Allocate,
        1 => OnDrop::Panic,
        2 => OnDrop::DropHandles(keep.map(|k| k.root(mu)), keep.map(|k| k.downgrade(mu))),
        _ => OnDrop::Nothing,
    };
    Node { id, canary: id ^ MAGIC, edges: [Member::new(), Member::new()], probe, hostile: Hostile(hostile) }
}

fn new_node<'m>(mu: &'m Mutator, shared: &Shared, rng: &mut Rng, keep: Option<Gc<'_, Node>>) -> Gc<'m, Node> {
    let value = node_value(mu, shared, rng, keep);
    mu.alloc(value)
}

fn with_mutator<R>(f: impl FnOnce(&Mutator) -> R) -> R {
    THREAD_MUTATOR.with(|m| f(m.borrow().as_ref().expect("attached")))
}

fn pick<'m>(mu: &'m Mutator, shared: &Shared, rng: &mut Rng) -> Option<Gc<'m, Node>> {
    let start = rng.below(ROOT_SLOTS);
    let mut node = (0..ROOT_SLOTS)
        .find_map(|i| shared.roots[(start + i) % ROOT_SLOTS].lock().unwrap().as_ref().map(|r| r.get(mu)))?;
    node.check();
    for _ in 0..rng.below(8) {
        match node.edges[rng.below(2)].get(mu) {
            Some(next) => {
                next.check();
                node = next;
            }
            None => break,
        }
    }
    Some(node)
}

/// An anchor: what roots held in nodes' fields point to. Anchors are leaves outside the graph:
/// a root in a field is strong, like an `Arc`, and two garbage nodes holding roots to each other
/// would keep each other alive, so the oracle below could not tell them from a leak.
fn anchor<'m>(mu: &'m Mutator, shared: &Shared, rng: &mut Rng) -> Option<Gc<'m, Node>> {
    shared.anchors.lock().unwrap().get(rng.below(ANCHORS)).map(|r| r.get(mu))
}

fn hub<'m>(mu: &'m Mutator, shared: &Shared) -> Gc<'m, Hub> {
    shared.hub.lock().unwrap().as_ref().expect("built").get(mu)
}

fn mutate(shared: &Shared, seed: u64, stop: &AtomicBool, ops: &AtomicU64) {
    THREAD_MUTATOR.with(|m| *m.borrow_mut() = Some(gc_runtime::attach()));
    let mut rng = Rng(seed | 1);
    let mut n = 0;
    let mut rounds = 0;
    while (rounds < MIN_ROUNDS || !stop.load(Ordering::Relaxed)) && !shared.ledger.nearly_full(LEDGER_MARGIN) {
        rounds += 1;
        with_mutator(|mu| {
            for _ in 0..OPS_PER_SAFEPOINT {
                n += 1;
                let Some(a) = pick(mu, shared, &mut rng) else { continue };
                let h = hub(mu, shared);
                match rng.below(10) {
                    0..=2 => {
                        let keep = anchor(mu, shared, &mut rng);
                        let fresh = new_node(mu, shared, &mut rng, keep);
                        a.edges[1].set(Some(fresh));
                    }
                    3 => a.edges[1].set(None),
                    4 => {
                        if let Some(b) = pick(mu, shared, &mut rng) {
                            a.edges[1].set(Some(b));
                        }
                    }
                    5 => {
                        let old = shared.roots[STABLE_ROOTS + rng.below(ROOT_SLOTS - STABLE_ROOTS)]
                            .lock()
                            .unwrap()
                            .replace(a.root(mu));
                        drop(old);
                    }
                    6 => {
                        let keep = anchor(mu, shared, &mut rng);
                        let value = node_value(mu, shared, &mut rng, keep);
                        let big = mu.alloc(BigNode { node: value, bulk: [7; 1100] });
                        h.big.insert(rng.below(64) as u64, big);
                    }
                    7 => {
                        let value = node_value(mu, shared, &mut rng, None);
                        let aligned = mu.alloc(AlignedNode { node: value });
                        h.aligned.insert(rng.below(64) as u64, aligned);
                    }
                    8 => {
                        h.by_key.insert(AllocatingKey(rng.below(256) as u64), a);
                        if let Some(x) = h.by_key.get(&AllocatingKey(rng.below(256) as u64), mu) {
                            x.check();
                        }
                    }
                    _ => {
                        if let Some(x) = h.by_key.remove(&AllocatingKey(rng.below(256) as u64), mu) {
                            x.check();
                        }
                        for big in h.big.values(mu) {
                            big.node.check();
                            assert_eq!((big.bulk[0], big.bulk[1099]), (7, 7));
                        }
                        for al in h.aligned.values(mu) {
                            al.node.check();
                            assert_eq!((&*al as *const AlignedNode).addr() % 64, 0);
                        }
                    }
                }
            }
        });
        THREAD_MUTATOR.with(|m| m.borrow_mut().as_mut().expect("attached").safepoint());
    }
    ops.fetch_add(n, Ordering::Relaxed);
    THREAD_MUTATOR.with(|m| m.borrow_mut().take());
}

fn build(shared: &Shared) {
    let mu = gc_runtime::attach();
    let mut rng = Rng(0xC0FF_EE00);
    let per_root = INITIAL_NODES / STABLE_ROOTS;
    for slot in &shared.roots[..STABLE_ROOTS] {
        let head = new_node(&mu, shared, &mut rng, None);
        let mut tail = head;
        for _ in 1..per_root {
            let n = new_node(&mu, shared, &mut rng, None);
            tail.edges[0].set(Some(n));
            tail = n;
        }
        *slot.lock().unwrap() = Some(head.root(&mu));
    }
    let hub = mu.alloc(Hub { by_key: GcMap::new(), big: GcMap::new(), aligned: GcMap::new() });
    *shared.hub.lock().unwrap() = Some(hub.root(&mu));
    let mut anchors = shared.anchors.lock().unwrap();
    for _ in 0..ANCHORS {
        let probe = shared.ledger.probe();
        let id = probe.id;
        let leaf = Node {
            id,
            canary: id ^ MAGIC,
            edges: [Member::new(), Member::new()],
            probe,
            hostile: Hostile(OnDrop::Nothing),
        };
        anchors.push(mu.alloc(leaf).root(&mu));
    }
}

fn reachable_ids(mu: &Mutator, shared: &Shared) -> Vec<bool> {
    let mut seen = vec![false; shared.ledger.capacity()];
    let mut stack: Vec<Gc<'_, Node>> =
        shared.roots.iter().filter_map(|r| r.lock().unwrap().as_ref().map(|r| r.get(mu))).collect();
    stack.extend(shared.anchors.lock().unwrap().iter().map(|r| r.get(mu)));
    let h = hub(mu, shared);
    stack.extend(h.by_key.values(mu));
    // What a node keeps alive: its edges, and the referent of a root held in its field.
    let children = |n: &Node| {
        let mut out: Vec<Gc<'_, Node>> = n.edges.iter().filter_map(|e| e.get(mu)).collect();
        if let OnDrop::DropHandles(Some(r), _) = &n.hostile.0 {
            out.push(r.get(mu));
        }
        out
    };
    let mut mark = |id: u64| std::mem::replace(&mut seen[id as usize], true);
    for big in h.big.values(mu) {
        mark(big.node.check());
        stack.extend(children(&big.node));
    }
    for al in h.aligned.values(mu) {
        mark(al.node.check());
        stack.extend(children(&al.node));
    }
    while let Some(n) = stack.pop() {
        if !mark(n.check()) {
            stack.extend(children(&n));
        }
    }
    seen
}

fn run_for() -> Duration {
    let millis =
        std::env::var("GC_STRESS_MILLIS").map_or(RUN_FOR_MILLIS, |v| v.parse().expect("GC_STRESS_MILLIS is a number"));
    Duration::from_millis(millis)
}

fn run(barrier: BarrierKind) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    quiet_finalizer_panics();
    gc_runtime::reconfigure(
        Config::default()
            .with_mode(Mode::Concurrent)
            .with_barrier(barrier)
            .with_checkmark(true)
            .with_gc_percent(Some(50))
            .with_min_heap(256 * 1024),
    )
    .unwrap();
    let shared = Arc::new(Shared {
        ledger: Ledger::new(LEDGER),
        roots: (0..ROOT_SLOTS).map(|_| Mutex::new(None)).collect(),
        hub: Mutex::new(None),
        anchors: Mutex::new(Vec::new()),
    });
    build(&shared);
    let panics_before = gc_runtime::stats().drop_panics;
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for t in 0..MUTATORS {
        let (shared, stop, ops) = (shared.clone(), stop.clone(), ops.clone());
        threads.push(thread::spawn(move || mutate(&shared, 0x9E37_79B9 * (t as u64 + 1), &stop, &ops)));
    }
    let collector = spawn_collector(&stop);
    let deadline = Instant::now() + run_for();
    while Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("mutator thread failed");
    }
    collector.join().unwrap();

    let mut mu = gc_runtime::attach();
    // Roots held by dead nodes' fields are dropped by their destructors, which makes what they
    // held garbage for the next collection: collect until nothing more is freed.
    collect_to_fixpoint(&mut mu, &shared);
    assert!(!DESTRUCTOR_USED_THE_HEAP.load(Ordering::SeqCst), "a destructor reached a mutator or attached one");
    let reachable = reachable_ids(&mu, &shared);
    let created = shared.ledger.created();
    let mut freed = 0;
    for (id, &reachable) in reachable.iter().take(created).enumerate() {
        let drops = shared.ledger.drops(id as u64);
        assert!(drops <= 1, "node {id} dropped {drops} times");
        assert_eq!(drops == 0, reachable, "node {id}: reachable={reachable} but dropped {drops} times");
        freed += drops as usize;
    }
    assert!(freed > 0, "the run produced garbage");
    let panics = gc_runtime::stats().drop_panics - panics_before;
    assert!(panics > 0 || cfg!(miri), "some destructors panicked (and were counted)");
    eprintln!(
        "{barrier:?}: {} ops, {created} nodes, {freed} freed, {panics} destructor panics",
        ops.load(Ordering::Relaxed)
    );
    for r in &shared.roots {
        r.lock().unwrap().take();
    }
    shared.hub.lock().unwrap().take();
    shared.anchors.lock().unwrap().clear();
    collect_to_fixpoint(&mut mu, &shared);
    let still = (0..created as u64).filter(|&id| shared.ledger.drops(id) == 0).count();
    assert_eq!(still, 0, "with no roots every node is freed");
}

/// Collect until a collection frees nothing more.
fn collect_to_fixpoint(mu: &mut Mutator, shared: &Shared) {
    let dropped = || (0..shared.ledger.created() as u64).filter(|&id| shared.ledger.drops(id) > 0).count();
    let mut before = usize::MAX;
    loop {
        mu.collect();
        let now = dropped();
        if now == before {
            return;
        }
        before = now;
    }
}

/// The destructor panics here are expected: keep the default hook quiet for them.
fn quiet_finalizer_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        common::quiet_panics_on_the_finalizer();
    });
}

#[test]
fn hostile_mix_dijkstra() {
    run(BarrierKind::Dijkstra);
}

#[test]
fn hostile_mix_yuasa() {
    run(BarrierKind::Yuasa);
}

#[test]
fn hostile_mix_hybrid() {
    run(BarrierKind::Hybrid);
}
