//! Weak maps (ephemeron tables): an entry keeps its value alive exactly while its key is
//! reachable from elsewhere, cycles through values included; entries of dead keys go away
//! before their key's address can be reused; values reached only through chains of entries
//! survive (the marking's fixpoint); and all of it under every barrier, in every mode, with
//! checkmark verifying each cycle, while several threads insert, read, remove and collect.

use std::sync::{
    atomic::{AtomicBool, AtomicU64, Ordering},
    Arc, Mutex,
};

mod common;

use common::{DropProbe, Ledger, Rng};
use gc_runtime::{BarrierKind, Config, Gc, GcWeakMap, Member, Mode, Mutator, Root, Trace};

/// Serialises the tests of this file: they share the process-wide heap and reconfigure it.
static SERIAL: Mutex<()> = Mutex::new(());

const MAGIC: u64 = 0x2545_F491_4F6C_DD1D;

#[derive(Trace)]
struct Obj {
    id: u64,
    canary: u64,
    /// The id of the key this object was stored under as a value (`u64::MAX` if none).
    key_of: u64,
    next: Member<Obj>,
    #[trace(skip)]
    probe: DropProbe,
}

impl Obj {
    fn check(&self) -> u64 {
        assert_eq!(self.canary, self.id ^ MAGIC, "canary of object {} corrupted", self.id);
        assert_eq!(self.probe.id, self.id);
        self.id
    }
}

#[derive(Trace)]
struct Table {
    map: GcWeakMap<Obj, Obj>,
}

fn obj<'m>(mu: &'m Mutator, ledger: &Arc<Ledger>, key_of: u64) -> Gc<'m, Obj> {
    let probe = ledger.probe();
    let id = probe.id;
    mu.alloc(Obj { id, canary: id ^ MAGIC, key_of, next: Member::new(), probe })
}

use common::every_config as configs;

#[test]
fn an_entry_lives_exactly_as_long_as_its_key() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for config in configs() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let ledger = Ledger::new(64);
        let mut mu = gc_runtime::attach();
        let table = mu.alloc(Table { map: GcWeakMap::new() }).root(&mu);
        let kept_key = obj(&mu, &ledger, u64::MAX).root(&mu);
        let (kept_value, lost_key, lost_value) = {
            let map = &table.get(&mu).map;
            let kept_value = obj(&mu, &ledger, kept_key.get(&mu).id);
            map.insert(kept_key.get(&mu), kept_value);
            let lost_key = obj(&mu, &ledger, u64::MAX);
            let lost_value = obj(&mu, &ledger, lost_key.id);
            // The value refers back to its key: the cycle must not keep the entry alive.
            lost_value.next.set(Some(lost_key));
            map.insert(lost_key, lost_value);
            assert_eq!(map.len(), 2);
            (kept_value.id, lost_key.id, lost_value.id)
        };
        mu.collect();
        let cycle = gc_runtime::stats().cycles;
        let map = &table.get(&mu).map;
        assert_eq!(map.len(), 1, "{config:?}: the entry of the unreachable key is gone");
        let value = map.get(kept_key.get(&mu), &mu).expect("the reachable key's entry");
        assert_eq!((value.check(), value.key_of), (kept_value, kept_key.get(&mu).id), "{config:?}");
        assert_eq!((ledger.drops(lost_key), ledger.drops(lost_value)), (1, 1), "{config:?}: key and value freed");
        assert_eq!(ledger.drops(kept_value), 0, "{config:?}");
        let record = gc_runtime::stats().recent.into_iter().find(|c| c.cycle == cycle).unwrap();
        assert_eq!(record.weak_map_entries_cleared, 1, "{config:?}");
        drop(kept_key);
        mu.collect();
        assert!(table.get(&mu).map.is_empty(), "{config:?}: the last key died");
        assert_eq!(ledger.total_drops(), 4, "{config:?}: every key and value freed once");
    }
}

#[test]
fn values_reached_only_through_other_entries_live_while_the_chain_does() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const CHAIN: usize = if cfg!(miri) { 8 } else { 200 };
    for config in configs() {
        gc_runtime::reconfigure(config.clone()).unwrap();
        let ledger = Ledger::new(2 * CHAIN + 2);
        let mut mu = gc_runtime::attach();
        let table = mu.alloc(Table { map: GcWeakMap::new() }).root(&mu);
        // map[k0] = k1, map[k1] = k2, ...: only k0 is rooted, every later key is reachable
        // only as the value of the entry before it, so each needs another round of the
        // marking's fixpoint. Inserted last key first, so no scan sees them in chain order.
        let head = {
            let keys: Vec<Gc<'_, Obj>> = (0..=CHAIN).map(|_| obj(&mu, &ledger, u64::MAX)).collect();
            let map = &table.get(&mu).map;
            for i in (0..CHAIN).rev() {
                map.insert(keys[i], keys[i + 1]);
            }
            keys[0].root(&mu)
        };
        for _ in 0..2 {
            mu.collect();
        }
        let map = &table.get(&mu).map;
        assert_eq!(map.len(), CHAIN, "{config:?}");
        let mut at = head.get(&mu);
        for _ in 0..CHAIN {
            at.check();
            at = map.get(at, &mu).expect("every link is alive");
        }
        assert!(map.get(at, &mu).is_none(), "the last key has no entry");
        assert_eq!(ledger.total_drops(), 0, "{config:?}: nothing in the chain was freed");
        drop(head);
        mu.collect();
        assert!(table.get(&mu).map.is_empty(), "{config:?}: the whole chain died with its head");
        assert_eq!(ledger.total_drops(), CHAIN + 1, "{config:?}");
    }
}

#[test]
fn a_dead_keys_address_does_not_find_its_old_value() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const KEYS: usize = if cfg!(miri) { 20 } else { 2_000 };
    const FRESH: usize = 4 * KEYS;
    gc_runtime::reconfigure(Config::default().with_checkmark(true).with_gc_percent(None)).unwrap();
    let ledger = Ledger::new(2 * KEYS + FRESH);
    let mut mu = gc_runtime::attach();
    let table = mu.alloc(Table { map: GcWeakMap::new() }).root(&mu);
    let dead: Vec<usize> = {
        let map = &table.get(&mu).map;
        (0..KEYS)
            .map(|_| {
                let k = obj(&mu, &ledger, u64::MAX);
                map.insert(k, obj(&mu, &ledger, k.id));
                k.addr()
            })
            .collect()
    };
    mu.collect();
    assert!(table.get(&mu).map.is_empty());
    // Pages whose dead objects the finalizer freed are filed for reuse by the next cycle.
    mu.collect();
    // New objects of the same size take the freed slots: none may find a dead key's entry.
    let map = &table.get(&mu).map;
    let fresh: Vec<Gc<'_, Obj>> = (0..FRESH).map(|_| obj(&mu, &ledger, u64::MAX)).collect();
    let dead: std::collections::HashSet<usize> = dead.into_iter().collect();
    let reused = fresh.iter().filter(|k| dead.contains(&k.addr())).count();
    assert!(reused > 0, "the heap reused no freed key's address: the test proves nothing");
    for k in &fresh {
        assert!(map.get(*k, &mu).is_none() && !map.contains_key(*k));
    }
}

#[test]
fn an_unarmed_weak_map_refuses_entries() {
    let mu = gc_runtime::attach();
    let loose: GcWeakMap<u8, u8> = GcWeakMap::new();
    let (k, v) = (mu.alloc(1_u8), mu.alloc(2_u8));
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| loose.insert(k, v))).unwrap_err();
    let msg = err.downcast_ref::<String>().map(String::as_str).unwrap_or_default();
    assert!(msg.contains("GcWeakMap::insert") && msg.contains("mu.alloc"), "{msg}");
    assert!(loose.is_empty() && loose.get(k, &mu).is_none());
}

const THREADS: usize = 3;
const KEY_SLOTS: usize = 32;
const RUN_FOR_MILLIS: u64 = if cfg!(miri) { 150 } else { 1500 };

/// Each thread's keys live in its own root slots; values are stored under them in one shared
/// map, some pointing to other keys (chains), some taken out and stored into a rooted object
/// (a weak read followed by a store). Every value read must be the one stored under that key.
fn mutate(table: &Root<Table>, ledger: &Arc<Ledger>, seed: u64, stop: &AtomicBool, ops: &AtomicU64) {
    let mut mu = gc_runtime::attach();
    let mut rng = Rng(seed);
    let mut keys: Vec<Option<Root<Obj>>> = (0..KEY_SLOTS).map(|_| None).collect();
    let keeper = obj(&mu, ledger, u64::MAX).root(&mu);
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(1000) {
        {
            let map = &table.get(&mu).map;
            let slot = rng.below(KEY_SLOTS);
            let key = keys[slot].as_ref().map(|r| r.get(&mu));
            match (rng.below(10), key) {
                (0 | 1, _) => keys[slot] = Some(obj(&mu, ledger, u64::MAX).root(&mu)),
                (2, Some(_)) => keys[slot] = None,
                (3 | 4, Some(k)) => {
                    let v = obj(&mu, ledger, k.id);
                    if let Some(other) = keys[rng.below(KEY_SLOTS)].as_ref() {
                        v.next.set(Some(other.get(&mu)));
                    }
                    map.insert(k, v);
                }
                (5..=7, Some(k)) => {
                    if let Some(v) = map.get(k, &mu) {
                        assert_eq!((v.key_of, v.check() ^ v.id), (k.id, 0), "a value read under the wrong key");
                        if rng.below(4) == 0 {
                            keeper.get(&mu).next.set(Some(v));
                        }
                    }
                }
                (8, Some(k)) => {
                    if let Some(v) = map.remove(k, &mu) {
                        assert_eq!(v.key_of, k.id);
                        v.check();
                    }
                }
                _ => {}
            }
            if let Some(v) = keeper.get(&mu).next.get(&mu) {
                v.check();
            }
        }
        n += 1;
        if n % 16 == 0 {
            mu.safepoint();
        }
    }
    ops.fetch_add(n, Ordering::Relaxed);
}

fn stress(barrier: BarrierKind, handshakes: bool) {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    gc_runtime::reconfigure(
        Config::default()
            .with_mode(Mode::Concurrent)
            .with_barrier(barrier)
            .with_handshakes(handshakes)
            .with_checkmark(true)
            .with_gc_percent(Some(50)),
    )
    .unwrap();
    let ledger = Ledger::new(4_000_000);
    let table = {
        let mu = gc_runtime::attach();
        mu.alloc(Table { map: GcWeakMap::new() }).root(&mu)
    };
    let (cycles, ops) =
        common::churn(THREADS as u64, RUN_FOR_MILLIS, |seed, stop, ops| mutate(&table, &ledger, seed, stop, ops));
    assert!(cycles >= 2, "{barrier:?}: only {cycles} cycles ran");
    assert!(ops > 0);
    // Every key is gone now (the threads' roots were dropped): two cycles free every entry and
    // every object; each freed exactly once (a double free would show as two drops).
    let mut mu = gc_runtime::attach();
    mu.collect();
    mu.collect();
    assert!(table.get(&mu).map.is_empty(), "{barrier:?}: entries of dead keys remain");
    ledger.check_exactly(&Default::default());
}

#[test]
fn stress_dijkstra_with_handshakes() {
    stress(BarrierKind::Dijkstra, true);
}

#[test]
fn stress_yuasa_with_handshakes() {
    stress(BarrierKind::Yuasa, true);
}

#[test]
fn stress_hybrid_with_handshakes() {
    stress(BarrierKind::Hybrid, true);
}

#[test]
fn stress_yuasa_with_stops() {
    stress(BarrierKind::Yuasa, false);
}
