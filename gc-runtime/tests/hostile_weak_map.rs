//! A hostile (safe-Rust-only) user against `GcWeakMap`, the ephemeron table: programs that try
//! to make an entry outlive its key, a value die while its key lives, a dead key's entry be
//! found by a new object at the same address, the collector deadlock or abort, or the heap
//! reach an inconsistent state. Scenarios that could crash or hang run in a child process
//! (this test binary re-run with one test selected), as in `attacks.rs`; the rest run in
//! process, serialised by `SERIAL`, mostly under every configuration (stop-the-world, and each
//! barrier with and without handshakes) with checkmark on, so a missed object aborts.
//!
//! Two of these broke the collector when they were written; both are fixed, and their tests
//! are marked `// Broke (fixed)`:
//!
//! - `a_pending_entry_survives_a_visit_abandoned_for_a_lock*`: an object holding a weak map and
//!   a second collection lost its pending entries when the marker found the second one locked
//!   (the visit was abandoned before the object was noted as an ephemeron holder, and the map's
//!   scan cursor said it was done); a value was freed while its key lived, and `get` returned
//!   the freed object. The marker now notes the holder before it defers the object.
//! - `clear_right_after_a_ragged_decision_{yuasa,hybrid}`: `clear()` between a handshake
//!   round's decision and the end of marking shaded dead keys' values under a deleting barrier
//!   (checkmark then aborted: "grey objects left after a handshake round decided that marking
//!   was over"). `clear` now drops the entries of condemned keys without a store.
//!
//! What is tried, in file order:
//!
//! - odd entry shapes: a holder keyed by itself, a holder as its own value, an object as its
//!   own key's value, a map keyed by other maps' holders;
//! - `clear()` right after a handshake round decided that marking was over, while the barrier is
//!   still on (with controls: Dijkstra, and no clears);
//! - maps nested as values of other maps, the outer key dying while the inner entries' keys
//!   live; holders that die with live entries (their maps stay registered until finalized),
//!   then their keys die, with fresh objects and fresh maps taking the freed addresses; many
//!   maps created and dropped (the table's purge count, and no growth);
//! - maps in `Vec`, `Box`, `Option`, `HashMap` values, tuples, arrays, enums and `VecDeque`; maps
//!   in an `Arc`, behind a skipped alias or in a skipped `Mutex` (never armed, even once out of
//!   the heap);
//! - large objects (their own blocks) as keys, values and holders, a large key's address reused;
//! - a panicking destructor before the map in the holder; the finalizer stalled by a destructor
//!   while a dead map stays registered and its keys die and their memory is reused;
//! - a `Weak` to a key cleared in the same cycle as the key's entry; `reconfigure` from another
//!   thread during cycles; threads that insert and exit, their roots dropped without a mutator;
//! - concurrent stress: keys moved between objects while marking (the entry's value reachable
//!   only through it), reads stored elsewhere, overwrites, removes and clears, in every
//!   configuration;
//! - an object with a weak map and a second collection that another thread keeps locking while
//!   the key of a pending entry is reached late (also in stop-the-world mode, locked by a thread
//!   without a mutator), with a control;
//! - threads without a mutator (maps pinned by a leaked mutator) clearing, measuring and
//!   formatting maps, and destructors on the finalizer clearing them, while a mutator inserts
//!   and the collector runs, in every configuration;
//! - fresh keys (small and large) inserted in every phase, each entry checked at once and later;
//!   values that are each other's keys, within one map and across two; maps allocated as
//!   objects of their own as another map's values.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    thread,
    time::{Duration, Instant},
};

mod common;

use common::{
    child::{child, in_child, run_until, spawn_counted_collector, DEADLINE},
    DropProbe, Ledger, Rng,
};
use gc_runtime::{BarrierKind, Config, Gc, GcWeakMap, Member, Mode, Mutator, Root, Trace, Weak};

/// Serialises the in-process tests of this file: they share the heap and reconfigure it.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

const MAGIC: u64 = 0x9E37_79B9_7F4A_7C15;

// ---------------------------------------------------------------------------------------------
// Shared types.

#[derive(Trace)]
struct Obj {
    id: u64,
    canary: u64,
    next: Member<Obj>,
    #[trace(skip)]
    probe: DropProbe,
}

impl Obj {
    fn check(&self) -> u64 {
        assert_eq!(self.canary, self.id ^ MAGIC, "canary of object {} corrupted (freed while reachable?)", self.id);
        assert_eq!(self.probe.id, self.id);
        self.id
    }
}

fn obj<'m>(mu: &'m Mutator, ledger: &Arc<Ledger>) -> Gc<'m, Obj> {
    let probe = ledger.probe();
    let id = probe.id;
    mu.alloc(Obj { id, canary: id ^ MAGIC, next: Member::new(), probe })
}

#[derive(Trace)]
struct Table {
    map: GcWeakMap<Obj, Obj>,
}

use common::every_config as configs;

use common::collect2;
use common::leak_static;

// ---------------------------------------------------------------------------------------------
// Odd entry shapes.

#[derive(Trace)]
struct SelfKeyed {
    id: u64,
    map: GcWeakMap<SelfKeyed, Obj>,
    #[trace(skip)]
    _probe: DropProbe,
}

/// A holder whose map is keyed by the holder itself, the value pointing back to nothing but
/// reachable only through that entry: alive exactly while the holder is rooted, and the whole
/// group freed once (holder, value) when the root goes.
#[test]
fn a_holder_keyed_by_itself_lives_and_dies_with_its_root() {
    let _s = serial();
    for config in configs() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let ledger = Ledger::new(8);
        let mut mu = gc_runtime::attach();
        let holder = {
            let probe = ledger.probe();
            let h = mu.alloc(SelfKeyed { id: probe.id, map: GcWeakMap::new(), _probe: probe });
            let v = obj(&mu, &ledger);
            h.map.insert(h, v);
            h.root(&mu)
        };
        let (hid, vid) = {
            let h = holder.get(&mu);
            (h.id, h.map.get(h, &mu).unwrap().id)
        };
        collect2(&mut mu);
        {
            let h = holder.get(&mu);
            assert_eq!(h.map.len(), 1, "{config:?}");
            assert_eq!(h.map.get(h, &mu).expect("key alive: value alive").check(), vid, "{config:?}");
        }
        drop(holder);
        collect2(&mut mu);
        assert_eq!((ledger.drops(hid), ledger.drops(vid)), (1, 1), "{config:?}: holder and value freed once");
    }
}

#[derive(Trace)]
struct OwnValue {
    map: GcWeakMap<Obj, OwnValue>,
    #[trace(skip)]
    _probe: DropProbe,
}

/// A holder stored as a value of its own map, under a key that stays alive: the holder is
/// reachable only through its own map, so it is garbage (a value needs its map reachable).
#[test]
fn a_holder_that_is_its_own_value_is_collected() {
    let _s = serial();
    for config in configs() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let ledger = Ledger::new(8);
        let mut mu = gc_runtime::attach();
        let key = obj(&mu, &ledger).root(&mu);
        let hid = {
            let probe = ledger.probe();
            let id = probe.id;
            let h = mu.alloc(OwnValue { map: GcWeakMap::new(), _probe: probe });
            h.map.insert(key.get(&mu), h);
            assert!(Gc::ptr_eq(h.map.get(key.get(&mu), &mu).unwrap(), h));
            id
        };
        collect2(&mut mu);
        assert_eq!(ledger.drops(hid), 1, "{config:?}: a holder reachable only through itself was kept");
        assert_eq!(key.get(&mu).check(), 0);
        assert_eq!(ledger.drops(0), 0);
    }
}

/// An object that is its own value (key == value), and one whose value points to its key: both
/// garbage once nothing else reaches the key; a rooted one keeps its entry.
#[test]
fn an_object_as_its_own_value_dies_with_itself() {
    let _s = serial();
    for config in configs() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let ledger = Ledger::new(8);
        let mut mu = gc_runtime::attach();
        let table = mu.alloc(Table { map: GcWeakMap::new() }).root(&mu);
        let kept = obj(&mu, &ledger).root(&mu);
        let lost = {
            let map = &table.get(&mu).map;
            let x = obj(&mu, &ledger);
            map.insert(x, x);
            map.insert(kept.get(&mu), kept.get(&mu));
            x.id
        };
        collect2(&mut mu);
        let map = &table.get(&mu).map;
        assert_eq!(ledger.drops(lost), 1, "{config:?}");
        assert_eq!(map.len(), 1, "{config:?}");
        let k = kept.get(&mu);
        assert!(Gc::ptr_eq(map.get(k, &mu).unwrap(), k), "{config:?}");
        assert_eq!(ledger.drops(k.id), 0);
    }
}

#[derive(Trace)]
struct MapOfMaps {
    map: GcWeakMap<Table, Obj>,
}

/// A weak map keyed by other maps' holders: an inner table that dies takes its outer entry
/// with it, and its own entries go when it is finalized.
#[test]
fn maps_keyed_by_other_maps() {
    let _s = serial();
    for config in configs() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let ledger = Ledger::new(16);
        let mut mu = gc_runtime::attach();
        let outer = mu.alloc(MapOfMaps { map: GcWeakMap::new() }).root(&mu);
        let live_inner = mu.alloc(Table { map: GcWeakMap::new() }).root(&mu);
        let live_key = obj(&mu, &ledger).root(&mu);
        {
            let o = &outer.get(&mu).map;
            let dead_inner = mu.alloc(Table { map: GcWeakMap::new() });
            dead_inner.map.insert(live_key.get(&mu), obj(&mu, &ledger));
            live_inner.get(&mu).map.insert(live_key.get(&mu), obj(&mu, &ledger));
            o.insert(dead_inner, obj(&mu, &ledger));
            o.insert(live_inner.get(&mu), obj(&mu, &ledger));
        }
        collect2(&mut mu);
        let o = &outer.get(&mu).map;
        assert_eq!(o.len(), 1, "{config:?}");
        let li = live_inner.get(&mu);
        assert_eq!(o.get(li, &mu).unwrap().check(), 4, "{config:?}");
        assert_eq!(li.map.get(live_key.get(&mu), &mu).unwrap().check(), 2, "{config:?}");
        // dead_inner's value (1) and its outer value (3) are gone; nothing else.
        assert_eq!((ledger.drops(1), ledger.drops(3)), (1, 1), "{config:?}");
        assert_eq!(ledger.total_drops(), 2, "{config:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// `clear()` right after a handshake round decided that marking is over.

#[derive(Trace)]
struct Plain {
    n: u64,
}

#[derive(Trace)]
struct Batch {
    maps: Vec<GcWeakMap<Plain, Plain>>,
}

/// Busy-wait for `micros` without passing a safepoint (the thread stays "running").
fn spin(micros: u64) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_micros(micros) {
        std::hint::spin_loop();
    }
}

/// With per-thread handshakes, marking is decided over in a quiet round while mutators run; the
/// barrier stays on until the collector ends the marking (right away, or — with checkmark —
/// after it stopped the world to verify). A mutator that clears a map in that window, under a
/// barrier that shades deleted pointers (Yuasa, hybrid), shades the values of entries whose keys
/// the marking found dead: unmarked objects, turned grey after marking ended. (`note_leaving`
/// counts them, but a count after the decision changes nothing.)
///
/// The mutator passes a safepoint, spins a random while (the collector may decide meanwhile),
/// clears one map of dead-key entries half the time, and spins again; every cycle gets a fresh
/// batch of maps whose keys died before it started. With checkmark, the collector stops the
/// world after the decision and finds grey objects: "grey objects left after a handshake round
/// decided that marking was over".
fn clear_right_after_the_decision(barrier: BarrierKind) {
    gc_runtime::reconfigure(
        Config::default()
            .with_mode(Mode::Concurrent)
            .with_barrier(barrier)
            .with_handshakes(true)
            .with_checkmark(std::env::var_os("GC_ATTACK_NO_CHECKMARK").is_none())
            .with_gc_percent(None),
    )
    .unwrap();
    const MAPS: usize = 400;
    let millis: u64 = std::env::var("GC_ATTACK_MILLIS").ok().and_then(|v| v.parse().ok()).unwrap_or(1200);
    let mut mu = gc_runtime::attach();
    let mut rng = Rng(0x5DEE_CE66_D1CE_4E5B);
    let started = Instant::now();
    let mut cycles = 0u64;
    let mut cleared_while_marking = 0u64;
    // Control experiment: with GC_ATTACK_NO_CLEAR set, the same program without the clears.
    let control = std::env::var_os("GC_ATTACK_NO_CLEAR").is_some();
    while started.elapsed() < Duration::from_millis(millis) {
        // Phase off: keys and values are allocated white; the keys die right away.
        let batch = {
            let b = mu.alloc(Batch { maps: (0..MAPS).map(|_| GcWeakMap::new()).collect() });
            for m in &b.maps {
                m.insert(mu.alloc(Plain { n: 1 }), mu.alloc(Plain { n: 2 }));
            }
            b.root(&mu)
        };
        let done = Arc::new(AtomicBool::new(false));
        let trigger = {
            let done = done.clone();
            thread::spawn(move || {
                let mut mu = gc_runtime::attach();
                mu.collect();
                done.store(true, Ordering::SeqCst);
            })
        };
        let mut next = 0;
        while !done.load(Ordering::SeqCst) {
            mu.safepoint();
            spin(rng.below(400) as u64);
            if next < MAPS && rng.below(2) == 0 && !control {
                let b = batch.get(&mu);
                if gc_runtime::phase() != gc_runtime::Phase::Off {
                    cleared_while_marking += 1;
                }
                b.maps[next].clear();
                next += 1;
            }
            spin(rng.below(400) as u64);
        }
        mu.blocking(|| trigger.join().unwrap());
        cycles += 1;
    }
    println!("done: {cycles} cycles, {cleared_while_marking} clears while a cycle ran");
}

#[test]
fn child_clear_right_after_the_decision_yuasa() {
    if in_child() {
        clear_right_after_the_decision(BarrierKind::Yuasa);
    }
}

#[test]
fn child_clear_right_after_the_decision_hybrid() {
    if in_child() {
        clear_right_after_the_decision(BarrierKind::Hybrid);
    }
}

#[test]
fn child_clear_right_after_the_decision_dijkstra() {
    if in_child() {
        clear_right_after_the_decision(BarrierKind::Dijkstra);
    }
}

/// Controls: the same program holds under Dijkstra (its stores do not shade what they
/// delete), and under Yuasa without the clears.
#[test]
fn clear_right_after_a_ragged_decision_controls() {
    child("child_clear_right_after_the_decision_dijkstra", &[("GC_ATTACK_MILLIS", "600")], DEADLINE).assert_completed();
    child(
        "child_clear_right_after_the_decision_yuasa",
        &[("GC_ATTACK_MILLIS", "600"), ("GC_ATTACK_NO_CLEAR", "1")],
        DEADLINE,
    )
    .assert_completed();
}

// Broke (fixed): see `clear_right_after_the_decision`.
#[test]
fn clear_right_after_a_ragged_decision_yuasa() {
    child("child_clear_right_after_the_decision_yuasa", &[], DEADLINE).assert_completed();
}

// Broke (fixed): see `clear_right_after_the_decision`.
#[test]
fn clear_right_after_a_ragged_decision_hybrid() {
    child("child_clear_right_after_the_decision_hybrid", &[], DEADLINE).assert_completed();
}

// ---------------------------------------------------------------------------------------------
// Nested maps, and holders that die with entries.

#[derive(Trace)]
struct Outer {
    map: GcWeakMap<Obj, Table>,
}

/// Maps as values of another map: `outer[k1] = inner`, `inner[k2] = v`. While k1 and k2 live,
/// v lives; when k1 dies the inner holder dies with a live-key entry (its map stays registered
/// until the finalizer drops it), and v goes with it even though k2 lives. Then k2 dies too,
/// and fresh objects and fresh maps take the freed addresses: nothing finds an old entry.
#[test]
fn maps_nested_as_values_die_with_the_outer_key() {
    let _s = serial();
    const N: usize = 300;
    for config in configs() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let ledger = Ledger::new(4 * N + 8 * N);
        let mut mu = gc_runtime::attach();
        let outer = mu.alloc(Outer { map: GcWeakMap::new() }).root(&mu);
        let k1s: Vec<Root<Obj>> = (0..N).map(|_| obj(&mu, &ledger).root(&mu)).collect();
        let k2s: Vec<Root<Obj>> = (0..N).map(|_| obj(&mu, &ledger).root(&mu)).collect();
        let mut values = Vec::new();
        let mut inner_addrs = HashSet::new();
        {
            let o = &outer.get(&mu).map;
            for i in 0..N {
                let inner = mu.alloc(Table { map: GcWeakMap::new() });
                inner_addrs.insert(inner.addr());
                let v = obj(&mu, &ledger);
                values.push(v.id);
                // The inner value points at the outer key: a cycle through two maps.
                v.next.set(Some(k1s[i].get(&mu)));
                inner.map.insert(k2s[i].get(&mu), v);
                o.insert(k1s[i].get(&mu), inner);
            }
        }
        collect2(&mut mu);
        for i in 0..N {
            let o = &outer.get(&mu).map;
            let inner = o.get(k1s[i].get(&mu), &mu).expect("k1 alive: inner alive");
            let v = inner.map.get(k2s[i].get(&mu), &mu).expect("k1, k2 alive: v alive");
            assert_eq!(v.check(), values[i], "{config:?}");
        }
        assert_eq!(ledger.total_drops(), 0, "{config:?}");
        // k1 dies: the inner holders die with their (live-key) entries.
        drop(k1s);
        for _ in 0..3 {
            collect2(&mut mu);
        }
        assert!(outer.get(&mu).map.is_empty(), "{config:?}");
        for (i, &v) in values.iter().enumerate() {
            assert_eq!(ledger.drops(v), 1, "{config:?}: value {i} of a dead inner map");
        }
        // New maps at the inner maps' old addresses, keyed by the still-live k2s: empty.
        let mut reused = 0;
        let fresh: Vec<Root<Table>> = (0..2 * N)
            .map(|_| {
                let t = mu.alloc(Table { map: GcWeakMap::new() });
                reused += inner_addrs.contains(&t.addr()) as usize;
                t.root(&mu)
            })
            .collect();
        assert!(reused > 0, "{config:?}: no inner holder's address reused: the test proves nothing");
        for t in &fresh {
            let t = t.get(&mu);
            for k in &k2s {
                assert!(t.map.get(k.get(&mu), &mu).is_none() && !t.map.contains_key(k.get(&mu)));
            }
            let k = obj(&mu, &ledger);
            t.map.insert(k2s[0].get(&mu), k);
        }
        drop(k2s);
        collect2(&mut mu);
        for t in &fresh {
            assert!(t.get(&mu).map.is_empty(), "{config:?}: the entries of the dead k2 are gone");
        }
        drop(fresh);
        drop(outer);
        collect2(&mut mu);
        ledger.check_exactly(&HashSet::new());
    }
}

/// Holders that die while their maps hold entries under live keys (registered until the
/// finalizer drops them; the table purges them every cycle meanwhile), then the keys die while
/// other maps register at the holders' old addresses: the key addresses are reused by fresh
/// objects, which find nothing in the new maps, and every object is freed exactly once.
#[test]
fn holders_that_die_with_live_keys_then_keys_that_die() {
    let _s = serial();
    const HOLDERS: usize = 500;
    const KEYS: usize = 200;
    for config in configs() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let ledger = Ledger::new(KEYS + HOLDERS * (KEYS / 7 + 1) + HOLDERS + 4 * KEYS + 16);
        let mut mu = gc_runtime::attach();
        let keys: Vec<Root<Obj>> = (0..KEYS).map(|_| obj(&mu, &ledger).root(&mu)).collect();
        let key_addrs: HashSet<usize> = keys.iter().map(|k| k.get(&mu).addr()).collect();
        let mut holder_addrs = HashSet::new();
        for h in 0..HOLDERS {
            let t = mu.alloc(Table { map: GcWeakMap::new() });
            holder_addrs.insert(t.addr());
            for k in keys.iter().skip(h % 7).step_by(7) {
                t.map.insert(k.get(&mu), obj(&mu, &ledger));
            }
        }
        // The holders die (purged by the cycle that finds them dead, dropped by the finalizer);
        // their slots are free for reuse after the next sweep.
        mu.collect();
        collect2(&mut mu);
        let tables: Vec<Root<Table>> =
            (0..HOLDERS).map(|_| mu.alloc(Table { map: GcWeakMap::new() }).root(&mu)).collect();
        let reused = tables.iter().filter(|t| holder_addrs.contains(&t.get(&mu).addr())).count();
        for (i, t) in tables.iter().enumerate() {
            let t = t.get(&mu);
            assert!(t.map.is_empty());
            t.map.insert(keys[i % KEYS].get(&mu), obj(&mu, &ledger));
        }
        drop(keys);
        collect2(&mut mu);
        for t in &tables {
            assert!(t.get(&mu).map.is_empty(), "{config:?}: a dead key's entry survived");
        }
        // Fresh objects take the keys' addresses: no map has an entry for them.
        let fresh: Vec<Gc<'_, Obj>> = (0..4 * KEYS).map(|_| obj(&mu, &ledger)).collect();
        let reused_keys = fresh.iter().filter(|k| key_addrs.contains(&k.addr())).count();
        for t in &tables {
            let t = t.get(&mu);
            for k in &fresh {
                assert!(t.map.get(*k, &mu).is_none() && !t.map.contains_key(*k));
            }
        }
        println!("{config:?}: {reused} holder and {reused_keys} key addresses reused");
        assert!(reused > 0 && reused_keys > 0, "{config:?}: no address reused: the test proves nothing");
        drop(tables);
        collect2(&mut mu);
        ledger.check_exactly(&HashSet::new());
    }
}

/// Many maps, each registered by its first entry, created and dropped over and over: the table
/// purges each in the cycle that finds its holder dead (counting exactly its dead-key entries),
/// forgets it when the finalizer drops it (a new map at the same address registers anew), and
/// does not grow: the last round is not much slower than the first.
#[test]
fn many_maps_created_and_dropped() {
    let _s = serial();
    gc_runtime::reconfigure(Config::default().with_checkmark(true).with_gc_percent(None)).unwrap();
    const MAPS: u64 = 20_000;
    let mut mu = gc_runtime::attach();
    let key = mu.alloc(Plain { n: 7 }).root(&mu);
    let kept = mu.alloc(GcWeakMap::<Plain, Plain>::new()).root(&mu);
    // Garbage of earlier tests (a failed one's maps) would be counted in the first round.
    collect2(&mut mu);
    let mut first_round = Duration::ZERO;
    let mut last_round = Duration::ZERO;
    for round in 0..10 {
        let t = Instant::now();
        {
            let k = key.get(&mu);
            for i in 0..MAPS {
                let m = mu.alloc(GcWeakMap::<Plain, Plain>::new());
                m.insert(k, mu.alloc(Plain { n: i }));
                if i % 2 == 0 {
                    m.insert(mu.alloc(Plain { n: i }), mu.alloc(Plain { n: i }));
                }
            }
            kept.get(&mu).insert(mu.alloc(Plain { n: 0 }), mu.alloc(Plain { n: 1 }));
            kept.get(&mu).insert(k, mu.alloc(Plain { n: round }));
        }
        mu.collect();
        let cycle = gc_runtime::stats().cycles;
        mu.collect();
        let rec = gc_runtime::stats().recent.into_iter().find(|c| c.cycle == cycle).unwrap();
        assert_eq!(
            rec.weak_map_entries_cleared,
            MAPS as usize / 2 + 1,
            "round {round}: every dead key's entry, in dead maps and the kept one"
        );
        assert_eq!(kept.get(&mu).len(), 1);
        assert_eq!(kept.get(&mu).get(key.get(&mu), &mu).unwrap().n, round);
        if round == 0 {
            first_round = t.elapsed();
        }
        last_round = t.elapsed();
    }
    println!("first round {first_round:?}, last round {last_round:?}");
    assert!(last_round < first_round * 5 + Duration::from_millis(500), "{last_round:?} vs first round {first_round:?}");
}

// ---------------------------------------------------------------------------------------------
// Where a map can live in an object.

#[derive(Trace)]
enum Slotty {
    Nothing,
    Map(GcWeakMap<Obj, Obj>),
    Pair(u8, Box<GcWeakMap<Obj, Obj>>),
}

#[derive(Trace)]
struct Everywhere {
    vec: Vec<GcWeakMap<Obj, Obj>>,
    boxed: Box<GcWeakMap<Obj, Obj>>,
    opt: Option<GcWeakMap<Obj, Obj>>,
    by_name: HashMap<String, GcWeakMap<Obj, Obj>>,
    tuple: (u32, GcWeakMap<Obj, Obj>),
    arr: [GcWeakMap<Obj, Obj>; 2],
    enums: Vec<Slotty>,
    deque: std::collections::VecDeque<GcWeakMap<Obj, Obj>>,
}

impl Everywhere {
    fn new() -> Everywhere {
        Everywhere {
            vec: (0..3).map(|_| GcWeakMap::new()).collect(),
            boxed: Box::new(GcWeakMap::new()),
            opt: Some(GcWeakMap::new()),
            by_name: (0..3).map(|i| (format!("m{i}"), GcWeakMap::new())).collect(),
            tuple: (1, GcWeakMap::new()),
            arr: [GcWeakMap::new(), GcWeakMap::new()],
            enums: vec![Slotty::Nothing, Slotty::Map(GcWeakMap::new()), Slotty::Pair(1, Box::new(GcWeakMap::new()))],
            deque: (0..2).map(|_| GcWeakMap::new()).collect(),
        }
    }

    fn maps(&self) -> Vec<&GcWeakMap<Obj, Obj>> {
        let mut out: Vec<&GcWeakMap<Obj, Obj>> = self.vec.iter().collect();
        out.push(&self.boxed);
        out.push(self.opt.as_ref().unwrap());
        let mut names: Vec<&String> = self.by_name.keys().collect();
        names.sort();
        out.extend(names.into_iter().map(|n| &self.by_name[n]));
        out.push(&self.tuple.1);
        out.extend(self.arr.iter());
        for e in &self.enums {
            match e {
                Slotty::Nothing => {}
                Slotty::Map(m) => out.push(m),
                Slotty::Pair(_, m) => out.push(m),
            }
        }
        out.extend(self.deque.iter());
        out
    }
}

/// Maps inside every std container `Trace` covers (and enums): all armed by allocation, each
/// entry alive exactly while its key is, and every map of a dead holder forgotten by the table
/// when it is finalized (then its holder's address and its boxes are reused by new ones).
#[test]
fn maps_in_every_container_are_armed_and_ephemeral() {
    let _s = serial();
    for config in configs() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let ledger = Ledger::new(2000);
        let mut mu = gc_runtime::attach();
        for round in 0..4 {
            let holder = mu.alloc(Everywhere::new()).root(&mu);
            let n = holder.get(&mu).maps().len();
            assert_eq!(n, 15);
            let live: Vec<Root<Obj>> = (0..n).map(|_| obj(&mu, &ledger).root(&mu)).collect();
            let mut live_values = Vec::new();
            {
                let h = holder.get(&mu);
                for (i, m) in h.maps().into_iter().enumerate() {
                    let v = obj(&mu, &ledger);
                    live_values.push(v.id);
                    m.insert(live[i].get(&mu), v);
                    let dead = obj(&mu, &ledger);
                    let dv = obj(&mu, &ledger);
                    dv.next.set(Some(dead));
                    m.insert(dead, dv);
                    assert_eq!(m.len(), 2);
                }
            }
            collect2(&mut mu);
            {
                let h = holder.get(&mu);
                for (i, m) in h.maps().into_iter().enumerate() {
                    assert_eq!(m.len(), 1, "{config:?} round {round}: map {i}");
                    assert_eq!(m.get(live[i].get(&mu), &mu).unwrap().check(), live_values[i], "{config:?}: map {i}");
                }
            }
            // The holder dies with live-key entries in every map.
            drop(holder);
            collect2(&mut mu);
            drop(live);
            collect2(&mut mu);
        }
        ledger.check_exactly(&HashSet::new());
    }
}

#[derive(Trace)]
struct InArc {
    shared: Arc<GcWeakMap<Obj, Obj>>,
}

type HiddenWeakMap = GcWeakMap<Obj, Obj>;
/// The derive rejects `#[trace(skip)]` on a field naming `GcWeakMap`; an alias hides it.
type LockedWeakMap = Mutex<Option<GcWeakMap<u8, u8>>>;

#[derive(Trace)]
struct SkippedAlias {
    #[trace(skip)]
    hidden: HiddenWeakMap,
    #[trace(skip)]
    locked: LockedWeakMap,
}

fn panics(f: impl FnOnce()) -> bool {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err()
}

/// A map in an `Arc` (which could be cloned out of the heap), behind a skipped alias, or in a
/// skipped `Mutex` (from which `mem::take` could move it out): never armed, so it refuses every
/// entry and can never register or hold a value the collector does not see. A clone of the
/// `Arc` taken out of a dead holder stays unarmed and usable as an empty map.
#[test]
fn maps_in_arcs_and_skipped_fields_are_never_armed() {
    let _s = serial();
    gc_runtime::reconfigure(Config::default().with_checkmark(true).with_gc_percent(None)).unwrap();
    let ledger = Ledger::new(16);
    let mut mu = gc_runtime::attach();
    let k = obj(&mu, &ledger).root(&mu);
    let escaped: Arc<GcWeakMap<Obj, Obj>> = {
        let a = mu.alloc(InArc { shared: Arc::new(GcWeakMap::new()) });
        let v = obj(&mu, &ledger);
        assert!(panics(|| {
            a.shared.insert(k.get(&mu), v);
        }));
        assert!(a.shared.is_empty() && a.shared.get(k.get(&mu), &mu).is_none());
        a.shared.clone()
    };
    {
        let s = mu.alloc(SkippedAlias { hidden: GcWeakMap::new(), locked: Mutex::new(Some(GcWeakMap::new())) });
        let v = obj(&mu, &ledger);
        assert!(panics(|| {
            s.hidden.insert(k.get(&mu), v);
        }));
        let taken = s.locked.lock().unwrap().take().unwrap();
        assert!(panics(|| {
            taken.insert(mu.alloc(1u8), mu.alloc(2u8));
        }));
        assert!(format!("{taken:?}").contains("armed: false"), "{taken:?}");
    }
    collect2(&mut mu);
    // The Arc's holder is dead and finalized; the clone outlives it, still unarmed.
    assert!(panics(|| {
        escaped.insert(k.get(&mu), obj(&mu, &ledger));
    }));
    assert!(escaped.is_empty() && escaped.remove(k.get(&mu), &mu).is_none());
    escaped.clear();
    drop(escaped);
    collect2(&mut mu);
    assert_eq!(k.get(&mu).check(), 0);
}

// ---------------------------------------------------------------------------------------------
// Large objects.

#[derive(Trace)]
struct Big {
    id: u64,
    pad: Vec<u8>,
    inline: [u64; 16 * 1024],
    next: Member<Obj>,
}

#[derive(Trace)]
struct BigTable {
    inline: [u64; 16 * 1024],
    map: GcWeakMap<Big, Big>,
}

/// Large objects (128 KiB, a block each) as keys, values and holders: a large key's entry lives
/// while the key does and goes when it dies, before its block can be reused or given back; new
/// large objects at the freed keys' addresses find nothing; a large holder dying with entries.
#[test]
fn large_keys_values_and_holders() {
    let _s = serial();
    const N: usize = 24;
    for config in configs() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let ledger = Ledger::new(64);
        let mut mu = gc_runtime::attach();
        let table = mu.alloc(BigTable { inline: [7; 16 * 1024], map: GcWeakMap::new() }).root(&mu);
        let big = |mu: &Mutator, id: u64| -> Root<Big> {
            mu.alloc(Big { id, pad: vec![id as u8; 16], inline: [id; 16 * 1024], next: Member::new() }).root(mu)
        };
        let keys: Vec<Root<Big>> = (0..N as u64).map(|i| big(&mu, i)).collect();
        let dead_addrs: HashSet<usize> = {
            let t = table.get(&mu);
            for (i, k) in keys.iter().enumerate() {
                let v = mu.alloc(Big {
                    id: 1000 + i as u64,
                    pad: vec![1; 16],
                    inline: [1000 + i as u64; 16 * 1024],
                    next: Member::new(),
                });
                v.next.set(Some(obj(&mu, &ledger)));
                t.map.insert(k.get(&mu), v);
            }
            keys.iter().skip(1).step_by(2).map(|k| k.get(&mu).addr()).collect()
        };
        // Half the keys die.
        let keys: Vec<(usize, Root<Big>)> = keys.into_iter().enumerate().filter(|(i, _)| i % 2 == 0).collect();
        collect2(&mut mu);
        {
            let t = table.get(&mu);
            assert_eq!(t.map.len(), N / 2, "{config:?}");
            for (i, k) in &keys {
                let v = t.map.get(k.get(&mu), &mu).expect("live large key: value");
                assert_eq!((v.id, v.inline[100], v.pad[3]), (1000 + *i as u64, 1000 + *i as u64, 1));
                v.next.get(&mu).unwrap().check();
            }
        }
        collect2(&mut mu);
        let fresh: Vec<Root<Big>> = (0..N as u64).map(|i| big(&mu, 5000 + i)).collect();
        let reused = fresh.iter().filter(|b| dead_addrs.contains(&b.get(&mu).addr())).count();
        let t = table.get(&mu);
        for f in &fresh {
            assert!(t.map.get(f.get(&mu), &mu).is_none() && !t.map.contains_key(f.get(&mu)), "{config:?}");
        }
        println!("{config:?}: {reused} large key addresses reused");
        // The large holder dies with live-key entries.
        drop(table);
        collect2(&mut mu);
        drop(keys);
        drop(fresh);
        collect2(&mut mu);
        ledger.check_exactly(&HashSet::new());
    }
}

// ---------------------------------------------------------------------------------------------
// Destructors next to maps.

static BOMBS: AtomicUsize = AtomicUsize::new(0);

/// Panics when dropped (on the finalizer thread).
struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        BOMBS.fetch_add(1, Ordering::SeqCst);
        panic!("bomb");
    }
}

#[derive(Trace)]
struct BombHolder {
    #[trace(skip)]
    _bomb: Bomb,
    map: GcWeakMap<Plain, Plain>,
    #[trace(skip)]
    _after: Bomb2,
    maps: Vec<GcWeakMap<Plain, Plain>>,
}

/// A second destructor after the map, which must still run (drop glue goes on after a panic).
struct Bomb2;

static BOMB2: AtomicUsize = AtomicUsize::new(0);

impl Drop for Bomb2 {
    fn drop(&mut self) {
        BOMB2.fetch_add(1, Ordering::SeqCst);
    }
}

/// A holder whose first field panics when dropped: the drop glue still drops the maps after it
/// (unregistering them), so new maps at the same addresses, and the dead keys' addresses
/// reused, are handled right, cycle after cycle.
#[test]
fn child_panicking_destructor_before_the_map() {
    if !in_child() {
        return;
    }
    common::quiet_panics_on_the_finalizer();
    gc_runtime::reconfigure(Config::default().with_checkmark(true).with_gc_percent(None)).unwrap();
    let mut mu = gc_runtime::attach();
    let key = mu.alloc(Plain { n: 1 }).root(&mu);
    const ROUNDS: usize = 20;
    const PER: usize = 200;
    for round in 0..ROUNDS {
        let survivors: Vec<Root<BombHolder>> = (0..PER)
            .map(|i| {
                let h = mu.alloc(BombHolder {
                    _bomb: Bomb,
                    map: GcWeakMap::new(),
                    _after: Bomb2,
                    maps: (0..3).map(|_| GcWeakMap::new()).collect(),
                });
                h.map.insert(key.get(&mu), mu.alloc(Plain { n: i as u64 }));
                h.map.insert(mu.alloc(Plain { n: 0 }), mu.alloc(Plain { n: 0 }));
                for m in &h.maps {
                    m.insert(key.get(&mu), mu.alloc(Plain { n: i as u64 }));
                    m.insert(mu.alloc(Plain { n: 0 }), mu.alloc(Plain { n: 0 }));
                }
                h
            })
            .enumerate()
            .filter(|(i, _)| i % 3 == 0)
            .map(|(_, h)| h.root(&mu))
            .collect();
        collect2(&mut mu);
        for (j, h) in survivors.iter().enumerate() {
            let h = h.get(&mu);
            assert_eq!(h.map.len(), 1, "round {round}");
            assert_eq!(h.map.get(key.get(&mu), &mu).unwrap().n, 3 * j as u64);
            for m in &h.maps {
                assert_eq!(m.len(), 1);
                assert_eq!(m.get(key.get(&mu), &mu).unwrap().n, 3 * j as u64);
            }
        }
    }
    collect2(&mut mu);
    let s = gc_runtime::stats();
    // Every holder's destructor ran once, and the field after the map was dropped too.
    assert_eq!(BOMBS.load(Ordering::SeqCst), BOMB2.load(Ordering::SeqCst));
    assert_eq!(BOMBS.load(Ordering::SeqCst), ROUNDS * PER, "{s:?}");
    println!("done: {} drop panics", BOMBS.load(Ordering::SeqCst));
}

#[test]
fn a_panicking_destructor_before_the_map() {
    child("child_panicking_destructor_before_the_map", &[], DEADLINE).assert_completed();
}

static STALL: Mutex<bool> = Mutex::new(false);
static STALL_CV: std::sync::Condvar = std::sync::Condvar::new();
static STALLED: AtomicBool = AtomicBool::new(false);

/// Blocks the finalizer until released.
struct Staller;

impl Drop for Staller {
    fn drop(&mut self) {
        STALLED.store(true, Ordering::SeqCst);
        let mut go = STALL.lock().unwrap();
        while !*go {
            go = STALL_CV.wait(go).unwrap();
        }
    }
}

#[derive(Trace)]
struct StalledHolder {
    #[trace(skip)]
    _staller: Staller,
    map: GcWeakMap<Plain, Plain>,
}

/// A dead holder whose finalization is held up (its first field's destructor blocks the
/// finalizer): its map stays registered, dead, while several cycles find its keys dead and
/// their memory is reused by new objects. The table must purge the dead map (its memory is
/// still the holder's), count those entries, and later forget it when the finalizer goes on.
/// Cycles are started by allocation (pacing), since `collect` would wait for the finalizer.
#[test]
fn child_finalizer_stalled_with_a_dead_map_registered() {
    if !in_child() {
        return;
    }
    gc_runtime::reconfigure(Config::default().with_checkmark(true).with_gc_percent(Some(20))).unwrap();
    let mut mu = gc_runtime::attach();
    const KEYS: usize = 2000;
    let keys: Vec<Root<Plain>> = (0..KEYS).map(|i| mu.alloc(Plain { n: i as u64 }).root(&mu)).collect();
    {
        let h = mu.alloc(StalledHolder { _staller: Staller, map: GcWeakMap::new() });
        for k in &keys {
            h.map.insert(k.get(&mu), mu.alloc(Plain { n: 9 }));
        }
    }
    // Allocate until `until(reused)`, counting in `reused` the objects that took an address in
    // `addrs`.
    let churn = |mu: &mut Mutator, what: &str, until: &dyn Fn(usize) -> bool, addrs: &HashSet<usize>| {
        let t = Instant::now();
        let cycles_before = gc_runtime::stats().cycles;
        let mut reused = 0;
        while !until(reused) {
            for i in 0..1000u64 {
                reused += addrs.contains(&mu.alloc(Plain { n: i }).addr()) as usize;
            }
            mu.safepoint();
            assert!(
                t.elapsed() < Duration::from_secs(45),
                "{what}: not within 45 s ({} cycles ran meanwhile; {reused} key addresses reused; finalizer \
                 stalled in the holder: {})",
                gc_runtime::stats().cycles - cycles_before,
                STALLED.load(Ordering::SeqCst)
            );
        }
        reused
    };
    // The holder dies: the finalizer blocks in its first field.
    churn(&mut mu, "the dead holder's finalization", &|_| STALLED.load(Ordering::SeqCst), &HashSet::new());
    let addrs: HashSet<usize> = keys.iter().map(|k| k.get(&mu).addr()).collect();
    let before = gc_runtime::stats().cycles;
    drop(keys);
    // The keys die while the dead map is registered; pages of plain objects are freed without
    // the finalizer, so their addresses are reused: allocate through four cycles at least, and
    // on until some key's address was taken (how soon a freed page is allocated from again
    // depends on how the sweep and the allocation interleave).
    let reused = churn(
        &mut mu,
        "four cycles and a dead key's address reused",
        &|reused| reused > 0 && gc_runtime::stats().cycles >= before + 4,
        &addrs,
    );
    let cleared: usize =
        gc_runtime::stats().recent.iter().filter(|c| c.cycle > before).map(|c| c.weak_map_entries_cleared).sum();
    assert_eq!(cleared, KEYS, "the dead, registered map's entries of dead keys were purged");
    assert!(STALLED.load(Ordering::SeqCst) && !*STALL.lock().unwrap());
    println!("{reused} key addresses reused while the dead map was registered");
    assert!(reused > 0, "no key address reused: the test proves nothing");
    *STALL.lock().unwrap() = true;
    STALL_CV.notify_all();
    collect2(&mut mu);
    // A new map may now take the holder's address.
    let m = mu.alloc(StalledHolder { _staller: Staller, map: GcWeakMap::new() }).root(&mu);
    m.get(&mu).map.insert(mu.alloc(Plain { n: 1 }), mu.alloc(Plain { n: 2 }));
    collect2(&mut mu);
    assert!(m.get(&mu).map.is_empty());
    println!("done");
}

#[test]
fn a_dead_map_stays_registered_while_the_finalizer_is_stalled() {
    // Room for both of the child's waits (45 s each at most, for a loaded machine).
    child("child_finalizer_stalled_with_a_dead_map_registered", &[], Duration::from_secs(120)).assert_completed();
}

// ---------------------------------------------------------------------------------------------
// Weak references, reconfiguration, threads.

/// A `Weak` to a key and the key's entry go in the same cycle (both before the sweep): never a
/// live entry for a key whose weak reference is cleared, nor the reverse; and an upgraded key
/// finds its value.
#[test]
fn a_keys_weak_reference_and_its_entry_go_together() {
    let _s = serial();
    const N: usize = 200;
    for config in configs() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let ledger = Ledger::new(3 * N);
        let mut mu = gc_runtime::attach();
        let table = mu.alloc(Table { map: GcWeakMap::new() }).root(&mu);
        let mut roots: Vec<Option<Root<Obj>>> = Vec::new();
        let mut weaks: Vec<Weak<Obj>> = Vec::new();
        {
            let map = &table.get(&mu).map;
            for _ in 0..N {
                let k = obj(&mu, &ledger);
                let v = obj(&mu, &ledger);
                v.next.set(Some(k));
                map.insert(k, v);
                weaks.push(Weak::new(&mu, k));
                roots.push(Some(k.root(&mu)));
            }
        }
        for step in 0..4 {
            for (i, r) in roots.iter_mut().enumerate() {
                if (i + step) % 4 == 0 {
                    *r = None;
                }
            }
            mu.collect();
            let map = &table.get(&mu).map;
            let mut live = 0;
            for (i, w) in weaks.iter().enumerate() {
                match w.upgrade(&mu) {
                    Some(k) => {
                        live += 1;
                        let v = map.get(k, &mu).unwrap_or_else(|| panic!("{config:?}: key {i} alive, its entry gone"));
                        assert!(Gc::ptr_eq(v.next.get(&mu).unwrap(), k));
                        v.check();
                    }
                    None => assert!(roots[i].is_none(), "{config:?}: rooted key {i} cleared"),
                }
            }
            assert_eq!(map.len(), live, "{config:?} step {step}: entries of keys whose weak refs were cleared remain");
        }
        drop(roots);
        collect2(&mut mu);
        assert!(table.get(&mu).map.is_empty());
        assert!(weaks.iter().all(|w| w.is_cleared()));
        ledger.check_exactly(&HashSet::new());
    }
}

/// Entries stay right while `reconfigure` flips mode, barrier, handshakes and checkmark
/// between (and, from another thread, during) cycles.
#[test]
fn entries_survive_reconfiguration() {
    let _s = serial();
    let ledger = Ledger::new(4000);
    let mut mu = gc_runtime::attach();
    let table = mu.alloc(Table { map: GcWeakMap::new() }).root(&mu);
    let keys: Vec<Root<Obj>> = (0..200).map(|_| obj(&mu, &ledger).root(&mu)).collect();
    let mut expected: Vec<u64> = Vec::new();
    {
        let map = &table.get(&mu).map;
        for k in &keys {
            let v = obj(&mu, &ledger);
            expected.push(v.id);
            map.insert(k.get(&mu), v);
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flipper = {
        let stop = stop.clone();
        thread::spawn(move || {
            let cs = configs();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                gc_runtime::reconfigure(cs[i % cs.len()].clone()).unwrap();
                i += 1;
                thread::sleep(Duration::from_micros(300));
            }
        })
    };
    for round in 0..30 {
        {
            let map = &table.get(&mu).map;
            for _ in 0..50 {
                let k = obj(&mu, &ledger);
                map.insert(k, obj(&mu, &ledger));
            }
        }
        mu.collect();
        let map = &table.get(&mu).map;
        for (k, &e) in keys.iter().zip(&expected) {
            assert_eq!(map.get(k.get(&mu), &mu).unwrap().check(), e, "round {round}");
        }
        assert!(map.len() <= keys.len() + 50, "round {round}: {} entries", map.len());
    }
    stop.store(true, Ordering::Relaxed);
    flipper.join().unwrap();
    gc_runtime::reconfigure(Config::default().with_checkmark(true).with_gc_percent(None)).unwrap();
    collect2(&mut mu);
    assert_eq!(table.get(&mu).map.len(), keys.len());
}

/// Threads insert entries under keys they root, send the roots away and exit (mutators
/// dropped); the entries live on while the roots do, and go when another thread — without a
/// mutator — drops the roots.
#[test]
fn threads_that_insert_and_exit() {
    let _s = serial();
    for config in configs() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let ledger = Ledger::new(2000);
        let mut mu = gc_runtime::attach();
        let table = Arc::new(mu.alloc(Table { map: GcWeakMap::new() }).root(&mu));
        let roots: Vec<(Root<Obj>, u64)> = (0..4)
            .map(|t| {
                let (table, ledger) = (table.clone(), ledger.clone());
                thread::spawn(move || {
                    let mu = gc_runtime::attach();
                    let map = &table.get(&mu).map;
                    (0..50)
                        .map(|i| {
                            let k = obj(&mu, &ledger);
                            let v = obj(&mu, &ledger);
                            map.insert(k, v);
                            if i % 2 == t % 2 {
                                map.insert(obj(&mu, &ledger), obj(&mu, &ledger));
                            }
                            (k.root(&mu), v.id)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .flat_map(|h| h.join().unwrap())
            .collect();
        collect2(&mut mu);
        {
            let map = &table.get(&mu).map;
            assert_eq!(map.len(), roots.len(), "{config:?}");
            for (k, v) in &roots {
                assert_eq!(map.get(k.get(&mu), &mu).unwrap().check(), *v);
            }
        }
        thread::spawn(move || drop(roots)).join().unwrap();
        collect2(&mut mu);
        assert!(table.get(&mu).map.is_empty(), "{config:?}");
        drop(table);
        collect2(&mut mu);
        ledger.check_exactly(&HashSet::new());
    }
}

// ---------------------------------------------------------------------------------------------
// Concurrent stress: keys moved between objects while marking.

#[derive(Trace)]
struct Carrier {
    slots: Vec<Member<Obj>>,
}

const CARRIERS: usize = 8;
const CARRIER_SLOTS: usize = 64;

/// Each key lives only in a slot of some carrier (rooted objects); its value, and the value's
/// own referent, only through the key's entry in one of several maps. The mutators move keys
/// between carriers — a store into a carrier the marker may have scanned, then a deletion from
/// the one it may not have — which is exactly how a key turns black after its map was scanned
/// without any store to the map; they also read values and store them into a kept slot,
/// overwrite and remove entries, drop keys and make new ones. Every value read must be whole
/// (canary), and checkmark verifies every cycle.
///
/// Each map has a holder of its own (`holder_with_a_locked_second_collection` covers holders
/// with two collections); `clear` runs in every configuration
/// (`clear_right_after_the_decision` covers the window after a ragged decision).
fn key_moves(config: Config, millis: u64) {
    let clears = true;
    gc_runtime::reconfigure(config.with_checkmark(true).with_gc_percent(Some(50))).unwrap();
    let ledger = Ledger::new(6_000_000);
    let (carriers, tables) = {
        let mu = gc_runtime::attach();
        let carriers: Vec<Root<Carrier>> = (0..CARRIERS)
            .map(|_| mu.alloc(Carrier { slots: (0..CARRIER_SLOTS).map(|_| Member::new()).collect() }).root(&mu))
            .collect();
        let tables: Vec<Root<Table>> = (0..4).map(|_| mu.alloc(Table { map: GcWeakMap::new() }).root(&mu)).collect();
        (carriers, tables)
    };
    let stop = Arc::new(AtomicBool::new(false));
    let ran = Arc::new(AtomicU64::new(0));
    let collector = spawn_counted_collector(&stop, &ran);
    let ops = AtomicU64::new(0);
    thread::scope(|s| {
        for t in 0..2u64 {
            let (carriers, tables, ledger, stop, ops) = (&carriers, &tables, &ledger, &stop, &ops);
            s.spawn(move || {
                let mut mu = gc_runtime::attach();
                let mut rng = Rng(0xA076_1D64_78BD_642F ^ (t + 1));
                let kept = obj(&mu, ledger).root(&mu);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(10_000) {
                    {
                        let ts: Vec<Gc<'_, Table>> = tables.iter().map(|t| t.get(&mu)).collect();
                        let map = &ts[rng.below(4)].map;
                        let c = carriers[rng.below(CARRIERS)].get(&mu);
                        let slot = &c.slots[rng.below(CARRIER_SLOTS)];
                        match rng.below(12) {
                            0..=3 => {
                                // Move the key to another carrier, then delete it here.
                                if let Some(k) = slot.get(&mu) {
                                    let d = carriers[rng.below(CARRIERS)].get(&mu);
                                    let dslot = &d.slots[rng.below(CARRIER_SLOTS)];
                                    if dslot.is_none() {
                                        dslot.set(Some(k));
                                        slot.set(None);
                                    }
                                }
                            }
                            4 => {
                                // A new key with a value (and the value's referent) in a map.
                                let k = obj(&mu, ledger);
                                let v = obj(&mu, ledger);
                                v.next.set(Some(obj(&mu, ledger)));
                                map.insert(k, v);
                                slot.set(Some(k));
                            }
                            5 | 6 => {
                                if let Some(k) = slot.get(&mu) {
                                    for t in &ts {
                                        if let Some(v) = t.map.get(k, &mu) {
                                            v.check();
                                            v.next.get(&mu).unwrap().check();
                                            if rng.below(8) == 0 {
                                                kept.get(&mu).next.set(Some(v));
                                            }
                                        }
                                    }
                                }
                            }
                            7 => {
                                if let Some(k) = slot.get(&mu) {
                                    let v = obj(&mu, ledger);
                                    v.next.set(Some(k));
                                    map.insert(k, v);
                                    // Its own key's value may point to a key of another map.
                                    if let Some(other) = carriers[rng.below(CARRIERS)].get(&mu).slots[0].get(&mu) {
                                        let w = obj(&mu, ledger);
                                        w.next.set(Some(other));
                                        v.next.set(Some(w));
                                    }
                                }
                            }
                            8 => {
                                if let Some(k) = slot.get(&mu) {
                                    if let Some(v) = map.remove(k, &mu) {
                                        v.check();
                                        kept.get(&mu).next.set(Some(v));
                                    }
                                }
                            }
                            9 => slot.set(None),
                            10 if clears && rng.below(50) == 0 => map.clear(),
                            _ => {}
                        }
                        if let Some(v) = kept.get(&mu).next.get(&mu) {
                            v.check();
                        }
                    }
                    n += 1;
                    if n % 8 == 0 {
                        mu.safepoint();
                    }
                }
                ops.fetch_add(n, Ordering::Relaxed);
            });
        }
        // For `millis`, and until the cycles checked below have run.
        run_until(millis, || ran.load(Ordering::Relaxed) >= 3, || thread::sleep(Duration::from_millis(10)));
        stop.store(true, Ordering::Relaxed);
    });
    let cycles = collector.join().unwrap();
    let mut mu = gc_runtime::attach();
    // Every value of a live key is whole.
    for c in &carriers {
        for slot in &c.get(&mu).slots {
            if let Some(k) = slot.get(&mu) {
                k.check();
                for t in &tables {
                    if let Some(v) = t.get(&mu).map.get(k, &mu) {
                        v.check();
                    }
                }
            }
        }
    }
    drop(carriers);
    collect2(&mut mu);
    for t in &tables {
        assert!(t.get(&mu).map.is_empty(), "entries of dead keys remain");
    }
    println!("done: {cycles} cycles, {} ops", ops.load(Ordering::Relaxed));
    assert!(cycles >= 3);
}

/// The configuration a key-move child runs, from `GC_ATTACK_CONFIG` (an index into
/// [`configs`]).
fn child_config() -> Config {
    let i: usize = std::env::var("GC_ATTACK_CONFIG").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    configs()[i].clone()
}

/// How long a child scenario runs: `GC_ATTACK_MILLIS`, else `default`.
fn attack_millis(default: u64) -> u64 {
    std::env::var("GC_ATTACK_MILLIS").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Run the child test `name` once per configuration, each in its own process (checkmark
/// aborts on a miss), and require each to finish and print `done`.
fn in_every_configuration(name: &str) {
    for i in 0..configs().len() {
        let out = child(name, &[("GC_ATTACK_CONFIG", &i.to_string())], DEADLINE);
        assert!(
            out.success && out.stdout.contains("done"),
            "configuration {i} ({:?}):\n{}",
            configs()[i],
            out.describe()
        );
    }
}

#[test]
fn child_key_moves() {
    if in_child() {
        let millis = attack_millis(500);
        key_moves(child_config(), millis);
    }
}

/// Every configuration, each in its own process (checkmark aborts on a miss).
#[test]
fn keys_moved_while_marking_in_every_configuration() {
    in_every_configuration("child_key_moves");
}

// ---------------------------------------------------------------------------------------------
// A holder with a second collection, locked by a writer while the marker visits it.

#[derive(Trace)]
struct TwoMaps {
    /// Traced first: its entries are reported (and its scan finished) in the visit that then
    /// finds `b` locked.
    a: GcWeakMap<Obj, Obj>,
    b: GcWeakMap<Plain, Plain>,
}

#[derive(Trace)]
struct Link {
    next: Member<Link>,
    end: Member<Obj>,
}

/// The marker visits an object holding a weak map `a` and a second collection `b`. It reports
/// `a`'s entries — one has a key not marked yet, so the object must be looked at again before
/// marking ends — and then finds `b` write-locked by another thread: the visit is abandoned and
/// the object deferred. When the marker comes back, `a`'s scan is finished (its cursor says so)
/// and reports nothing, so nothing says that the object has a pending entry. The key is
/// reached later (at the end of a long list); its value, reachable only through the entry, is
/// never marked — and freed while the key is alive.
///
/// Each cycle: a fresh key at the end of a 30 000-link list, a fresh value in `a`; a mutator
/// clears the empty `b` in a loop (each `clear` takes the write lock). After the collection,
/// the key's value must still be there and whole, and must not have been dropped.
fn holder_with_a_locked_second_collection(checkmark: bool) {
    // Control experiment: with GC_ATTACK_NO_LOCKER set, nobody takes `b`'s lock.
    let locker_on = std::env::var_os("GC_ATTACK_NO_LOCKER").is_none();
    // With GC_ATTACK_STW set: stop-the-world mode, the holder pinned (borrowed for `'static`
    // from a leaked mutator) and `b` cleared by a thread without a mutator, which the pause
    // does not stop.
    let stw = std::env::var_os("GC_ATTACK_STW").is_some();
    let mode = if stw { Mode::StopTheWorld } else { Mode::Concurrent };
    gc_runtime::reconfigure(
        Config::default()
            .with_mode(mode)
            .with_barrier(BarrierKind::Dijkstra)
            .with_checkmark(checkmark)
            .with_gc_percent(None),
    )
    .unwrap();
    const CYCLES: usize = 60;
    const LIST: usize = 30_000;
    let ledger = Ledger::new(4 * CYCLES);
    let pinned: Option<&'static TwoMaps> =
        stw.then(|| leak_static(|mu| mu.alloc(TwoMaps { a: GcWeakMap::new(), b: GcWeakMap::new() }).into_ref()));
    let mut mu = gc_runtime::attach();
    let holder = Arc::new(mu.alloc(TwoMaps { a: GcWeakMap::new(), b: GcWeakMap::new() }).root(&mu));
    let stop = Arc::new(AtomicBool::new(false));
    let locker = {
        let (holder, stop) = (holder.clone(), stop.clone());
        thread::spawn(move || {
            let mut n = 0u64;
            if let Some(pinned) = pinned {
                while locker_on && !stop.load(Ordering::Relaxed) {
                    for _ in 0..256 {
                        pinned.b.clear();
                    }
                    n += 1;
                }
                return n;
            }
            let mut mu = gc_runtime::attach();
            while locker_on && !stop.load(Ordering::Relaxed) {
                let h = holder.get(&mu);
                for _ in 0..256 {
                    h.b.clear();
                }
                n += 1;
                mu.safepoint();
            }
            n
        })
    };
    let mut lost = Vec::new();
    for cycle in 0..CYCLES {
        fn pick<'m>(
            pinned: Option<&'static TwoMaps>,
            holder: &Root<TwoMaps>,
            mu: &'m Mutator,
        ) -> &'m GcWeakMap<Obj, Obj> {
            match pinned {
                Some(p) => &p.a,
                None => &holder.get(mu).into_ref().a,
            }
        }
        let (list, value_id) = {
            let key = obj(&mu, &ledger);
            let value = obj(&mu, &ledger);
            value.next.set(Some(obj(&mu, &ledger)));
            pick(pinned, &holder, &mu).insert(key, value);
            // The key at the end of a long list: the marker reaches it well after the holder.
            let mut head = mu.alloc(Link { next: Member::new(), end: Member::new() });
            head.end.set(Some(key));
            for _ in 0..LIST {
                let l = mu.alloc(Link { next: Member::new(), end: Member::new() });
                l.next.set(Some(head));
                head = l;
            }
            // Not rooted itself: a root is marked first.
            (head.root(&mu), value.id)
        };
        mu.collect();
        let mut key = list.get(&mu);
        while let Some(next) = key.next.get(&mu) {
            key = next;
        }
        let key = key.end.get(&mu).unwrap();
        key.check();
        let v = pick(pinned, &holder, &mu).get(key, &mu);
        match v {
            // `Some` here is a local to a freed object: a use-after-free in safe code.
            Some(_) if ledger.drops(value_id) != 0 => lost.push((cycle, "get returned the freed value")),
            None => lost.push((cycle, "entry gone")),
            Some(v) => {
                assert_eq!(v.check(), value_id);
                v.next.get(&mu).unwrap().check();
            }
        }
        drop(list);
    }
    stop.store(true, Ordering::Relaxed);
    let clears = mu.blocking(|| locker.join().unwrap());
    assert!(
        lost.is_empty(),
        "values freed while their keys were alive, in cycles {lost:?} of {CYCLES} ({clears} clear rounds)"
    );
    println!("done: {clears} clear rounds");
}

#[test]
fn child_holder_with_a_locked_second_collection() {
    if in_child() {
        holder_with_a_locked_second_collection(false);
    }
}

#[test]
fn child_holder_with_a_locked_second_collection_checkmark() {
    if in_child() {
        holder_with_a_locked_second_collection(true);
    }
}

// Broke (fixed): see `holder_with_a_locked_second_collection`.
#[test]
fn a_pending_entry_survives_a_visit_abandoned_for_a_lock() {
    child("child_holder_with_a_locked_second_collection", &[], DEADLINE).assert_completed();
}

// Broke (fixed): the same, with checkmark, which aborts on the missed value.
#[test]
fn a_pending_entry_survives_a_visit_abandoned_for_a_lock_checkmark() {
    child("child_holder_with_a_locked_second_collection_checkmark", &[], DEADLINE).assert_completed();
}

// Broke (fixed): the same in stop-the-world mode, `b` locked by a thread without a mutator.
#[test]
fn a_pending_entry_survives_a_visit_abandoned_for_a_lock_stop_the_world() {
    child("child_holder_with_a_locked_second_collection", &[("GC_ATTACK_STW", "1")], DEADLINE).assert_completed();
}

/// Control: without the thread that locks `b`, the same program holds.
#[test]
fn a_pending_entry_control_without_the_locker() {
    child("child_holder_with_a_locked_second_collection", &[("GC_ATTACK_NO_LOCKER", "1")], DEADLINE).assert_completed();
    child(
        "child_holder_with_a_locked_second_collection",
        &[("GC_ATTACK_NO_LOCKER", "1"), ("GC_ATTACK_STW", "1")],
        DEADLINE,
    )
    .assert_completed();
}

// ---------------------------------------------------------------------------------------------
// Threads without a mutator: pinned maps, used from plain threads and from the finalizer.

#[derive(Trace)]
struct PlainTable {
    map: GcWeakMap<Plain, Plain>,
}

/// Clears a pinned map when dropped — on the finalizer thread.
struct ClearOnDrop(&'static PlainTable);

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        self.0.map.clear();
        let _ = format!("{:?}", self.0.map);
        FINALIZER_CLEARS.fetch_add(1, Ordering::Relaxed);
    }
}

static FINALIZER_CLEARS: AtomicUsize = AtomicUsize::new(0);

#[derive(Trace)]
struct WithClearOnDrop {
    #[trace(skip)]
    _c: ClearOnDrop,
}

/// Pinned maps (borrowed for `'static` from a leaked mutator): threads without a mutator — plain
/// threads and the finalizer, in destructors — clear them, read their length and format them in
/// loops while a mutator inserts and reads and the collector runs back to back. The collector
/// never waits for a map's lock (a cleared map may be locked by a thread that waits for the root
/// table), so nothing may deadlock; the mutator's own maps (never cleared) must keep every
/// entry of its rooted keys; checkmark verifies each cycle.
fn unattached_users(config: Config, millis: u64) {
    let plain_clears = true;
    gc_runtime::reconfigure(config.with_checkmark(true).with_gc_percent(Some(100))).unwrap();
    let tables: &'static Vec<&'static PlainTable> = Box::leak(Box::new(leak_static(|mu| {
        (0..4).map(|_| mu.alloc(PlainTable { map: GcWeakMap::new() }).into_ref()).collect::<Vec<_>>()
    })));
    let mut mu = gc_runtime::attach();
    mu.collect(); // the pause that pins what the leaked mutator's thread left
    let stop = Arc::new(AtomicBool::new(false));
    let ran = Arc::new(AtomicU64::new(0));
    let collector = spawn_counted_collector(&stop, &ran);
    let plain: Vec<_> = (0..2)
        .map(|t| {
            let stop = stop.clone();
            thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for (i, table) in tables.iter().enumerate() {
                        if i >= 2 && plain_clears && (n + t) % 3 == 0 {
                            table.map.clear();
                        }
                        let len = table.map.len();
                        let s = format!("{:?}", table.map);
                        assert!(s.starts_with("GcWeakMap { len: "), "{s}");
                        let _ = (len, table.map.is_empty());
                    }
                    n += 1;
                    if n % 64 == 0 {
                        thread::sleep(Duration::from_micros(50));
                    }
                }
                n
            })
        })
        .collect();
    let keys: Vec<Root<Plain>> = (0..64).map(|i| mu.alloc(Plain { n: i }).root(&mu)).collect();
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let mut rounds = 0u64;
    // For `millis`, and until the cycles and the finalizer's clears checked below have run.
    let enough = || ran.load(Ordering::Relaxed) >= 2 && FINALIZER_CLEARS.load(Ordering::Relaxed) > 0;
    run_until(millis, enough, || {
        for _ in 0..64 {
            let i = rng.below(keys.len());
            let k = keys[i].get(&mu);
            let t = tables[rng.below(4)];
            match rng.below(6) {
                0 | 1 => {
                    t.map.insert(k, mu.alloc(Plain { n: k.n * 1000 + rounds % 1000 }));
                }
                2 => {
                    // A dead key's entry, and a destructor that clears a map on the finalizer.
                    t.map.insert(mu.alloc(Plain { n: u64::MAX }), mu.alloc(Plain { n: 0 }));
                    mu.alloc(WithClearOnDrop { _c: ClearOnDrop(tables[2 + rng.below(2)]) });
                }
                3 => {
                    if let Some(v) = t.map.get(k, &mu) {
                        assert_eq!(v.n / 1000, k.n, "a value read under the wrong key");
                    }
                }
                4 => {
                    if let Some(v) = t.map.remove(k, &mu) {
                        assert_eq!(v.n / 1000, k.n);
                    }
                }
                _ => {}
            }
        }
        // The maps nobody else clears hold a value for every key inserted there.
        for t in &tables[..2] {
            for k in &keys {
                let k = k.get(&mu);
                if let Some(v) = t.map.get(k, &mu) {
                    assert_eq!(v.n / 1000, k.n);
                }
            }
        }
        rounds += 1;
        mu.safepoint();
    });
    stop.store(true, Ordering::Relaxed);
    let cycles = mu.blocking(|| collector.join().unwrap());
    let loops: u64 = plain.into_iter().map(|h| h.join().unwrap()).sum();
    collect2(&mut mu);
    for t in tables {
        assert!(t.map.len() <= keys.len(), "entries of dead keys remain: {}", t.map.len());
    }
    println!(
        "done: {cycles} cycles, {rounds} rounds, {loops} unattached loops, {} finalizer clears",
        FINALIZER_CLEARS.load(Ordering::Relaxed)
    );
    assert!(cycles >= 2 && loops > 0 && FINALIZER_CLEARS.load(Ordering::Relaxed) > 0);
}

#[test]
fn child_unattached_users() {
    if in_child() {
        let millis = attack_millis(400);
        unattached_users(child_config(), millis);
    }
}

#[test]
fn threads_without_a_mutator_use_pinned_maps_in_every_configuration() {
    in_every_configuration("child_unattached_users");
}

// ---------------------------------------------------------------------------------------------
// Fresh keys in every phase; cycles between entries.

#[derive(Trace)]
struct BigKey {
    id: u64,
    pad: [u64; 9000],
}

#[derive(Trace)]
struct BigKeyed {
    map: GcWeakMap<BigKey, Obj>,
}

/// A mutator inserts entries under fresh keys (small, and large ones with blocks of their own)
/// all the time, whatever the phase — while marking, between a ragged decision and the purge,
/// while sweeping — and roots the key: every such entry must be found at once and after any
/// number of cycles, with its exact value, and must go once the key's root is dropped.
fn fresh_keys_in_every_phase(config: Config, millis: u64) {
    gc_runtime::reconfigure(config.with_checkmark(true).with_gc_percent(Some(100))).unwrap();
    let ledger = Ledger::new(3_000_000);
    let mut mu = gc_runtime::attach();
    let table = mu.alloc(Table { map: GcWeakMap::new() }).root(&mu);
    let big_table = mu.alloc(BigKeyed { map: GcWeakMap::new() }).root(&mu);
    let stop = Arc::new(AtomicBool::new(false));
    let ran = Arc::new(AtomicU64::new(0));
    let collector = spawn_counted_collector(&stop, &ran);
    let mut live: Vec<(Root<Obj>, u64)> = Vec::new();
    let mut big_live: Vec<(Root<BigKey>, u64)> = Vec::new();
    let mut rng = Rng(0x2127_599B_F432_5C37);
    let mut phases = HashSet::new();
    let mut n = 0u64;
    // For `millis`, and until the cycles checked below have run.
    let enough = || ran.load(Ordering::Relaxed) >= 2;
    run_until(millis, enough, || {
        if ledger.nearly_full(1000) {
            return;
        }
        phases.insert(format!("{:?}", gc_runtime::phase()));
        {
            let map = &table.get(&mu).map;
            let k = obj(&mu, &ledger);
            let v = obj(&mu, &ledger);
            map.insert(k, v);
            assert_eq!(map.get(k, &mu).expect("just inserted").id, v.id);
            if rng.below(3) != 0 {
                live.push((k.root(&mu), v.id));
            }
            if n % 16 == 0 {
                let bm = &big_table.get(&mu).map;
                let bk = mu.alloc(BigKey { id: n, pad: [n; 9000] });
                let bv = obj(&mu, &ledger);
                bm.insert(bk, bv);
                big_live.push((bk.root(&mu), bv.id));
            }
        }
        if !live.is_empty() {
            let i = rng.below(live.len());
            let (k, id) = &live[i];
            let map = &table.get(&mu).map;
            let v = map
                .get(k.get(&mu), &mu)
                .unwrap_or_else(|| panic!("a live key's entry is gone (phase {:?})", gc_runtime::phase()));
            assert_eq!(v.check(), *id);
            if rng.below(4) == 0 {
                live.swap_remove(i);
            }
        }
        if !big_live.is_empty() {
            let i = rng.below(big_live.len());
            let (k, id) = &big_live[i];
            let k = k.get(&mu);
            assert_eq!(k.pad[8999], k.id);
            let v = big_table.get(&mu).map.get(k, &mu).expect("a live large key's entry is gone");
            assert_eq!(v.check(), *id);
            if big_live.len() > 64 {
                big_live.swap_remove(i);
            }
        }
        if live.len() > 5000 {
            live.truncate(2500);
        }
        n += 1;
        if n % 4 == 0 {
            mu.safepoint();
        }
    });
    stop.store(true, Ordering::Relaxed);
    let cycles = mu.blocking(|| collector.join().unwrap());
    collect2(&mut mu);
    {
        let map = &table.get(&mu).map;
        assert_eq!(map.len(), live.len(), "exactly the live keys' entries remain");
        for (k, id) in &live {
            assert_eq!(map.get(k.get(&mu), &mu).unwrap().check(), *id);
        }
        assert_eq!(big_table.get(&mu).map.len(), big_live.len());
    }
    drop(live);
    drop(big_live);
    collect2(&mut mu);
    assert!(table.get(&mu).map.is_empty() && big_table.get(&mu).map.is_empty());
    let mut phases: Vec<_> = phases.into_iter().collect();
    phases.sort();
    println!("done: {cycles} cycles, {n} inserts, phases seen {phases:?}");
    assert!(cycles >= 2);
}

#[test]
fn child_fresh_keys() {
    if in_child() {
        let millis = attack_millis(400);
        fresh_keys_in_every_phase(child_config(), millis);
    }
}

#[test]
fn fresh_keys_inserted_in_every_phase_keep_their_entries() {
    in_every_configuration("child_fresh_keys");
}

/// Two entries whose values are each other's keys (`map[a] = b`, `map[b] = a`): both alive while
/// either is rooted elsewhere, both collected when neither is; the same through two maps.
#[test]
fn entries_whose_values_are_each_others_keys() {
    let _s = serial();
    for config in configs() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let ledger = Ledger::new(16);
        let mut mu = gc_runtime::attach();
        let t1 = mu.alloc(Table { map: GcWeakMap::new() }).root(&mu);
        let t2 = mu.alloc(Table { map: GcWeakMap::new() }).root(&mu);
        let (a, b, c, d) = {
            let (a, b, c, d) = (obj(&mu, &ledger), obj(&mu, &ledger), obj(&mu, &ledger), obj(&mu, &ledger));
            t1.get(&mu).map.insert(a, b);
            t1.get(&mu).map.insert(b, a);
            t1.get(&mu).map.insert(c, d);
            t2.get(&mu).map.insert(d, c);
            (a.root(&mu), b.id, c.root(&mu), d.id)
        };
        collect2(&mut mu);
        {
            let (m1, m2) = (&t1.get(&mu).map, &t2.get(&mu).map);
            let bb = m1.get(a.get(&mu), &mu).unwrap();
            assert_eq!(bb.check(), b, "{config:?}");
            assert!(Gc::ptr_eq(m1.get(bb, &mu).unwrap(), a.get(&mu)));
            let dd = m1.get(c.get(&mu), &mu).unwrap();
            assert_eq!(dd.check(), d);
            assert!(Gc::ptr_eq(m2.get(dd, &mu).unwrap(), c.get(&mu)));
        }
        drop(a);
        drop(c);
        collect2(&mut mu);
        assert!(t1.get(&mu).map.is_empty() && t2.get(&mu).map.is_empty(), "{config:?}");
        ledger.check_exactly(&HashSet::new());
    }
}

/// Maps allocated as objects of their own, stored as the values of another map (the registered
/// address is the object's payload): an inner map lives while its outer key does, and is
/// dropped — unregistered — when that key dies, its own entries with it.
#[test]
fn maps_allocated_directly_as_values() {
    let _s = serial();
    const N: usize = 100;
    for config in configs() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let ledger = Ledger::new(5 * N);
        let mut mu = gc_runtime::attach();
        let outer = mu.alloc(GcWeakMap::<Obj, GcWeakMap<Obj, Obj>>::new()).root(&mu);
        let outer_keys: Vec<Root<Obj>> = (0..N).map(|_| obj(&mu, &ledger).root(&mu)).collect();
        let inner_keys: Vec<Root<Obj>> = (0..N).map(|_| obj(&mu, &ledger).root(&mu)).collect();
        for i in 0..N {
            let inner = mu.alloc(GcWeakMap::<Obj, Obj>::new());
            inner.insert(inner_keys[i].get(&mu), obj(&mu, &ledger));
            inner.insert(obj(&mu, &ledger), obj(&mu, &ledger)); // a dead key
            outer.get(&mu).insert(outer_keys[i].get(&mu), inner);
        }
        collect2(&mut mu);
        for i in 0..N {
            let inner = outer.get(&mu).get(outer_keys[i].get(&mu), &mu).unwrap();
            assert_eq!(inner.len(), 1, "{config:?}");
            inner.get(inner_keys[i].get(&mu), &mu).unwrap().check();
        }
        drop(outer_keys);
        collect2(&mut mu);
        assert!(outer.get(&mu).is_empty(), "{config:?}");
        drop(inner_keys);
        collect2(&mut mu);
        ledger.check_exactly(&HashSet::new());
    }
}
