//! A hostile (safe-Rust-only) user against the handshake rounds that an allocation may answer
//! (commit 3eecc3e): after marking, the rounds that publish the sweep and hand back cached
//! pages are answered where an allocation refills its cache or allocates a large object, not
//! only at a safepoint. The claims attacked:
//!
//! 1. a round meant for safepoints only (mark start, termination, the stop-the-world flush) is
//!    never answered at an allocation;
//! 2. no answer is given while user code runs under a collection's lock (a key's `Hash`, `Eq`,
//!    `Clone`, `Debug`; a `HeapValue`'s `load`), nor while the thread's state is borrowed;
//! 3. an allocation never parks;
//! 4. an answer at an allocation scans no value stack;
//! 5. objects and pages stay consistent: nothing reachable is freed, nothing is lost or freed
//!    twice.
//!
//! Each test runs while another thread collects back to back, mostly in several
//! configurations (stop-the-world; each barrier with and without per-thread handshakes), with
//! checkmark on, so a marking that missed a reachable object aborts the process. Objects carry
//! a canary and a drop probe (a ledger of drops per object): an object freed while reachable
//! fails its canary, an object lost or dropped twice fails the ledger. The scenarios that leak
//! a mutator (which pins every live object for the rest of the process) run in a child process.

use std::{
    cell::RefCell,
    collections::{HashMap, HashSet},
    fmt,
    hash::{Hash, Hasher},
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        mpsc, Arc, Mutex,
    },
    thread,
    time::{Duration, Instant},
};

mod common;

use common::{
    child::{child, in_child, spawn_collector, DEADLINE},
    leak_static, DropProbe, Ledger,
};
use gc_runtime::{
    AttachError, BarrierKind, Config, Gc, GcIdMap, GcMap, GcValueMap, GcValueVec, GcWeakMap, HeapValue, Member, Mode,
    Mutator, Phase, Root, Trace, Weak,
};

/// Serialises the tests of this file: they share the heap and reconfigure it.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Generous bound that only turns a hang into a failure; never a judgement of speed.
const DEADLOCK: Duration = Duration::from_secs(30);

/// Ids per ledger (a byte each).
const LEDGER: usize = 4_000_000;

/// Ids left when the worker threads of a test stop early, so the ledger never runs out.
const LEDGER_MARGIN: usize = 200_000;

const MAGIC: u64 = 0x5DEE_CE66_D1CE_4E5B;

/// Every configuration: stop-the-world, and each barrier with per-thread handshakes and with
/// global stops; checkmark on; cycles only when asked for (the collector thread asks back to
/// back).
fn every_config() -> Vec<Config> {
    common::every_config()
}

/// Stop-the-world, Dijkstra and Yuasa with handshakes, hybrid with global stops (checkmark on).
fn stress_configs() -> Vec<Config> {
    common::stress_configs().into_iter().map(|c| c.with_checkmark(true).with_gc_percent(None)).collect()
}

/// The concurrent configurations (the phase `Sweep` is seen by mutators only there).
fn concurrent_configs() -> Vec<Config> {
    every_config().into_iter().filter(|c| c.mode == Mode::Concurrent).collect()
}

// ---------------------------------------------------------------------------------------------
// Objects.

/// A small object with a canary, a drop probe and a slot.
#[derive(Trace)]
struct Node {
    id: u64,
    canary: u64,
    next: Member<Node>,
    #[trace(skip)]
    probe: DropProbe,
}

impl Node {
    fn alloc<'m>(mu: &'m Mutator, ledger: &Arc<Ledger>, next: Option<Gc<'_, Node>>) -> Gc<'m, Node> {
        let probe = ledger.probe();
        let id = probe.id;
        let node = mu.alloc(Node { id, canary: id ^ MAGIC, next: Member::new(), probe });
        node.next.set(next);
        node
    }

    fn check(&self) -> u64 {
        assert_eq!(self.canary, self.id ^ MAGIC, "canary of node {} corrupted (freed while reachable?)", self.id);
        assert_eq!(self.probe.id, self.id, "probe of node {} corrupted", self.id);
        self.id
    }
}

const BIG_WORDS: usize = 1100;

/// A large object (over 8 KiB: its own block) with a canary at both ends.
#[derive(Trace)]
struct Big {
    id: u64,
    words: [u64; BIG_WORDS],
    next: Member<Node>,
    #[trace(skip)]
    probe: DropProbe,
}

impl Big {
    fn alloc<'m>(mu: &'m Mutator, ledger: &Arc<Ledger>, next: Option<Gc<'_, Node>>) -> Gc<'m, Big> {
        let probe = ledger.probe();
        let id = probe.id;
        let mut words = [id ^ MAGIC; BIG_WORDS];
        words[BIG_WORDS - 1] = !id;
        let big = mu.alloc(Big { id, words, next: Member::new(), probe });
        big.next.set(next);
        big
    }

    fn check(&self) -> u64 {
        assert_eq!(self.words[0], self.id ^ MAGIC, "large object {} corrupted (freed while reachable?)", self.id);
        assert_eq!(self.words[BIG_WORDS / 2], self.id ^ MAGIC, "large object {} corrupted", self.id);
        assert_eq!(self.words[BIG_WORDS - 1], !self.id, "large object {} corrupted", self.id);
        assert_eq!(self.probe.id, self.id, "probe of large object {} corrupted", self.id);
        self.id
    }
}

/// Walk a chain of nodes, checking each; returns its length.
fn walk<'m>(mu: &'m Mutator, mut node: Option<Gc<'m, Node>>) -> usize {
    let mut n = 0;
    while let Some(x) = node {
        x.check();
        n += 1;
        node = x.next.get(mu);
    }
    n
}

/// Run `body` under `config` while a thread collects back to back; then stop it, collect
/// twice, and check that every object of `ledger` was dropped exactly once (the body keeps
/// nothing alive past its return). `body` gets this thread's mutator and the collector's
/// cycle count so far.
fn with_collector(config: &Config, ledger: &Arc<Ledger>, body: impl FnOnce(&mut Mutator, &dyn Fn() -> u64)) {
    gc_runtime::reconfigure(config.clone()).unwrap();
    let mut mu = gc_runtime::attach();
    let stop = Arc::new(AtomicBool::new(false));
    let cycles_before = gc_runtime::stats().cycles;
    let collector = spawn_collector(&stop);
    let cycles = move || gc_runtime::stats().cycles - cycles_before;
    body(&mut mu, &cycles);
    stop.store(true, Ordering::SeqCst);
    mu.blocking(|| collector.join().unwrap());
    common::collect2(&mut mu);
    ledger.check_exactly(&HashSet::new());
}

/// Pass safepoints until the collector is past marking (phase `Sweep`: the rounds that
/// allocations may answer are due or about to be), or `limit` has passed.
fn safepoint_until_after_marking(mu: &mut Mutator, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if gc_runtime::phase() == Phase::Sweep {
            return true;
        }
        mu.safepoint();
        std::hint::spin_loop();
    }
    false
}

/// Whether a test's worker thread should go on: not told to stop, and ids left in its ledger.
fn going(stop: &AtomicBool, ledger: &Ledger) -> bool {
    !stop.load(Ordering::Relaxed) && !ledger.nearly_full(LEDGER_MARGIN)
}

/// A thread of the scope `s`, with a mutator of its own, that builds between safepoints
/// ([`build_between_safepoints`] of `n` objects, a large one every `large_every`) until `stop`.
fn spawn_builder<'s>(
    s: &'s thread::Scope<'s, '_>,
    stop: &'s AtomicBool,
    ledger: &'s Arc<Ledger>,
    n: usize,
    large_every: usize,
) {
    s.spawn(move || {
        let mut mu = gc_runtime::attach();
        while going(stop, ledger) {
            build_between_safepoints(&mu, ledger, n, large_every);
            mu.safepoint();
        }
    });
}

/// Let the test's threads run for at least `min` and until three cycles have ended (within
/// the deadlock bound), then tell them to stop.
fn run_then_stop(config: &Config, cycles: &dyn Fn() -> u64, min: Duration, stop: &AtomicBool) {
    let start = Instant::now();
    while start.elapsed() < min || cycles() < 3 {
        assert!(start.elapsed() < DEADLOCK, "{config:?}: only {} cycles", cycles());
        thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
}

// ---------------------------------------------------------------------------------------------
// 1, 3, 5. Long builds holding only locals.

/// One build between two safepoints: `n` small objects (many page refills; every fourth a
/// node with a drop probe, the others plain filler that dies at once), a large object every
/// `large_every`, the nodes held only by locals (a `Vec` of `Gc`s and a chain through slots);
/// checks all of them, and that at most one cycle ended during the build.
fn build_between_safepoints(mu: &Mutator, ledger: &Arc<Ledger>, n: usize, large_every: usize) {
    let cycles_at_start = gc_runtime::stats().cycles;
    let mut loose = Vec::with_capacity(n / 4);
    let mut bigs = Vec::new();
    let mut chain: Option<Gc<'_, Node>> = None;
    let mut chained = 0;
    for i in 0..n {
        if i % 4 != 0 {
            mu.alloc([i as u64; 5]);
        } else if i % 12 == 0 {
            chain = Some(Node::alloc(mu, ledger, chain));
            chained += 1;
        } else {
            loose.push(Node::alloc(mu, ledger, chain));
        }
        if i % large_every == 0 {
            bigs.push(Big::alloc(mu, ledger, chain));
        }
    }
    for node in &loose {
        node.check();
    }
    assert_eq!(walk(mu, chain), chained, "the chain held by a local lost nodes");
    for big in &bigs {
        big.check();
        if let Some(node) = big.next.get(mu) {
            node.check();
        }
    }
    // The next cycle's mark start can only be answered at a safepoint, and this thread passed
    // none since `cycles_at_start` was read: only the cycle then in progress may have ended.
    let ended = gc_runtime::stats().cycles - cycles_at_start;
    assert!(ended <= 1, "{ended} cycles ended while this thread held locals without a safepoint");
}

/// A thread that builds large structures between safepoints — thousands of small objects and
/// large ones, held only by locals — while cycles run back to back, each build started right
/// after marking ended where it can, so the thread answers the rounds after marking at its
/// refills and large allocations. Must hold, in every configuration: no local is freed (canaries,
/// chains, checkmark), no cycle beyond the one in progress ends during a build (the next mark
/// start is never answered at an allocation, and an allocation never parks for a pause), cycles
/// still complete between builds, and every object is dropped exactly once in the end.
#[test]
fn long_builds_holding_only_locals_survive_the_rounds_they_answer() {
    let _s = serial();
    for config in every_config() {
        let ledger = Ledger::new(LEDGER);
        with_collector(&config, &ledger, |mu, cycles| {
            let start = Instant::now();
            let mut builds = 0;
            while start.elapsed() < Duration::from_millis(150) || cycles() < 2 {
                assert!(start.elapsed() < DEADLOCK, "{config:?}: cycles stopped completing ({} so far)", cycles());
                safepoint_until_after_marking(mu, Duration::from_millis(20));
                build_between_safepoints(mu, &ledger, 6_000, 400);
                builds += 1;
                mu.safepoint();
            }
            assert!(builds > 0);
        });
    }
}

/// A thread past marking that then allocates only large objects (no refill of a small-object
/// cache, no safepoint), holding a local throughout: the cycle must still end (a large
/// allocation answers the rounds after marking), and the local must be intact. In each
/// concurrent configuration, several times.
#[test]
fn a_thread_allocating_only_large_objects_after_marking_does_not_hold_up_the_cycle() {
    let _s = serial();
    for config in concurrent_configs() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let ledger = Ledger::new(LEDGER);
        let mut mu = gc_runtime::attach();
        for _ in 0..3 {
            let (tx, done) = mpsc::channel();
            let collector = thread::spawn(move || {
                let mut mu = gc_runtime::attach();
                mu.collect();
                tx.send(()).unwrap();
            });
            let start = Instant::now();
            if !safepoint_until_after_marking(&mut mu, DEADLOCK) {
                panic!("{config:?}: marking did not end");
            }
            let keep = Big::alloc(&mu, &ledger, None);
            let mut held = Vec::new();
            let mut allocations = 0;
            while done.try_recv().is_err() {
                assert!(
                    start.elapsed() < DEADLOCK,
                    "{config:?}: the cycle waited for a safepoint of a thread allocating large objects \
                     ({allocations} allocations)"
                );
                let big = Big::alloc(&mu, &ledger, None);
                allocations += 1;
                if held.len() < 64 {
                    held.push(big);
                }
                thread::sleep(Duration::from_micros(200));
            }
            keep.check();
            held.iter().for_each(|b| {
                b.check();
            });
            drop(held);
            mu.blocking(|| collector.join().unwrap());
            mu.safepoint();
        }
        common::collect2(&mut mu);
        ledger.check_exactly(&HashSet::new());
    }
    gc_runtime::reconfigure(Config::default()).unwrap();
}

/// Several threads at once: one builds between safepoints allocating only large objects, one
/// builds small objects between rare safepoints, one churns with a safepoint at every step and
/// keeps a rooted working set that it rewires; cycles run back to back. Must hold in every
/// configuration: every local and every rooted object intact, cycles complete, every object
/// dropped exactly once in the end.
#[test]
fn several_threads_one_never_at_a_safepoint_while_allocating_large_objects() {
    let _s = serial();
    for config in stress_configs() {
        let ledger = Ledger::new(LEDGER);
        with_collector(&config, &ledger, |mu, cycles| {
            let stop = AtomicBool::new(false);
            mu.blocking(|| {
                thread::scope(|s| {
                    let (ledger, stop) = (&ledger, &stop);
                    // Large objects only, in builds of 40 between safepoints.
                    s.spawn(move || {
                        let mut mu = gc_runtime::attach();
                        while going(stop, ledger) {
                            {
                                let bigs: Vec<_> = (0..40).map(|_| Big::alloc(&mu, ledger, None)).collect();
                                bigs.iter().for_each(|b| {
                                    b.check();
                                });
                            }
                            mu.safepoint();
                        }
                    });
                    // Small objects, in builds of 3000.
                    spawn_builder(s, stop, ledger, 3_000, 1_000_000);
                    // A rooted working set, rewired at every step.
                    s.spawn(move || {
                        let mut mu = gc_runtime::attach();
                        let set: Vec<Root<Node>> = (0..32).map(|_| Node::alloc(&mu, ledger, None).root(&mu)).collect();
                        let mut i = 0_usize;
                        while going(stop, ledger) {
                            let a = set[i % 32].get(&mu);
                            let b = set[(i * 7 + 3) % 32].get(&mu);
                            a.check();
                            let fresh = Node::alloc(&mu, ledger, b.next.get(&mu));
                            b.next.set(Some(fresh));
                            if i % 5 == 0 {
                                set[(i * 3) % 32].set(fresh);
                            }
                            if i % 11 == 0 {
                                a.next.set(None);
                            }
                            i += 1;
                            mu.safepoint();
                        }
                        for root in &set {
                            walk(&mu, Some(root.get(&mu)));
                        }
                    });
                    run_then_stop(&config, cycles, Duration::from_millis(400), stop);
                });
            });
        });
    }
}

// ---------------------------------------------------------------------------------------------
// 2. User code under a collection's lock that allocates.

thread_local! {
    /// This thread's mutator, for user code the runtime calls (keys' and values' methods,
    /// destructors).
    static MU: RefCell<Option<Mutator>> = const { RefCell::new(None) };
}

/// Allocations made from user code the runtime called, and attachments refused there.
static USER_ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static REFUSED_ON_COLLECTOR_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Calls of [`allocate_from_user_code`], to allocate a large object every eighth one.
static USER_CALLS: AtomicUsize = AtomicUsize::new(0);

/// From user code: allocate through this thread's mutator (a shared borrow, as the caller
/// may hold one) `small` objects of 248 bytes (a page's worth every few calls) and, every
/// eighth call, a large one, and read them back. Without a mutator (the finalizer thread),
/// try to attach one: refused.
fn allocate_from_user_code(small: usize) {
    let large = USER_CALLS.fetch_add(1, Ordering::Relaxed) % 8 == 0;
    let used = MU
        .try_with(|m| {
            let Ok(m) = m.try_borrow() else { return false };
            let Some(mu) = m.as_ref() else { return false };
            let objects: Vec<_> = (0..small).map(|i| mu.alloc([i as u64; 31])).collect();
            if large {
                let big = mu.alloc([7_u64; BIG_WORDS]);
                assert_eq!(big[BIG_WORDS - 1], 7);
            }
            for (i, o) in objects.iter().enumerate() {
                assert_eq!(o[30], i as u64);
            }
            USER_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            true
        })
        .unwrap_or(false);
    if !used {
        match gc_runtime::try_attach() {
            Err(AttachError::CollectorThread) => {
                REFUSED_ON_COLLECTOR_THREADS.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {}
            Ok(mu) => {
                mu.alloc(1_u64);
            }
        }
    }
}

/// A key whose `Hash`, `Eq`, `Clone`, `Debug` and destructor all allocate.
struct AllocatingKey(u64);

impl Hash for AllocatingKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        allocate_from_user_code(8);
        self.0.hash(state);
    }
}

impl PartialEq for AllocatingKey {
    fn eq(&self, other: &Self) -> bool {
        allocate_from_user_code(24);
        self.0 == other.0
    }
}

impl Eq for AllocatingKey {}

impl Clone for AllocatingKey {
    fn clone(&self) -> Self {
        allocate_from_user_code(4);
        AllocatingKey(self.0)
    }
}

impl fmt::Debug for AllocatingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        allocate_from_user_code(4);
        write!(f, "K{}", self.0)
    }
}

impl Drop for AllocatingKey {
    fn drop(&mut self) {
        allocate_from_user_code(2);
    }
}

/// Maps whose keys allocate.
#[derive(Trace)]
struct KeyedMaps {
    map: GcMap<AllocatingKey, Node>,
    values: GcValueMap<AllocatingKey, Member<Node>>,
}

/// Run `f` with this thread's mutator from [`MU`], shared.
fn with_mu<R>(f: impl FnOnce(&Mutator) -> R) -> R {
    MU.with(|m| f(m.borrow().as_ref().expect("a mutator in MU")))
}

/// Pass a safepoint with this thread's mutator from [`MU`].
fn safepoint_mu() {
    MU.with(|m| m.borrow_mut().as_mut().expect("a mutator in MU").safepoint());
}

/// Two threads insert, overwrite, look up and remove keys whose `Hash`, `Eq`, `Clone`, `Debug`
/// and destructor allocate (small objects over several pages, and a large one, each time),
/// in a `GcMap` and a `GcValueMap` they share, under contention for the maps' locks, while
/// cycles run back to back; a third thread only allocates, with safepoints. The allocations in
/// `Eq`, `Clone` and `Debug` run under the map's lock and must not answer (nor park); the
/// others may. Must hold in the stress configurations: each thread reads back exactly the value
/// it last stored under each of its keys, no deadlock, cycles complete, every node dropped once
/// in the end; the keys dropped with the maps on the finalizer thread are refused a mutator.
#[test]
fn keys_whose_hash_eq_clone_and_debug_allocate_under_the_lock() {
    let _s = serial();
    for config in stress_configs() {
        let ledger = Ledger::new(LEDGER);
        with_collector(&config, &ledger, |mu, cycles| {
            let maps = mu.alloc(KeyedMaps { map: GcMap::new(), values: GcValueMap::new() });
            let roots: Vec<Root<KeyedMaps>> = (0..2).map(|_| maps.root(mu)).collect();
            let stop = AtomicBool::new(false);
            let allocations_before = USER_ALLOCATIONS.load(Ordering::Relaxed);
            mu.blocking(|| {
                thread::scope(|s| {
                    let (ledger, stop) = (&ledger, &stop);
                    for (t, root) in roots.into_iter().enumerate() {
                        s.spawn(move || {
                            MU.with(|m| *m.borrow_mut() = Some(gc_runtime::attach()));
                            let mut expected: HashMap<u64, u64> = HashMap::new();
                            let mut i = 0_u64;
                            while going(stop, ledger) {
                                let key = t as u64 * 1_000_000 + i % 48;
                                with_mu(|mu| {
                                    let maps = root.get(mu);
                                    match i % 7 {
                                        0..=2 => {
                                            let node = Node::alloc(mu, ledger, None);
                                            maps.map.insert(AllocatingKey(key), node);
                                            maps.values.insert(AllocatingKey(key), Some(node));
                                            expected.insert(key, node.id);
                                        }
                                        3 => {
                                            let removed = maps.map.remove(&AllocatingKey(key), mu).map(|n| n.check());
                                            assert_eq!(removed, expected.get(&key).copied(), "GcMap::remove");
                                            let removed = maps.values.remove(&AllocatingKey(key), mu);
                                            let removed = removed.flatten().map(|n| n.check());
                                            assert_eq!(removed, expected.remove(&key), "GcValueMap::remove");
                                        }
                                        4 => {
                                            let keys = maps.map.keys();
                                            assert!(keys.len() <= 96);
                                            let text = format!("{:?}", maps.map);
                                            assert!(text.starts_with("GcMap"));
                                        }
                                        _ => {
                                            let got = maps.map.get(&AllocatingKey(key), mu).map(|n| n.check());
                                            assert_eq!(got, expected.get(&key).copied(), "GcMap::get");
                                            let got = maps.values.get(&AllocatingKey(key), mu).flatten();
                                            assert_eq!(got.map(|n| n.check()), expected.get(&key).copied());
                                        }
                                    }
                                });
                                i += 1;
                                if i % 4 == 0 {
                                    safepoint_mu();
                                }
                            }
                            drop(root);
                            MU.with(|m| m.borrow_mut().take());
                        });
                    }
                    spawn_builder(s, stop, ledger, 500, 100);
                    run_then_stop(&config, cycles, Duration::from_millis(300), stop);
                });
            });
            assert!(USER_ALLOCATIONS.load(Ordering::Relaxed) > allocations_before, "user code never allocated");
        });
    }
    // The maps' keys were dropped by the finalizer thread, which may not attach.
    assert!(REFUSED_ON_COLLECTOR_THREADS.load(Ordering::Relaxed) > 0);
}

/// A value's heap form whose `empty`, `load` and `store` allocate, and whose field's
/// destructor allocates too (on the thread that removed it, after the lock; on the finalizer
/// thread, refused a mutator).
#[derive(Trace)]
struct AllocatingValue {
    node: Member<Node>,
    #[trace(skip)]
    _drop: AllocatesWhenDropped,
}

struct AllocatesWhenDropped;

impl Drop for AllocatesWhenDropped {
    fn drop(&mut self) {
        allocate_from_user_code(2);
    }
}

impl HeapValue for AllocatingValue {
    type Local<'m> = Option<Gc<'m, Node>>;

    fn empty() -> Self {
        allocate_from_user_code(4);
        AllocatingValue { node: Member::new(), _drop: AllocatesWhenDropped }
    }

    fn load<'m>(&self, mu: &'m Mutator) -> Option<Gc<'m, Node>> {
        // Under the collection's lock.
        allocate_from_user_code(24);
        self.node.get(mu)
    }

    fn store(&self, value: Option<Gc<'_, Node>>) {
        self.node.set(value);
        // After the barriered store, before the element joins the collection.
        allocate_from_user_code(24);
    }
}

#[derive(Trace)]
struct ValueCollections {
    vec: GcValueVec<AllocatingValue>,
    map: GcValueMap<u64, AllocatingValue>,
}

/// A `GcValueVec` and a `GcValueMap` of values whose `empty`, `load` (under the lock) and
/// `store` (between the barriered store and the element's joining the collection) allocate
/// across page refills and large objects, and whose removed elements allocate when dropped;
/// one thread mutates them while another builds between safepoints and cycles run back to
/// back. Must hold in the stress configurations: every read returns the node last stored
/// there, intact; every node dropped exactly once in the end.
#[test]
fn heap_values_whose_methods_and_destructors_allocate() {
    let _s = serial();
    for config in stress_configs() {
        let ledger = Ledger::new(LEDGER);
        with_collector(&config, &ledger, |mu, cycles| {
            let root = mu.alloc(ValueCollections { vec: GcValueVec::new(), map: GcValueMap::new() }).root(mu);
            let stop = AtomicBool::new(false);
            mu.blocking(|| {
                thread::scope(|s| {
                    let (ledger, stop, root) = (&ledger, &stop, &root);
                    s.spawn(move || {
                        MU.with(|m| *m.borrow_mut() = Some(gc_runtime::attach()));
                        let mut model: Vec<u64> = Vec::new();
                        let mut in_map: HashMap<u64, u64> = HashMap::new();
                        let mut i = 0_u64;
                        while going(stop, ledger) {
                            with_mu(|mu| {
                                let c = root.get(mu);
                                let node = Node::alloc(mu, ledger, None);
                                match i % 6 {
                                    0 | 1 if model.len() < 64 => {
                                        c.vec.push(Some(node));
                                        model.push(node.id);
                                    }
                                    2 if !model.is_empty() => {
                                        let at = (i as usize * 13) % model.len();
                                        c.vec.set(at, Some(node));
                                        model[at] = node.id;
                                    }
                                    3 if !model.is_empty() => {
                                        let got = c.vec.pop(mu).flatten().map(|n| n.check());
                                        assert_eq!(got, model.pop(), "GcValueVec::pop");
                                    }
                                    4 => {
                                        let key = i % 16;
                                        c.map.insert(key, Some(node));
                                        in_map.insert(key, node.id);
                                    }
                                    _ => {
                                        let key = (i / 6) % 16;
                                        let got = c.map.get(&key, mu).flatten().map(|n| n.check());
                                        assert_eq!(got, in_map.get(&key).copied(), "GcValueMap::get");
                                    }
                                }
                                let all: Vec<u64> = c.vec.to_vec(mu).into_iter().flatten().map(|n| n.check()).collect();
                                assert_eq!(all, model, "GcValueVec contents");
                                if i % 50 == 49 {
                                    c.vec.truncate(model.len() / 2);
                                    model.truncate(model.len() / 2);
                                }
                            });
                            i += 1;
                            if i % 3 == 0 {
                                safepoint_mu();
                            }
                        }
                        with_mu(|mu| {
                            let c = root.get(mu);
                            c.vec.clear();
                            c.map.clear();
                        });
                        MU.with(|m| m.borrow_mut().take());
                    });
                    spawn_builder(s, stop, ledger, 1_000, 200);
                    run_then_stop(&config, cycles, Duration::from_millis(300), stop);
                });
            });
            drop(root);
        });
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Arrays filled by user code that allocates.

/// An element of an array filled by a maker that allocates.
#[derive(Trace)]
struct Element {
    index: u64,
    check: u64,
    node: Member<Node>,
}

/// Arrays — small ones (in a page of this thread's cache) and large ones (a block not yet
/// published) — whose element maker allocates across page refills and large objects while the
/// array is half filled, started right after marking ended, so the maker's allocations answer
/// the rounds after marking and hand back the page that holds the half-filled array; some
/// makers panic half way (the half-filled array is garbage). Must hold in every configuration:
/// every completed array, rooted, reads back its elements and their nodes intact after more
/// cycles; every object dropped exactly once in the end (half-filled arrays too).
#[test]
fn arrays_whose_element_makers_allocate_across_refills() {
    let _s = serial();
    for config in every_config() {
        let ledger = Ledger::new(LEDGER);
        with_collector(&config, &ledger, |mu, cycles| {
            let mut kept: Vec<Root<[Element]>> = Vec::new();
            let start = Instant::now();
            let mut round = 0_u64;
            while start.elapsed() < Duration::from_millis(150) || cycles() < 2 {
                assert!(start.elapsed() < DEADLOCK, "{config:?}: only {} cycles", cycles());
                safepoint_until_after_marking(mu, Duration::from_millis(20));
                // 40 elements: a small object; 600: a large one (24 bytes each).
                let len = if round % 2 == 0 { 40 } else { 600 };
                let mut made = Vec::new();
                let array = mu.alloc_slice_from_fn(len, |i| {
                    // Allocate between elements: nodes (many refills over the array) and,
                    // now and then, a large object.
                    let node = Node::alloc(mu, &ledger, None);
                    for j in 0..60 {
                        mu.alloc([j as u64; 5]);
                    }
                    if i % 16 == 0 {
                        Big::alloc(mu, &ledger, Some(node));
                    }
                    made.push(node);
                    Element { index: i as u64, check: (i as u64) ^ MAGIC, node: Member::new() }
                });
                for (e, node) in array.iter().zip(&made) {
                    e.node.set(Some(*node));
                }
                if kept.len() < 8 {
                    kept.push(array.root(mu));
                }
                // A maker that panics half way: the object is left half filled, as garbage.
                let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    mu.alloc_slice_from_fn(len, |i| {
                        Node::alloc(mu, &ledger, None);
                        Big::alloc(mu, &ledger, None);
                        assert!(i < len / 2, "the maker gives up half way");
                        Element { index: 0, check: 0, node: Member::new() }
                    })
                    .len()
                }));
                assert!(panicked.is_err());
                mu.safepoint();
                for root in &kept {
                    let array = root.get(mu);
                    for (i, e) in array.iter().enumerate() {
                        assert_eq!((e.index, e.check), (i as u64, (i as u64) ^ MAGIC), "array element corrupted");
                        e.node.get(mu).expect("an element's node").check();
                    }
                }
                round += 1;
            }
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Weak references, weak maps and identity maps read between refills.

#[derive(Trace)]
struct Tables {
    weak: GcWeakMap<Node, Node>,
    ids: GcIdMap<Node, Node>,
}

/// Weak references and weak-map entries to objects that die, and to objects that stay
/// reachable, upgraded and read in the middle of builds (between refills and large
/// allocations, no safepoint), with objects made by `alloc_cyclic` whose builder allocates; an
/// identity map keyed by the survivors. Must hold in every configuration: an upgrade or a read
/// returns either nothing (dead) or an intact object; the survivors' references never fail; a
/// cycle clears the dead ones; every object dropped exactly once in the end.
#[test]
fn weak_reads_between_refills() {
    let _s = serial();
    for config in every_config() {
        let ledger = Ledger::new(LEDGER);
        with_collector(&config, &ledger, |mu, cycles| {
            let tables = mu.alloc(Tables { weak: GcWeakMap::new(), ids: GcIdMap::new() }).root(mu);
            let survivors: Vec<Root<Node>> = (0..16).map(|_| Node::alloc(mu, &ledger, None).root(mu)).collect();
            let start = Instant::now();
            let mut weaks: Vec<(Weak<Node>, bool)> = Vec::new();
            while start.elapsed() < Duration::from_millis(150) || cycles() < 2 {
                assert!(start.elapsed() < DEADLOCK, "{config:?}: only {} cycles", cycles());
                safepoint_until_after_marking(mu, Duration::from_millis(20));
                let t = tables.get(mu);
                for (i, root) in survivors.iter().enumerate() {
                    let key = root.get(mu);
                    // A value that dies with nothing but its entry (and one that stays).
                    let value = Node::alloc(mu, &ledger, None);
                    t.weak.insert(key, value);
                    t.ids.insert(key, value);
                    let doomed = Node::alloc(mu, &ledger, None);
                    t.weak.insert(doomed, Node::alloc(mu, &ledger, Some(doomed)));
                    weaks.push((Weak::new(mu, doomed), false));
                    if i % 4 == 0 {
                        weaks.push((Weak::new(mu, key), true));
                    }
                    // A self-referencing object whose builder allocates across refills.
                    let cyclic = mu.alloc_cyclic(|me: Weak<Node>| {
                        for j in 0..1_000 {
                            mu.alloc([j as u64; 5]);
                        }
                        Big::alloc(mu, &ledger, None);
                        assert!(me.upgrade(mu).is_none(), "an object still being built was upgraded");
                        let probe = ledger.probe();
                        let id = probe.id;
                        Node { id, canary: id ^ MAGIC, next: Member::new(), probe }
                    });
                    cyclic.check();
                    weaks.push((Weak::new(mu, cyclic), false));
                }
                // A build, reading the weak references and maps between its allocations.
                for round in 0..4 {
                    for j in 0..3_000 {
                        mu.alloc([j as u64; 5]);
                    }
                    Big::alloc(mu, &ledger, None);
                    for (weak, kept) in &weaks {
                        match weak.upgrade(mu) {
                            Some(node) => {
                                node.check();
                            }
                            None => assert!(!kept, "a weak reference to a rooted object failed (round {round})"),
                        }
                    }
                    for root in &survivors {
                        let key = root.get(mu);
                        t.weak.get(key, mu).expect("a live key's weak-map value").check();
                        t.ids.get(key, mu).expect("an identity-map value").check();
                    }
                }
                mu.safepoint();
                weaks.retain(|(w, kept)| *kept || !w.is_cleared());
                if weaks.len() > 2_000 {
                    weaks.retain(|(_, kept)| *kept);
                }
            }
            // Two more cycles clear every reference to an unreachable object, and none other.
            common::collect2(mu);
            for (weak, kept) in &weaks {
                assert_eq!(weak.is_cleared(), !kept, "a weak reference's verdict");
            }
            drop(weaks);
            drop(survivors);
            drop(tables);
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Blocking sections, threads that end mid-cycle.

/// Threads that alternate builds (no safepoint) with `Mutator::blocking` sections, and short-
/// lived threads that attach, build while holding locals and end — dropping their mutator —
/// while the collector waits for rounds after marking. Must hold in every configuration:
/// cycles keep completing, every local intact, every object dropped exactly once in the end.
#[test]
fn blocking_sections_and_threads_that_end_mid_cycle() {
    let _s = serial();
    for config in every_config() {
        let ledger = Ledger::new(LEDGER);
        with_collector(&config, &ledger, |mu, cycles| {
            let stop = AtomicBool::new(false);
            let spawned = AtomicU64::new(0);
            mu.blocking(|| {
                thread::scope(|s| {
                    let (ledger, stop, spawned) = (&ledger, &stop, &spawned);
                    s.spawn(move || {
                        let mut mu = gc_runtime::attach();
                        while going(stop, ledger) {
                            build_between_safepoints(&mu, ledger, 1_500, 300);
                            mu.blocking(|| thread::sleep(Duration::from_micros(300)));
                            build_between_safepoints(&mu, ledger, 1_500, 300);
                            mu.safepoint();
                        }
                    });
                    s.spawn(move || {
                        while going(stop, ledger) {
                            thread::scope(|s| {
                                s.spawn(|| {
                                    let mut mu = gc_runtime::attach();
                                    safepoint_until_after_marking(&mut mu, Duration::from_millis(5));
                                    let chain = (0..2_000).fold(None, |next, _| Some(Node::alloc(&mu, ledger, next)));
                                    let big = Big::alloc(&mu, ledger, chain);
                                    assert_eq!(walk(&mu, big.next.get(&mu)), 2_000);
                                    // The mutator is dropped here, holding nothing.
                                });
                            });
                            spawned.fetch_add(1, Ordering::Relaxed);
                        }
                    });
                    run_then_stop(&config, cycles, Duration::from_millis(200), stop);
                });
            });
            assert!(spawned.load(Ordering::Relaxed) > 0);
        });
    }
}

/// Child: threads that leak their mutator and end in the middle of builds, at every point of
/// the cycle, while another thread builds between safepoints and cycles run back to back.
/// Cycles must keep completing (a leaked mutator's exit is noticed, and a thread ending never
/// leaves a round waiting), and the builder's locals must stay intact.
#[test]
fn child_leaked_mutators_end_mid_cycle() {
    if !in_child() {
        return;
    }
    let mode = std::env::var("GC_MODE").unwrap_or_default();
    let config = if mode == "stw" {
        Config::default().with_mode(Mode::StopTheWorld)
    } else {
        Config::default().with_barrier(BarrierKind::Yuasa)
    };
    gc_runtime::reconfigure(config.with_checkmark(true).with_gc_percent(None)).unwrap();
    let ledger = Ledger::new(LEDGER);
    let mut mu = gc_runtime::attach();
    let stop = Arc::new(AtomicBool::new(false));
    let cycles_before = gc_runtime::stats().cycles;
    let collector = spawn_collector(&stop);
    let start = Instant::now();
    let mut leaked = 0;
    while start.elapsed() < Duration::from_millis(600) || gc_runtime::stats().cycles - cycles_before < 4 {
        assert!(start.elapsed() < DEADLOCK, "cycles stopped completing");
        let ledger2 = ledger.clone();
        let ender = thread::spawn(move || {
            let mu: &'static Mutator = Box::leak(Box::new(gc_runtime::attach()));
            let chain = (0..1_000).fold(None, |next, _| Some(Node::alloc(mu, &ledger2, next)));
            Big::alloc(mu, &ledger2, chain).check();
        });
        build_between_safepoints(&mu, &ledger, 2_000, 250);
        mu.blocking(|| ender.join().unwrap());
        leaked += 1;
        mu.safepoint();
    }
    stop.store(true, Ordering::SeqCst);
    mu.blocking(|| collector.join().unwrap());
    mu.collect();
    assert!(leaked > 0);
    assert!(gc_runtime::stats().pinned_objects > 0, "the leaked mutators' objects were pinned");
    println!("done");
}

#[test]
fn leaked_mutators_that_end_mid_cycle_never_hold_up_a_round_concurrent() {
    let out = child("child_leaked_mutators_end_mid_cycle", &[("GC_MODE", "concurrent")], DEADLINE);
    out.assert_completed();
    assert!(out.stderr.contains("leaked"), "{}", out.describe());
}

#[test]
fn leaked_mutators_that_end_mid_cycle_never_hold_up_a_round_stop_the_world() {
    child("child_leaked_mutators_end_mid_cycle", &[("GC_MODE", "stw")], DEADLINE).assert_completed();
}

// ---------------------------------------------------------------------------------------------
// User code under a lock with the mutator itself in hand.

/// Keys whose `Clone`, `Debug` and `Eq` take this thread's mutator mutably (it is free: the map
/// is reached through a `'static` reference, not through it) and try everything: allocate
/// across refills and large objects, pass a safepoint (does nothing under the lock), run
/// `blocking` (runs without detaching), `collect` (refused with a panic).
struct GreedyKey(u64);

static GREEDY_COLLECT_REFUSED: AtomicUsize = AtomicUsize::new(0);

fn greedy_user_code() {
    let _ = MU.try_with(|m| {
        let Ok(mut m) = m.try_borrow_mut() else { return };
        let Some(mu) = m.as_mut() else { return };
        {
            let objects: Vec<_> = (0..40).map(|i| mu.alloc([i as u64; 30])).collect();
            let big = mu.alloc([3_u64; BIG_WORDS]);
            assert!(objects.iter().enumerate().all(|(i, o)| o[0] == i as u64));
            assert_eq!(big[0], 3);
        }
        mu.safepoint();
        let in_blocking = mu.blocking(|| 5);
        assert_eq!(in_blocking, 5);
        let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| mu.collect()));
        if refused.is_err() {
            GREEDY_COLLECT_REFUSED.fetch_add(1, Ordering::Relaxed);
        }
    });
}

impl Hash for GreedyKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl PartialEq for GreedyKey {
    fn eq(&self, other: &Self) -> bool {
        greedy_user_code();
        self.0 == other.0
    }
}

impl Eq for GreedyKey {}

impl Clone for GreedyKey {
    fn clone(&self) -> Self {
        greedy_user_code();
        GreedyKey(self.0)
    }
}

impl fmt::Debug for GreedyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        greedy_user_code();
        write!(f, "G{}", self.0)
    }
}

/// Child: readers whose keys' code holds the thread's mutator mutably under the map's read
/// lock (via a `'static` map borrowed from a leaked mutator), a writer contending for the write
/// lock, cycles back to back. Must hold: no deadlock, cycles complete, `collect` refused each
/// time, values intact.
#[test]
fn child_key_code_with_the_mutator_in_hand() {
    if !in_child() {
        return;
    }
    let barrier = match std::env::var("GC_BARRIER").as_deref() {
        Ok("yuasa") => BarrierKind::Yuasa,
        _ => BarrierKind::Dijkstra,
    };
    let config = match std::env::var("GC_MODE").as_deref() {
        Ok("stw") => Config::default().with_mode(Mode::StopTheWorld),
        _ => Config::default().with_barrier(barrier),
    };
    gc_runtime::reconfigure(config.with_checkmark(true).with_gc_percent(None)).unwrap();
    // The refused `collect`s are expected: keep their reports off stderr.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload.downcast_ref::<&str>().copied().or(payload.downcast_ref::<String>().map(String::as_str));
        let refused = message.is_some_and(|m| m.contains("Mutator::collect called"));
        if !refused {
            default_hook(info);
        }
    }));
    let map: &'static GcMap<GreedyKey, u64> = leak_static(|mu| {
        let map = mu.alloc(GcMap::new());
        for k in 0..8 {
            map.insert(GreedyKey(k), mu.alloc(k * 10));
        }
        map.into_ref()
    });
    let stop = Arc::new(AtomicBool::new(false));
    let collector = spawn_collector(&stop);
    let cycles_before = gc_runtime::stats().cycles;
    thread::scope(|s| {
        let stop = &stop;
        for _ in 0..2 {
            s.spawn(move || {
                MU.with(|m| *m.borrow_mut() = Some(gc_runtime::attach()));
                while !stop.load(Ordering::Relaxed) {
                    assert!(map.keys().len() >= 8);
                    assert!(format!("{map:?}").starts_with("GcMap"));
                    assert!(map.contains_key(&GreedyKey(3)));
                    MU.with(|m| m.borrow_mut().as_mut().unwrap().safepoint());
                }
                MU.with(|m| m.borrow_mut().take());
            });
        }
        s.spawn(move || {
            let mut mu = gc_runtime::attach();
            let mut i = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                let k = 100 + i % 8;
                map.insert(GreedyKey(k), mu.alloc(k));
                assert_eq!(map.get(&GreedyKey(k), &mu).map(|v| *v), Some(k));
                for j in 0..8 {
                    assert_eq!(map.get(&GreedyKey(j), &mu).map(|v| *v), Some(j * 10));
                }
                if i % 3 == 0 {
                    assert_eq!(map.remove(&GreedyKey(k), &mu).map(|v| *v), Some(k));
                }
                i += 1;
                mu.safepoint();
            }
        });
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(600) || gc_runtime::stats().cycles - cycles_before < 4 {
            assert!(start.elapsed() < DEADLOCK, "cycles stopped completing");
            thread::sleep(Duration::from_millis(5));
        }
        stop.store(true, Ordering::Relaxed);
    });
    collector.join().unwrap();
    assert!(GREEDY_COLLECT_REFUSED.load(Ordering::Relaxed) > 0);
    println!("done");
}

#[test]
fn key_code_holding_the_mutator_under_the_lock_dijkstra() {
    child("child_key_code_with_the_mutator_in_hand", &[("GC_BARRIER", "dijkstra")], DEADLINE).assert_completed();
}

#[test]
fn key_code_holding_the_mutator_under_the_lock_yuasa() {
    child("child_key_code_with_the_mutator_in_hand", &[("GC_BARRIER", "yuasa")], DEADLINE).assert_completed();
}

#[test]
fn key_code_holding_the_mutator_under_the_lock_stop_the_world() {
    child("child_key_code_with_the_mutator_in_hand", &[("GC_MODE", "stw")], DEADLINE).assert_completed();
}

// ---------------------------------------------------------------------------------------------
// Allocations refused by the memory limit.

/// Child: the heap is at its memory limit with live data; a cycle is past marking; this
/// thread retries a refused allocation without a safepoint (`GC_TEST_LARGE`: a 1 MiB array,
/// else a small object) until the cycle ends. A refused allocation never parks (it returns an
/// error); the question is whether it answers the rounds after marking.
#[test]
fn child_retry_refused_allocations_after_marking() {
    if !in_child() {
        return;
    }
    let large = std::env::var_os("GC_TEST_LARGE").is_some();
    gc_runtime::reconfigure(Config::default().with_gc_percent(None).with_memory_limit(Some(32 << 20))).unwrap();
    let mut mu = gc_runtime::attach();
    // Live data up to the limit (a cycle frees nothing), then a cycle to settle the requests
    // the refusals made.
    let holder = mu.alloc(GcValueVec::<Member<[u64; 5]>>::new());
    let mut live = Vec::new();
    while let Ok(big) = mu.try_alloc([0_u64; BIG_WORDS]) {
        live.push(big.root(&mu));
    }
    while let Ok(small) = mu.try_alloc([0_u64; 5]) {
        holder.push(Some(small));
    }
    let _holder = holder.root(&mu);
    mu.collect();
    let (tx, done) = mpsc::channel();
    let collector = thread::spawn(move || {
        let mut mu = gc_runtime::attach();
        mu.collect();
        tx.send(()).unwrap();
    });
    assert!(safepoint_until_after_marking(&mut mu, DEADLOCK), "marking did not end");
    let start = Instant::now();
    let mut refused = 0_u64;
    while done.try_recv().is_err() {
        assert!(
            start.elapsed() < DEADLOCK,
            "the cycle waited {DEADLOCK:?} for a thread retrying a refused allocation (large: {large}; {refused} refusals)"
        );
        // A large request bigger than any room a page-granular fill leaves.
        let ok =
            if large { mu.try_alloc_slice(vec![1_u64; 1 << 17]).is_ok() } else { mu.try_alloc([1_u64; 5]).is_ok() };
        if !ok {
            refused += 1;
        }
    }
    assert!(refused > 0, "no allocation was refused");
    mu.blocking(|| collector.join().unwrap());
    println!("done");
}

/// A thread past marking whose small allocations the memory limit refuses, retried without a
/// safepoint: a refused refill still answers the rounds after marking (`alloc_slow` answers
/// before it checks the limit) and never parks, so the cycle ends.
#[test]
fn a_refused_small_allocation_still_answers_the_rounds_after_marking() {
    child("child_retry_refused_allocations_after_marking", &[], DEADLINE).assert_completed();
}

/// The same with a large allocation: `alloc_large` answers before it checks the limit too, so
/// a refused large request answers the rounds after marking (it used to check the limit first
/// and answer nothing, and the cycle waited for this thread as long as it retried).
#[test]
fn a_refused_large_allocation_answers_the_rounds_after_marking() {
    child("child_retry_refused_allocations_after_marking", &[("GC_TEST_LARGE", "1")], DEADLINE).assert_completed();
}
