//! Stress: mutator threads create, link, unlink, root, unroot and drop objects in a shared graph
//! while collection cycles run back to back, in concurrent mode with checkmark on (every cycle
//! is verified by a stop-the-world re-mark), once per barrier kind.
//!
//! The mutators store pointers every way the API allows: slots, roots, GC vectors, a map with
//! plain keys, a map keyed by object identity, and objects revived by upgrading weak
//! references. Every node carries a canary checked on every access. At the end, a full collection must
//! leave exactly the nodes reachable from the roots (checked against a traversal), and the
//! destructor of every freed node's fields must have run exactly once.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    thread,
    time::{Duration, Instant},
};

mod common;

use common::{DropProbe, Ledger, Rng};
use gc_runtime::{BarrierKind, Config, Gc, GcIdMap, GcMap, GcVec, Member, Mode, Mutator, Root, Trace, Weak};

const INITIAL_NODES: usize = if cfg!(miri) { 500 } else { 50_000 };
const ROOT_SLOTS: usize = 64;
/// Root slots `0..STABLE_ROOTS` hold the heads of chains linked through `edges[0]`; mutators
/// never change those, so the graph keeps at least `INITIAL_NODES` nodes. Everything else
/// (the other root slots, `edges[1..]`) is churned.
const STABLE_ROOTS: usize = 32;
const EDGES: usize = 3;
const MUTATORS: usize = 3;
const RUN_FOR_MILLIS: u64 = if cfg!(miri) { 200 } else { 2500 };
/// Node ids available to one run; mutators stop early when they are nearly used up.
const LEDGER: usize = 8_000_000;
const MAGIC: u64 = 0x9E37_79B9_7F4A_7C15;

/// Serialises the tests of this file: they share the process-wide heap and reconfigure it.
static SERIAL: Mutex<()> = Mutex::new(());

#[derive(Trace)]
struct Node {
    id: u64,
    canary: u64,
    edges: [Member<Node>; EDGES],
    kids: GcVec<Node>,
    #[trace(skip)]
    probe: DropProbe,
    payload: Vec<u8>,
}

impl Node {
    fn check(&self) -> u64 {
        assert_eq!(self.canary, self.id ^ MAGIC, "canary of node {} corrupted", self.id);
        assert_eq!(self.probe.id, self.id);
        assert!(self.payload.iter().all(|&b| b == self.id as u8), "payload of node {} corrupted", self.id);
        self.id
    }
}

/// Shared maps, reachable from one root.
#[derive(Trace)]
struct Hub {
    by_id: GcMap<u64, Node>,
    pairs: GcIdMap<Node, Node>,
}

struct Shared {
    ledger: Arc<Ledger>,
    roots: Vec<Mutex<Option<Root<Node>>>>,
    hub: Mutex<Option<Root<Hub>>>,
}

impl Shared {
    fn hub<'m>(&self, mu: &'m Mutator) -> Gc<'m, Hub> {
        self.hub.lock().unwrap().as_ref().expect("built").get(mu)
    }
}

fn new_node<'m>(mu: &'m Mutator, shared: &Shared) -> Gc<'m, Node> {
    let probe = shared.ledger.probe();
    let id = probe.id;
    let payload = vec![id as u8; (id % 7) as usize * 8];
    mu.alloc(Node {
        id,
        canary: id ^ MAGIC,
        edges: std::array::from_fn(|_| Member::new()),
        kids: GcVec::new(),
        probe,
        payload,
    })
}

/// Which parts of the graph the mutators may change.
trait Churn {
    /// An edge mutators may change.
    fn churn_edge(&mut self) -> usize;
    /// A root slot mutators may change.
    fn churn_slot(&mut self) -> usize;
}

impl Churn for Rng {
    fn churn_edge(&mut self) -> usize {
        1 + self.below(EDGES - 1)
    }
    fn churn_slot(&mut self) -> usize {
        STABLE_ROOTS + self.below(ROOT_SLOTS - STABLE_ROOTS)
    }
}

/// A random node reachable from a random root, by a short random walk (checking canaries).
fn pick<'m>(mu: &'m Mutator, shared: &Shared, rng: &mut Rng) -> Option<Gc<'m, Node>> {
    let start = rng.below(ROOT_SLOTS);
    let mut node = (0..ROOT_SLOTS)
        .find_map(|i| shared.roots[(start + i) % ROOT_SLOTS].lock().unwrap().as_ref().map(|r| r.get(mu)))?;
    node.check();
    for _ in 0..rng.below(12) {
        match node.edges[rng.below(EDGES)].get(mu) {
            Some(next) => {
                next.check();
                node = next;
            }
            None => break,
        }
    }
    Some(node)
}

fn mutate(shared: &Shared, seed: u64, stop: &AtomicBool, ops: &AtomicU64) {
    let mut mu = gc_runtime::attach();
    let mut rng = Rng(seed | 1);
    let mut n = 0u64;
    let mut weaks: Vec<Weak<Node>> = Vec::new();
    while !stop.load(Ordering::Relaxed) && !shared.ledger.nearly_full(100_000) {
        for _ in 0..64 {
            n += 1;
            let Some(a) = pick(&mu, shared, &mut rng) else {
                let fresh = new_node(&mu, shared);
                *shared.roots[rng.churn_slot()].lock().unwrap() = Some(fresh.root(&mu));
                continue;
            };
            match rng.below(100) {
                // create and link a fresh node (or a short chain of them)
                0..=29 => {
                    let fresh = new_node(&mu, shared);
                    if rng.below(4) == 0 {
                        let tail = new_node(&mu, shared);
                        fresh.edges[0].set(Some(tail));
                    }
                    a.edges[rng.churn_edge()].set(Some(fresh));
                }
                // link to another reachable node (makes cycles and shared structure)
                30..=49 => {
                    if let Some(b) = pick(&mu, shared, &mut rng) {
                        a.edges[rng.churn_edge()].set(Some(b));
                    }
                }
                // unlink (creates garbage)
                50..=64 => a.edges[rng.churn_edge()].set(None),
                // move a node into a root slot, dropping whatever root was there
                65..=72 => {
                    let old = shared.roots[rng.churn_slot()].lock().unwrap().replace(a.root(&mu));
                    drop(old);
                }
                // unroot
                73..=76 => drop(shared.roots[rng.churn_slot()].lock().unwrap().take()),
                // re-point an existing root
                77..=80 => {
                    if let Some(r) = shared.roots[rng.churn_slot()].lock().unwrap().as_ref() {
                        r.set(a);
                    }
                }
                // GC vectors: push, pop, overwrite, shrink
                81..=83 => {
                    let kid = if rng.below(2) == 0 { new_node(&mu, shared) } else { a };
                    a.kids.push(kid);
                    if a.kids.len() > 8 {
                        a.kids.truncate(4);
                    }
                }
                84 => {
                    if let Some(k) = a.kids.pop(&mu) {
                        k.check();
                    }
                }
                85 => {
                    if !a.kids.is_empty() {
                        let i = rng.below(a.kids.len());
                        let _ = a.kids.try_set(i, new_node(&mu, shared));
                    }
                }
                // the plain-key map and the identity map
                86..=87 => {
                    let hub = shared.hub(&mu);
                    hub.by_id.insert(rng.below(4096) as u64, a);
                }
                88 => {
                    let hub = shared.hub(&mu);
                    if let Some(x) = hub.by_id.remove(&(rng.below(4096) as u64), &mu) {
                        x.check();
                    }
                }
                89..=90 => {
                    let hub = shared.hub(&mu);
                    if let Some(b) = pick(&mu, shared, &mut rng) {
                        hub.pairs.insert(a, b);
                        if hub.pairs.len() > 2048 {
                            hub.pairs.clear();
                        }
                    }
                }
                // weak references: make one, or revive an object through one
                91..=93 => {
                    if rng.below(2) == 0 || weaks.is_empty() {
                        weaks.push(new_node(&mu, shared).downgrade(&mu));
                        if weaks.len() > 256 {
                            weaks.retain(|w| !w.is_cleared());
                            weaks.truncate(128);
                        }
                    } else if let Some(revived) = weaks[rng.below(weaks.len())].upgrade(&mu) {
                        revived.check();
                        a.edges[rng.churn_edge()].set(Some(revived));
                    }
                }
                // read a longer path
                _ => {
                    let mut cur = a;
                    for _ in 0..32 {
                        match cur.edges[rng.below(EDGES)].get(&mu) {
                            Some(next) => {
                                next.check();
                                cur = next;
                            }
                            None => break,
                        }
                    }
                }
            }
        }
        mu.safepoint();
    }
    ops.fetch_add(n, Ordering::Relaxed);
}

/// Build `INITIAL_NODES` nodes: chains hanging off the root slots, every node also linked to
/// two random earlier nodes, so that cutting one edge rarely disconnects much.
fn build(shared: &Shared) {
    let mut mu = gc_runtime::attach();
    let mut rng = Rng(0xDEAD_BEEF);
    {
        let mut all: Vec<Gc<'_, Node>> = Vec::with_capacity(INITIAL_NODES);
        let per_root = INITIAL_NODES / STABLE_ROOTS;
        for slot in &shared.roots[..STABLE_ROOTS] {
            let head = new_node(&mu, shared);
            let mut tail = head;
            all.push(head);
            for _ in 1..per_root {
                let n = new_node(&mu, shared);
                tail.edges[0].set(Some(n));
                n.edges[1].set(Some(all[rng.below(all.len())]));
                n.edges[2].set(Some(all[rng.below(all.len())]));
                all.push(n);
                tail = n;
            }
            *slot.lock().unwrap() = Some(head.root(&mu));
        }
        for slot in &shared.roots[STABLE_ROOTS..] {
            *slot.lock().unwrap() = Some(all[rng.below(all.len())].root(&mu));
        }
        let hub = mu.alloc(Hub { by_id: GcMap::new(), pairs: GcIdMap::new() });
        *shared.hub.lock().unwrap() = Some(hub.root(&mu));
    }
    mu.safepoint();
}

fn reachable_ids(mu: &Mutator, shared: &Shared) -> Vec<bool> {
    let mut seen = vec![false; shared.ledger.capacity()];
    let mut stack: Vec<Gc<'_, Node>> =
        shared.roots.iter().filter_map(|r| r.lock().unwrap().as_ref().map(|r| r.get(mu))).collect();
    let hub = shared.hub(mu);
    stack.extend(hub.by_id.values(mu));
    hub.pairs.for_each(mu, |k, v| stack.extend([k, v]));
    while let Some(n) = stack.pop() {
        let id = n.check() as usize;
        if std::mem::replace(&mut seen[id], true) {
            continue;
        }
        stack.extend(n.edges.iter().filter_map(|e| e.get(mu)));
        stack.extend(n.kids.iter(mu));
    }
    seen
}

/// How long the mutators run: 2.5 s per barrier (0.2 s under Miri), or `GC_STRESS_MILLIS`
/// (the long profile in DEVELOPMENT.md).
fn run_for() -> Duration {
    let millis =
        std::env::var("GC_STRESS_MILLIS").map_or(RUN_FOR_MILLIS, |v| v.parse().expect("GC_STRESS_MILLIS is a number"));
    Duration::from_millis(millis)
}

fn run(barrier: BarrierKind) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    gc_runtime::reconfigure(
        Config::default()
            .with_mode(Mode::Concurrent)
            .with_barrier(barrier)
            .with_checkmark(true)
            .with_gc_percent(Some(50)),
    )
    .unwrap();
    let shared = Arc::new(Shared {
        ledger: Ledger::new(LEDGER),
        roots: (0..ROOT_SLOTS).map(|_| Mutex::new(None)).collect(),
        hub: Mutex::new(None),
    });
    build(&shared);
    let cycles_before = gc_runtime::stats().cycles;
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for t in 0..MUTATORS {
        let (shared, stop, ops) = (shared.clone(), stop.clone(), ops.clone());
        threads.push(thread::spawn(move || mutate(&shared, 0x1234_5678 * (t as u64 + 1), &stop, &ops)));
    }
    // Cycles back to back.
    let collector = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut mu = gc_runtime::attach();
            while !stop.load(Ordering::Relaxed) {
                mu.collect();
            }
        })
    };
    // For `run_for()`, and until the cycles checked below have run (a loaded machine may need
    // far longer for them), two minutes at most.
    let (started, min) = (Instant::now(), run_for());
    while started.elapsed() < min
        || (gc_runtime::stats().cycles - cycles_before < 2 && started.elapsed() < Duration::from_secs(120))
    {
        thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("mutator thread failed");
    }
    collector.join().unwrap();

    let stats = gc_runtime::stats();
    let cycles = stats.cycles - cycles_before;
    assert!(cycles >= 2, "cycles must have run during the mutation ({cycles})");
    let verified: Vec<_> = stats.recent.iter().rev().take(cycles as usize).collect();
    assert!(verified.iter().all(|c| c.checkmarked_objects.is_some()), "checkmark ran on every cycle");
    assert!(verified.iter().all(|c| c.barrier == barrier && c.mode == Mode::Concurrent));

    // The oracle: one more full collection, then exactly the reachable nodes are alive.
    let mut mu = gc_runtime::attach();
    mu.collect();
    let reachable = reachable_ids(&mu, &shared);
    let created = shared.ledger.created();
    let mut freed = 0;
    for (id, &reachable) in reachable.iter().take(created).enumerate() {
        let drops = shared.ledger.drops(id as u64);
        assert!(drops <= 1, "node {id} dropped {drops} times");
        assert_eq!(drops == 0, reachable, "node {id}: reachable={reachable} but dropped {drops} times");
        freed += drops as usize;
    }
    assert!(freed > 0, "the run must have produced garbage");
    let alive = created - freed;
    assert!(alive >= INITIAL_NODES / 2, "the shared graph stays large ({alive} nodes alive)");
    eprintln!(
        "{barrier:?}: {} ops, {cycles} cycles, {created} nodes created, {freed} freed, {alive} alive; {stats}",
        ops.load(Ordering::Relaxed),
    );
    // Leave the heap empty for the next test.
    for r in &shared.roots {
        r.lock().unwrap().take();
    }
    shared.hub.lock().unwrap().take();
    mu.collect();
    let still = (0..created as u64).filter(|&id| shared.ledger.drops(id) == 0).count();
    assert_eq!(still, 0, "with no roots every node is freed");
}

#[test]
fn stress_dijkstra() {
    run(BarrierKind::Dijkstra);
}

#[test]
fn stress_yuasa() {
    run(BarrierKind::Yuasa);
}

#[test]
fn stress_hybrid() {
    run(BarrierKind::Hybrid);
}
