//! A hostile user's attacks on the write barrier with bursts of stores between safepoints:
//! bursts of every size around handshakes (0 to 1000 stores, around the 256-store batches a
//! buffered barrier would drain: these tests were written against one, see the book's
//! performance chapter), objects hidden in a local while hundreds of other stores go by, root
//! and tagged stores, swaps mixed with plain stores, `blocking` and `collect` in the middle of
//! a burst, stores from map keys' `Hash`/`Eq`/`Debug` (under the map's lock), panics in the
//! middle of a burst, weak upgrades and weak-map reads followed by stores (Yuasa), a large
//! vector shifted while it is scanned in chunks, destructors that clear roots on the
//! finalizer, and threads that leak their mutator in the middle of a burst.
//!
//! Every object is a `Canary` (id scrambled, drop probe in a ledger): one freed while reachable
//! fails its check; checkmark verifies every marking (a missed object aborts); a watchdog turns a
//! deadlock into an abort; with the roots gone every object must be dropped exactly once.

use std::{
    collections::HashSet,
    fmt,
    hash::{Hash, Hasher},
    panic::{catch_unwind, AssertUnwindSafe},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    thread,
    time::Duration,
};

mod common;

use common::{
    child::{child, in_child, DEADLINE},
    collect2,
    hostile::{assert_checkmarked_since, hostile_config, modes, watchdog, with_collector},
    serial_only, Canary, Ledger, Rng,
};
use gc_runtime::{GcMap, GcVec, GcWeakMap, GlobalRoot, Member, Mode, Mutator, Root, Tagged, TaggedMember, Trace, Weak};

/// Store counts between two safepoints: around one batch of 256 stores and two.
const BURSTS: [usize; 12] = [0, 1, 2, 254, 255, 256, 257, 300, 511, 512, 513, 1000];

#[derive(Trace, Default)]
struct Slot {
    a: Member<Canary>,
    t: TaggedMember<Canary>,
}

/// Check every canary the slots hold.
fn check_slots(mu: &Mutator, slots: &[Slot]) -> usize {
    let mut n = 0;
    for s in slots {
        if let Some(c) = s.a.get(mu) {
            c.check();
            n += 1;
        }
        if let Tagged::Ptr(c) = s.t.get(mu) {
            c.check();
            n += 1;
        }
    }
    n
}

/// `n` barriered stores that keep what the slots hold (self-stores), between the stores that matter.
fn filler(mu: &Mutator, slots: &[Slot], n: usize) {
    for k in 0..n {
        let s = &slots[k % slots.len()];
        s.a.set(s.a.get(mu));
    }
}

/// One burst of `n` barriered stores moving canaries between slots, tagged slots and a root,
/// with objects held only in a local across hundreds of other stores.
fn burst(mu: &Mutator, slots: &[Slot], root: &Root<Canary>, ledger: &Arc<Ledger>, rng: &mut Rng, n: usize) {
    let len = slots.len();
    for _ in 0..n {
        let (i, j) = (rng.below(len), rng.below(len));
        match rng.below(12) {
            0 | 1 => slots[i].a.set(Some(Canary::alloc(mu, ledger))),
            2 | 3 => {
                // Hide in a local: the only reference is the barrier's record of the store.
                let x = slots[i].a.get(mu);
                slots[i].a.set(None);
                slots[j].a.set(x);
            }
            4 => {
                // Hide across one or two batches of other stores.
                let x = slots[i].a.get(mu);
                slots[i].a.set(None);
                filler(mu, slots, 200 + rng.below(400));
                if let Some(x) = x {
                    x.check();
                }
                slots[j].a.set(x);
            }
            5 => {
                // Swap next to plain stores.
                let x = slots[i].a.take(mu);
                let y = slots[j].a.swap(x, mu);
                slots[i].a.set(y);
            }
            6 => {
                // Tagged: a number or a datum over a pointer, the pointer moved elsewhere.
                let x = slots[i].t.get(mu);
                slots[i].t.set(if rng.below(2) == 0 { Tagged::Number(1.5) } else { Tagged::Data(7) });
                match x {
                    Tagged::Ptr(p) => slots[j].t.set(Tagged::Ptr(p)),
                    _ => slots[j].t.set(Tagged::Number(f64::NAN)),
                }
            }
            7 => {
                if let Some(x) = slots[i].a.take(mu) {
                    slots[j].t.set(Tagged::Ptr(x));
                }
            }
            8 => {
                if let Tagged::Ptr(p) = slots[i].t.get(mu) {
                    slots[i].t.set(Tagged::Empty);
                    slots[j].a.set(Some(p));
                }
            }
            9 => {
                // Root stores: the root's old target goes back into a slot.
                if let Some(x) = slots[i].a.get(mu) {
                    let old = root.get(mu);
                    root.set(x);
                    slots[i].a.set(Some(old));
                }
            }
            10 => {
                let _ = slots[i].a.compare_exchange(slots[i].a.get(mu), slots[j].a.get(mu), mu);
            }
            _ => slots[i].a.set(None),
        }
    }
}

/// The storm every barrier runs: `threads` mutators bursting stores of every boundary size
/// between safepoints, sometimes parking (`blocking`) or collecting right after a burst, beside
/// a thread collecting back to back; then every canary dropped exactly once.
fn storm(mode: Mode, barrier: gc_runtime::BarrierKind, handshakes: bool, millis: u64) {
    let label = format!("{mode:?} {barrier:?} handshakes={handshakes}");
    gc_runtime::reconfigure(hostile_config(mode, barrier, 2).with_handshakes(handshakes)).unwrap();
    let before = gc_runtime::stats().cycles;
    let ledger = Ledger::new(3_000_000);
    let bursts = AtomicU64::new(0);
    let cycles = with_collector(4, millis, |t, stop| {
        let mut mu = gc_runtime::attach();
        let mut rng = Rng(0x51ED_2701 + t as u64 * 7919);
        let set = mu.alloc_slice((0..64).map(|_| Slot::default()).collect::<Vec<_>>()).root(&mu);
        let root = Canary::alloc(&mu, &ledger).root(&mu);
        let mut k = t;
        while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(50_000) {
            {
                let slots = set.get(&mu).into_ref();
                burst(&mu, slots, &root, &ledger, &mut rng, BURSTS[k % BURSTS.len()]);
                check_slots(&mu, slots);
                root.get(&mu).check();
            }
            k += 1;
            match rng.below(64) {
                0 => mu.blocking(thread::yield_now),
                1 if t == 0 => mu.collect(),
                _ => mu.safepoint(),
            }
            bursts.fetch_add(1, Ordering::Relaxed);
        }
        check_slots(&mu, set.get(&mu).into_ref());
    });
    assert!(cycles >= 2, "{label}: only {cycles} cycles");
    assert!(bursts.load(Ordering::Relaxed) > 100, "{label}: only {bursts:?} bursts");
    end_clean(before, &ledger);
}

/// The end of a run: every marking since `before` was verified by checkmark, and with the
/// roots gone every object is dropped exactly once.
fn end_clean(before: u64, ledger: &Ledger) {
    assert_checkmarked_since(before);
    let mut mu = gc_runtime::attach();
    collect2(&mut mu);
    ledger.check_exactly(&HashSet::new());
}

#[test]
fn bursts_of_every_size_under_every_barrier() {
    let _s = serial_only();
    let _w = watchdog("bursts of every size");
    for (mode, barrier, handshakes) in modes() {
        storm(mode, barrier, handshakes, 900);
    }
    gc_runtime::reconfigure(gc_runtime::Config::default()).unwrap();
}

#[test]
fn yuasa_and_hybrid_with_handshakes_and_global_stops() {
    let _s = serial_only();
    let _w = watchdog("yuasa and hybrid, both handshake settings");
    use gc_runtime::BarrierKind::{Hybrid, Yuasa};
    storm(Mode::Concurrent, Yuasa, false, 700);
    storm(Mode::Concurrent, Hybrid, true, 700);
    gc_runtime::reconfigure(gc_runtime::Config::default()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Objects moved, in bursts, from a large vector not scanned yet into slots scanned already (and
// back): a shade lost or made late loses the object under every barrier.

#[derive(Trace)]
struct Store {
    big: GcVec<Canary>,
}

fn permute(mode: Mode, barrier: gc_runtime::BarrierKind, handshakes: bool, millis: u64) {
    let label = format!("{mode:?} {barrier:?} handshakes={handshakes}");
    gc_runtime::reconfigure(hostile_config(mode, barrier, 1).with_handshakes(handshakes)).unwrap();
    let before = gc_runtime::stats().cycles;
    let ledger = Ledger::new(3_000_000);
    let moves = AtomicU64::new(0);
    let cycles = with_collector(3, millis, |t, stop| {
        let mut mu = gc_runtime::attach();
        let mut rng = Rng(0xBADC_0FFE + t as u64 * 104_729);
        let set = mu.alloc_slice((0..16).map(|_| Slot::default()).collect::<Vec<_>>()).root(&mu);
        let store = {
            let s = mu.alloc(Store { big: GcVec::new() });
            for _ in 0..60_000 {
                s.big.push(Canary::alloc(&mu, &ledger));
            }
            s.root(&mu)
        };
        let mut k = t;
        while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(100_000) {
            {
                let slots = set.get(&mu).into_ref();
                let big = &store.get(&mu).big;
                let len = big.len();
                for _ in 0..(1 + BURSTS[k % BURSTS.len()] / 3) {
                    // Far in the vector: the chunked scan reaches it last.
                    let i = len - 1 - rng.below(len / 4);
                    let j = rng.below(slots.len());
                    let w = big.get(i, &mu).expect("in range");
                    let back = slots[j].a.get(&mu).unwrap_or_else(|| Canary::alloc(&mu, &ledger));
                    big.set(i, back); // overwrites w in the vector (Yuasa: the deletion shades w)
                    if rng.below(4) == 0 {
                        filler(&mu, slots, 256);
                    }
                    slots[j].a.set(Some(w)); // stores w into a scanned slice (Dijkstra: the insertion shades w)
                    if rng.below(3) == 0 {
                        // Through a tagged slot and a root as well.
                        let x = slots[(j + 1) % slots.len()].a.take(&mu);
                        slots[j].t.set(match x {
                            Some(x) => Tagged::Ptr(x),
                            None => Tagged::Number(0.5),
                        });
                    }
                    moves.fetch_add(1, Ordering::Relaxed);
                }
                check_slots(&mu, slots);
                if k % 64 == 0 {
                    for x in big.iter(&mu) {
                        x.check();
                    }
                }
            }
            k += 1;
            mu.safepoint();
        }
        check_slots(&mu, set.get(&mu).into_ref());
    });
    assert!(cycles >= 2, "{label}: only {cycles} cycles");
    assert!(moves.load(Ordering::Relaxed) > 1000, "{label}: {moves:?} moves");
    end_clean(before, &ledger);
}

#[test]
fn objects_moved_from_an_unscanned_vector_into_scanned_slots() {
    let _s = serial_only();
    let _w = watchdog("moves out of an unscanned vector");
    for (mode, barrier, handshakes) in modes() {
        permute(mode, barrier, handshakes, 1500);
    }
    permute(Mode::Concurrent, gc_runtime::BarrierKind::Yuasa, false, 1000);
    permute(Mode::Concurrent, gc_runtime::BarrierKind::Hybrid, true, 1000);
    gc_runtime::reconfigure(gc_runtime::Config::default()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Panics in the middle of a burst: a closure that panics, and a store into an unarmed slot.

#[test]
fn panics_in_the_middle_of_bursts() {
    let _s = serial_only();
    let _w = watchdog("panics in bursts");
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info.payload().downcast_ref::<&str>().copied().unwrap_or("");
        let s = info.payload().downcast_ref::<String>().map(String::as_str).unwrap_or("");
        if !msg.starts_with("hostile burst")
            && !s.starts_with("store into a Member slot")
            && !msg.starts_with("store into a Member slot")
        {
            hook(info);
        }
    }));
    for (mode, barrier, handshakes) in modes() {
        gc_runtime::reconfigure(hostile_config(mode, barrier, 2).with_handshakes(handshakes)).unwrap();
        let before = gc_runtime::stats().cycles;
        let ledger = Ledger::new(2_000_000);
        let caught = AtomicU64::new(0);
        let cycles = with_collector(3, 500, |t, stop| {
            let mut mu = gc_runtime::attach();
            let mut rng = Rng(77 + t as u64);
            let set = mu.alloc_slice((0..32).map(|_| Slot::default()).collect::<Vec<_>>()).root(&mu);
            let root = Canary::alloc(&mu, &ledger).root(&mu);
            let mut k = 0;
            while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(50_000) {
                let r = catch_unwind(AssertUnwindSafe(|| {
                    let slots = set.get(&mu).into_ref();
                    burst(&mu, slots, &root, &ledger, &mut rng, BURSTS[k % BURSTS.len()]);
                    let x = slots[rng.below(slots.len())].a.get(&mu);
                    slots[0].a.set(None); // recorded, then the unwind
                    if rng.below(2) == 0 {
                        // A Member outside any object: the barrier refuses the store.
                        let loose: Member<Canary> = Member::new();
                        loose.set(x);
                    }
                    slots[1].a.set(x);
                    panic!("hostile burst panics");
                }));
                assert!(r.is_err());
                caught.fetch_add(1, Ordering::Relaxed);
                check_slots(&mu, set.get(&mu).into_ref());
                k += 1;
                mu.safepoint();
            }
        });
        assert!(cycles >= 2);
        assert!(caught.load(Ordering::Relaxed) > 10);
        end_clean(before, &ledger);
    }
    let _ = std::panic::take_hook();
    gc_runtime::reconfigure(gc_runtime::Config::default()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Stores from map keys' user code (`Hash`, `Eq`, `Debug`, `Clone`, `Drop`), under the map's lock.

thread_local! {
    static THREAD_MUTATOR: std::cell::RefCell<Option<Mutator>> = const { std::cell::RefCell::new(None) };
    static SIDE: std::cell::RefCell<Option<Root<[Slot]>>> = const { std::cell::RefCell::new(None) };
}

static SIDE_LEDGER: std::sync::OnceLock<Arc<Ledger>> = std::sync::OnceLock::new();
static KEY_STORES: AtomicU64 = AtomicU64::new(0);

/// From key code: about 250 stores, hiding objects in locals.
fn key_code_stores() {
    THREAD_MUTATOR.with(|m| {
        let Ok(m) = m.try_borrow() else { return };
        let Some(mu) = m.as_ref() else { return };
        SIDE.with(|side| {
            let Ok(side) = side.try_borrow() else { return };
            let Some(side) = side.as_ref() else { return };
            let slots = side.get(mu).into_ref();
            let n = KEY_STORES.fetch_add(1, Ordering::Relaxed) as usize;
            let len = slots.len();
            let x = slots[n % len].a.get(mu);
            slots[n % len].a.set(None);
            filler(mu, slots, 250 + n % 13);
            if x.is_none() {
                slots[(n * 7) % len].a.set(Some(Canary::alloc(mu, SIDE_LEDGER.get().unwrap())));
            }
            slots[(n * 3 + 1) % len].a.set(x);
            check_slots(mu, slots);
        });
    });
}

struct StoringKey(u64);

impl Hash for StoringKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        key_code_stores();
        self.0.hash(state);
    }
}

impl PartialEq for StoringKey {
    fn eq(&self, other: &Self) -> bool {
        key_code_stores();
        self.0 == other.0
    }
}

impl Eq for StoringKey {}

impl Clone for StoringKey {
    fn clone(&self) -> Self {
        key_code_stores();
        StoringKey(self.0)
    }
}

impl fmt::Debug for StoringKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        key_code_stores();
        write!(f, "K{}", self.0)
    }
}

impl Drop for StoringKey {
    fn drop(&mut self) {
        key_code_stores();
    }
}

#[derive(Trace)]
struct KeyTable {
    map: GcMap<StoringKey, Canary>,
}

#[test]
fn map_key_code_stores_in_bursts_under_the_maps_lock() {
    let _s = serial_only();
    let _w = watchdog("storing map keys");
    let side_ledger = SIDE_LEDGER.get_or_init(|| Ledger::new(2_000_000)).clone();
    for (mode, barrier, handshakes) in modes() {
        gc_runtime::reconfigure(hostile_config(mode, barrier, 2).with_handshakes(handshakes)).unwrap();
        let before = gc_runtime::stats().cycles;
        let ledger = Ledger::new(1_000_000);
        let table = {
            let mu = gc_runtime::attach();
            mu.alloc(KeyTable { map: GcMap::new() }).root(&mu)
        };
        let cycles = with_collector(3, 500, |t, stop| {
            THREAD_MUTATOR.with(|m| *m.borrow_mut() = Some(gc_runtime::attach()));
            THREAD_MUTATOR.with(|m| {
                let m = m.borrow();
                let mu = m.as_ref().unwrap();
                let side = mu.alloc_slice((0..48).map(|_| Slot::default()).collect::<Vec<_>>()).root(mu);
                SIDE.with(|s| *s.borrow_mut() = Some(side));
            });
            let mut rng = Rng(991 + t as u64);
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(10_000) && !side_ledger.nearly_full(50_000) {
                THREAD_MUTATOR.with(|m| {
                    let m = m.borrow();
                    let mu = m.as_ref().unwrap();
                    let map = &table.get(mu).map;
                    for _ in 0..8 {
                        let k = rng.below(300) as u64;
                        match rng.below(8) {
                            0..=3 => {
                                map.insert(StoringKey(k), Canary::alloc(mu, &ledger));
                            }
                            4 => {
                                if let Some(v) = map.remove(&StoringKey(k), mu) {
                                    v.check();
                                }
                            }
                            5 => {
                                if let Some(v) = map.get(&StoringKey(k), mu) {
                                    v.check();
                                }
                            }
                            6 if rng.below(8) == 0 => {
                                let _ = format!("{map:?}");
                            }
                            _ => {
                                if rng.below(8) == 0 {
                                    for (_, v) in map.entries(mu) {
                                        v.check();
                                    }
                                }
                            }
                        }
                    }
                });
                n += 1;
                // A safepoint needs the mutator mutably: take it out of the thread-local.
                let mut mu = THREAD_MUTATOR.with(|m| m.borrow_mut().take()).unwrap();
                mu.safepoint();
                THREAD_MUTATOR.with(|m| *m.borrow_mut() = Some(mu));
            }
            assert!(n > 0);
            SIDE.with(|s| s.borrow_mut().take());
            let mu = THREAD_MUTATOR.with(|m| m.borrow_mut().take());
            drop(mu);
        });
        assert!(cycles >= 2);
        assert!(KEY_STORES.load(Ordering::Relaxed) > 0, "the key code stored");
        assert_checkmarked_since(before);
        let mut mu = gc_runtime::attach();
        for (_, v) in table.get(&mu).map.entries(&mu) {
            v.check();
        }
        drop(table);
        collect2(&mut mu);
        ledger.check_exactly(&HashSet::new());
    }
    let mut mu = gc_runtime::attach();
    collect2(&mut mu);
    side_ledger.check_exactly(&HashSet::new());
    gc_runtime::reconfigure(gc_runtime::Config::default()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Weak upgrades and weak-map reads during marking, followed by stores.

#[derive(Trace)]
struct WeakHolder {
    slots: GcVec<Canary>,
    map: GcWeakMap<Canary, Canary>,
}

#[test]
fn weak_upgrades_and_weak_map_reads_then_stores() {
    let _s = serial_only();
    let _w = watchdog("weak upgrades then stores");
    for (mode, barrier, handshakes) in modes() {
        gc_runtime::reconfigure(hostile_config(mode, barrier, 2).with_handshakes(handshakes)).unwrap();
        let before = gc_runtime::stats().cycles;
        let ledger = Ledger::new(2_000_000);
        let resurrected = AtomicU64::new(0);
        let cycles = with_collector(3, 600, |t, stop| {
            let mut mu = gc_runtime::attach();
            let mut rng = Rng(4242 + t as u64);
            let holder = mu.alloc(WeakHolder { slots: GcVec::new(), map: GcWeakMap::new() }).root(&mu);
            let set = mu.alloc_slice((0..32).map(|_| Slot::default()).collect::<Vec<_>>()).root(&mu);
            let mut weaks: Vec<Weak<Canary>> = Vec::new();
            let mut k = 0;
            while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(50_000) {
                {
                    let h = holder.get(&mu);
                    let slots = set.get(&mu).into_ref();
                    for _ in 0..16 {
                        let c = Canary::alloc(&mu, &ledger);
                        weaks.push(Weak::new(&mu, c));
                        let v = Canary::alloc(&mu, &ledger);
                        h.map.insert(c, v);
                        if rng.below(3) == 0 {
                            h.slots.push(c);
                        }
                    }
                    // Drop strong references: objects now held weakly only.
                    while h.slots.len() > 40 {
                        let _ = h.slots.remove(rng.below(h.slots.len()), &mu);
                    }
                    // Upgrade, read the weak map, and store what came back into slots,
                    // around a burst.
                    for _ in 0..8 {
                        if weaks.is_empty() {
                            break;
                        }
                        let w = &weaks[rng.below(weaks.len())];
                        if let Some(x) = w.upgrade(&mu) {
                            x.check();
                            let v = h.map.get(x, &mu);
                            filler(&mu, slots, BURSTS[k % BURSTS.len()]);
                            let i = rng.below(slots.len());
                            let old = slots[i].a.get(&mu);
                            slots[i].a.set(Some(x));
                            if let Some(v) = v {
                                v.check();
                                slots[(i + 1) % slots.len()].t.set(Tagged::Ptr(v));
                            }
                            if let Some(old) = old {
                                slots[(i + 2) % slots.len()].a.set(Some(old));
                            }
                            resurrected.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    weaks.retain(|w| !w.is_cleared());
                    if weaks.len() > 4000 {
                        weaks.drain(..2000);
                    }
                    check_slots(&mu, slots);
                    for x in h.slots.iter(&mu) {
                        x.check();
                        if let Some(v) = h.map.get(x, &mu) {
                            v.check();
                        }
                    }
                }
                k += 1;
                mu.safepoint();
            }
        });
        assert!(cycles >= 2);
        assert!(resurrected.load(Ordering::Relaxed) > 0);
        end_clean(before, &ledger);
    }
    gc_runtime::reconfigure(gc_runtime::Config::default()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// A large vector scanned in chunks while writers shift elements in bursts.

#[derive(Trace)]
struct Big {
    items: GcVec<Canary>,
}

#[test]
fn large_vector_shifted_in_bursts_while_scanned() {
    let _s = serial_only();
    let _w = watchdog("large vector shifted");
    for (mode, barrier, handshakes) in modes() {
        gc_runtime::reconfigure(hostile_config(mode, barrier, 4).with_handshakes(handshakes)).unwrap();
        let before = gc_runtime::stats().cycles;
        let ledger = Ledger::new(2_000_000);
        let big = {
            let mu = gc_runtime::attach();
            let big = mu.alloc(Big { items: GcVec::new() });
            for _ in 0..20_000 {
                big.items.push(Canary::alloc(&mu, &ledger));
            }
            big.root(&mu)
        };
        let cycles = with_collector(3, 600, |t, stop| {
            let mut mu = gc_runtime::attach();
            let mut rng = Rng(31337 + t as u64);
            let mut k = t;
            while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(50_000) {
                {
                    let items = &big.get(&mu).items;
                    for _ in 0..BURSTS[k % BURSTS.len()] / 4 + 1 {
                        let len = items.len();
                        match rng.below(6) {
                            0 => items.insert(0, Canary::alloc(&mu, &ledger)),
                            1 if len > 15_000 => {
                                // Shift: the element moves from the end to the front.
                                if let Ok(x) = items.try_remove(len - 1, &mu) {
                                    x.check();
                                    items.insert(0, x);
                                }
                            }
                            2 if len > 15_000 => {
                                if let Ok(x) = items.try_remove(0, &mu) {
                                    x.check();
                                    items.push(x);
                                }
                            }
                            3 if len > 15_000 => {
                                let (i, j) = (rng.below(len), rng.below(len));
                                if let (Some(a), Some(b)) = (items.get(i, &mu), items.get(j, &mu)) {
                                    let _ = items.try_set(i, b);
                                    let _ = items.try_set(j, a);
                                }
                            }
                            4 if len > 25_000 => items.truncate(20_000),
                            _ => items.push(Canary::alloc(&mu, &ledger)),
                        }
                    }
                    if k % 32 == 0 {
                        for x in items.iter(&mu) {
                            x.check();
                        }
                    }
                }
                k += 1;
                mu.safepoint();
            }
        });
        assert!(cycles >= 2);
        assert_checkmarked_since(before);
        let mut mu = gc_runtime::attach();
        collect2(&mut mu);
        let alive: HashSet<u64> = big.get(&mu).items.iter(&mu).map(|c| c.check()).collect();
        ledger.check_exactly(&alive);
        drop(big);
        collect2(&mut mu);
        ledger.check_exactly(&HashSet::new());
    }
    gc_runtime::reconfigure(gc_runtime::Config::default()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Destructors on the finalizer that clear roots and global roots (stores without a mutator),
// beside stores of the same objects.

struct ClearsRoots {
    global: Arc<GlobalRoot<Canary>>,
    root: Option<Root<Canary>>,
}

impl Drop for ClearsRoots {
    fn drop(&mut self) {
        self.global.clear();
        self.root.take();
    }
}

#[derive(Trace)]
#[allow(dead_code)]
struct Dropper {
    #[trace(skip)]
    clears: ClearsRoots,
    next: Member<Canary>,
}

#[test]
fn finalizer_destructors_clear_roots_during_bursts() {
    let _s = serial_only();
    let _w = watchdog("finalizer clears roots");
    for (mode, barrier, handshakes) in modes() {
        gc_runtime::reconfigure(hostile_config(mode, barrier, 2).with_handshakes(handshakes)).unwrap();
        let before = gc_runtime::stats().cycles;
        let ledger = Ledger::new(2_000_000);
        let cycles = with_collector(3, 500, |t, stop| {
            let mut mu = gc_runtime::attach();
            let mut rng = Rng(555 + t as u64);
            let set = mu.alloc_slice((0..32).map(|_| Slot::default()).collect::<Vec<_>>()).root(&mu);
            let globals: Vec<Arc<GlobalRoot<Canary>>> = (0..8).map(|_| Arc::new(GlobalRoot::new())).collect();
            let mut k = 0;
            while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(50_000) {
                {
                    let slots = set.get(&mu).into_ref();
                    for _ in 0..8 {
                        let g = &globals[rng.below(globals.len())];
                        let c = Canary::alloc(&mu, &ledger);
                        g.set(&mu, c);
                        let r = Canary::alloc(&mu, &ledger).root(&mu);
                        let d = mu.alloc(Dropper {
                            clears: ClearsRoots { global: g.clone(), root: Some(r) },
                            next: Member::new(),
                        });
                        d.next.set(Some(c));
                        // The global's target also goes into a slot, by barriered stores.
                        let i = rng.below(slots.len());
                        slots[i].a.set(g.get(&mu));
                    }
                    filler(&mu, slots, BURSTS[k % BURSTS.len()]);
                    for g in &globals {
                        if let Some(c) = g.get(&mu) {
                            c.check();
                        }
                    }
                    check_slots(&mu, slots);
                }
                k += 1;
                mu.safepoint();
            }
        });
        assert!(cycles >= 2);
        assert_checkmarked_since(before);
        let mut mu = gc_runtime::attach();
        collect2(&mut mu);
        collect2(&mut mu);
        ledger.check_exactly(&HashSet::new());
    }
    gc_runtime::reconfigure(gc_runtime::Config::default()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Threads that leak their mutator and exit in the middle of a burst (child process:
// a leak pins every live object for the rest of the process).

#[test]
fn leaked_mutators_exit_in_the_middle_of_a_burst() {
    let out = child("child_leaked_mutators_exit_in_the_middle_of_a_burst", &[], DEADLINE);
    out.assert_completed();
    assert!(out.stderr.contains("ended with its Mutator still attached"), "{}", out.describe());
    assert!(!out.stderr.contains("checkmark"), "{}", out.describe());
}

#[test]
fn child_leaked_mutators_exit_in_the_middle_of_a_burst() {
    if !in_child() {
        return;
    }
    let _w = watchdog("leaked mutators");
    gc_runtime::init(hostile_config(Mode::Concurrent, gc_runtime::BarrierKind::Yuasa, 2)).unwrap();
    let ledger = Ledger::new(2_000_000);
    let shared = {
        let mu = gc_runtime::attach();
        mu.alloc_slice((0..64).map(|_| Slot::default()).collect::<Vec<_>>()).root(&mu)
    };
    let shared = Arc::new(shared);
    let leaked = AtomicU64::new(0);
    let cycles = with_collector(3, 1500, |t, stop| {
        let mut rng = Rng(1 + t as u64);
        let mut k = 0;
        while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(50_000) {
            let (shared2, ledger2) = (shared.clone(), ledger.clone());
            let n = BURSTS[k % BURSTS.len()] + rng.below(3);
            let leak = rng.below(4) == 0;
            let mut mu = gc_runtime::attach();
            // The child: leaks its mutator (or drops it) right after `n` stores.
            mu.blocking(|| {
                let (shared, ledger) = (shared2, ledger2);
                thread::spawn(move || {
                    let mu = gc_runtime::attach();
                    {
                        let slots = shared.get(&mu).into_ref();
                        let mut rng = Rng(n as u64 + 1);
                        for _ in 0..n {
                            let (i, j) = (rng.below(64), rng.below(64));
                            let x = slots[i].a.get(&mu);
                            slots[i].a.set(Some(Canary::alloc(&mu, &ledger)));
                            slots[j].a.set(x);
                        }
                        check_slots(&mu, slots);
                    }
                    if leak {
                        std::mem::forget(mu);
                    }
                })
                .join()
                .unwrap()
            });
            if leak {
                leaked.fetch_add(1, Ordering::Relaxed);
            }
            check_slots(&mu, shared.get(&mu).into_ref());
            drop(mu);
            k += 1;
            thread::sleep(Duration::from_millis(rng.below(3) as u64));
        }
    });
    assert!(cycles >= 2);
    assert!(leaked.load(Ordering::Relaxed) > 0);
    let mut mu = gc_runtime::attach();
    collect2(&mut mu);
    check_slots(&mu, shared.get(&mu).into_ref());
    assert!(gc_runtime::stats().pinned_objects > 0, "the leaks pinned the live objects");
    println!("done");
}

// ---------------------------------------------------------------------------------------------
// Bounded memory: back-to-back bursts of garbage stores must not make the heap grow.

#[test]
fn bursts_of_garbage_stores_keep_the_heap_bounded() {
    let _s = serial_only();
    let _w = watchdog("bounded heap");
    gc_runtime::reconfigure(hostile_config(Mode::Concurrent, gc_runtime::BarrierKind::Yuasa, 2)).unwrap();
    let ledger = Ledger::new(3_000_000);
    let mut mu = gc_runtime::attach();
    let set = mu.alloc_slice((0..64).map(|_| Slot::default()).collect::<Vec<_>>()).root(&mu);
    let root = Canary::alloc(&mu, &ledger).root(&mu);
    let mut rng = Rng(9);
    let mut peak_after_warmup = 0usize;
    let start = std::time::Instant::now();
    let mut k = 0;
    while start.elapsed() < Duration::from_millis(2500) && !ledger.nearly_full(50_000) {
        {
            let slots = set.get(&mu).into_ref();
            burst(&mu, slots, &root, &ledger, &mut rng, BURSTS[k % BURSTS.len()]);
        }
        k += 1;
        mu.safepoint();
        if start.elapsed() > Duration::from_millis(500) {
            peak_after_warmup = peak_after_warmup.max(gc_runtime::stats().heap_live);
        }
    }
    collect2(&mut mu);
    let live = gc_runtime::stats().heap_live;
    // At most 64 slots' + 64 tagged slots' canaries and the array are reachable.
    assert!(live < 4 << 20, "{live} bytes live after two collections");
    assert!(peak_after_warmup < 64 << 20, "heap grew to {peak_after_warmup} bytes");
    drop((set, root));
    collect2(&mut mu);
    ledger.check_exactly(&HashSet::new());
    gc_runtime::reconfigure(gc_runtime::Config::default()).unwrap();
}
