//! A hostile user's attacks on parallel marking: the mark workers (their number reconfigured
//! from several threads while cycles run, up to the limit, through the environment), heaps that
//! cross the 1 MiB threshold of extra workers between cycles, the chunked scans of large
//! collections ("oblets") while several threads push, insert, remove, set, truncate and clear
//! them, user code (`Hash`, `Eq`, `Clone`, `Debug`, `Drop`) of map keys that panics or
//! allocates while workers hold chunks, threads that exit or leak their mutators while workers
//! run, `collect` from many threads at once, and destructors that reconfigure the collector.
//!
//! Every element is a `Canary` (its id scrambled, and a drop probe in a ledger): an object
//! freed while reachable fails its canary check or its ledger entry; checkmark verifies every
//! marking (a missed object aborts the process); at the end, with the roots gone, every element
//! must have been dropped exactly once. A watchdog aborts the process if a scenario does not
//! finish within [`DEADLOCK_BOUND`] (a deadlock); scenarios that leak or set variables run in a
//! child process.

use std::{
    collections::HashSet,
    fmt,
    hash::{Hash, Hasher},
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    thread,
    time::Duration,
};

mod common;

use common::{
    child::{child, in_child},
    collect2, cores,
    hostile::{assert_checkmarked_since, hostile_config, modes, watchdog, with_collector, DEADLOCK_BOUND},
    serial_only, Canary, Ledger, Rng,
};
use gc_runtime::{
    AttachError, BarrierKind, Config, Gc, GcIdMap, GcMap, GcValueMap, GcValueVec, GcVec, GcWeakMap, Member, Mode,
    Mutator, Root, Trace,
};

// ---------------------------------------------------------------------------------------------
// The worker count, reconfigured while cycles run.

#[derive(Trace)]
struct Link {
    next: Member<Link>,
    payload: Member<Canary>,
}

#[derive(Trace)]
struct Chain {
    items: GcVec<Canary>,
    head: Member<Link>,
}

/// Check every element of `chain`; the ids, each once.
fn chain_ids(mu: &Mutator, chain: &Chain) -> Vec<u64> {
    let mut ids: Vec<u64> = chain.items.iter(mu).map(|c| c.check()).collect();
    let mut link = chain.head.get(mu);
    while let Some(l) = link {
        ids.push(l.payload.get(mu).expect("a link's payload").check());
        link = l.next.get(mu);
    }
    ids
}

/// Attacks `reconfigure` of the worker count from two threads at once, between and during
/// cycles — 1 ↔ 16 workers, mode and barrier flipped, idle workers on and off, and the invalid
/// counts 0 and 257 — while two mutators grow and churn more than a MiB of live objects and a
/// third thread collects back to back. Must hold: invalid counts are refused and never in
/// force, every cycle completes and is checkmarked, no element is lost, and once unrooted
/// every element is dropped exactly once.
#[test]
fn worker_count_reconfigured_from_several_threads_while_cycles_run() {
    let _s = serial_only();
    let _w = watchdog("worker count storm");
    gc_runtime::reconfigure(hostile_config(Mode::Concurrent, BarrierKind::Dijkstra, 2)).unwrap();
    let before = gc_runtime::stats().cycles;
    let ledger = Ledger::new(1_000_000);
    let (mutators, reconfigurers) = (2, 2);
    let roots: Vec<Root<Chain>> = {
        let mu = gc_runtime::attach();
        (0..mutators).map(|_| mu.alloc(Chain { items: GcVec::new(), head: Member::new() }).root(&mu)).collect()
    };
    let refused = AtomicU64::new(0);
    let cycles = with_collector(mutators + reconfigurers, 1200, |t, stop| {
        let mut rng = Rng(0x9E37_79B9 + t as u64 * 7919);
        if t >= mutators {
            let workers = [1, 16, 2, 8, 1, 3, 16, 1];
            let mut i = t;
            while !stop.load(Ordering::Relaxed) {
                let (mode, barrier, handshakes) = modes()[rng.below(4)];
                let config = hostile_config(mode, barrier, workers[i % workers.len()])
                    .with_handshakes(handshakes)
                    .with_idle_mark_workers(rng.below(2) == 0);
                gc_runtime::reconfigure(config.clone()).unwrap();
                for bad in [0, 257, usize::MAX] {
                    let err = gc_runtime::reconfigure(config.clone().with_mark_workers(bad)).unwrap_err();
                    assert_eq!(err.variable, "mark_workers");
                    refused.fetch_add(1, Ordering::Relaxed);
                    let now = gc_runtime::config().mark_workers;
                    assert!((1..=256).contains(&now), "an invalid count was put in force: {now}");
                }
                i += 1;
                thread::sleep(Duration::from_micros(200 + rng.below(2000) as u64));
            }
            return;
        }
        let mut mu = gc_runtime::attach();
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(10_000) {
            let chain = roots[t].get(&mu);
            for _ in 0..64 {
                let c = Canary::alloc(&mu, &ledger);
                match rng.below(8) {
                    0 if chain.items.len() > 10 => {
                        let i = rng.below(chain.items.len());
                        if let Ok(old) = chain.items.try_remove(i, &mu) {
                            old.check();
                        }
                    }
                    1 => {
                        let link = mu.alloc(Link { next: Member::new(), payload: Member::new() });
                        link.payload.set(Some(c));
                        link.next.set(chain.head.get(&mu));
                        chain.head.set(Some(link));
                    }
                    2 if chain.items.len() > 30_000 => chain.items.truncate(1000),
                    _ => chain.items.push(c),
                }
            }
            n += 1;
            if n % 16 == 0 {
                chain_ids(&mu, &chain);
            }
            mu.safepoint();
        }
    });
    assert!(cycles >= 2, "only {cycles} cycles ran");
    assert!(refused.load(Ordering::Relaxed) > 0);
    assert_checkmarked_since(before);
    gc_runtime::reconfigure(Config::default().with_gc_percent(None).with_checkmark(true)).unwrap();
    let mut mu = gc_runtime::attach();
    collect2(&mut mu);
    let mut alive = HashSet::new();
    for r in &roots {
        for id in chain_ids(&mu, &r.get(&mu)) {
            assert!(alive.insert(id), "element {id} reachable twice");
        }
    }
    ledger.check_exactly(&alive);
    drop(roots);
    collect2(&mut mu);
    ledger.check_exactly(&HashSet::new());
    gc_runtime::reconfigure(Config::default()).unwrap();
}

/// Attacks the 1 MiB threshold of extra workers: a mutator builds a heap of a few MiB and
/// drops it again, over and over, so consecutive cycles start on either side of the threshold
/// (and the heap crosses it while they mark), under each barrier with idle workers on, while
/// another thread collects back to back. Must hold: the contents built are intact at each
/// check, every cycle is checkmarked, no concurrent cycle marks with more threads than
/// `max(mark_workers, cores)`, and all the garbage is freed exactly once.
#[test]
fn a_heap_crossing_the_parallel_threshold_back_and_forth() {
    let _s = serial_only();
    let _w = watchdog("threshold crossing");
    for (mode, barrier, handshakes) in modes() {
        let ledger = Ledger::new(4_000_000);
        let config = hostile_config(mode, barrier, 1).with_handshakes(handshakes).with_idle_mark_workers(true);
        gc_runtime::reconfigure(config).unwrap();
        let before = gc_runtime::stats().cycles;
        let root = {
            let mu = gc_runtime::attach();
            mu.alloc(Chain { items: GcVec::new(), head: Member::new() }).root(&mu)
        };
        let cycles = with_collector(1, 300, |_, stop| {
            let mut mu = gc_runtime::attach();
            let mut round = 0u64;
            while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(60_000) {
                // Tiny, then ~3 MiB (25k canaries and a list beside them), then tiny again.
                let target = if round % 2 == 0 { 25_000 } else { 50 };
                while root.get(&mu).items.len() < target {
                    let chain = root.get(&mu);
                    for _ in 0..256 {
                        chain.items.push(Canary::alloc(&mu, &ledger));
                    }
                    let link = mu.alloc(Link { next: Member::new(), payload: Member::new() });
                    link.payload.set(Some(Canary::alloc(&mu, &ledger)));
                    link.next.set(chain.head.get(&mu));
                    chain.head.set(Some(link));
                    mu.safepoint();
                }
                let chain = root.get(&mu);
                chain_ids(&mu, &chain);
                if target == 50 {
                    chain.items.truncate(50);
                    chain.head.set(None);
                }
                chain_ids(&mu, &chain);
                round += 1;
                mu.safepoint();
            }
        });
        assert!(cycles >= 2, "{barrier:?}: only {cycles} cycles");
        assert_checkmarked_since(before);
        let stats = gc_runtime::stats();
        for c in stats.recent.iter().filter(|c| c.cycle > before) {
            assert!(c.mark_workers <= cores().max(1), "cycle {} marked with {} workers", c.cycle, c.mark_workers);
        }
        drop(root);
        let mut mu = gc_runtime::attach();
        collect2(&mut mu);
        ledger.check_exactly(&HashSet::new());
    }
    gc_runtime::reconfigure(Config::default()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Chunked scans of large collections while several threads mutate them.

#[derive(Trace)]
struct Bag {
    vec: GcVec<Canary>,
    vals: GcValueVec<Member<Canary>>,
    keys: GcVec<Canary>,
    map: GcMap<u64, Canary>,
    ids: GcIdMap<Canary, Canary>,
    vmap: GcValueMap<u64, Member<Canary>>,
    weak: GcWeakMap<Canary, Canary>,
}

fn new_bag(mu: &Mutator) -> Gc<'_, Bag> {
    mu.alloc(Bag {
        vec: GcVec::new(),
        vals: GcValueVec::new(),
        keys: GcVec::new(),
        map: GcMap::new(),
        ids: GcIdMap::new(),
        vmap: GcValueMap::new(),
        weak: GcWeakMap::new(),
    })
}

/// Every object reachable from the bag, each canary checked.
fn bag_alive(mu: &Mutator, bag: &Bag, settled: bool) -> HashSet<u64> {
    let mut alive = HashSet::new();
    alive.extend(bag.vec.iter(mu).map(|c| c.check()));
    alive.extend(bag.vals.iter(mu).flatten().map(|c| c.check()));
    let keys: Vec<Gc<'_, Canary>> = bag.keys.to_vec(mu);
    alive.extend(keys.iter().map(|c| c.check()));
    alive.extend(bag.map.values(mu).iter().map(|c| c.check()));
    let mut weak_keys = keys.clone();
    for (k, v) in bag.ids.entries(mu) {
        alive.insert(k.check());
        alive.insert(v.check());
        weak_keys.push(k);
    }
    for (_, v) in bag.vmap.entries(mu) {
        alive.insert(v.expect("value maps hold objects only here").check());
    }
    if settled {
        // Nobody writes now: each listed key is found again, to the same value.
        for (k, v) in bag.map.entries(mu) {
            let again = bag.map.get(&k, mu).unwrap_or_else(|| panic!("map key {k} listed but not found"));
            assert!(Gc::ptr_eq(again, v), "map key {k} maps to two values");
        }
    }
    for k in weak_keys {
        if let Some(v) = bag.weak.get(k, mu) {
            alive.insert(v.check());
        }
    }
    alive
}

/// The most objects one churn operation allocates: a burst of pushes, several chunks at once.
const PUSH_BURST: usize = 3000;

/// One random structural or slot write to the bag's vectors: push, insert, remove, set, pop,
/// a burst that grows the vector by several chunks, truncation back to a few elements, clear.
fn churn_vectors(mu: &Mutator, bag: &Bag, ledger: &Arc<Ledger>, rng: &mut Rng) {
    let len = bag.vec.len();
    match rng.below(24) {
        0..=5 => bag.vec.push(Canary::alloc(mu, ledger)),
        6..=8 => {
            let _ = bag.vec.try_insert(rng.below(len + 1), Canary::alloc(mu, ledger));
        }
        9..=11 => {
            if let Ok(old) = bag.vec.try_remove(rng.below(len.max(1)), mu) {
                old.check();
                // Move it elsewhere: behind or ahead of a scan of either vector.
                if rng.below(2) == 0 {
                    bag.vals.push(Some(old));
                } else {
                    let _ = bag.vec.try_insert(rng.below(len), old);
                }
            }
        }
        12..=14 => {
            let _ = bag.vec.try_set(rng.below(len.max(1)), Canary::alloc(mu, ledger));
        }
        15 => {
            if let Some(old) = bag.vec.pop(mu) {
                old.check();
            }
        }
        16 => {
            // Tiny to huge: several chunks at once.
            for _ in 0..PUSH_BURST {
                bag.vec.push(Canary::alloc(mu, ledger));
            }
        }
        17 if len > 4000 => bag.vec.truncate(rng.below(20)),
        18 if rng.below(8) == 0 => bag.vec.clear(),
        19 | 20 => {
            let vlen = bag.vals.len();
            let v = Some(Canary::alloc(mu, ledger));
            let _ = if rng.below(2) == 0 {
                bag.vals.try_set(rng.below(vlen.max(1)), v)
            } else {
                bag.vals.try_insert(rng.below(vlen + 1), v)
            };
        }
        21 => {
            let vlen = bag.vals.len();
            if let Ok(Some(old)) = bag.vals.try_remove(rng.below(vlen.max(1)), mu) {
                old.check();
                bag.vec.push(old);
            }
        }
        22 => {
            for _ in 0..2000 {
                bag.vals.push(Some(Canary::alloc(mu, ledger)));
            }
        }
        _ => {
            if bag.vals.len() > 3000 {
                bag.vals.truncate(rng.below(30));
            }
        }
    }
}

/// One random write to the bag's maps: insert over many keys (more than a chunk of buckets),
/// remove, a burst of fresh keys (rehashes while a scan is part way through), clear.
fn churn_maps(mu: &Mutator, bag: &Bag, ledger: &Arc<Ledger>, rng: &mut Rng) {
    let key = rng.below(6000) as u64;
    match rng.below(20) {
        0..=5 => {
            bag.map.insert(key, Canary::alloc(mu, ledger));
            bag.vmap.insert(key, Some(Canary::alloc(mu, ledger)));
        }
        6..=8 => {
            if let Some(v) = bag.map.remove(&key, mu) {
                v.check();
            }
            if let Some(Some(v)) = bag.vmap.remove(&key, mu) {
                v.check();
            }
        }
        9..=11 => {
            let k = Canary::alloc(mu, ledger);
            bag.keys.push(k);
            bag.ids.insert(k, Canary::alloc(mu, ledger));
            bag.weak.insert(k, Canary::alloc(mu, ledger));
        }
        12..=13 => {
            let n = bag.keys.len();
            if let Ok(k) = bag.keys.try_remove(rng.below(n.max(1)), mu) {
                if let Some(v) = bag.ids.remove(k, mu) {
                    v.check();
                }
                // The weak entry stays: its key is dead now, its value goes with it.
            }
        }
        14 => {
            for k in 0..1500u64 {
                bag.map.insert(10_000 + key * 1500 + k, Canary::alloc(mu, ledger));
            }
        }
        15 if rng.below(10) == 0 => {
            bag.map.clear();
            bag.vmap.clear();
        }
        16 if rng.below(10) == 0 => bag.ids.clear(),
        17 if bag.keys.len() > 3000 => bag.keys.truncate(100),
        _ => {
            if let Some(v) = bag.map.get(&key, mu) {
                v.check();
            }
            let n = bag.keys.len();
            if let Some(k) = bag.keys.get(rng.below(n.max(1)), mu) {
                if let Some(v) = bag.weak.get(k, mu) {
                    v.check();
                }
            }
        }
    }
}

/// Mutator threads of [`shared_bag_under_churn`].
const CHURN_THREADS: usize = 3;

/// Churn operations between two checks of the ledger.
const CHURN_OPS_PER_CHECK: usize = 16;

/// Room the churn leaves in its ledger: what every thread may allocate between two checks (an
/// operation allocates at most [`PUSH_BURST`] objects). The runs are timed, so a faster
/// collector allocates more in one; with a smaller margin (it was 20,000) the threads could
/// pass the check together and overrun the ledger.
const CHURN_LEDGER_MARGIN: usize = CHURN_THREADS * CHURN_OPS_PER_CHECK * PUSH_BURST + 10_000;

/// Three mutators run `churn` on one shared bag for about half a second under `mode`/`barrier`
/// with three mark workers while cycles run back to back; then the bag must hold intact
/// elements only and the ledger must show exactly the unreachable ones dropped, once.
fn shared_bag_under_churn(
    mode: Mode,
    barrier: BarrierKind,
    handshakes: bool,
    churn: fn(&Mutator, &Bag, &Arc<Ledger>, &mut Rng),
) {
    let _s = serial_only();
    let _w = watchdog("shared bag");
    gc_runtime::reconfigure(hostile_config(mode, barrier, 3).with_handshakes(handshakes)).unwrap();
    let before = gc_runtime::stats().cycles;
    let ledger = Ledger::new(3_000_000);
    let root = {
        let mu = gc_runtime::attach();
        let bag = new_bag(&mu);
        for _ in 0..5000 {
            bag.vec.push(Canary::alloc(&mu, &ledger));
        }
        bag.root(&mu)
    };
    let ops = AtomicUsize::new(0);
    let cycles = with_collector(CHURN_THREADS, 500, |t, stop| {
        let mut mu = gc_runtime::attach();
        let mut rng = Rng(0xDEAD_BEEF ^ ((t as u64 + 1) * 0x1234_5677));
        let mut n = 0usize;
        while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(CHURN_LEDGER_MARGIN) {
            let bag = root.get(&mu);
            for _ in 0..CHURN_OPS_PER_CHECK {
                churn(&mu, &bag, &ledger, &mut rng);
            }
            n += CHURN_OPS_PER_CHECK;
            if n % 2048 == 0 {
                bag_alive(&mu, &bag, false);
            }
            mu.safepoint();
        }
        ops.fetch_add(n, Ordering::Relaxed);
    });
    assert!(cycles >= 2, "only {cycles} cycles");
    assert!(ops.load(Ordering::Relaxed) > 0);
    assert_checkmarked_since(before);
    gc_runtime::reconfigure(Config::default().with_gc_percent(None).with_checkmark(true)).unwrap();
    let mut mu = gc_runtime::attach();
    collect2(&mut mu);
    let alive = bag_alive(&mu, &root.get(&mu), true);
    ledger.check_exactly(&alive);
    drop(root);
    collect2(&mut mu);
    ledger.check_exactly(&HashSet::new());
    gc_runtime::reconfigure(Config::default()).unwrap();
}

/// Attacks the chunked scans of `GcVec` and `GcValueVec` (5000+ elements, several chunks)
/// with three writers pushing, inserting, removing, moving elements between the two vectors
/// and back, setting, growing by 3000 at once and truncating to a handful, stop-the-world.
/// Must hold: elements intact, exactly the unreachable ones dropped, once.
#[test]
fn vectors_mutated_during_chunked_scans_stop_the_world() {
    shared_bag_under_churn(Mode::StopTheWorld, BarrierKind::Dijkstra, true, churn_vectors);
}

/// As [`vectors_mutated_during_chunked_scans_stop_the_world`], concurrent, Dijkstra barrier.
#[test]
fn vectors_mutated_during_chunked_scans_dijkstra() {
    shared_bag_under_churn(Mode::Concurrent, BarrierKind::Dijkstra, true, churn_vectors);
}

/// As [`vectors_mutated_during_chunked_scans_stop_the_world`], concurrent, Yuasa barrier
/// (where a push shades nothing: what keeps an element pushed below the cursor alive is the
/// snapshot).
#[test]
fn vectors_mutated_during_chunked_scans_yuasa() {
    shared_bag_under_churn(Mode::Concurrent, BarrierKind::Yuasa, true, churn_vectors);
}

/// As [`vectors_mutated_during_chunked_scans_stop_the_world`], concurrent, hybrid barrier,
/// global stops.
#[test]
fn vectors_mutated_during_chunked_scans_hybrid() {
    shared_bag_under_churn(Mode::Concurrent, BarrierKind::Hybrid, false, churn_vectors);
}

/// Attacks the chunked scans of `GcMap`, `GcValueMap`, `GcIdMap` and `GcWeakMap` (thousands of
/// keys, several chunks of buckets) with three writers inserting, removing, bursting 1500 fresh
/// keys (rehashes while a scan is part way through), clearing, and killing weak keys,
/// stop-the-world. Must hold: values intact, weak values alive while their keys are, exactly
/// the unreachable ones dropped, once.
#[test]
fn maps_mutated_during_chunked_scans_stop_the_world() {
    shared_bag_under_churn(Mode::StopTheWorld, BarrierKind::Dijkstra, true, churn_maps);
}

/// As [`maps_mutated_during_chunked_scans_stop_the_world`], concurrent, Dijkstra barrier.
#[test]
fn maps_mutated_during_chunked_scans_dijkstra() {
    shared_bag_under_churn(Mode::Concurrent, BarrierKind::Dijkstra, true, churn_maps);
}

/// As [`maps_mutated_during_chunked_scans_stop_the_world`], concurrent, Yuasa barrier.
#[test]
fn maps_mutated_during_chunked_scans_yuasa() {
    shared_bag_under_churn(Mode::Concurrent, BarrierKind::Yuasa, true, churn_maps);
}

/// As [`maps_mutated_during_chunked_scans_stop_the_world`], concurrent, hybrid barrier,
/// global stops.
#[test]
fn maps_mutated_during_chunked_scans_hybrid() {
    shared_bag_under_churn(Mode::Concurrent, BarrierKind::Hybrid, false, churn_maps);
}

#[derive(Trace)]
struct Twin {
    a: GcVec<Canary>,
    b: GcVec<Canary>,
}

/// Attacks "a finished scan stays finished" (one object, two large collections, one scan done
/// while the other is part way): two threads keep moving elements from the end of one vector
/// to the front of the other and back (a pop and an insert: the only reference to the element
/// is the mutator's local in between), the object visited once per chunk of either, under
/// each barrier with four workers. Must hold: the number of elements is conserved, each is
/// intact, and all are dropped exactly once in the end.
#[test]
fn elements_shuttled_between_two_large_vectors_of_one_object() {
    let _s = serial_only();
    let _w = watchdog("twin vectors");
    const N: usize = 6000;
    for (mode, barrier, handshakes) in modes() {
        gc_runtime::reconfigure(hostile_config(mode, barrier, 4).with_handshakes(handshakes)).unwrap();
        let ledger = Ledger::new(N + 10);
        let root = {
            let mu = gc_runtime::attach();
            let twin = mu.alloc(Twin { a: GcVec::new(), b: GcVec::new() });
            for i in 0..N {
                let c = Canary::alloc(&mu, &ledger);
                if i % 2 == 0 {
                    twin.a.push(c);
                } else {
                    twin.b.push(c);
                }
            }
            twin.root(&mu)
        };
        let cycles = with_collector(2, 250, |t, stop| {
            let mut mu = gc_runtime::attach();
            let mut rng = Rng(77 + t as u64);
            while !stop.load(Ordering::Relaxed) {
                let twin = root.get(&mu);
                for _ in 0..32 {
                    let (from, to) =
                        if (rng.below(2) == 0) == (t == 0) { (&twin.a, &twin.b) } else { (&twin.b, &twin.a) };
                    if let Some(e) = from.pop(&mu) {
                        e.check();
                        let at = rng.below(to.len() + 1).min(to.len());
                        if to.try_insert(at, e).is_err() {
                            to.push(e);
                        }
                    }
                }
                mu.safepoint();
            }
        });
        assert!(cycles >= 2, "{barrier:?}: only {cycles} cycles");
        let mut mu = gc_runtime::attach();
        collect2(&mut mu);
        let twin = root.get(&mu);
        let alive: HashSet<u64> = twin.a.iter(&mu).chain(twin.b.iter(&mu)).map(|c| c.check()).collect();
        assert_eq!(alive.len(), N, "{mode:?} {barrier:?}: elements lost or duplicated");
        ledger.check_exactly(&alive);
        drop(root);
        collect2(&mut mu);
        ledger.check_exactly(&HashSet::new());
    }
    gc_runtime::reconfigure(Config::default()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// `collect` from many threads at once.

/// Attacks the idle-worker count with many mutators waiting in `collect` at once: twelve
/// threads collect four times each while two keep mutating a live heap over 1 MiB, with two
/// workers configured and idle workers on. Must hold: every collect returns (no deadlock), no
/// concurrent cycle marks with more threads than `max(mark_workers, cores)`, and the live
/// heap is intact.
#[test]
fn collect_from_many_threads_at_once() {
    collect_storm(hostile_config(Mode::Concurrent, BarrierKind::Hybrid, 2).with_idle_mark_workers(true));
}

/// [`collect_from_many_threads_at_once`] in stop-the-world mode, where every thread waiting in
/// `collect` polls the mark pool and joins each pause's marking (see `marker/pool.rs`,
/// "Threads waiting in `collect` join"): twelve pollers race the helper threads for the
/// pauses' room. Must hold as there.
#[test]
fn collect_from_many_threads_at_once_stop_the_world() {
    collect_storm(hostile_config(Mode::StopTheWorld, BarrierKind::Dijkstra, 2));
}

fn collect_storm(config: Config) {
    let _s = serial_only();
    let _w = watchdog("collect storm");
    gc_runtime::reconfigure(config).unwrap();
    let before = gc_runtime::stats().cycles;
    let ledger = Ledger::new(1_000_000);
    let root = {
        let mu = gc_runtime::attach();
        let chain = mu.alloc(Chain { items: GcVec::new(), head: Member::new() });
        for _ in 0..30_000 {
            chain.items.push(Canary::alloc(&mu, &ledger));
        }
        chain.root(&mu)
    };
    let collectors_done = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..12 {
            s.spawn(|| {
                let mut mu = gc_runtime::attach();
                for _ in 0..4 {
                    mu.collect();
                }
                collectors_done.fetch_add(1, Ordering::SeqCst);
            });
        }
        for t in 0..2u64 {
            let (root, ledger, done) = (&root, &ledger, &collectors_done);
            s.spawn(move || {
                let mut mu = gc_runtime::attach();
                let mut rng = Rng(t + 5);
                while done.load(Ordering::SeqCst) < 12 && !ledger.nearly_full(1000) {
                    let chain = root.get(&mu);
                    for _ in 0..32 {
                        let len = chain.items.len();
                        let _ = chain.items.try_set(rng.below(len), Canary::alloc(&mu, ledger));
                    }
                    mu.safepoint();
                }
            });
        }
    });
    assert_checkmarked_since(before);
    let stats = gc_runtime::stats();
    for c in stats.recent.iter().filter(|c| c.cycle > before) {
        assert!(c.mark_workers <= cores().max(2), "cycle {} marked with {} workers", c.cycle, c.mark_workers);
    }
    let mut mu = gc_runtime::attach();
    collect2(&mut mu);
    let alive: HashSet<u64> = chain_ids(&mu, &root.get(&mu)).into_iter().collect();
    assert_eq!(alive.len(), 30_000);
    ledger.check_exactly(&alive);
    drop(root);
    collect2(&mut mu);
    ledger.check_exactly(&HashSet::new());
    gc_runtime::reconfigure(Config::default()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// User code of map keys while workers hold chunks (child process: its panics are expected).

thread_local! {
    static THREAD_MUTATOR: std::cell::RefCell<Option<Mutator>> = const { std::cell::RefCell::new(None) };
    static SIDE: std::cell::RefCell<Option<Root<Chain>>> = const { std::cell::RefCell::new(None) };
}

static KEY_CALLS: AtomicU64 = AtomicU64::new(0);
static KEYS_MAY_PANIC: AtomicBool = AtomicBool::new(false);

/// Allocate, and push into another large collection (allowed from key code), through the
/// thread's mutator if it has one in [`THREAD_MUTATOR`].
fn key_code_allocates() {
    THREAD_MUTATOR.with(|m| {
        let Ok(m) = m.try_borrow() else { return };
        let Some(mu) = m.as_ref() else { return };
        let x = mu.alloc([7u64; 64]);
        assert_eq!(x[63], 7);
        SIDE.with(|side| {
            if let Some(side) = side.borrow().as_ref() {
                let side = side.get(mu);
                if side.items.len() < 5000 {
                    side.items.push(Canary::alloc(mu, SIDE_LEDGER.get().expect("the side ledger")));
                }
            }
        });
    });
}

/// The ledger of the canaries that key code pushes into the side vectors.
static SIDE_LEDGER: std::sync::OnceLock<Arc<Ledger>> = std::sync::OnceLock::new();

/// Panics now and then, if allowed.
fn key_code_may_panic(what: &str) {
    let n = KEY_CALLS.fetch_add(1, Ordering::Relaxed);
    if KEYS_MAY_PANIC.load(Ordering::Relaxed) && n % 97 == 13 {
        panic!("hostile key {what} panics");
    }
}

/// A key whose `Hash`, `Eq`, `Clone`, `Debug` and `Drop` allocate, and which panics in `Eq`
/// and `Clone` now and then.
struct NastyKey(u64);

impl Hash for NastyKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        key_code_allocates();
        self.0.hash(state);
    }
}

impl PartialEq for NastyKey {
    fn eq(&self, other: &Self) -> bool {
        key_code_allocates();
        key_code_may_panic("eq");
        self.0 == other.0
    }
}

impl Eq for NastyKey {}

impl Clone for NastyKey {
    fn clone(&self) -> Self {
        key_code_allocates();
        key_code_may_panic("clone");
        NastyKey(self.0)
    }
}

impl fmt::Debug for NastyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        key_code_allocates();
        write!(f, "NastyKey({})", self.0)
    }
}

impl Drop for NastyKey {
    fn drop(&mut self) {
        key_code_allocates();
    }
}

#[derive(Trace)]
struct NastyTable {
    map: GcMap<NastyKey, Canary>,
}

#[test]
fn child_nasty_map_keys_while_workers_scan() {
    if !in_child() {
        return;
    }
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info.payload().downcast_ref::<&str>().copied().unwrap_or("");
        if !msg.starts_with("hostile key") {
            hook(info);
        }
    }));
    gc_runtime::init(hostile_config(Mode::Concurrent, BarrierKind::Hybrid, 4).with_min_heap(128 << 10)).unwrap();
    let ledger = Ledger::new(3_000_000);
    SIDE_LEDGER.set(Ledger::new(3_000_000)).ok().unwrap();
    let table = {
        let mu = gc_runtime::attach();
        mu.alloc(NastyTable { map: GcMap::new() }).root(&mu)
    };
    let panics = AtomicU64::new(0);
    KEYS_MAY_PANIC.store(true, Ordering::Relaxed);
    let cycles = with_collector(3, 700, |t, stop| {
        THREAD_MUTATOR.with(|m| *m.borrow_mut() = Some(gc_runtime::attach()));
        SIDE.with(|side| {
            THREAD_MUTATOR.with(|m| {
                let m = m.borrow();
                let mu = m.as_ref().unwrap();
                *side.borrow_mut() = Some(mu.alloc(Chain { items: GcVec::new(), head: Member::new() }).root(mu));
            })
        });
        let mut rng = Rng(t as u64 * 31 + 3);
        while !stop.load(Ordering::Relaxed)
            && !ledger.nearly_full(10_000)
            && !SIDE_LEDGER.get().unwrap().nearly_full(10_000)
        {
            THREAD_MUTATOR.with(|m| {
                let m = m.borrow();
                let mu = m.as_ref().unwrap();
                let map = &table.get(mu).map;
                for _ in 0..32 {
                    let k = rng.below(4000) as u64;
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match rng.below(10) {
                        0..=4 => {
                            map.insert(NastyKey(k), Canary::alloc(mu, &ledger));
                        }
                        5 | 6 => {
                            if let Some(v) = map.remove(&NastyKey(k), mu) {
                                v.check();
                            }
                        }
                        7 => {
                            if let Some(v) = map.get(&NastyKey(k), mu) {
                                v.check();
                            }
                        }
                        8 => {
                            let _ = format!("{map:?}");
                        }
                        _ => {
                            if rng.below(16) == 0 {
                                for (_, v) in map.entries(mu) {
                                    v.check();
                                }
                            }
                        }
                    }));
                    if r.is_err() {
                        panics.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
            THREAD_MUTATOR.with(|m| m.borrow_mut().as_mut().unwrap().safepoint());
            SIDE.with(|side| {
                THREAD_MUTATOR.with(|m| {
                    let m = m.borrow();
                    let mu = m.as_ref().unwrap();
                    let side = side.borrow();
                    let chain = side.as_ref().unwrap().get(mu);
                    chain_ids(mu, &chain);
                    if chain.items.len() >= 5000 {
                        chain.items.truncate(10);
                    }
                })
            });
        }
        SIDE.with(|side| side.borrow_mut().take());
        THREAD_MUTATOR.with(|m| m.borrow_mut().take());
    });
    KEYS_MAY_PANIC.store(false, Ordering::Relaxed);
    assert!(cycles >= 2, "only {cycles} cycles");
    assert!(panics.load(Ordering::Relaxed) > 0, "no key code panicked");
    let mut mu = gc_runtime::attach();
    collect2(&mut mu);
    let map = &table.get(&mu).map;
    let mut alive = HashSet::new();
    for (k, v) in map.entries(&mu) {
        alive.insert(v.check());
        let again = map.get(&k, &mu).expect("a listed key is found");
        assert!(Gc::ptr_eq(again, v), "key {} maps to two values", k.0);
    }
    assert_eq!(alive.len(), map.len());
    ledger.check_exactly(&alive);
    drop(table);
    collect2(&mut mu);
    ledger.check_exactly(&HashSet::new());
    SIDE_LEDGER.get().unwrap().check_exactly(&HashSet::new());
    println!("done: {cycles} cycles, {} key panics", panics.load(Ordering::Relaxed));
}

/// Attacks marking through user code of `GcMap` keys (several chunks of buckets): `Hash`, `Eq`,
/// `Clone`, `Debug` and `Drop` allocate (enough to run mark assists that meet the map itself)
/// and push into another large vector, and `Eq`/`Clone` panic now and then inside `insert`,
/// `remove`, `entries` and `Debug`, on three threads, with four workers and checkmark. Must
/// hold: no deadlock, the map stays consistent (each listed key found, to its value), values
/// intact, everything dropped exactly once in the end.
#[test]
fn map_keys_whose_user_code_panics_and_allocates_during_chunked_scans() {
    child("child_nasty_map_keys_while_workers_scan", &[], DEADLOCK_BOUND).assert_completed();
}

// ---------------------------------------------------------------------------------------------
// Threads that exit or leak their mutators while the workers mark (child process: leaks pin).

#[test]
fn child_threads_exit_and_leak_mutators_while_workers_mark() {
    if !in_child() {
        return;
    }
    gc_runtime::init(hostile_config(Mode::Concurrent, BarrierKind::Yuasa, 3)).unwrap();
    let ledger = Ledger::new(2_000_000);
    let shared = Arc::new({
        let mu = gc_runtime::attach();
        mu.alloc(Chain { items: GcVec::new(), head: Member::new() }).root(&mu)
    });
    let cycles = with_collector(2, 800, |t, stop| {
        let mut round = 0u64;
        while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(20_000) {
            let (shared, ledger) = (shared.clone(), ledger.clone());
            let leak = (round + t as u64) % 3 == 0;
            thread::spawn(move || {
                let mut mu = gc_runtime::attach();
                for i in 0..2000 {
                    let c = Canary::alloc(&mu, &ledger);
                    if i % 2 == 0 {
                        shared.get(&mu).items.push(c);
                    }
                    if i % 64 == 0 {
                        mu.safepoint();
                    }
                }
                let chain = shared.get(&mu);
                if chain.items.len() > 20_000 {
                    chain.items.truncate(5000);
                }
                if leak {
                    std::mem::forget(mu);
                }
            })
            .join()
            .unwrap();
            round += 1;
        }
    });
    assert!(cycles >= 2, "only {cycles} cycles");
    let mut mu = gc_runtime::attach();
    collect2(&mut mu);
    let ids = chain_ids(&mu, &shared.get(&mu));
    let unique: HashSet<u64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len());
    println!("done: {cycles} cycles, {} pinned", gc_runtime::stats().pinned_objects);
}

/// Attacks the workers with mutator threads that come and go while they mark: each attaches,
/// pushes into a shared large vector, and exits — a third of them leaking their mutator — with
/// three workers, Yuasa barrier and checkmark, cycles back to back. Must hold: cycles keep
/// completing (leaked mutators noticed), shared elements intact and present once.
#[test]
fn threads_exiting_and_leaking_mutators_while_workers_mark() {
    child("child_threads_exit_and_leak_mutators_while_workers_mark", &[], DEADLOCK_BOUND).assert_completed();
}

// ---------------------------------------------------------------------------------------------
// The environment.

#[test]
fn child_worker_limit_from_the_environment() {
    if !in_child() {
        return;
    }
    let config = gc_runtime::config();
    assert_eq!((config.mark_workers, config.idle_mark_workers, config.checkmark), (256, false, true));
    let ledger = Ledger::new(1_000_000);
    let root = {
        let mu = gc_runtime::attach();
        let chain = mu.alloc(Chain { items: GcVec::new(), head: Member::new() });
        for _ in 0..25_000 {
            chain.items.push(Canary::alloc(&mu, &ledger));
        }
        chain.root(&mu)
    };
    let cycles = with_collector(2, 300, |t, stop| {
        let mut mu = gc_runtime::attach();
        let mut rng = Rng(t as u64 + 11);
        while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(1000) {
            let chain = root.get(&mu);
            for _ in 0..32 {
                let len = chain.items.len();
                let _ = chain.items.try_set(rng.below(len), Canary::alloc(&mu, &ledger));
            }
            mu.safepoint();
        }
    });
    assert!(cycles >= 2);
    let stats = gc_runtime::stats();
    // A drain admits 64 threads, the collector's own included; the record counts those (it
    // said 256 when 64 marked).
    assert!(stats.recent.iter().any(|c| c.mark_workers == 64), "no cycle used the 64 workers a drain admits");
    assert!(stats.recent.iter().all(|c| c.mark_workers <= 64), "a cycle counted more than 64 workers");
    let mut mu = gc_runtime::attach();
    collect2(&mut mu);
    let alive: HashSet<u64> = chain_ids(&mu, &root.get(&mu)).into_iter().collect();
    assert_eq!(alive.len(), 25_000);
    ledger.check_exactly(&alive);
    println!("done: {cycles} cycles");
}

/// Attacks the largest worker count, set through the environment (`GC_MARK_WORKERS=256`,
/// padded with spaces; `GC_IDLE_MARK_WORKERS=off`), on a machine with far fewer cores, in both
/// modes, with two mutators writing a live heap over 1 MiB. Must hold: the variables are read
/// as written, cycles complete with as many workers as a drain admits (64), the heap is intact.
#[test]
fn the_largest_worker_count_from_the_environment() {
    for mode in ["concurrent", "stw"] {
        child(
            "child_worker_limit_from_the_environment",
            &[("GC_MARK_WORKERS", " 256 "), ("GC_IDLE_MARK_WORKERS", "OFF"), ("GC_CHECKMARK", "1"), ("GC_MODE", mode)],
            DEADLOCK_BOUND,
        )
        .assert_completed();
    }
}

#[test]
fn child_bad_worker_counts_in_the_environment() {
    if !in_child() {
        return;
    }
    let bad = std::env::var("GC_MARK_WORKERS").unwrap();
    for _ in 0..2 {
        match gc_runtime::try_attach() {
            Err(AttachError::Config(e)) => {
                assert_eq!((e.variable, e.value.as_str()), ("GC_MARK_WORKERS", bad.as_str()));
                assert_eq!(e.expected, "an integer from 1 to 256");
            }
            other => panic!("GC_MARK_WORKERS={bad:?} accepted: {:?}", other.map(|_| ())),
        }
        assert!(gc_runtime::reconfigure(Config::default()).is_err(), "reconfigure started from a bad environment");
    }
    gc_runtime::init(Config::default().with_mark_workers(2)).unwrap();
    let mut mu = gc_runtime::attach();
    let x = mu.alloc(5u32).root(&mu);
    mu.collect();
    assert_eq!(*x.get(&mu), 5);
    assert_eq!(gc_runtime::config().mark_workers, 2);
    println!("done");
}

/// Attacks the parsing of `GC_MARK_WORKERS`: 0, 257, a negative count, a huge one, a fraction
/// and words. Must hold: each is refused by `try_attach` and `reconfigure` alike, naming the
/// variable and the range (never replaced by a default), and `init` still starts the runtime.
#[test]
fn bad_worker_counts_in_the_environment_are_refused() {
    for bad in ["0", "257", "-1", "18446744073709551616", "2.5", "many", ""] {
        child("child_bad_worker_counts_in_the_environment", &[("GC_MARK_WORKERS", bad)], DEADLOCK_BOUND)
            .assert_completed();
    }
}

// ---------------------------------------------------------------------------------------------
// Destructors that reconfigure the collector.

static FINALIZER_RECONFIGS: AtomicU64 = AtomicU64::new(0);

/// Reconfigures the worker count (and reads the settings and statistics) when dropped.
struct Reconfigurer(u64);

impl Drop for Reconfigurer {
    fn drop(&mut self) {
        // Every 64th: `stats` computes percentiles (milliseconds), and tens of thousands of
        // these die per cycle; `collect` waits for all of their destructors.
        if self.0 % 64 != 0 {
            return;
        }
        let _ = gc_runtime::stats().cycles;
        let config = gc_runtime::config();
        let workers = [1, 4, 2, 8][(self.0 / 64 % 4) as usize];
        gc_runtime::reconfigure(config.with_mark_workers(workers)).unwrap();
        FINALIZER_RECONFIGS.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Trace)]
struct Doomed {
    #[trace(skip)]
    /// Reconfigures when the object is found dead.
    _reconfigurer: Reconfigurer,
    canary: Member<Canary>,
}

#[test]
fn child_destructors_reconfigure_the_workers() {
    if !in_child() {
        return;
    }
    let mode = if std::env::var("GC_MODE").as_deref() == Ok("stw") { Mode::StopTheWorld } else { Mode::Concurrent };
    gc_runtime::init(hostile_config(mode, BarrierKind::Dijkstra, 2)).unwrap();
    let ledger = Ledger::new(2_000_000);
    let cycles = with_collector(2, 600, |t, stop| {
        let mut mu = gc_runtime::attach();
        let keep = mu.alloc(Chain { items: GcVec::new(), head: Member::new() }).root(&mu);
        let mut n = t as u64;
        while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(10_000) {
            for _ in 0..64 {
                let d = mu.alloc(Doomed { _reconfigurer: Reconfigurer(n), canary: Member::new() });
                let c = Canary::alloc(&mu, &ledger);
                d.canary.set(Some(c));
                if n % 3 == 0 {
                    keep.get(&mu).items.push(c);
                }
                n += 1;
            }
            let items = &keep.get(&mu).items;
            if items.len() > 3000 {
                items.truncate(100);
            }
            chain_ids(&mu, &keep.get(&mu));
            mu.safepoint();
        }
    });
    assert!(cycles >= 2);
    let mut mu = gc_runtime::attach();
    collect2(&mut mu);
    assert!(FINALIZER_RECONFIGS.load(Ordering::Relaxed) > 0);
    ledger.check_exactly(&HashSet::new());
    println!("done: {cycles} cycles, {} reconfigurations", FINALIZER_RECONFIGS.load(Ordering::Relaxed));
}

/// Attacks the worker pool from the finalizer thread: destructors of dead objects call
/// `stats`, `config` and `reconfigure` (changing the worker count between 1 and 8) while two
/// threads allocate and another collects back to back, in both modes. Must hold: no deadlock,
/// every cycle completes, everything dropped exactly once.
#[test]
fn destructors_that_reconfigure_the_workers_while_cycles_run() {
    for mode in ["concurrent", "stw"] {
        child("child_destructors_reconfigure_the_workers", &[("GC_MODE", mode)], DEADLOCK_BOUND).assert_completed();
    }
}

// ---------------------------------------------------------------------------------------------
// A writer that takes a map's lock back to back.

/// A map key whose `Eq` sleeps 2 ms: inserting a key already in the map compares the two, so
/// the insertion holds the map's write lock that long.
struct SleepyKey(u64);

impl Hash for SleepyKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl PartialEq for SleepyKey {
    fn eq(&self, other: &Self) -> bool {
        thread::sleep(Duration::from_millis(2));
        self.0 == other.0
    }
}

impl Eq for SleepyKey {}

#[derive(Trace)]
struct SleepyMaps {
    by_name: GcMap<SleepyKey, Canary>,
    by_value: GcValueMap<SleepyKey, Member<Canary>>,
}

/// The key the writers insert again and again.
const HOT_KEY: u64 = 7;

/// The maps' room: over a hundred of the marker's chunks, each of which it scans under the
/// map's read lock, taken anew.
const SLEEPY_CAPACITY: usize = 100_000;

/// Attacks the marker's retries of locked objects: two threads insert the same key into a
/// `GcMap` and a `GcValueMap` back to back, each insertion holding its map's write lock for
/// 2 ms (the key's `Eq`) and a safepoint between two, so each lock is free only for a moment
/// in every 2 ms — while another thread collects, in every mode. The maps have room for
/// 100,000 entries, so the marker scans each in over a hundred chunks and needs the lock that
/// many times. It only tried the locks, nearly always found them taken, and `collect` waited
/// for good (a hostile review).
/// Must hold: every `collect` returns (the watchdog), each map holds its last value and the
/// rest of its entries, and every replaced value is dropped exactly once.
#[test]
fn a_writer_that_takes_a_map_lock_back_to_back_lets_the_marking_end() {
    let _s = serial_only();
    let _w = watchdog("a writer that takes a map lock back to back");
    // Checkmark on before the maps' buffers count towards a cycle.
    let (mode, barrier, _) = modes()[0];
    gc_runtime::reconfigure(hostile_config(mode, barrier, 2)).unwrap();
    let ledger = Ledger::new(1_000_000);
    let root = {
        let mu = gc_runtime::attach();
        let maps = mu.alloc(SleepyMaps {
            by_name: GcMap::with_capacity(SLEEPY_CAPACITY),
            by_value: GcValueMap::with_capacity(SLEEPY_CAPACITY),
        });
        for k in 0..32 {
            maps.by_name.insert(SleepyKey(k), Canary::alloc(&mu, &ledger));
            maps.by_value.insert(SleepyKey(k), Some(Canary::alloc(&mu, &ledger)));
        }
        maps.root(&mu)
    };
    for (mode, barrier, _) in modes() {
        gc_runtime::reconfigure(hostile_config(mode, barrier, 2)).unwrap();
        let before = gc_runtime::stats().cycles;
        let stop = AtomicBool::new(false);
        thread::scope(|s| {
            for by_value in [false, true] {
                let (root, ledger, stop) = (&root, &ledger, &stop);
                s.spawn(move || {
                    let mut mu = gc_runtime::attach();
                    while !stop.load(Ordering::SeqCst) {
                        let maps = root.get(&mu);
                        let value = Canary::alloc(&mu, ledger);
                        let replaced = if by_value {
                            maps.by_value.insert(SleepyKey(HOT_KEY), Some(value))
                        } else {
                            maps.by_name.insert(SleepyKey(HOT_KEY), value)
                        };
                        assert!(replaced, "the hot key was in the map");
                        mu.safepoint();
                    }
                });
            }
            let mut mu = gc_runtime::attach();
            for _ in 0..3 {
                mu.collect();
            }
            stop.store(true, Ordering::SeqCst);
        });
        assert!(gc_runtime::stats().cycles >= before + 3, "{mode:?}, {barrier:?}: three cycles ran");
        assert_checkmarked_since(before);
    }
    let mut mu = gc_runtime::attach();
    collect2(&mut mu);
    let maps = root.get(&mu);
    let mut alive = HashSet::new();
    for k in 0..32 {
        let by_name = maps.by_name.get(&SleepyKey(k), &mu).expect("every key stays in the GcMap");
        let by_value = maps.by_value.get(&SleepyKey(k), &mu).flatten().expect("every key stays in the GcValueMap");
        assert!(alive.insert(by_name.check()) && alive.insert(by_value.check()));
    }
    ledger.check_exactly(&alive);
    drop(root);
    collect2(&mut mu);
    ledger.check_exactly(&HashSet::new());
    gc_runtime::reconfigure(Config::default()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Threads without a mutator that take collections' locks back to back, through pauses.

/// An object that is an ephemeron holder (its weak map has an entry whose key is unmarked when
/// it is scanned) and has a vector its own thread keeps write-locking.
#[derive(Trace)]
struct Hammered {
    weak: GcWeakMap<Canary, Canary>,
    items: GcVec<Canary>,
}

/// Threads in the lock hammer: more than cores, so a holder is often switched out.
const HAMMERS: usize = 16;

#[test]
fn child_threads_without_a_mutator_hammer_locks_through_pauses() {
    if !in_child() {
        return;
    }
    let ledger = Ledger::new(100_000);
    let (hammered, roots): (Vec<&'static Hammered>, Vec<Root<Hammered>>) = {
        let ledger = ledger.clone();
        common::leak_static(move |mu| {
            (0..HAMMERS)
                .map(|_| {
                    let h = mu.alloc(Hammered { weak: GcWeakMap::new(), items: GcVec::new() });
                    h.items.push(Canary::alloc(mu, &ledger));
                    let root = h.root(mu);
                    (h.into_ref(), root)
                })
                .unzip()
        })
    };
    let stop = AtomicBool::new(false);
    let mut mu = gc_runtime::attach();
    thread::scope(|s| {
        for &h in &hammered {
            let stop = &stop;
            // No mutator: the vector's write lock, taken and let go at once (a truncate that
            // removes nothing), for ever.
            s.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    h.items.truncate(usize::MAX);
                }
            });
        }
        for _ in 0..2 {
            // A key that dies at once: every object is an ephemeron holder in the next marking.
            for root in &roots {
                root.get(&mu).weak.insert(Canary::alloc(&mu, &ledger), Canary::alloc(&mu, &ledger));
            }
            mu.collect();
        }
        stop.store(true, Ordering::Relaxed);
    });
    for h in &hammered {
        assert_eq!(h.items.len(), 1);
        h.items.get(0, &mu).expect("the element stays").check();
    }
    println!("done");
}

/// Attacks the collector's walks inside a pause: sixteen threads without a mutator each take
/// the write lock of one object's vector back to back (through `&'static`, as a leaked
/// mutator allows), while another thread collects, the objects reachable from its roots and
/// each an ephemeron holder; with checkmark, in stop-the-world and concurrent mode. The
/// ephemeron pass and checkmark's walk gave up at the first lock taken and started over, so
/// they needed every lock free at once, and the pause never ended (a hostile review). Must
/// hold: every `collect` returns (the child's deadline) and the elements are intact.
#[test]
fn threads_without_a_mutator_hammering_locks_let_pauses_end() {
    for mode in ["stw", "concurrent"] {
        child(
            "child_threads_without_a_mutator_hammer_locks_through_pauses",
            &[("GC_CHECKMARK", "1"), ("GC_MODE", mode)],
            DEADLOCK_BOUND,
        )
        .assert_completed();
    }
}
