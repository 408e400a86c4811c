//! A hostile (safe-Rust-only) user against `GcWeakMap`'s lock-free lookups (`get`,
//! `contains_key` and `len` probe the slot table without a lock; writers and the
//! collector's clearing of dead keys take the write lock; `get` retries when its weak read
//! refuses a value, `remove` makes its weak-read checks under the write lock).
//!
//! Each test is one attack, run while another thread collects back to back, mostly in the four
//! stress configurations (stop-the-world; Dijkstra and Yuasa with per-thread handshakes; the
//! hybrid barrier with global stops), with checkmark on so a missed object aborts:
//!
//! 1. a `get` that could spin forever or miss a key that is always present, its value
//!    overwritten again and again (by fresh values and by values parked in a slot);
//! 2. `remove` racing with overwrites, other removers and lookups: a remove of a present key
//!    returns exactly the value last stored, and each value is handed to one remover only;
//! 3. keys that die while other threads look up, and new objects at the dead keys' addresses:
//!    never a dead key's value;
//! 4. keys' and values' destructors (on the finalizer thread) using their own map;
//! 5. a map whose holder becomes garbage while a thread still looks it up, and many maps
//!    dropped with live-key entries while cycles run;
//! 6. `clear` racing with each thread's own inserts, lookups and removes;
//! 7. ephemeron chains (key -> value -> next key) across several maps, and keys that are their
//!    own values, mutated while cycles run.
//!
//! A watchdog ends the process if a thread makes no progress for 20 s (a lookup that spins).

use std::{
    collections::HashSet,
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    thread,
    time::{Duration, Instant},
};

mod common;

use common::{child::spawn_collector, leak_static, DropProbe, Ledger, Rng};
use gc_runtime::{Config, Gc, GcVec, GcWeakMap, Member, Mutator, Root, Trace, Weak};

/// Serialises the tests of this file: they share the heap and reconfigure it.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

const MAGIC: u64 = 0x9E37_79B9_7F4A_7C15;

/// How long each configuration of a concurrent test runs (at least).
const MILLIS: u64 = 300;

/// The cycles each configuration of a concurrent test runs through (at least, within 10 s).
const MIN_CYCLES: u64 = 3;

#[derive(Trace)]
struct Node {
    id: u64,
    canary: u64,
    /// For a value: the key it was stored under.
    owner: Member<Node>,
    /// A spare value (attack 1), or the next key of a chain (attack 7).
    next: Member<Node>,
    #[trace(skip)]
    probe: DropProbe,
}

impl Node {
    fn check(&self) -> u64 {
        assert_eq!(self.canary, self.id ^ MAGIC, "canary of node {} corrupted (freed while reachable?)", self.id);
        assert_eq!(self.probe.id, self.id);
        self.id
    }
}

fn node<'m>(mu: &'m Mutator, ledger: &Arc<Ledger>) -> Gc<'m, Node> {
    let probe = ledger.probe();
    let id = probe.id;
    mu.alloc(Node { id, canary: id ^ MAGIC, owner: Member::new(), next: Member::new(), probe })
}

/// A value for `key`: a new node that names `key` as its owner.
fn value_for<'m>(mu: &'m Mutator, ledger: &Arc<Ledger>, key: Gc<'_, Node>) -> Gc<'m, Node> {
    let v = node(mu, ledger);
    v.owner.set(Some(key));
    v
}

/// `v`, read for `key`, is whole and is `key`'s.
fn check_pair(key: Gc<'_, Node>, v: Gc<'_, Node>, mu: &Mutator) {
    v.check();
    let owner = v.owner.get(mu).expect("a value names its key");
    assert!(Gc::ptr_eq(owner, key), "key {} read a value ({}) of key {}", key.check(), v.id, owner.check());
}

#[derive(Trace)]
struct Table {
    map: GcWeakMap<Node, Node>,
    /// Keys kept alive by the table.
    keys: GcVec<Node>,
}

fn table<'m>(mu: &'m Mutator) -> Gc<'m, Table> {
    mu.alloc(Table { map: GcWeakMap::new(), keys: GcVec::new() })
}

/// The stress configurations with checkmark on and frequent cycles.
fn configs() -> Vec<Config> {
    common::stress_configs().into_iter().map(|c| c.with_checkmark(true).with_gc_percent(Some(50))).collect()
}

/// Run `work(t, mu, stop, progress)` on `threads` threads (each with its own mutator) for
/// `millis` milliseconds and [`MIN_CYCLES`] cycles (a minute at most: a loaded machine may need
/// far longer for them) while another thread collects back to back; `work` bumps `progress`
/// as it goes. A thread that makes no progress for 20 s ends the process (a hang). Returns the
/// cycles that completed meanwhile.
fn with_cycles(threads: usize, millis: u64, work: impl Fn(usize, &mut Mutator, &AtomicBool, &AtomicU64) + Sync) -> u64 {
    let before = gc_runtime::stats().cycles;
    let stop = Arc::new(AtomicBool::new(false));
    let progress: Vec<AtomicU64> = (0..threads).map(|_| AtomicU64::new(0)).collect();
    let collector = spawn_collector(&stop);
    thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (work, stop, progress) = (&work, &*stop, &progress[t]);
                s.spawn(move || {
                    let mut mu = gc_runtime::attach();
                    work(t, &mut mu, stop, progress);
                })
            })
            .collect();
        let started = Instant::now();
        let mut last: Vec<(u64, Instant)> = progress.iter().map(|p| (p.load(Ordering::Relaxed), started)).collect();
        while !workers.iter().all(|w| w.is_finished()) {
            let cycles = gc_runtime::stats().cycles - before;
            let elapsed = started.elapsed();
            if elapsed >= Duration::from_millis(millis) && (cycles >= MIN_CYCLES || elapsed > Duration::from_secs(60)) {
                stop.store(true, Ordering::Relaxed);
            }
            for (t, p) in progress.iter().enumerate() {
                let now = p.load(Ordering::Relaxed);
                if now != last[t].0 || workers[t].is_finished() {
                    last[t] = (now, Instant::now());
                } else if last[t].1.elapsed() > Duration::from_secs(20) {
                    eprintln!("thread {t} made no progress for 20 s (a lookup spinning, or a deadlock)");
                    std::process::exit(99);
                }
            }
            thread::sleep(Duration::from_millis(5));
        }
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            if let Err(e) = w.join() {
                stop.store(true, Ordering::Relaxed);
                std::panic::resume_unwind(e);
            }
        }
    });
    stop.store(true, Ordering::Relaxed);
    collector.join().unwrap();
    gc_runtime::stats().cycles - before
}

/// Two collections, then every node must have been dropped exactly once.
fn all_freed(ledger: &Ledger) {
    let mut mu = gc_runtime::attach();
    mu.collect();
    mu.collect();
    ledger.check_exactly(&HashSet::new());
}

// ---------------------------------------------------------------------------------------------
// 1. Can `get` spin forever, or miss a present key?

/// Attack: 64 keys that are always present; one thread overwrites their values back to back —
/// with fresh values, with values parked earlier in the key's `next` slot (allocated before the
/// cycle, reachable only through that slot until stored, and taken out of it with a deletion),
/// and with the very value it just read (a weak read stored back) — while two threads look
/// them up. Must hold: every `get` returns (no spinning: the watchdog), returns `Some`, and the
/// value is that key's and whole; `contains_key` is true and `len` is 64 throughout; checkmark
/// passes every cycle.
#[test]
fn get_of_an_always_present_key_under_overwrites_returns_its_value() {
    get_under_overwrites(64, 32);
}

/// Attack 1 on a single hot key, every thread passing a safepoint every 4 operations (so
/// handshake rounds, and decisions, fall between a reader's load and its checks as often as
/// possible): the same must hold.
#[test]
fn get_of_one_hot_key_overwritten_back_to_back_returns_its_value() {
    get_under_overwrites(1, 4);
}

/// Attack 1 with `keys` keys, each thread passing a safepoint every `every` operations.
fn get_under_overwrites(keys: usize, every: usize) {
    let _s = serial();
    for config in configs() {
        let label = format!("{config:?}");
        gc_runtime::reconfigure(config).unwrap();
        let ledger = Ledger::new(2_000_000);
        let root = {
            let mu = gc_runtime::attach();
            let t = table(&mu);
            for _ in 0..keys {
                let k = node(&mu, &ledger);
                t.keys.push(k);
                t.map.insert(k, value_for(&mu, &ledger, k));
                k.next.set(Some(value_for(&mu, &ledger, k)));
            }
            t.root(&mu)
        };
        let gets = AtomicU64::new(0);
        let cycles = with_cycles(3, MILLIS, |t, mu, stop, progress| {
            let mut rng = Rng(0x1234_5678 + t as u64);
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(1000) {
                for _ in 0..every {
                    let tb = root.get(mu);
                    let k = tb.keys.get(rng.below(keys), mu).expect("in range");
                    if t == 0 {
                        match rng.below(3) {
                            0 => assert!(tb.map.insert(k, value_for(mu, &ledger, k)), "an overwrite"),
                            1 => {
                                let spare = k.next.take(mu).expect("a spare value is parked");
                                assert!(tb.map.insert(k, spare), "an overwrite");
                                k.next.set(Some(value_for(mu, &ledger, k)));
                            }
                            _ => {
                                let v = tb.map.get(k, mu).expect("present key read as absent (writer)");
                                check_pair(k, v, mu);
                                assert!(tb.map.insert(k, v), "an overwrite with the same value");
                            }
                        }
                    } else {
                        let v = tb.map.get(k, mu).unwrap_or_else(|| panic!("{label}: present key read as absent"));
                        check_pair(k, v, mu);
                        assert!(tb.map.contains_key(k), "{label}: contains_key false for a present key");
                        assert_eq!(tb.map.len(), keys, "{label}: len of a map whose keys never change");
                        gets.fetch_add(1, Ordering::Relaxed);
                    }
                    n += 1;
                    progress.store(n, Ordering::Relaxed);
                }
                mu.safepoint();
            }
        });
        assert!(cycles >= 2, "{label}: only {cycles} cycles ran");
        assert!(gets.load(Ordering::Relaxed) > 0);
        {
            let mut mu = gc_runtime::attach();
            mu.collect();
            mu.collect();
            let tb = root.get(&mu);
            assert_eq!(tb.map.len(), keys);
            for i in 0..keys {
                let k = tb.keys.get(i, &mu).unwrap();
                check_pair(k, tb.map.get(k, &mu).expect("present after the run"), &mu);
            }
        }
        drop(root);
        all_freed(&ledger);
    }
}

// ---------------------------------------------------------------------------------------------
// 2. `remove` racing with overwrites, other removers and lookups.

/// Attack: each of three threads owns 16 keys (only it inserts, overwrites and removes them),
/// and all three race to remove 16 shared keys (a winner holds the key for a while, then puts
/// a fresh value back); every thread also looks up every key. Must hold: a remove of an owned
/// key that its owner knows present returns `Some`, exactly the value last stored; an insert
/// by the winner of a shared key finds it absent; each value is removed at most once (never
/// handed to two removers); lookups only ever see a key's own values; and at the end every
/// value put into a shared key was either removed exactly once or is still its key's value.
#[test]
fn remove_of_a_present_key_returns_its_value_exactly_once() {
    const THREADS: usize = 3;
    const OWNED: usize = 16;
    const SHARED: usize = 16;
    const CAP: usize = 1_000_000;
    let _s = serial();
    for config in configs() {
        let label = format!("{config:?}");
        gc_runtime::reconfigure(config).unwrap();
        let ledger = Ledger::new(CAP);
        let removed: Vec<AtomicU8> = (0..CAP).map(|_| AtomicU8::new(0)).collect();
        let shared_stored: Vec<AtomicU8> = (0..CAP).map(|_| AtomicU8::new(0)).collect();
        // Keys 0..SHARED are shared, then each thread's owned keys.
        let root = {
            let mu = gc_runtime::attach();
            let t = table(&mu);
            for i in 0..SHARED + THREADS * OWNED {
                let k = node(&mu, &ledger);
                t.keys.push(k);
                if i < SHARED {
                    let v = value_for(&mu, &ledger, k);
                    shared_stored[v.id as usize].store(1, Ordering::Relaxed);
                    t.map.insert(k, v);
                }
            }
            t.root(&mu)
        };
        let removes = AtomicU64::new(0);
        let cycles = with_cycles(THREADS, MILLIS, |t, mu, stop, progress| {
            let mut rng = Rng(0xABCD_0000 + t as u64);
            // The id of the value last stored under each owned key, if present.
            let mut mine: Vec<Option<u64>> = vec![None; OWNED];
            // Shared keys this thread removed and has not put back yet.
            let mut held: Vec<usize> = Vec::new();
            let mut n = 0u64;
            let put_back = |mu: &Mutator, i: usize| {
                let tb = root.get(mu);
                let k = tb.keys.get(i, mu).unwrap();
                let v = value_for(mu, &ledger, k);
                shared_stored[v.id as usize].store(1, Ordering::Relaxed);
                assert!(!tb.map.insert(k, v), "{label}: a removed shared key was put back by another thread");
            };
            while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(1000) {
                for _ in 0..32 {
                    let tb = root.get(mu);
                    match rng.below(6) {
                        0 | 1 => {
                            let j = rng.below(OWNED);
                            let k = tb.keys.get(SHARED + t * OWNED + j, mu).unwrap();
                            match mine[j] {
                                Some(id) if rng.below(2) == 0 => {
                                    let v = tb.map.remove(k, mu).unwrap_or_else(|| {
                                        panic!("{label}: remove of a present owned key returned None")
                                    });
                                    check_pair(k, v, mu);
                                    assert_eq!(v.id, id, "{label}: remove returned another value than the last stored");
                                    assert_eq!(removed[v.id as usize].fetch_add(1, Ordering::Relaxed), 0);
                                    assert!(tb.map.remove(k, mu).is_none(), "{label}: removed twice");
                                    mine[j] = None;
                                }
                                present => {
                                    let v = value_for(mu, &ledger, k);
                                    assert_eq!(tb.map.insert(k, v), present.is_some(), "{label}: insert's answer");
                                    mine[j] = Some(v.id);
                                }
                            }
                        }
                        2 | 3 => {
                            let i = rng.below(SHARED);
                            let k = tb.keys.get(i, mu).unwrap();
                            if let Some(v) = tb.map.remove(k, mu) {
                                check_pair(k, v, mu);
                                let was = removed[v.id as usize].fetch_add(1, Ordering::Relaxed);
                                assert_eq!(was, 0, "{label}: value {} handed to two removers", v.id);
                                held.push(i);
                                removes.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        4 if !held.is_empty() => {
                            let i = held.swap_remove(rng.below(held.len()));
                            put_back(mu, i);
                        }
                        _ => {
                            let i = rng.below(SHARED + THREADS * OWNED);
                            let k = tb.keys.get(i, mu).unwrap();
                            if let Some(v) = tb.map.get(k, mu) {
                                check_pair(k, v, mu);
                            }
                            let own = i.checked_sub(SHARED + t * OWNED).filter(|j| *j < OWNED);
                            if let Some(j) = own {
                                let got = tb.map.get(k, mu).map(|v| v.id);
                                assert_eq!(got, mine[j], "{label}: get of an owned key disagrees with its owner");
                            }
                        }
                    }
                    n += 1;
                    progress.store(n, Ordering::Relaxed);
                }
                mu.safepoint();
            }
            for i in held {
                put_back(mu, i);
            }
            // Leave the owned keys' final values for the accounting below.
            let tb = root.get(mu);
            for (j, id) in mine.iter().enumerate() {
                let k = tb.keys.get(SHARED + t * OWNED + j, mu).unwrap();
                assert_eq!(tb.map.get(k, mu).map(|v| v.id), *id, "{label}: owned key {j} at the end");
            }
        });
        assert!(cycles >= 2, "{label}: only {cycles} cycles ran");
        assert!(removes.load(Ordering::Relaxed) > 0, "{label}: no shared remove won");
        {
            let mut mu = gc_runtime::attach();
            mu.collect();
            let tb = root.get(&mu);
            let mut present = HashSet::new();
            for i in 0..SHARED {
                let k = tb.keys.get(i, &mu).unwrap();
                let v = tb.map.get(k, &mu).unwrap_or_else(|| panic!("{label}: shared key {i} lost its value"));
                check_pair(k, v, &mu);
                present.insert(v.id);
            }
            for id in 0..ledger.created() {
                if shared_stored[id].load(Ordering::Relaxed) == 1 {
                    let r = removed[id].load(Ordering::Relaxed);
                    let here = present.contains(&(id as u64));
                    assert_eq!(r, u8::from(!here), "{label}: shared value {id}: removed {r} times, present: {here}");
                }
            }
        }
        drop(root);
        all_freed(&ledger);
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Dead keys, and their addresses reused.

/// Attack: one thread makes batches of keys that only the map's entries name (their values
/// point back to them), and allocates thousands of nodes after each — some at the addresses of
/// earlier keys that weak references show dead — and looks each up before inserting some as new
/// keys; two other threads look up live keys and fresh nodes meanwhile. Must hold:
/// a new node at a dead key's address finds nothing (`get` is `None`, `contains_key` false),
/// then finds exactly the value it was given; the dead keys' values die too; readers never see
/// a value of another key; and addresses were in fact reused (else the test proves nothing).
#[test]
fn a_dead_keys_address_reused_by_a_new_key_never_finds_the_old_value() {
    const LIVE: usize = 32;
    let _s = serial();
    let mut reused_total = 0usize;
    for config in configs() {
        let label = format!("{config:?}");
        gc_runtime::reconfigure(config).unwrap();
        let ledger = Ledger::new(2_000_000);
        let root = {
            let mu = gc_runtime::attach();
            let t = table(&mu);
            for _ in 0..LIVE {
                let k = node(&mu, &ledger);
                t.keys.push(k);
                t.map.insert(k, value_for(&mu, &ledger, k));
            }
            t.root(&mu)
        };
        let reused = AtomicUsize::new(0);
        let rounds = AtomicUsize::new(0);
        let all_weaks: Mutex<Vec<Weak<Node>>> = Mutex::new(Vec::new());
        let cycles = with_cycles(3, MILLIS, |t, mu, stop, progress| {
            let mut rng = Rng(0x5151 + t as u64);
            let mut n = 0u64;
            // Thread 0: keys not yet seen dead (address, key, value), the addresses of dead
            // keys, and weak references to the dead keys and their values.
            let mut pending: Vec<(usize, Weak<Node>, Weak<Node>)> = Vec::new();
            let mut dead: HashSet<usize> = HashSet::new();
            let mut weaks: Vec<Weak<Node>> = Vec::new();
            while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(20_000) {
                if t == 0 {
                    // A batch of keys that die at once (nothing roots them).
                    {
                        let tb = root.get(mu);
                        for _ in 0..64 {
                            let k = node(mu, &ledger);
                            let v = value_for(mu, &ledger, k);
                            tb.map.insert(k, v);
                            check_pair(k, tb.map.get(k, mu).expect("just inserted"), mu);
                            pending.push((k.addr(), Weak::new(mu, k), Weak::new(mu, v)));
                        }
                    }
                    // The keys known dead by now: their addresses may be taken by new nodes.
                    let (gone, still): (Vec<_>, Vec<_>) = pending.drain(..).partition(|(_, k, _)| k.is_cleared());
                    pending = still;
                    for (addr, k, v) in gone {
                        dead.insert(addr);
                        weaks.push(k);
                        weaks.push(v);
                    }
                    let tb = root.get(mu);
                    let fresh: Vec<_> = (0..1000).map(|_| node(mu, &ledger)).collect();
                    for (i, f) in fresh.iter().enumerate() {
                        let at_dead = dead.contains(&f.addr());
                        if at_dead {
                            reused.fetch_add(1, Ordering::Relaxed);
                        }
                        assert!(tb.map.get(*f, mu).is_none(), "{label}: a new node found a dead key's value");
                        assert!(!tb.map.contains_key(*f), "{label}: a new node is a key already");
                        if i % 8 == 0 || at_dead {
                            let v = value_for(mu, &ledger, *f);
                            assert!(!tb.map.insert(*f, v), "{label}: a new node's insert replaced a value");
                            let got = tb.map.get(*f, mu).expect("just inserted");
                            assert!(Gc::ptr_eq(got, v), "{label}: a new key read another value");
                        }
                    }
                    n += 1;
                    progress.store(n, Ordering::Relaxed);
                    rounds.fetch_add(1, Ordering::Relaxed);
                    mu.blocking(|| thread::sleep(Duration::from_micros(500))); // let cycles keep up
                } else {
                    for _ in 0..64 {
                        let tb = root.get(mu);
                        let k = tb.keys.get(rng.below(LIVE), mu).unwrap();
                        check_pair(k, tb.map.get(k, mu).expect("a live key read as absent"), mu);
                        if rng.below(8) == 0 {
                            let f = node(mu, &ledger);
                            assert!(tb.map.get(f, mu).is_none(), "{label}: a fresh node found a value");
                        }
                        n += 1;
                        progress.store(n, Ordering::Relaxed);
                    }
                }
                mu.safepoint();
            }
            let mut all = all_weaks.lock().unwrap();
            all.extend(weaks);
            all.extend(pending.into_iter().flat_map(|(_, k, v)| [k, v]));
        });
        assert!(cycles >= 2, "{label}: only {cycles} cycles ran");
        assert!(rounds.load(Ordering::Relaxed) > 0, "{label}: no batch of dead keys made");
        reused_total += reused.load(Ordering::Relaxed);
        eprintln!(
            "{label}: {} batches, {} new nodes at dead keys' addresses",
            rounds.load(Ordering::Relaxed),
            reused.load(Ordering::Relaxed)
        );
        {
            let mut mu = gc_runtime::attach();
            mu.collect();
            mu.collect();
            let all = all_weaks.lock().unwrap();
            assert!(all.iter().all(|w| w.is_cleared()), "{label}: a dead key or its value survived");
            assert_eq!(root.get(&mu).map.len(), LIVE, "{label}: only the live keys' entries remain");
        }
        drop(all_weaks);
        drop(root);
        all_freed(&ledger);
    }
    assert!(reused_total > 0, "no dead key's address was reused: the test proves nothing");
}

// ---------------------------------------------------------------------------------------------
// 4. Destructors that use the map.

#[derive(Trace)]
struct Pinned {
    map: GcWeakMap<Reentrant, Reentrant>,
}

/// Uses the pinned map from its destructor, on the finalizer thread.
struct UseMapOnDrop {
    map: &'static Pinned,
    clear: bool,
}

static HOOK_DROPS: AtomicUsize = AtomicUsize::new(0);
static HOOK_ATTACHED: AtomicUsize = AtomicUsize::new(0);

impl Drop for UseMapOnDrop {
    fn drop(&mut self) {
        let m = &self.map.map;
        let _ = (m.len(), m.is_empty()); // (each may change under other threads' writes)
        if self.clear {
            // Formatting is linear in the entries: only now and then.
            let _ = format!("{m:?}");
            m.clear();
        }
        // The finalizer cannot attach: no `get`, `insert` or `remove` from here.
        if gc_runtime::try_attach().is_ok() {
            HOOK_ATTACHED.fetch_add(1, Ordering::Relaxed);
        }
        HOOK_DROPS.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Trace)]
struct Reentrant {
    id: u64,
    owner: Member<Reentrant>,
    #[trace(skip)]
    _hook: UseMapOnDrop,
}

/// Attack: keys and values of a (pinned) map whose destructors, run by the finalizer thread
/// while the collector clears that very map's dead entries and mutators insert into and look up
/// the map, read its length, format it, clear it (some of them) and try to attach. Must hold: no
/// deadlock (watchdog), no panic, the finalizer cannot attach, every destructor runs; lookups
/// of keys the mutators root only ever find their own values, or nothing after a clear.
#[test]
fn destructors_of_keys_and_values_use_their_own_map() {
    let _s = serial();
    let pinned: &'static Pinned = leak_static(|mu| mu.alloc(Pinned { map: GcWeakMap::new() }).into_ref());
    {
        let mut mu = gc_runtime::attach();
        mu.collect(); // pins what the leaked mutator's thread left
    }
    let next_id = AtomicU64::new(0);
    let made = AtomicU64::new(0);
    for config in configs() {
        let label = format!("{config:?}");
        gc_runtime::reconfigure(config).unwrap();
        let cycles = with_cycles(2, MILLIS, |t, mu, stop, progress| {
            let mut rng = Rng(0x7777 + t as u64);
            let mk = |clear: bool| -> Reentrant {
                made.fetch_add(1, Ordering::Relaxed);
                Reentrant {
                    id: next_id.fetch_add(1, Ordering::Relaxed),
                    owner: Member::new(),
                    _hook: UseMapOnDrop { map: pinned, clear },
                }
            };
            let kept: Vec<Root<Reentrant>> = (0..8).map(|_| mu.alloc(mk(false)).root(mu)).collect();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..32 {
                    let m = &pinned.map;
                    match rng.below(4) {
                        0 => {
                            // A key and value that die at once, one in 64 clearing the map.
                            let k = mu.alloc(mk(rng.below(64) == 0));
                            let v = mu.alloc(mk(false));
                            v.owner.set(Some(k));
                            m.insert(k, v);
                        }
                        1 => {
                            let k = kept[rng.below(kept.len())].get(mu);
                            let v = mu.alloc(mk(false));
                            v.owner.set(Some(k));
                            m.insert(k, v);
                        }
                        2 => {
                            let k = kept[rng.below(kept.len())].get(mu);
                            if let Some(v) = m.get(k, mu) {
                                assert!(v.owner.points_to(k), "{label}: a value of another key");
                            }
                        }
                        _ => {
                            let k = kept[rng.below(kept.len())].get(mu);
                            if let Some(v) = m.remove(k, mu) {
                                assert!(v.owner.points_to(k), "{label}: a removed value of another key");
                            }
                        }
                    }
                    n += 1;
                    progress.store(n, Ordering::Relaxed);
                }
                mu.safepoint();
            }
        });
        assert!(cycles >= 2, "{label}: only {cycles} cycles ran");
    }
    let mut mu = gc_runtime::attach();
    pinned.map.clear();
    mu.collect();
    mu.collect();
    assert_eq!(HOOK_ATTACHED.load(Ordering::Relaxed), 0, "the finalizer attached");
    assert_eq!(
        HOOK_DROPS.load(Ordering::Relaxed) as u64,
        made.load(Ordering::Relaxed),
        "every key and value was dropped (once)"
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Maps that die while looked up, and many maps dropped with entries.

#[derive(Trace)]
struct Holder {
    map: GcWeakMap<Node, Node>,
}

/// Attack: a writer builds a fresh map holder (entries under long-lived keys), publishes it
/// in a shared root and forgets the previous one — which dies with all its entries registered,
/// its keys alive — over and over; two readers take the published holder as a local and look
/// up every key many times, without a safepoint, while cycles run. Must hold: a holder a reader
/// has as a local stays whole (a published map is never written again: every key is found with
/// its value, `len` is unchanged); the dropped holders and their values are collected (weak
/// references cleared) and nothing crashes when later cycles clear the dead maps' entries.
#[test]
fn a_map_whose_holder_dies_while_looked_up_and_maps_dropped_with_entries() {
    const KEYS: usize = 48;
    let _s = serial();
    for config in configs() {
        let label = format!("{config:?}");
        gc_runtime::reconfigure(config).unwrap();
        let ledger = Ledger::new(2_000_000);
        let (keys, current) = {
            let mu = gc_runtime::attach();
            let t = table(&mu);
            for _ in 0..KEYS {
                t.keys.push(node(&mu, &ledger));
            }
            let h = mu.alloc(Holder { map: GcWeakMap::new() });
            for i in 0..KEYS {
                let k = t.keys.get(i, &mu).unwrap();
                h.map.insert(k, value_for(&mu, &ledger, k));
            }
            (t.root(&mu), h.root(&mu))
        };
        let dropped: Mutex<Vec<(Weak<Holder>, Weak<Node>)>> = Mutex::new(Vec::new());
        let published = AtomicUsize::new(0);
        let cycles = with_cycles(3, MILLIS, |t, mu, stop, progress| {
            let mut rng = Rng(0x9999 + t as u64);
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(10_000) {
                if t == 0 {
                    let ks = keys.get(mu);
                    let h = mu.alloc(Holder { map: GcWeakMap::new() });
                    for i in 0..KEYS {
                        let k = ks.keys.get(i, mu).unwrap();
                        h.map.insert(k, value_for(mu, &ledger, k));
                    }
                    let old = current.get(mu);
                    let some_value = old.map.get(ks.keys.get(0, mu).unwrap(), mu).expect("published");
                    dropped.lock().unwrap().push((Weak::new(mu, old), Weak::new(mu, some_value)));
                    current.set(h);
                    published.fetch_add(1, Ordering::Relaxed);
                } else {
                    let h = current.get(mu);
                    for _ in 0..20 {
                        assert_eq!(h.map.len(), KEYS, "{label}: a published map changed");
                        for _ in 0..KEYS {
                            let k = keys.get(mu).keys.get(rng.below(KEYS), mu).unwrap();
                            let v = h.map.get(k, mu).unwrap_or_else(|| panic!("{label}: a held map lost an entry"));
                            check_pair(k, v, mu);
                        }
                        // Churn: other threads' cycles go on meanwhile (this thread holds a
                        // local, so they cannot end their marking without it).
                        for _ in 0..8 {
                            node(mu, &ledger);
                        }
                    }
                }
                n += 1;
                progress.store(n, Ordering::Relaxed);
                mu.safepoint();
            }
        });
        assert!(cycles >= 2, "{label}: only {cycles} cycles ran");
        assert!(published.load(Ordering::Relaxed) > 2, "{label}: few holders were replaced");
        {
            let mut mu = gc_runtime::attach();
            mu.collect();
            mu.collect();
            for (h, v) in dropped.lock().unwrap().iter() {
                assert!(h.is_cleared(), "{label}: a dropped holder survived");
                assert!(v.is_cleared(), "{label}: a value only a dead map held survived");
            }
            let h = current.get(&mu);
            for i in 0..KEYS {
                let k = keys.get(&mu).keys.get(i, &mu).unwrap();
                check_pair(k, h.map.get(k, &mu).expect("the current map"), &mu);
            }
        }
        drop(dropped);
        drop((keys, current));
        all_freed(&ledger);
    }
}

// ---------------------------------------------------------------------------------------------
// 6. `clear` racing with inserts, lookups and removes.

/// Attack: one thread clears the map at random moments while two others insert, look up and
/// remove their own keys (each key has a single writer), and cycles run. Must hold, for each
/// writer's own key: after its insert of `v`, its next lookups find `v` or nothing (a clear),
/// never an older value; after a remove or a lookup that found nothing, lookups find nothing
/// until it inserts again; `remove` returns the value last stored or nothing. At the end,
/// `len` equals the number of keys that `get` finds.
#[test]
fn clear_racing_with_writers_leaves_a_consistent_map() {
    const PER: usize = 24;
    let _s = serial();
    for config in configs() {
        let label = format!("{config:?}");
        gc_runtime::reconfigure(config).unwrap();
        let ledger = Ledger::new(2_000_000);
        let root = {
            let mu = gc_runtime::attach();
            let t = table(&mu);
            for _ in 0..2 * PER {
                t.keys.push(node(&mu, &ledger));
            }
            t.root(&mu)
        };
        let clears = AtomicU64::new(0);
        let cycles = with_cycles(3, MILLIS, |t, mu, stop, progress| {
            let mut rng = Rng(0x4242 + t as u64);
            let mut n = 0u64;
            // The id of the value last stored under each own key, until it is seen gone.
            let mut last: Vec<Option<u64>> = vec![None; PER];
            while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(1000) {
                for _ in 0..32 {
                    let tb = root.get(mu);
                    if t == 2 {
                        if rng.below(16) == 0 {
                            tb.map.clear();
                            clears.fetch_add(1, Ordering::Relaxed);
                        }
                        assert!(tb.map.len() <= 2 * PER, "{label}: len beyond the keys");
                    } else {
                        let j = rng.below(PER);
                        let k = tb.keys.get(t * PER + j, mu).unwrap();
                        match rng.below(3) {
                            0 => {
                                let v = value_for(mu, &ledger, k);
                                let replaced = tb.map.insert(k, v);
                                assert!(!replaced || last[j].is_some(), "{label}: insert replaced a vanished value");
                                last[j] = Some(v.id);
                            }
                            1 => match tb.map.get(k, mu) {
                                Some(v) => {
                                    check_pair(k, v, mu);
                                    assert_eq!(Some(v.id), last[j], "{label}: a lookup found an older value");
                                }
                                None => last[j] = None,
                            },
                            _ => match tb.map.remove(k, mu) {
                                Some(v) => {
                                    check_pair(k, v, mu);
                                    assert_eq!(Some(v.id), last[j], "{label}: remove returned an older value");
                                    last[j] = None;
                                }
                                None => last[j] = None,
                            },
                        }
                        let present = tb.map.contains_key(k);
                        if last[j].is_none() {
                            assert!(!present, "{label}: a key its only writer saw gone is present");
                        } else if !present {
                            last[j] = None;
                        }
                    }
                    n += 1;
                    progress.store(n, Ordering::Relaxed);
                }
                mu.safepoint();
            }
        });
        assert!(cycles >= 2, "{label}: only {cycles} cycles ran");
        assert!(clears.load(Ordering::Relaxed) > 0);
        {
            let mut mu = gc_runtime::attach();
            mu.collect();
            mu.collect();
            let tb = root.get(&mu);
            let mut found = 0;
            for i in 0..2 * PER {
                let k = tb.keys.get(i, &mu).unwrap();
                if let Some(v) = tb.map.get(k, &mu) {
                    check_pair(k, v, &mu);
                    assert!(tb.map.contains_key(k));
                    found += 1;
                }
            }
            assert_eq!(tb.map.len(), found, "{label}: len and the entries disagree");
        }
        drop(root);
        all_freed(&ledger);
    }
}

// ---------------------------------------------------------------------------------------------
// 7. Ephemeron chains across maps, and keys that are their own values.

const MAPS: usize = 4;
const CHAIN: usize = 40;

#[derive(Trace)]
struct Maps {
    maps: [GcWeakMap<Node, Node>; MAPS],
    /// Each key's entry as its own value.
    selves: GcWeakMap<Node, Node>,
}

/// Build a chain of `CHAIN` keys from `head`: key j's value (in map j % MAPS) names key j + 1 as
/// `next`; only the entries reach keys 1.. and the values. The entries go in in a random
/// order; each key is also its own value in `selves`. Returns weak references to every key and
/// value made.
fn build_chain(
    mu: &Mutator,
    ledger: &Arc<Ledger>,
    ms: Gc<'_, Maps>,
    head: Gc<'_, Node>,
    rng: &mut Rng,
) -> Vec<Weak<Node>> {
    let mut keys = vec![head];
    for _ in 1..CHAIN {
        keys.push(node(mu, ledger));
    }
    let mut order: Vec<usize> = (0..CHAIN).collect();
    for i in (1..CHAIN).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let mut weaks = Vec::new();
    for j in order {
        let v = value_for(mu, ledger, keys[j]);
        if j + 1 < CHAIN {
            v.next.set(Some(keys[j + 1]));
        }
        ms.maps[j % MAPS].insert(keys[j], v);
        ms.selves.insert(keys[j], keys[j]);
        weaks.push(Weak::new(mu, v));
        if j > 0 {
            weaks.push(Weak::new(mu, keys[j]));
        }
    }
    weaks
}

/// Walk the chain from `head`: every key must have its value, naming it, and be its own value.
fn walk_chain(mu: &Mutator, ms: Gc<'_, Maps>, head: Gc<'_, Node>, label: &str) {
    let mut k = head;
    for j in 0..CHAIN {
        let v = ms.maps[j % MAPS].get(k, mu).unwrap_or_else(|| panic!("{label}: chain link {j} lost its value"));
        check_pair(k, v, mu);
        let me = ms.selves.get(k, mu).unwrap_or_else(|| panic!("{label}: chain key {j} lost its self-entry"));
        assert!(Gc::ptr_eq(me, k), "{label}: a self-entry holds another node");
        match v.next.get(mu) {
            Some(next) => k = next,
            None => assert_eq!(j, CHAIN - 1, "{label}: chain cut at {j}"),
        }
    }
}

/// Attack: two threads each keep three chains of 40 keys (key -> value -> next key) spread
/// over four maps, plus every key as its own value in a fifth, reachable only from the chain's
/// rooted head; while cycles run they walk their chains, replace links' values by fresh ones
/// naming the same next key (the old value dies), and make chains whose head they then drop.
/// Must hold: every walk of a kept chain finds every link; after the run and a few cycles, kept
/// chains are whole and every key and value of a dropped chain is collected (its weak
/// reference cleared); all nodes are freed once the heads go.
#[test]
fn ephemeron_chains_across_maps_live_and_die_with_their_heads() {
    let _s = serial();
    for config in configs() {
        let label = format!("{config:?}");
        gc_runtime::reconfigure(config).unwrap();
        let ledger = Ledger::new(2_000_000);
        let maps = {
            let mu = gc_runtime::attach();
            mu.alloc(Maps { maps: std::array::from_fn(|_| GcWeakMap::new()), selves: GcWeakMap::new() }).root(&mu)
        };
        let heads: Mutex<Vec<Root<Node>>> = Mutex::new(Vec::new());
        let dead_weaks: Mutex<Vec<Weak<Node>>> = Mutex::new(Vec::new());
        let cycles = with_cycles(2, MILLIS, |t, mu, stop, progress| {
            let mut rng = Rng(0xC4A1 + t as u64);
            let kept: Vec<Root<Node>> = (0..3)
                .map(|_| {
                    let ms = maps.get(mu);
                    let head = node(mu, &ledger);
                    build_chain(mu, &ledger, ms, head, &mut rng);
                    head.root(mu)
                })
                .collect();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(10_000) {
                let ms = maps.get(mu);
                match rng.below(16) {
                    0..=4 => {
                        let head = kept[rng.below(kept.len())].get(mu);
                        walk_chain(mu, ms, head, &label);
                    }
                    5..=14 => {
                        // Replace the value of a random link by a fresh one with the same next.
                        let mut k = kept[rng.below(kept.len())].get(mu);
                        let j = rng.below(CHAIN);
                        for i in 0..j {
                            k = ms.maps[i % MAPS].get(k, mu).unwrap().next.get(mu).unwrap();
                        }
                        let old = ms.maps[j % MAPS].get(k, mu).unwrap_or_else(|| panic!("{label}: link {j} lost"));
                        let v = value_for(mu, &ledger, k);
                        v.next.set(old.next.get(mu));
                        assert!(ms.maps[j % MAPS].insert(k, v), "{label}: an overwrite");
                        assert!(ms.selves.insert(k, k));
                    }
                    _ => {
                        let head = node(mu, &ledger);
                        let mut weaks = build_chain(mu, &ledger, ms, head, &mut rng);
                        walk_chain(mu, ms, head, &label);
                        weaks.push(Weak::new(mu, head));
                        dead_weaks.lock().unwrap().extend(weaks);
                    }
                }
                n += 1;
                progress.store(n, Ordering::Relaxed);
                mu.safepoint();
            }
            heads.lock().unwrap().extend(kept);
        });
        assert!(cycles >= 2, "{label}: only {cycles} cycles ran");
        {
            let mut mu = gc_runtime::attach();
            for _ in 0..3 {
                mu.collect();
            }
            let ms = maps.get(&mu);
            for h in heads.lock().unwrap().iter() {
                walk_chain(&mu, ms, h.get(&mu), &label);
            }
            let dead = dead_weaks.lock().unwrap();
            let alive = dead.iter().filter(|w| !w.is_cleared()).count();
            assert_eq!(alive, 0, "{label}: {alive} of {} nodes of dropped chains survived", dead.len());
            let live = heads.lock().unwrap().len() * CHAIN;
            assert_eq!(ms.selves.len(), live, "{label}: self-entries of dead keys remain");
            let links: usize = ms.maps.iter().map(|m| m.len()).sum();
            assert_eq!(links, live, "{label}: links of dead keys remain");
        }
        heads.lock().unwrap().clear();
        drop(dead_weaks);
        drop(maps);
        all_freed(&ledger);
    }
}
