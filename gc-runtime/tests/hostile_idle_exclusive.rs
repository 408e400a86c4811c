//! Hostile tests of idle exclusive drains (`Config::idle_exclusive_marking`): in a concurrent
//! cycle, while no mutator runs, the collector stops the world at no one's expense and marks
//! with plain stores, each mark bit having one writer. Any other writer of a mark word meanwhile
//! could lose a bit, and a reachable object would be freed. Attacked here, checkmark on in every
//! configuration (a reachable object left unmarked aborts the process before the sweep), and
//! every object's contents checked after collections (a freed and reused object fails its
//! checksum):
//!
//! - stores on threads without a mutator while idle drains run: roots dropped, slots of a
//!   leaked mutator's `'static` objects emptied, a `'static` `GcVec` truncated — each shading,
//!   under deletion barriers, an object that a mutator copied elsewhere before going away;
//! - the same stores from destructors on the finalizer thread, while other threads' cycles mark;
//! - threads that attach (register), mutate, and end — some with their mutator leaked — while
//!   idle drains run;
//! - several threads calling `collect` at once, nobody else running;
//! - `reconfigure` flipping the setting, the barrier, handshakes and the mode while cycles run
//!   (a stop-the-world `collect` then polls for jobs while a concurrent cycle's idle stop
//!   makes the world look stopped);
//! - weak references upgraded, and weak-map chains that only the ephemeron fixpoint keeps
//!   alive, with their heads dropped and rebuilt;
//! - `Mutator::blocking` closures that drop roots, clear a `GlobalRoot`, try to attach, start
//!   and join a thread that attaches and collects, and panic;
//! - threads coming back at random with one mark worker: no drain may be booked as given up
//!   for forwarding.
//!
//! A watchdog turns a deadlock into an abort. No test asserts on timing.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Mutex,
    },
    thread,
    time::{Duration, Instant},
};

use gc_runtime::{
    AttachError, BarrierKind, Config, Gc, GcVec, GcWeakMap, GlobalRoot, Member, Mode, Mutator, Root, Trace, Weak,
};

mod common;

use common::{hostile::watchdog, Rng};

/// The tests reconfigure the one runtime of this process: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

const BARRIERS: [BarrierKind; 3] = [BarrierKind::Dijkstra, BarrierKind::Yuasa, BarrierKind::Hybrid];

/// Concurrent, idle exclusive marking on (and exclusive marking beside mutators off: with it on,
/// no drain needs the world stopped), checkmark on, collections only when asked.
fn idle(barrier: BarrierKind) -> Config {
    Config::default()
        .with_mode(Mode::Concurrent)
        .with_barrier(barrier)
        .with_mark_workers(2)
        .with_gc_percent(None)
        .with_checkmark(true)
        .with_exclusive_marking(false)
        .with_idle_exclusive_marking(true)
}

fn check_of(id: u64) -> u64 {
    id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5A5A_1DE1
}

/// A leaf with a checksum.
#[derive(Trace)]
struct Leaf {
    id: u64,
    check: u64,
}

impl Leaf {
    fn new(id: u64) -> Leaf {
        Leaf { id, check: check_of(id) }
    }

    fn verify(&self, what: &str) {
        assert_eq!(self.check, check_of(self.id), "{what}: leaf {} corrupted (freed while reachable?)", self.id);
    }
}

/// Slots of leaves.
#[derive(Trace)]
struct Shelf {
    slots: Vec<Member<Leaf>>,
}

impl Shelf {
    fn new(n: usize) -> Shelf {
        Shelf { slots: (0..n).map(|_| Member::new()).collect() }
    }

    fn verify(&self, mu: &Mutator, what: &str) -> usize {
        let mut n = 0;
        for s in &self.slots {
            if let Some(l) = s.get(mu) {
                l.verify(what);
                n += 1;
            }
        }
        n
    }
}

/// A tree node with a checksum.
#[derive(Trace)]
struct Node {
    id: u64,
    check: u64,
    left: Member<Node>,
    right: Member<Node>,
}

fn tree<'m>(mu: &'m Mutator, next_id: &mut u64, size: u64) -> Gc<'m, Node> {
    let id = *next_id;
    *next_id += 1;
    let n = mu.alloc(Node { id, check: check_of(id), left: Member::new(), right: Member::new() });
    let below = size - 1;
    if below > 0 {
        n.left.set(Some(tree(mu, next_id, below.div_ceil(2))));
    }
    if below > 1 {
        n.right.set(Some(tree(mu, next_id, below / 2)));
    }
    n
}

/// Every node reachable from `root` has its contents; returns how many distinct nodes there
/// are. (With several threads swapping children at once — [`churn_tree`] is not atomic — a
/// subtree may be lost or shared: only single-mover tests can expect the original count.)
fn verify_tree(mu: &Mutator, root: Gc<'_, Node>, what: &str) -> usize {
    let (mut todo, mut seen) = (vec![root], std::collections::HashSet::new());
    while let Some(n) = todo.pop() {
        assert_eq!(n.check, check_of(n.id), "{what}: node {} corrupted (freed while reachable?)", n.id);
        if seen.insert(n.id) {
            todo.extend([n.left.get(mu), n.right.get(mu)].into_iter().flatten());
        }
    }
    seen.len()
}

/// Swap the children of a few nodes near the root, and allocate garbage pointing into the tree.
fn churn_tree(mu: &Mutator, root: Gc<'_, Node>, rng: &mut Rng) {
    let mut n = root;
    for _ in 0..1 + rng.below(6) {
        let (a, b) = (n.left.get(mu), n.right.get(mu));
        n.left.set(b);
        n.right.set(a);
        match (rng.below(2), n.left.get(mu), n.right.get(mu)) {
            (0, Some(x), _) | (1, _, Some(x)) => n = x,
            _ => break,
        }
    }
    let g = mu.alloc(Node { id: u64::MAX, check: check_of(u64::MAX), left: Member::new(), right: Member::new() });
    g.left.set(Some(n));
}

fn cycles() -> u64 {
    gc_runtime::stats().cycles
}

/// Idle exclusive drains and drains ended early, over the cycles recorded after `before` (the
/// recent ones kept); also checks that checkmark confirmed each of them.
fn idle_drains_since(before: u64) -> (u32, u32) {
    let s = gc_runtime::stats();
    let mut out = (0, 0);
    for c in s.recent.iter().filter(|c| c.cycle > before) {
        assert!(c.checkmarked_objects.is_some(), "cycle {} ran without checkmark confirming it", c.cycle);
        out.0 += c.idle_exclusive_drains;
        out.1 += c.idle_drains_yielded;
    }
    out
}

/// `n` threads that collect back to back until `stop`; returns them.
fn collectors<'scope, 'env>(
    s: &'scope thread::Scope<'scope, 'env>,
    n: usize,
    stop: &'scope AtomicBool,
) -> Vec<thread::ScopedJoinHandle<'scope, u64>> {
    (0..n)
        .map(|_| {
            s.spawn(move || {
                let mut mu = gc_runtime::attach();
                let mut k = 0;
                while !stop.load(Ordering::Relaxed) {
                    mu.collect();
                    k += 1;
                }
                k
            })
        })
        .collect()
}

/// Tell the threads of a round to stop, and join the collectors ([`collectors`]) among them.
fn stop_round(stop: &AtomicBool, collectors: Vec<thread::ScopedJoinHandle<'_, u64>>) {
    stop.store(true, Ordering::Relaxed);
    for c in collectors {
        c.join().unwrap();
    }
}

/// How long a run goes on at most for what its checks count (a loaded machine may need far
/// longer than usual); one such run still ends within the watchdog's minute.
const RUN_AT_MOST: Duration = Duration::from_secs(30);

/// Run until `enough()` says so (checked every 5 ms) once `min` has passed, or `max` has passed
/// and `needed()` (what the caller then checks) says so, or [`RUN_AT_MOST`] has passed.
fn run_until(min: Duration, max: Duration, enough: impl Fn() -> bool, needed: impl Fn() -> bool) {
    let start = Instant::now();
    loop {
        let elapsed = start.elapsed();
        if (elapsed >= min && enough()) || (elapsed >= max && needed()) || elapsed >= RUN_AT_MOST {
            return;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Leak a mutator on a thread that ends, and return a `'static` object it allocated (pinned for
/// the rest of the process).
fn leak_static<T: Trace + Send + Sync + 'static>(make: impl FnOnce() -> T + Send + 'static) -> &'static T {
    common::leak_static(move |mu| mu.alloc(make()).into_ref())
}

// ---------------------------------------------------------------------------------------------
// 1. Stores on threads without a mutator while idle drains run.
// ---------------------------------------------------------------------------------------------

/// A mover (a mutator) copies leaves out of roots, out of a leaked mutator's `'static` shelf and
/// out of a `'static` `GcVec` into a rooted shelf, then goes away (blocking) — so the collector
/// runs idle exclusive drains — while a thread without a mutator drops those roots, empties those
/// `'static` slots and truncates that vector. Under Yuasa and hybrid each such store must shade
/// the leaf it overwrites, which the mover's copy made reachable from a possibly black shelf: if
/// the orphan shade raced a worker's plain store and lost its bit, checkmark aborts.
#[test]
fn stores_without_a_mutator_during_idle_drains_lose_nothing() {
    let _s = serial();
    let _w = watchdog("stores_without_a_mutator_during_idle_drains_lose_nothing");
    const K: usize = 512;
    let statics: &'static Shelf = leak_static(|| Shelf::new(K));
    let static_vec: &'static GcVec<Leaf> = leak_static(GcVec::new);
    let mut mu = gc_runtime::attach();
    let (mut total_drains, mut total_drops) = (0, 0);
    for barrier in BARRIERS {
        gc_runtime::reconfigure(idle(barrier)).unwrap();
        let shelf: Root<Shelf> = mu.alloc(Shelf::new(K)).root(&mu);
        // A tree so that drains have something to mark.
        let tree_root: Root<Node> = tree(&mu, &mut 0, 20_000).root(&mu);
        let roots: Vec<Mutex<Option<Root<Leaf>>>> = (0..K).map(|_| Mutex::new(None)).collect();
        let stop = AtomicBool::new(false);
        let drops = AtomicU64::new(0);
        let next_id = AtomicU64::new(0);
        let before = cycles();
        mu.blocking(|| {
            thread::scope(|s| {
                let cs = collectors(s, 1, &stop);
                // The mover.
                s.spawn(|| {
                    let mut mu = gc_runtime::attach();
                    let mut rng = Rng(0x3077_0001 ^ barrier as u64);
                    while !stop.load(Ordering::Relaxed) {
                        let shelf = shelf.get(&mu);
                        for _ in 0..8 {
                            let i = rng.below(K);
                            let j = rng.below(K);
                            let mut slot = roots[i].lock().unwrap();
                            match &*slot {
                                Some(r) => {
                                    let leaf = r.get(&mu);
                                    leaf.verify("a rooted leaf");
                                    shelf.slots[j].set(Some(leaf));
                                }
                                None => {
                                    let id = next_id.fetch_add(1, Ordering::Relaxed);
                                    *slot = Some(mu.alloc(Leaf::new(id)).root(&mu));
                                }
                            }
                            drop(slot);
                            match statics.slots[i].get(&mu) {
                                Some(l) => {
                                    l.verify("a static leaf");
                                    shelf.slots[(j + 1) % K].set(Some(l));
                                }
                                None => {
                                    let id = next_id.fetch_add(1, Ordering::Relaxed);
                                    statics.slots[i].set(Some(mu.alloc(Leaf::new(id))));
                                }
                            }
                            if static_vec.len() < K {
                                let id = next_id.fetch_add(1, Ordering::Relaxed);
                                static_vec.push(mu.alloc(Leaf::new(id)));
                            }
                            if let Some(l) = static_vec.get(rng.below(K), &mu) {
                                l.verify("a leaf of the static vector");
                                shelf.slots[(j + 2) % K].set(Some(l));
                            }
                        }
                        churn_tree(&mu, tree_root.get(&mu), &mut rng);
                        mu.safepoint();
                        let micros = 10 + rng.below(150) as u64;
                        mu.blocking(|| thread::sleep(Duration::from_micros(micros)));
                    }
                });
                // The thread without a mutator.
                s.spawn(|| {
                    let mut rng = Rng(0x0F0F_0002 ^ barrier as u64);
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..16 {
                            let i = rng.below(K);
                            let r = roots[i].lock().unwrap().take();
                            drop(r);
                            statics.slots[rng.below(K)].set(None);
                            drops.fetch_add(2, Ordering::Relaxed);
                        }
                        if rng.below(8) == 0 {
                            static_vec.truncate(rng.below(K));
                            drops.fetch_add(1, Ordering::Relaxed);
                        }
                        // Spin rather than sleep now and then: stores land inside drains.
                        if rng.below(4) == 0 {
                            thread::sleep(Duration::from_micros(rng.below(100) as u64));
                        } else {
                            thread::yield_now();
                        }
                    }
                });
                run_until(
                    Duration::from_secs(1),
                    Duration::from_secs(5),
                    || idle_drains_since(before).0 >= 20,
                    || idle_drains_since(before).0 >= 1,
                );
                stop_round(&stop, cs);
            })
        });
        mu.collect();
        mu.collect();
        let what = format!("{barrier:?}");
        let n = shelf.get(&mu).verify(&mu, &what);
        assert!(n > 0, "{what}: the mover stored leaves");
        statics.verify(&mu, &what);
        for l in static_vec.iter(&mu) {
            l.verify(&what);
        }
        assert_eq!(verify_tree(&mu, tree_root.get(&mu), &what), 20_000);
        let (drains, _) = idle_drains_since(before);
        assert!(drains >= 1, "{what}: no idle exclusive drain ran");
        total_drains += drains;
        total_drops += drops.load(Ordering::Relaxed);
        drop(roots);
    }
    eprintln!("stores without a mutator: {total_drains} idle drains, {total_drops} orphan stores");
    gc_runtime::reconfigure(Config::default()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// 2. The same stores from destructors on the finalizer thread.
// ---------------------------------------------------------------------------------------------

/// Empties a slot of a `'static` shelf when dropped (on the finalizer thread).
struct ClearOnDrop {
    shelf: &'static Shelf,
    index: usize,
}

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        self.shelf.slots[self.index].set(None);
        // A little work, so that finalization overlaps the next cycles' drains.
        for _ in 0..200 {
            std::hint::spin_loop();
        }
    }
}

/// Garbage whose destructors store: a root dropped, a `'static` slot emptied.
#[derive(Trace)]
struct Doomed {
    #[trace(skip)]
    _clear: ClearOnDrop,
    _keep: Root<Leaf>,
}

/// A mover copies leaves out of a `'static` shelf into a rooted one, and allocates garbage whose
/// destructors empty those `'static` slots and drop roots of those leaves; two threads collect
/// back to back, so one's finalization runs while the other's cycle marks, mostly in idle
/// drains (the mover spends its time blocked).
#[test]
fn finalizer_stores_during_idle_drains_lose_nothing() {
    let _s = serial();
    let _w = watchdog("finalizer_stores_during_idle_drains_lose_nothing");
    const K: usize = 256;
    let statics: &'static Shelf = leak_static(|| Shelf::new(K));
    let mut mu = gc_runtime::attach();
    for barrier in BARRIERS {
        gc_runtime::reconfigure(idle(barrier)).unwrap();
        let shelf: Root<Shelf> = mu.alloc(Shelf::new(K)).root(&mu);
        let tree_root: Root<Node> = tree(&mu, &mut 0, 20_000).root(&mu);
        let stop = AtomicBool::new(false);
        let doomed = AtomicU64::new(0);
        let before = cycles();
        mu.blocking(|| {
            thread::scope(|s| {
                let cs = collectors(s, 2, &stop);
                s.spawn(|| {
                    let mut mu = gc_runtime::attach();
                    let mut rng = Rng(0xF1A1_0003 ^ barrier as u64);
                    let mut id = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let shelf = shelf.get(&mu);
                        for _ in 0..64 {
                            let i = rng.below(K);
                            let leaf = match statics.slots[i].get(&mu) {
                                Some(l) => l,
                                None => {
                                    id += 1;
                                    let l = mu.alloc(Leaf::new(id));
                                    statics.slots[i].set(Some(l));
                                    l
                                }
                            };
                            leaf.verify("a static leaf");
                            shelf.slots[rng.below(K)].set(Some(leaf));
                            // Dies at once; its destructor empties the slot the leaf came from
                            // and drops a root of it.
                            mu.alloc(Doomed {
                                _clear: ClearOnDrop { shelf: statics, index: i },
                                _keep: leaf.root(&mu),
                            });
                            doomed.fetch_add(1, Ordering::Relaxed);
                        }
                        churn_tree(&mu, tree_root.get(&mu), &mut rng);
                        mu.safepoint();
                        let micros = 20 + rng.below(200) as u64;
                        mu.blocking(|| thread::sleep(Duration::from_micros(micros)));
                    }
                });
                run_until(
                    Duration::from_secs(1),
                    Duration::from_secs(5),
                    || idle_drains_since(before).0 >= 20,
                    || idle_drains_since(before).0 >= 1,
                );
                stop_round(&stop, cs);
            })
        });
        mu.collect();
        mu.collect();
        let what = format!("{barrier:?}");
        assert!(shelf.get(&mu).verify(&mu, &what) > 0);
        statics.verify(&mu, &what);
        assert_eq!(verify_tree(&mu, tree_root.get(&mu), &what), 20_000);
        let (drains, _) = idle_drains_since(before);
        assert!(drains >= 1, "{what}: no idle exclusive drain ran");
        assert!(doomed.load(Ordering::Relaxed) > 0);
    }
    gc_runtime::reconfigure(Config::default()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// 3. Threads that attach, mutate and end — some leaking their mutator — during idle drains.
// ---------------------------------------------------------------------------------------------

/// Short-lived threads register (attach) whenever they like — often while an idle drain runs,
/// which they must end rather than wait out — mutate a shared tree, allocate, and end; two
/// (under the first barrier; pins are for good and slow every later cycle) leak their mutator
/// (its thread's end pins every live object, with the world stopped). Another thread collects
/// back to back. Checkmark on; the tree keeps its contents.
#[test]
fn threads_that_attach_and_end_during_idle_drains_lose_nothing() {
    let _s = serial();
    let _w = watchdog("threads_that_attach_and_end_during_idle_drains_lose_nothing");
    let mut mu = gc_runtime::attach();
    let mut yielded_total = 0;
    for barrier in BARRIERS {
        gc_runtime::reconfigure(idle(barrier)).unwrap();
        let tree_root: Root<Node> = tree(&mu, &mut 0, 20_000).root(&mu);
        let stop = AtomicBool::new(false);
        let spawned = AtomicUsize::new(0);
        let before = cycles();
        mu.blocking(|| {
            thread::scope(|s| {
                let cs = collectors(s, 1, &stop);
                let tree_root = &tree_root;
                for t in 0..2u64 {
                    let (stop, spawned) = (&stop, &spawned);
                    s.spawn(move || {
                        let mut rng = Rng(0xA77A_0004 + t + barrier as u64);
                        while !stop.load(Ordering::Relaxed) {
                            let n = spawned.fetch_add(1, Ordering::Relaxed);
                            let leak = n % 40 == 39 && n < 80 && barrier == BarrierKind::Dijkstra;
                            let seed = rng.next();
                            thread::scope(|inner| {
                                inner
                                    .spawn(move || {
                                        let mu = gc_runtime::attach();
                                        let mut rng = Rng(seed);
                                        churn_tree(&mu, tree_root.get(&mu), &mut rng);
                                        let keep = tree_root.get(&mu).left.get(&mu);
                                        for i in 0..50 {
                                            let g = mu.alloc(Node {
                                                id: i,
                                                check: check_of(i),
                                                left: Member::new(),
                                                right: Member::new(),
                                            });
                                            g.right.set(keep);
                                        }
                                        if leak {
                                            Box::leak(Box::new(mu));
                                        } // else dropped here: unregistered
                                    })
                                    .join()
                                    .unwrap();
                            });
                            thread::sleep(Duration::from_micros(rng.below(100) as u64));
                        }
                    });
                }
                // What the checks below need: a drain under this barrier, and by the last one
                // a drain ended by an attaching thread.
                let needed = || {
                    let (drains, yielded) = idle_drains_since(before);
                    drains >= 1 && (yielded_total + yielded >= 1 || barrier != BARRIERS[BARRIERS.len() - 1])
                };
                run_until(Duration::from_secs(1), Duration::from_secs(6), || idle_drains_since(before).1 >= 3, needed);
                stop_round(&stop, cs);
            })
        });
        mu.collect();
        mu.collect();
        let what = format!("{barrier:?}");
        assert!(verify_tree(&mu, tree_root.get(&mu), &what) > 1);
        let (drains, yielded) = idle_drains_since(before);
        assert!(drains >= 1, "{what}: no idle exclusive drain ran");
        yielded_total += yielded;
        eprintln!(
            "{what}: {} threads, {drains} idle drains, {yielded} ended by a thread",
            spawned.load(Ordering::Relaxed)
        );
    }
    assert!(yielded_total >= 1, "no attaching thread ever ended an idle drain");
    gc_runtime::reconfigure(Config::default()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// 4. Several threads calling `collect` at once, nobody else running.
// ---------------------------------------------------------------------------------------------

/// Four threads each mutate a shared tree a little and collect, over and over: every cycle's
/// drains are idle, and threads coming back from one `collect` while the next cycle (another
/// thread's) marks end its drains.
#[test]
fn several_threads_collecting_at_once_lose_nothing() {
    let _s = serial();
    let _w = watchdog("several_threads_collecting_at_once_lose_nothing");
    let mut mu = gc_runtime::attach();
    for barrier in BARRIERS {
        gc_runtime::reconfigure(idle(barrier)).unwrap();
        let tree_root: Root<Node> = tree(&mu, &mut 0, 40_000).root(&mu);
        let before = cycles();
        let deadline = Instant::now() + Duration::from_secs(3);
        mu.blocking(|| {
            thread::scope(|s| {
                for t in 0..4u64 {
                    let tree_root = &tree_root;
                    s.spawn(move || {
                        let mut mu = gc_runtime::attach();
                        let mut rng = Rng(0xC011_0005 + t);
                        let mut rounds = 0;
                        // Past the deadline, on until a drain ran (checked below), for
                        // `RUN_AT_MOST`: a loaded machine may need longer for one.
                        while Instant::now() < deadline
                            || rounds < 5
                            || (idle_drains_since(before).0 == 0 && Instant::now() < deadline + RUN_AT_MOST)
                        {
                            churn_tree(&mu, tree_root.get(&mu), &mut rng);
                            mu.collect();
                            assert!(verify_tree(&mu, tree_root.get(&mu), "between collections") > 1);
                            rounds += 1;
                        }
                    });
                }
            })
        });
        mu.collect();
        let what = format!("{barrier:?}");
        assert!(verify_tree(&mu, tree_root.get(&mu), &what) > 1);
        let (drains, yielded) = idle_drains_since(before);
        assert!(drains >= 1, "{what}: no idle exclusive drain ran");
        eprintln!("{what}: {} cycles, {drains} idle drains, {yielded} ended early", cycles() - before);
    }
    gc_runtime::reconfigure(Config::default()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// 5. `reconfigure` flipping everything while cycles run.
// ---------------------------------------------------------------------------------------------

/// A thread reconfigures every millisecond or two — idle exclusive marking on and off, each
/// barrier, handshakes on and off, stop-the-world mode, one mark worker or four — while two
/// threads collect back to back and two mutate and block. In stop-the-world mode a `collect`
/// polls for the pause's jobs while the world looks stopped, and a concurrent cycle started
/// under the earlier settings stops the world for its idle drains: the poller joins those.
#[test]
fn reconfiguring_during_cycles_loses_nothing() {
    let _s = serial();
    let _w = watchdog("reconfiguring_during_cycles_loses_nothing");
    let configs: Vec<Config> = {
        let mut v = Vec::new();
        for barrier in BARRIERS {
            for handshakes in [true, false] {
                for on in [true, false] {
                    v.push(idle(barrier).with_handshakes(handshakes).with_idle_exclusive_marking(on));
                }
            }
        }
        // Exclusive marking beside the mutators on, with the record of their marks over its
        // limit at once: later drains fall back to idle stops.
        v.push(idle(BarrierKind::Dijkstra).with_exclusive_marking(true).with_mark_log_permille(0));
        v.push(idle(BarrierKind::Yuasa).with_exclusive_marking(true));
        v.push(idle(BarrierKind::Hybrid).with_mode(Mode::StopTheWorld).with_mark_workers(4));
        v.push(idle(BarrierKind::Dijkstra).with_mode(Mode::StopTheWorld).with_mark_workers(1));
        v.push(idle(BarrierKind::Yuasa).with_mark_workers(1));
        v.push(idle(BarrierKind::Hybrid).with_mark_workers(4));
        v
    };
    let mut mu = gc_runtime::attach();
    gc_runtime::reconfigure(idle(BarrierKind::Yuasa)).unwrap();
    let tree_root: Root<Node> = tree(&mu, &mut 0, 30_000).root(&mu);
    let stop = AtomicBool::new(false);
    let before = cycles();
    mu.blocking(|| {
        thread::scope(|s| {
            let cs = collectors(s, 2, &stop);
            for t in 0..2u64 {
                let (tree_root, stop) = (&tree_root, &stop);
                s.spawn(move || {
                    let mut mu = gc_runtime::attach();
                    let mut rng = Rng(0x4EC0_0006 + t);
                    while !stop.load(Ordering::Relaxed) {
                        churn_tree(&mu, tree_root.get(&mu), &mut rng);
                        mu.safepoint();
                        let micros = rng.below(300) as u64;
                        mu.blocking(|| thread::sleep(Duration::from_micros(micros)));
                    }
                });
            }
            let mut rng = Rng(0x4EC0_0007);
            let start = Instant::now();
            let mut flips = 0;
            while start.elapsed() < Duration::from_secs(6)
                && (start.elapsed() < Duration::from_secs(2) || cycles() - before < 50)
            {
                gc_runtime::reconfigure(configs[rng.below(configs.len())].clone()).unwrap();
                flips += 1;
                thread::sleep(Duration::from_micros(500 + rng.below(1500) as u64));
            }
            stop_round(&stop, cs);
            eprintln!("reconfigure: {flips} flips, {} cycles", cycles() - before);
        })
    });
    gc_runtime::reconfigure(idle(BarrierKind::Hybrid)).unwrap();
    mu.collect();
    mu.collect();
    assert!(verify_tree(&mu, tree_root.get(&mu), "after the flips") > 1);
    let (drains, yielded) = idle_drains_since(before);
    eprintln!("reconfigure: {drains} idle drains, {yielded} ended early (recent cycles)");
    gc_runtime::reconfigure(Config::default()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// 6. Weak references and weak-map chains (ephemerons).
// ---------------------------------------------------------------------------------------------

#[derive(Trace)]
struct Key {
    id: u64,
    check: u64,
}

#[derive(Trace)]
struct Val {
    id: u64,
    check: u64,
    /// The next key of the chain: reachable only through this value, which the map keeps only
    /// while this value's own key is marked.
    next: Member<Key>,
    /// A leaf reachable only through this value.
    leaf: Member<Leaf>,
}

/// A chain of `len` keys in `map`, each one's value pointing to the next key; returns the head.
fn chain<'m>(mu: &'m Mutator, map: &GcWeakMap<Key, Val>, base: u64, len: u64) -> Gc<'m, Key> {
    let keys: Vec<_> = (0..len).map(|i| mu.alloc(Key { id: base + i, check: check_of(base + i) })).collect();
    for (i, &k) in keys.iter().enumerate() {
        let id = base + i as u64;
        let v = mu.alloc(Val { id, check: check_of(id), next: Member::new(), leaf: Member::new() });
        v.next.set(keys.get(i + 1).copied());
        v.leaf.set(Some(mu.alloc(Leaf::new(id))));
        map.insert(k, v);
    }
    keys[0]
}

/// Walk a chain from its head: every key has its value, every object its contents.
fn walk_chain(mu: &Mutator, map: &GcWeakMap<Key, Val>, head: Gc<'_, Key>, len: u64, what: &str) {
    let mut k = Some(head);
    let mut n = 0;
    while let Some(key) = k {
        assert_eq!(key.check, check_of(key.id), "{what}: key {} corrupted", key.id);
        let v = map.get(key, mu).unwrap_or_else(|| panic!("{what}: the entry of reachable key {} is gone", key.id));
        assert_eq!((v.id, v.check), (key.id, check_of(key.id)), "{what}: value of key {} corrupted", key.id);
        v.leaf.get(mu).expect("a leaf").verify(what);
        k = v.next.get(mu);
        n += 1;
    }
    assert_eq!(n, len, "{what}: the chain is whole");
}

/// Chains of a weak map kept alive only by the ephemeron fixpoint (each key reachable only
/// through the previous key's value), their heads held by roots that a thread without a mutator
/// drops; the mover walks live chains, rebuilds dropped ones, upgrades weak references to leaves
/// whose only strong reference it may drop, and copies what it upgraded into a rooted shelf — all
/// between blocking sections, so the drains are mostly idle and exclusive.
#[test]
fn weak_references_and_weak_map_chains_survive_idle_drains() {
    let _s = serial();
    let _w = watchdog("weak_references_and_weak_map_chains_survive_idle_drains");
    const CHAINS: usize = 16;
    const LEN: u64 = 40;
    const K: usize = 128;
    let mut mu = gc_runtime::attach();
    for barrier in BARRIERS {
        gc_runtime::reconfigure(idle(barrier)).unwrap();
        let map: Root<GcWeakMap<Key, Val>> = mu.alloc(GcWeakMap::new()).root(&mu);
        let shelf: Root<Shelf> = mu.alloc(Shelf::new(K)).root(&mu);
        let tree_root: Root<Node> = tree(&mu, &mut 0, 20_000).root(&mu);
        let heads: Vec<Mutex<Option<Root<Key>>>> = (0..CHAINS).map(|_| Mutex::new(None)).collect();
        let strong: Vec<Mutex<Option<Root<Leaf>>>> = (0..K).map(|_| Mutex::new(None)).collect();
        let stop = AtomicBool::new(false);
        let (walked, upgraded) = (AtomicU64::new(0), AtomicU64::new(0));
        let before = cycles();
        mu.blocking(|| {
            thread::scope(|s| {
                let cs = collectors(s, 1, &stop);
                s.spawn(|| {
                    let mut mu = gc_runtime::attach();
                    let mut rng = Rng(0x3EA4_0008 ^ barrier as u64);
                    let mut weaks: Vec<Option<Weak<Leaf>>> = (0..K).map(|_| None).collect();
                    let mut base = 1_000_000;
                    while !stop.load(Ordering::Relaxed) {
                        let (map, shelf) = (map.get(&mu), shelf.get(&mu));
                        let map = &*map;
                        let c = rng.below(CHAINS);
                        let mut head = heads[c].lock().unwrap();
                        match &*head {
                            Some(r) => {
                                walk_chain(&mu, map, r.get(&mu), LEN, "a live chain");
                                walked.fetch_add(1, Ordering::Relaxed);
                            }
                            None => {
                                *head = Some(chain(&mu, map, base, LEN).root(&mu));
                                base += LEN;
                            }
                        }
                        drop(head);
                        for _ in 0..4 {
                            let i = rng.below(K);
                            match weaks[i].as_ref().map(|w| w.upgrade(&mu)) {
                                Some(Some(l)) => {
                                    l.verify("an upgraded leaf");
                                    shelf.slots[rng.below(K)].set(Some(l));
                                    upgraded.fetch_add(1, Ordering::Relaxed);
                                }
                                _ => {
                                    base += 1;
                                    let l = mu.alloc(Leaf::new(base));
                                    weaks[i] = Some(Weak::new(&mu, l));
                                    *strong[i].lock().unwrap() = Some(l.root(&mu));
                                }
                            }
                        }
                        churn_tree(&mu, tree_root.get(&mu), &mut rng);
                        mu.safepoint();
                        let micros = 20 + rng.below(150) as u64;
                        mu.blocking(|| thread::sleep(Duration::from_micros(micros)));
                    }
                });
                s.spawn(|| {
                    let mut rng = Rng(0xD40B_0009 ^ barrier as u64);
                    while !stop.load(Ordering::Relaxed) {
                        let r = heads[rng.below(CHAINS)].lock().unwrap().take();
                        drop(r);
                        let r = strong[rng.below(K)].lock().unwrap().take();
                        drop(r);
                        thread::sleep(Duration::from_micros(50 + rng.below(300) as u64));
                    }
                });
                run_until(
                    Duration::from_secs(1),
                    Duration::from_secs(5),
                    || idle_drains_since(before).0 >= 20,
                    || idle_drains_since(before).0 >= 1,
                );
                stop_round(&stop, cs);
            })
        });
        mu.collect();
        mu.collect();
        let what = format!("{barrier:?}");
        let m = map.get(&mu).into_ref();
        for h in heads.iter() {
            if let Some(r) = &*h.lock().unwrap() {
                walk_chain(&mu, m, r.get(&mu), LEN, &what);
            }
        }
        shelf.get(&mu).verify(&mu, &what);
        assert_eq!(verify_tree(&mu, tree_root.get(&mu), &what), 20_000);
        let (drains, _) = idle_drains_since(before);
        assert!(drains >= 1, "{what}: no idle exclusive drain ran");
        assert!(walked.load(Ordering::Relaxed) > 0, "{what}: no chain walked");
        eprintln!(
            "{what}: {drains} idle drains, {} chains walked, {} upgrades",
            walked.load(Ordering::Relaxed),
            upgraded.load(Ordering::Relaxed)
        );
    }
    gc_runtime::reconfigure(Config::default()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// 7. `Mutator::blocking` closures that do things.
// ---------------------------------------------------------------------------------------------

static GLOBAL: GlobalRoot<Leaf> = GlobalRoot::new();

/// A payload that marks an intended panic (its report is kept quiet).
struct Intended;

/// Blocking closures that drop a root, clear a `GlobalRoot`, truncate a `'static` vector, try to
/// attach (refused), start a thread that attaches, allocates, sets the global root and collects
/// and join it, and panic (the mutator comes back while unwinding) — each while the world may be
/// stopped for an idle drain, the closure's thread being the only mutator besides one that
/// collects back to back.
#[test]
fn blocking_closures_that_do_things_during_idle_drains() {
    let _s = serial();
    let _w = watchdog("blocking_closures_that_do_things_during_idle_drains");
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info.payload().is::<Intended>() {
            default_hook(info);
        }
    }));
    let static_vec: &'static GcVec<Leaf> = leak_static(GcVec::new);
    let mut mu = gc_runtime::attach();
    for barrier in BARRIERS {
        gc_runtime::reconfigure(idle(barrier)).unwrap();
        let shelf: Root<Shelf> = mu.alloc(Shelf::new(64)).root(&mu);
        let tree_root: Root<Node> = tree(&mu, &mut 0, 20_000).root(&mu);
        let stop = AtomicBool::new(false);
        let before = cycles();
        let panics = AtomicU64::new(0);
        mu.blocking(|| {
            thread::scope(|s| {
                let cs = collectors(s, 1, &stop);
                s.spawn(|| {
                    let mut mu = gc_runtime::attach();
                    let mut rng = Rng(0xB10C_000A ^ barrier as u64);
                    let mut id = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let sh = shelf.get(&mu);
                        id += 1;
                        let leaf = mu.alloc(Leaf::new(id));
                        let root = leaf.root(&mu);
                        sh.slots[rng.below(64)].set(Some(leaf));
                        if let Some(g) = GLOBAL.get(&mu) {
                            g.verify("the global leaf");
                            sh.slots[rng.below(64)].set(Some(g));
                        }
                        for _ in 0..8 {
                            id += 1;
                            static_vec.push(mu.alloc(Leaf::new(id)));
                        }
                        if let Some(l) = static_vec.get(rng.below(static_vec.len().max(1)), &mu) {
                            l.verify("a leaf of the static vector");
                            sh.slots[rng.below(64)].set(Some(l));
                        }
                        churn_tree(&mu, tree_root.get(&mu), &mut rng);
                        mu.safepoint();
                        let seed = rng.next();
                        match rng.below(4) {
                            0 => mu.blocking(move || {
                                drop(root);
                                GLOBAL.clear();
                                static_vec.truncate(4);
                                assert!(matches!(gc_runtime::try_attach(), Err(AttachError::AlreadyAttached)));
                            }),
                            1 => mu.blocking(move || {
                                drop(root);
                                thread::spawn(move || {
                                    let mut mu = gc_runtime::attach();
                                    let l = mu.alloc(Leaf::new(seed));
                                    GLOBAL.set(&mu, l);
                                    if seed % 4 == 0 {
                                        mu.collect();
                                    }
                                    GLOBAL.get(&mu).expect("set").verify("a global leaf after collect");
                                })
                                .join()
                                .unwrap();
                            }),
                            2 => {
                                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                    mu.blocking(move || {
                                        drop(root);
                                        thread::sleep(Duration::from_micros(50));
                                        std::panic::panic_any(Intended);
                                    })
                                }));
                                assert!(r.is_err());
                                panics.fetch_add(1, Ordering::Relaxed);
                            }
                            _ => mu.blocking(move || {
                                thread::sleep(Duration::from_micros(100));
                                drop(root);
                            }),
                        }
                    }
                });
                run_until(
                    Duration::from_secs(1),
                    Duration::from_secs(5),
                    || idle_drains_since(before).0 >= 20,
                    || idle_drains_since(before).0 >= 1,
                );
                stop_round(&stop, cs);
            })
        });
        mu.collect();
        mu.collect();
        let what = format!("{barrier:?}");
        assert!(shelf.get(&mu).verify(&mu, &what) > 0);
        for l in static_vec.iter(&mu) {
            l.verify(&what);
        }
        if let Some(g) = GLOBAL.get(&mu) {
            g.verify(&what);
        }
        assert_eq!(verify_tree(&mu, tree_root.get(&mu), &what), 20_000);
        let (drains, _) = idle_drains_since(before);
        assert!(drains >= 1, "{what}: no idle exclusive drain ran");
        assert!(panics.load(Ordering::Relaxed) > 0);
    }
    GLOBAL.clear();
    let _ = std::panic::take_hook();
    gc_runtime::reconfigure(Config::default()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// 8. A probe: a thread that wants to run just after the job ended.
// ---------------------------------------------------------------------------------------------

/// With one mark worker a job has nobody to forward to, so none can be given up for
/// forwarding: every drain given up was ended by a thread that wanted to run. A thread that came
/// back after the job had ended but before the world started used to set the give-up flag
/// unseen, and the drain was booked as given up for forwarding — the cycle's later drains then
/// lost exclusive marking (a hostile review found it in the code; whether a thread wanted to
/// run is now read in the step that starts the world). Threads come back at random while one
/// collects for 3 s; checkmark verifies every cycle.
#[test]
fn with_one_worker_no_drain_is_booked_as_given_up_for_forwarding() {
    let _s = serial();
    let _w = watchdog("with_one_worker_no_drain_is_booked_as_given_up_for_forwarding");
    gc_runtime::reconfigure(idle(BarrierKind::Dijkstra).with_mark_workers(1).with_idle_mark_workers(false)).unwrap();
    let mut mu = gc_runtime::attach();
    let tree_root: Root<Node> = tree(&mu, &mut 0, 4_000).root(&mu);
    let stop = AtomicBool::new(false);
    let (mut booked, mut forwarded, mut yielded, mut drains, mut n) = (0, 0, 0, 0, 0usize);
    mu.blocking(|| {
        thread::scope(|s| {
            for t in 0..3u64 {
                let (tree_root, stop) = (&tree_root, &stop);
                s.spawn(move || {
                    let mut mu = gc_runtime::attach();
                    let mut rng = Rng(0x1A7E_000B + t);
                    while !stop.load(Ordering::Relaxed) {
                        churn_tree(&mu, tree_root.get(&mu), &mut rng);
                        mu.safepoint();
                        let spins = rng.below(2000);
                        mu.blocking(|| {
                            for _ in 0..spins {
                                std::hint::spin_loop();
                            }
                        });
                    }
                });
            }
            let collector = s.spawn(|| {
                let mut mu = gc_runtime::attach();
                let start = Instant::now();
                let mut out = (0, 0, 0, 0, 0);
                // For 2 s, and until a drain ran (checked below), for `RUN_AT_MOST` in all.
                while start.elapsed() < Duration::from_secs(2) || (out.3 == 0 && start.elapsed() < RUN_AT_MOST) {
                    let b = cycles();
                    mu.collect();
                    if let Some(c) = gc_runtime::stats().recent.into_iter().rfind(|c| c.cycle > b) {
                        assert!(c.checkmarked_objects.is_some());
                        out.0 += c.exclusive_jobs_given_up;
                        out.1 += c.objects_forwarded;
                        out.2 += c.idle_drains_yielded;
                        out.3 += c.idle_exclusive_drains;
                        out.4 += 1;
                    }
                }
                stop.store(true, Ordering::Relaxed);
                out
            });
            let r = collector.join();
            stop.store(true, Ordering::Relaxed);
            (booked, forwarded, yielded, drains, n) = r.unwrap();
        })
    });
    assert!(verify_tree(&mu, tree_root.get(&mu), "one worker") > 1);
    eprintln!(
        "one worker: {n} cycles, {drains} idle drains, {yielded} ended by a thread that came back, \
         {forwarded} objects forwarded, {booked} booked as given up for forwarding"
    );
    assert!(drains > 0, "no drain ran exclusive");
    assert_eq!((booked, forwarded), (0, 0), "one worker forwards nothing and gives nothing up for it");
    gc_runtime::reconfigure(Config::default()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// 9. Idle stops when exclusive marking beside the mutators is on but can no longer be used.
// ---------------------------------------------------------------------------------------------

/// Exclusive marking beside the mutators on (the default) and idle exclusive marking on: once
/// the record of the mutators' marks outgrew its limit, a drain is no job beside them any more,
/// and one that finds no mutator running stops the world for an idle job — which it must then
/// end. It did not: the drain took itself for one beside the mutators, so the world stayed
/// stopped, every thread coming back from `blocking` or `collect` waited for ever, and the
/// next stop found the world already stopped (the collector aborted). A limit of zero puts the
/// record over it at a mutator's first black allocation in a marking; a churner that blocks
/// between bursts lets the drains find nobody running.
#[test]
fn idle_stops_after_the_mark_record_outgrew_its_limit_end() {
    let _s = serial();
    let _w = watchdog("idle_stops_after_the_mark_record_outgrew_its_limit_end");
    let mut mu = gc_runtime::attach();
    for barrier in BARRIERS {
        gc_runtime::reconfigure(idle(barrier).with_exclusive_marking(true).with_mark_log_permille(0)).unwrap();
        let tree_root: Root<Node> = tree(&mu, &mut 0, 20_000).root(&mu);
        let before = cycles();
        let over_limit_idle_drains = || {
            gc_runtime::stats()
                .recent
                .iter()
                .filter(|c| c.cycle > before && c.mark_log_over_limit && c.idle_exclusive_drains > 0)
                .count()
        };
        let stop = AtomicBool::new(false);
        mu.blocking(|| {
            thread::scope(|s| {
                let cs = collectors(s, 1, &stop);
                let (tree_root, stop) = (&tree_root, &stop);
                s.spawn(move || {
                    let mut mu = gc_runtime::attach();
                    let mut rng = Rng(0x1D1E_0007);
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..20 {
                            churn_tree(&mu, tree_root.get(&mu), &mut rng);
                        }
                        mu.blocking(|| thread::sleep(Duration::from_micros(300)));
                    }
                });
                run_until(
                    Duration::from_millis(500),
                    Duration::from_secs(10),
                    || over_limit_idle_drains() >= 3,
                    || over_limit_idle_drains() >= 1,
                );
                stop_round(stop, cs);
            })
        });
        mu.collect();
        let what = format!("{barrier:?}");
        assert!(verify_tree(&mu, tree_root.get(&mu), &what) > 1);
        let (drains, _) = idle_drains_since(before);
        let exercised = over_limit_idle_drains();
        eprintln!(
            "{what}: {} cycles, {drains} idle drains, in {exercised} cycles over the record's limit",
            cycles() - before
        );
        assert!(exercised >= 1, "{what}: no idle drain ran after the record outgrew its limit");
    }
    gc_runtime::reconfigure(Config::default()).unwrap();
}
