//! Hostile (safe-Rust-only) attacks on the lock-free lookups of `GcMap` and `GcIdMap`: `get`,
//! `contains_key` and `len` take no lock, pin the epoch and probe an open-addressed table, and a
//! `GcMap` key's `Eq` and `Hash` run during `get` with no lock held; removed keys are retired
//! and dropped later, by a write of the map or by its drop.
//!
//! What is tried, in file order:
//!
//! 1. a key's `Eq`, called by a lookup part-way through its probe, inserts into, removes from
//!    or clears the same map (forcing rehashes under the lookup's feet);
//! 2. a key's `Eq` removes the very key it is being compared against, then writes the map many
//!    times (so retired keys are dropped), for keys with and without drop glue;
//! 3. `Eq` and `Hash` that panic in `get` and `contains_key` (and in `insert`, `remove`);
//! 4. `Eq` that calls into the collector during a lookup (attach, allocate, collect,
//!    safepoint, `blocking`) while another thread runs cycles back to back;
//! 5. key destructors, run by later writes of the map, that read and write the same map, or
//!    panic; and a removed key followed only by insertions over existing keys (which never
//!    dropped it, until overwrites too dropped the ready retired keys:
//!    `overwrites_drop_retired_keys` caught it);
//! 6. lookups with a slow `Eq` on one thread while another removes and reinserts the same key
//!    and forces rehashes;
//! 7. keys whose `Hash` changes after insertion and whose `Eq` is inconsistent;
//! 8. `GcIdMap` lookups on one thread while another frees key objects and reuses their
//!    addresses.
//!
//! Every key carries a canary (checked by `Eq` and `Drop`) and a drop probe: at the end of
//! each test every key must have been dropped exactly once. Tests that could hang run under a
//! watchdog that aborts the process after a minute.

use std::{
    cell::{Cell, RefCell},
    collections::{HashMap, HashSet},
    hash::{BuildHasherDefault, Hash, Hasher},
    panic::{catch_unwind, AssertUnwindSafe},
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering},
        mpsc, Arc, Mutex,
    },
    thread,
    time::Duration,
};

mod common;

use common::{
    child::{child, in_child, spawn_collector},
    leak_static, panic_message, DropProbe, Ledger,
};
use gc_runtime::{Gc, GcIdMap, GcMap, Mutator, Root, Trace};

const MAGIC: u64 = 0x9E37_79B9_7F4A_7C15;
const DEAD: u64 = 0xDEAD_DEAD_DEAD_DEAD;

// ---------------------------------------------------------------------------------------------
// Scaffolding: keys whose methods run hooks, a table reachable from the thread, a watchdog.

/// A hasher whose hash is the last `u64` written: each key chooses its own hash.
#[derive(Default)]
struct KeyChosen(u64);

impl Hasher for KeyChosen {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Chosen = BuildHasherDefault<KeyChosen>;

type EqHook = Arc<dyn Fn(&Key, &Key) + Send + Sync>;
type KeyHook = Arc<dyn Fn(&Key) + Send + Sync>;

/// What a test's keys share: their drop ledger, their hooks and counters.
struct Ctx {
    ledger: Arc<Ledger>,
    /// Keys hash to `id % collide` (all collide with 1), or spread if 0.
    collide: u64,
    /// 0: `Eq` compares ids; 1: always equal; 2: never equal.
    eq_mode: AtomicU8,
    eq_hook: Mutex<Option<EqHook>>,
    hash_hook: Mutex<Option<KeyHook>>,
    drop_hook: Mutex<Option<KeyHook>>,
    eq_calls: AtomicU64,
    hash_calls: AtomicU64,
    /// Canary failures seen by `Eq` or `Drop` (a `Drop` must not panic).
    violations: Mutex<Vec<String>>,
}

impl Ctx {
    fn new(collide: u64, ledger_size: usize) -> Arc<Ctx> {
        Arc::new(Ctx {
            ledger: Ledger::new(ledger_size),
            collide,
            eq_mode: AtomicU8::new(0),
            eq_hook: Mutex::new(None),
            hash_hook: Mutex::new(None),
            drop_hook: Mutex::new(None),
            eq_calls: AtomicU64::new(0),
            hash_calls: AtomicU64::new(0),
            violations: Mutex::new(Vec::new()),
        })
    }

    fn hash_of(&self, id: u64) -> u64 {
        if self.collide == 0 {
            id.wrapping_mul(MAGIC)
        } else {
            id % self.collide
        }
    }

    /// A new key `id` (its own hash cell).
    fn key(self: &Arc<Ctx>, id: u64) -> Key {
        self.key_with(id, Arc::new(AtomicU64::new(self.hash_of(id))))
    }

    /// A new key `id` hashing to whatever `cell` holds when it is hashed.
    fn key_with(self: &Arc<Ctx>, id: u64, cell: Arc<AtomicU64>) -> Key {
        Key { id, canary: id ^ MAGIC, hash: cell, ctx: self.clone(), probe: self.ledger.probe() }
    }

    fn set_eq_hook(&self, hook: impl Fn(&Key, &Key) + Send + Sync + 'static) {
        *self.eq_hook.lock().unwrap() = Some(Arc::new(hook));
    }

    fn set_hash_hook(&self, hook: impl Fn(&Key) + Send + Sync + 'static) {
        *self.hash_hook.lock().unwrap() = Some(Arc::new(hook));
    }

    fn set_drop_hook(&self, hook: impl Fn(&Key) + Send + Sync + 'static) {
        *self.drop_hook.lock().unwrap() = Some(Arc::new(hook));
    }

    fn clear_hooks(&self) {
        *self.eq_hook.lock().unwrap() = None;
        *self.hash_hook.lock().unwrap() = None;
        *self.drop_hook.lock().unwrap() = None;
    }

    fn violation(&self, what: String) {
        self.violations.lock().unwrap_or_else(|e| e.into_inner()).push(what);
    }
}

/// A `GcMap` key: compared by id (per `Ctx::eq_mode`), hashed by its cell, with a canary and
/// a drop probe.
struct Key {
    id: u64,
    canary: u64,
    hash: Arc<AtomicU64>,
    ctx: Arc<Ctx>,
    probe: DropProbe,
}

impl Key {
    /// Panics (and records) if this key was dropped or its memory reused.
    fn check(&self, what: &str) {
        if self.canary != self.id ^ MAGIC || self.ctx.ledger.drops(self.probe.id) != 0 {
            let msg = format!(
                "{what}: key {} (probe {}) used after drop: canary {:#x}, drops {}",
                self.id,
                self.probe.id,
                self.canary,
                self.ctx.ledger.drops(self.probe.id)
            );
            self.ctx.violation(msg.clone());
            panic!("{msg}");
        }
    }
}

impl Clone for Key {
    fn clone(&self) -> Key {
        self.check("clone");
        self.ctx.key_with(self.id, self.hash.clone())
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({})", self.id)
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.check("hash");
        self.ctx.hash_calls.fetch_add(1, Ordering::Relaxed);
        let hook = self.ctx.hash_hook.lock().unwrap().clone();
        if let Some(hook) = hook {
            hooked(|| hook(self));
        }
        state.write_u64(self.hash.load(Ordering::Relaxed));
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.check("eq (self, before the hook)");
        other.check("eq (other, before the hook)");
        self.ctx.eq_calls.fetch_add(1, Ordering::Relaxed);
        let hook = self.ctx.eq_hook.lock().unwrap().clone();
        if let Some(hook) = hook {
            hooked(|| hook(self, other));
        }
        self.check("eq (self, after the hook)");
        other.check("eq (other, after the hook)");
        match self.ctx.eq_mode.load(Ordering::Relaxed) {
            0 => self.id == other.id,
            1 => true,
            _ => false,
        }
    }
}

impl Eq for Key {}

impl Drop for Key {
    fn drop(&mut self) {
        if self.canary != self.id ^ MAGIC {
            self.ctx.violation(format!(
                "key {} (probe {}) dropped twice: canary {:#x}",
                self.id, self.probe.id, self.canary
            ));
            return;
        }
        self.canary = DEAD;
        let hook = self.ctx.drop_hook.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(hook) = hook {
            hooked(|| hook(self));
        }
    }
}

/// A value: the id of the key it was stored under, a generation, a canary.
#[derive(Trace)]
struct Val {
    id: u64,
    generation: u64,
    canary: u64,
}

impl Val {
    fn checked(&self) -> (u64, u64) {
        assert_eq!(
            self.canary,
            self.id ^ self.generation ^ MAGIC,
            "value {}/{} corrupt (freed?)",
            self.id,
            self.generation
        );
        (self.id, self.generation)
    }
}

fn val(mu: &Mutator, id: u64, generation: u64) -> Gc<'_, Val> {
    mu.alloc(Val { id, generation, canary: id ^ generation ^ MAGIC })
}

#[derive(Trace)]
struct Table {
    map: GcMap<Key, Val, Chosen>,
}

type Map = GcMap<Key, Val, Chosen>;

/// Key id -> generation of its value: what the map should hold.
type Model = Arc<Mutex<HashMap<u64, u64>>>;

thread_local! {
    /// This thread's mutator (hooks reach it here).
    static MU: RefCell<Option<Mutator>> = const { RefCell::new(None) };
    /// The test's table (hooks reach it here).
    static TABLE: RefCell<Option<Root<Table>>> = const { RefCell::new(None) };
    /// Whether a hook is running on this thread (hooks do not nest).
    static IN_HOOK: Cell<bool> = const { Cell::new(false) };
    /// A map borrowed for `'static` that `with_map` uses instead of the table, if set.
    static LEAKED: Cell<Option<&'static Map>> = const { Cell::new(None) };
}

/// Resets `IN_HOOK` to a saved value (also on unwinding).
struct RestoreHook(bool);

impl Drop for RestoreHook {
    fn drop(&mut self) {
        IN_HOOK.with(|h| h.set(self.0));
    }
}

/// Run `f` as a hook, unless one runs already on this thread.
fn hooked(f: impl FnOnce()) {
    if IN_HOOK.with(|h| h.replace(true)) {
        return;
    }
    let _restore = RestoreHook(false);
    f();
}

/// Run `f` with hooks off on this thread.
fn quietly<R>(f: impl FnOnce() -> R) -> R {
    let _restore = RestoreHook(IN_HOOK.with(|h| h.replace(true)));
    f()
}

fn with_mu<R>(f: impl FnOnce(&Mutator) -> R) -> R {
    MU.with(|m| f(m.borrow().as_ref().expect("this thread is attached")))
}

fn with_mu_mut<R>(f: impl FnOnce(&mut Mutator) -> R) -> R {
    MU.with(|m| f(m.borrow_mut().as_mut().expect("this thread is attached")))
}

/// Whether this thread has a mutator and a table (not the finalizer, not after the test).
fn table_reachable() -> bool {
    MU.try_with(|m| m.try_borrow().is_ok_and(|m| m.is_some())).unwrap_or(false)
        && TABLE.try_with(|t| t.try_borrow().is_ok_and(|t| t.is_some())).unwrap_or(false)
}

/// `f` with the test's map and this thread's mutator (no borrow of the table kept).
fn with_map<R>(f: impl FnOnce(&Map, &Mutator) -> R) -> R {
    with_mu(|mu| {
        if let Some(map) = LEAKED.with(Cell::get) {
            return f(map, mu);
        }
        let t = TABLE.with(|t| t.borrow().as_ref().expect("a table").get(mu));
        f(&t.map, mu)
    })
}

/// Attach this thread (if it is not yet) and make the test's table.
fn setup(collide: u64, ledger_size: usize) -> Arc<Ctx> {
    attach_here();
    with_mu(|mu| {
        let t = mu.alloc(Table { map: GcMap::with_hasher(Chosen::default()) });
        TABLE.with(|r| *r.borrow_mut() = Some(t.root(mu)));
    });
    Ctx::new(collide, ledger_size)
}

/// Drop the table, collect, and check that every key was dropped exactly once and no key was
/// seen after its drop.
fn finish(ctx: &Arc<Ctx>) {
    ctx.clear_hooks();
    TABLE.with(|t| t.borrow_mut().take());
    with_mu_mut(|mu| {
        mu.collect();
        mu.collect();
    });
    let violations = ctx.violations.lock().unwrap().clone();
    assert!(violations.is_empty(), "keys used after their drop: {violations:?}");
    ctx.ledger.check_exactly(&HashSet::new());
    MU.with(|m| m.borrow_mut().take());
}

/// Insert key `id` with a value of generation `generation`, and record it in `model`.
fn put(ctx: &Arc<Ctx>, model: &Model, id: u64, generation: u64) -> bool {
    let replaced = with_map(|m, mu| m.insert(ctx.key(id), val(mu, id, generation)));
    model.lock().unwrap().insert(id, generation);
    replaced
}

/// Remove key `id`, and from `model`.
fn take(ctx: &Arc<Ctx>, model: &Model, id: u64) -> Option<(u64, u64)> {
    let got = with_map(|m, mu| m.remove(&ctx.key(id), mu).map(|v| v.checked()));
    model.lock().unwrap().remove(&id);
    got
}

/// The map holds exactly `model`: its length, its entries, and each key found by `get` and
/// `contains_key` with its value (hooks off).
fn check_consistent(ctx: &Arc<Ctx>, model: &Model) {
    let model = model.lock().unwrap().clone();
    quietly(|| {
        with_map(|m, mu| {
            let entries = m.entries(mu);
            let got: HashMap<u64, u64> = entries
                .iter()
                .map(|(k, v)| {
                    let (id, generation) = v.checked();
                    assert_eq!(k.id, id, "key {} holds the value of key {id}", k.id);
                    (id, generation)
                })
                .collect();
            assert_eq!(got.len(), entries.len(), "a key twice in the map: {entries:?}", entries = entries.len());
            assert_eq!(got, model, "entries differ from the model");
            assert_eq!(m.len(), model.len(), "len() differs from the entries");
            for (&id, &generation) in &model {
                let v = m.get(&ctx.key(id), mu).unwrap_or_else(|| panic!("key {id} present but not found"));
                assert_eq!(v.checked(), (id, generation));
                assert!(m.contains_key(&ctx.key(id)));
            }
        })
    });
}

/// Write the map (insert and remove a scratch key) until `ctx`'s probe `probe` is dropped;
/// returns the writes it took. A removed key must be dropped by later writes once no lookup
/// can see it.
fn write_until_dropped(ctx: &Arc<Ctx>, probe: u64, scratch: u64) -> usize {
    let limit = if cfg!(miri) { 2_000 } else { 200_000 };
    let mut writes = 0;
    while ctx.ledger.drops(probe) == 0 && writes < limit {
        with_map(|m, mu| {
            m.insert(ctx.key(scratch), val(mu, scratch, 0));
            m.remove(&ctx.key(scratch), mu);
        });
        writes += 2;
    }
    if !cfg!(miri) || ctx.ledger.drops(probe) != 0 {
        assert_eq!(ctx.ledger.drops(probe), 1, "a removed key not dropped after {writes} later writes");
    }
    writes
}

/// Aborts the process if dropped later than a minute after it was made (a deadlock).
struct Watchdog(#[allow(dead_code)] Option<mpsc::Sender<()>>);

fn watchdog(name: &'static str) -> Watchdog {
    if cfg!(miri) {
        return Watchdog(None);
    }
    let (tx, rx) = mpsc::channel::<()>();
    thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(Duration::from_secs(60)) {
            eprintln!("{name}: still running after 60 s: deadlock");
            std::process::abort();
        }
    });
    Watchdog(Some(tx))
}

// ---------------------------------------------------------------------------------------------
// 1. `Eq` rewrites the same map while a lookup is part-way through its probe.

#[derive(Clone, Copy, Debug)]
enum Rewrite {
    InsertMany,
    RemoveOthers,
    Clear,
    ClearAndRefill,
    RemoveAndReinsertTheTarget,
}

/// The key a lookup probes for in attack 1 (stored last, so the probe compares every other key
/// first: all keys collide).
const TARGET: u64 = 4;

fn eq_rewrites_the_map_during_a_lookup(rewrite: Rewrite, contains: bool) {
    let _w = watchdog("eq_rewrites_the_map_during_a_lookup");
    let ctx = setup(1, 10_000);
    let model: Model = Arc::default();
    for id in 0..=TARGET {
        put(&ctx, &model, id, 0);
    }
    let fired = Arc::new(AtomicBool::new(false));
    let armed = Arc::new(AtomicBool::new(false));
    {
        let (ctx2, model, fired, armed) = (ctx.clone(), model.clone(), fired.clone(), armed.clone());
        ctx.set_eq_hook(move |stored, probe| {
            if probe.id != TARGET || !armed.load(Ordering::Relaxed) || fired.swap(true, Ordering::Relaxed) {
                return;
            }
            assert_ne!(stored.id, TARGET, "the first comparison is with another key");
            let fill = if cfg!(miri) { 20 } else { 60 };
            match rewrite {
                Rewrite::InsertMany => (0..fill).for_each(|i| {
                    let _ = put(&ctx2, &model, 100 + i, 1);
                }),
                Rewrite::RemoveOthers => {
                    (0..TARGET).for_each(|id| {
                        let _ = take(&ctx2, &model, id);
                    });
                    (0..fill).for_each(|i| {
                        let _ = put(&ctx2, &model, 100 + i, 1);
                    });
                    // rehash the tombstones
                }
                Rewrite::Clear => {
                    with_map(|m, _| m.clear());
                    model.lock().unwrap().clear();
                }
                Rewrite::ClearAndRefill => {
                    with_map(|m, _| m.clear());
                    model.lock().unwrap().clear();
                    (0..=TARGET).for_each(|id| {
                        let _ = put(&ctx2, &model, id, 2);
                    });
                    (0..fill).for_each(|i| {
                        let _ = put(&ctx2, &model, 100 + i, 2);
                    });
                }
                Rewrite::RemoveAndReinsertTheTarget => {
                    assert_eq!(take(&ctx2, &model, TARGET), Some((TARGET, 0)));
                    put(&ctx2, &model, TARGET, 3);
                    (0..fill).for_each(|i| {
                        let _ = put(&ctx2, &model, 100 + i, 3);
                    });
                }
            }
        });
    }
    let probe = ctx.key(TARGET);
    armed.store(true, Ordering::Relaxed);
    let found: Option<Option<(u64, u64)>> = with_map(|m, mu| {
        if contains {
            // `Some(None)`: present, value not read.
            m.contains_key(&probe).then_some(None)
        } else {
            m.get(&probe, mu).map(|v| Some(v.checked()))
        }
    });
    armed.store(false, Ordering::Relaxed);
    drop(probe);
    assert!(fired.load(Ordering::Relaxed), "the hook ran inside the lookup");
    match rewrite {
        // The target stayed in the map throughout the lookup: it must be found, with its value.
        Rewrite::InsertMany | Rewrite::RemoveOthers => {
            assert!(found.is_some(), "{rewrite:?}: a key present throughout the lookup was not found");
            if let Some(Some(v)) = found {
                assert_eq!(v, (TARGET, 0), "{rewrite:?}");
            }
        }
        _ => {
            if let Some(Some((id, generation))) = found {
                assert_eq!(id, TARGET, "{rewrite:?}: the value of another key");
                assert!(matches!(generation, 0 | 2 | 3), "{rewrite:?}: a value the key never had: {generation}");
            }
        }
    }
    check_consistent(&ctx, &model);
    // More writes after the rewrite, and the map is still right.
    for id in 200..220 {
        put(&ctx, &model, id, 9);
    }
    take(&ctx, &model, 201);
    check_consistent(&ctx, &model);
    finish(&ctx);
}

/// Attack 1: a key's `Eq`, called by `get` part-way through its probe (all keys collide, so
/// the probe compares several), inserts many keys into the same map (rehashing it several
/// times), removes the other keys, clears it, clears and refills it, or removes and reinserts
/// the very key looked up. Must hold: no deadlock or crash; a key present throughout the lookup
/// is found with its value; otherwise the lookup gives the key's own value or `None`; the map
/// is consistent afterwards (its length, entries, and every key found with its value); every
/// key is dropped exactly once in the end.
#[test]
fn eq_inside_get_rewrites_the_same_map() {
    for rewrite in [
        Rewrite::InsertMany,
        Rewrite::RemoveOthers,
        Rewrite::Clear,
        Rewrite::ClearAndRefill,
        Rewrite::RemoveAndReinsertTheTarget,
    ] {
        eq_rewrites_the_map_during_a_lookup(rewrite, false);
    }
}

/// Attack 1 through `contains_key` (same rewrites, same expectations).
#[test]
fn eq_inside_contains_key_rewrites_the_same_map() {
    for rewrite in [Rewrite::InsertMany, Rewrite::RemoveOthers, Rewrite::Clear, Rewrite::RemoveAndReinsertTheTarget] {
        eq_rewrites_the_map_during_a_lookup(rewrite, true);
    }
}

// ---------------------------------------------------------------------------------------------
// 2. `Eq` removes the key it is compared against, then writes the map many times.

/// Attack 2: during `get`, the stored key's `Eq` removes that very key from the map (so its
/// box is retired while `&self` is live), then writes the map hundreds of times (inserting and
/// removing other keys, clearing and refilling, each write dropping whatever retired keys are
/// ready), then reads its own fields. Must hold: the key is not dropped while `Eq` runs (canary
/// and drop count checked after the writes); `get` gives the key's value or `None`; the map is
/// consistent; the removed key is dropped, once, by later writes once the lookup is over; every
/// key is dropped exactly once in the end.
#[test]
fn eq_removes_the_key_it_is_compared_with() {
    let _w = watchdog("eq_removes_the_key_it_is_compared_with");
    const VICTIM: u64 = 2;
    let ctx = setup(1, 100_000);
    let model: Model = Arc::default();
    let mut victim_probe = 0;
    for id in 0..5 {
        let key = ctx.key(id);
        if id == VICTIM {
            victim_probe = key.probe.id;
        }
        with_map(|m, mu| m.insert(key, val(mu, id, 0)));
        model.lock().unwrap().insert(id, 0);
    }
    let armed = Arc::new(AtomicBool::new(false));
    let ran = Arc::new(AtomicBool::new(false));
    {
        let (ctx2, model, armed, ran) = (ctx.clone(), model.clone(), armed.clone(), ran.clone());
        ctx.set_eq_hook(move |stored, _probe| {
            if stored.id != VICTIM || !armed.swap(false, Ordering::Relaxed) {
                return;
            }
            ran.store(true, Ordering::Relaxed);
            assert_eq!(take(&ctx2, &model, VICTIM), Some((VICTIM, 0)), "the key removes itself");
            let churn = if cfg!(miri) { 40 } else { 600 };
            for i in 0..churn {
                put(&ctx2, &model, 1000 + i % 50, i);
                take(&ctx2, &model, 1000 + (i + 25) % 50);
                if i % 100 == 99 {
                    with_map(|m, _| m.clear());
                    model.lock().unwrap().clear();
                    (0..5).filter(|&id| id != VICTIM).for_each(|id| {
                        let _ = put(&ctx2, &model, id, i);
                    });
                }
            }
            // `stored` is still readable: `Eq` re-checks it on return.
            stored.check("the removed key, after the churn");
        });
    }
    let probe = ctx.key(VICTIM);
    armed.store(true, Ordering::Relaxed);
    let found = with_map(|m, mu| m.get(&probe, mu).map(|v| v.checked()));
    drop(probe);
    assert!(ran.load(Ordering::Relaxed), "the hook ran");
    assert!(found.is_none() || found == Some((VICTIM, 0)), "a value the key never had: {found:?}");
    assert_eq!(ctx.ledger.drops(victim_probe), 0, "dropped before the lookup returned?");
    check_consistent(&ctx, &model);
    let writes = write_until_dropped(&ctx, victim_probe, 77);
    println!("the removed key was dropped after {writes} writes");
    check_consistent(&ctx, &model);
    finish(&ctx);
}

/// A key without drop glue: its removed boxes are freed by the epoch itself.
#[derive(Clone)]
struct PlainKey {
    id: u64,
    canary: u64,
}

impl PlainKey {
    fn new(id: u64) -> PlainKey {
        PlainKey { id, canary: id ^ MAGIC }
    }
}

impl Hash for PlainKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(0); // all collide
    }
}

thread_local! {
    static PLAIN: RefCell<Option<Root<PlainTable>>> = const { RefCell::new(None) };
    static PLAIN_VICTIM: Cell<Option<u64>> = const { Cell::new(None) };
}

impl PartialEq for PlainKey {
    fn eq(&self, other: &PlainKey) -> bool {
        assert_eq!(self.canary, self.id ^ MAGIC, "stored plain key {} freed or reused", self.id);
        assert_eq!(other.canary, other.id ^ MAGIC);
        if PLAIN_VICTIM.with(|v| v.get()) == Some(self.id) {
            PLAIN_VICTIM.with(|v| v.set(None));
            with_mu(|mu| {
                let t = PLAIN.with(|p| p.borrow().as_ref().unwrap().get(mu));
                assert!(t.map.remove(&PlainKey::new(self.id), mu).is_some(), "removes itself");
                // Many boxes of the same size, retired and allocated: if the removed key's box
                // were freed now, one of these would likely take its place.
                let churn = if cfg!(miri) { 30 } else { 2000 };
                for i in 0..churn {
                    t.map.insert(PlainKey::new(5000 + i % 40), val(mu, 5000 + i % 40, 0));
                    t.map.remove(&PlainKey::new(5000 + (i + 20) % 40), mu);
                }
                for i in 0..40 {
                    t.map.remove(&PlainKey::new(5000 + i), mu);
                }
            });
            assert_eq!(self.canary, self.id ^ MAGIC, "the removed plain key {} was freed under its Eq", self.id);
        }
        self.id == other.id
    }
}

impl Eq for PlainKey {}

#[derive(Trace)]
struct PlainTable {
    map: GcMap<PlainKey, Val, Chosen>,
}

/// Attack 2 with keys that have no drop glue (their removed boxes go straight to the epoch's
/// deferred frees): the stored key's `Eq`, during `get`, removes that key and churns the map
/// (thousands of same-sized boxes retired and allocated), then reads its own fields. Must
/// hold: its box is not freed while `Eq` runs (canary intact; Miri: no use after free); `get`
/// gives its value or `None`; the map is consistent afterwards.
#[test]
fn eq_removes_the_key_it_is_compared_with_no_drop_glue() {
    const VICTIM: u64 = 3;
    MU.with(|m| {
        if m.borrow().is_none() {
            *m.borrow_mut() = Some(gc_runtime::attach());
        }
    });
    with_mu(|mu| {
        let t = mu.alloc(PlainTable { map: GcMap::with_hasher(Chosen::default()) });
        for id in 0..6 {
            t.map.insert(PlainKey::new(id), val(mu, id, 0));
        }
        PLAIN.with(|p| *p.borrow_mut() = Some(t.root(mu)));
    });
    PLAIN_VICTIM.with(|v| v.set(Some(VICTIM)));
    let found = with_mu(|mu| {
        let t = PLAIN.with(|p| p.borrow().as_ref().unwrap().get(mu));
        t.map.get(&PlainKey::new(VICTIM), mu).map(|v| v.checked())
    });
    assert_eq!(PLAIN_VICTIM.with(|v| v.get()), None, "the hook ran");
    assert!(found.is_none() || found == Some((VICTIM, 0)), "{found:?}");
    with_mu(|mu| {
        let t = PLAIN.with(|p| p.borrow().as_ref().unwrap().get(mu));
        let ids: HashSet<u64> = t
            .map
            .entries(mu)
            .iter()
            .map(|(k, v)| (k.id, v.checked().0))
            .map(|(k, v)| {
                assert_eq!(k, v);
                k
            })
            .collect();
        assert_eq!(ids, (0..6).filter(|&id| id != VICTIM).collect::<HashSet<_>>());
        assert_eq!(t.map.len(), 5);
        assert!(!t.map.contains_key(&PlainKey::new(VICTIM)));
        for id in (0..6).filter(|&id| id != VICTIM) {
            assert_eq!(t.map.get(&PlainKey::new(id), mu).map(|v| v.checked()), Some((id, 0)));
        }
    });
    PLAIN.with(|p| p.borrow_mut().take());
    with_mu_mut(|mu| mu.collect());
    MU.with(|m| m.borrow_mut().take());
}

// ---------------------------------------------------------------------------------------------
// 3. `Eq` and `Hash` panic in lookups.

/// Attack 3: `Eq` panics during `get` and `contains_key` (also after removing the key it is
/// compared with), `Hash` panics during `get`, `contains_key`, `insert` and `remove`, and `Eq`
/// panics during `insert` and `remove` (under the lock). Each panic is caught. Must hold after
/// each: the thread is not left "in key code" (`collect` works), the map is not left locked
/// (writes work) and is consistent, the thread is not left pinned (a key removed afterwards is
/// dropped by later writes); in the end every key, including those passed to the calls that
/// panicked, is dropped exactly once.
#[test]
fn panicking_eq_and_hash_in_lookups_leave_everything_usable() {
    let _w = watchdog("panicking_eq_and_hash_in_lookups_leave_everything_usable");
    let ctx = setup(1, 100_000);
    let model: Model = Arc::default();
    for id in 0..8 {
        put(&ctx, &model, id, 0);
    }
    // 0: no panic; 1: Eq panics; 2: Eq removes the stored key, then panics; 3: Hash panics.
    let mode = Arc::new(AtomicU8::new(0));
    {
        let (ctx2, model, mode, mode_for_hash) = (ctx.clone(), model.clone(), mode.clone(), mode.clone());
        ctx.set_eq_hook(move |stored, _| match mode.load(Ordering::Relaxed) {
            1 => panic!("hostile Eq panics"),
            2 => {
                mode.store(0, Ordering::Relaxed);
                take(&ctx2, &model, stored.id);
                panic!("hostile Eq panics after removing its key");
            }
            _ => {}
        });
        let mode = mode_for_hash;
        ctx.set_hash_hook(move |_| {
            if mode.load(Ordering::Relaxed) == 3 {
                panic!("hostile Hash panics")
            }
        });
    }
    type Call = fn(&Arc<Ctx>, &Map, &Mutator);
    let calls: [(&str, u8, Call); 9] = [
        ("Eq in get", 1, |c, m, mu| {
            let _ = m.get(&c.key(5), mu);
        }),
        ("Eq in contains_key", 1, |c, m, _| {
            let _ = m.contains_key(&c.key(5));
        }),
        ("Eq (after removing its key) in get", 2, |c, m, mu| {
            let _ = m.get(&c.key(6), mu);
        }),
        ("Hash in get", 3, |c, m, mu| {
            let _ = m.get(&c.key(5), mu);
        }),
        ("Hash in contains_key", 3, |c, m, _| {
            let _ = m.contains_key(&c.key(5));
        }),
        ("Hash in insert", 3, |c, m, mu| {
            let _ = m.insert(c.key(50), val(mu, 50, 0));
        }),
        ("Hash in remove", 3, |c, m, mu| {
            let _ = m.remove(&c.key(5), mu);
        }),
        ("Eq in insert", 1, |c, m, mu| {
            let _ = m.insert(c.key(51), val(mu, 51, 0));
        }),
        ("Eq in remove", 1, |c, m, mu| {
            let _ = m.remove(&c.key(5), mu);
        }),
    ];
    for (what, how, call) in calls {
        mode.store(how, Ordering::Relaxed);
        let result = catch_unwind(AssertUnwindSafe(|| with_map(|m, mu| call(&ctx, m, mu))));
        mode.store(0, Ordering::Relaxed);
        assert!(result.is_err(), "{what}: did not panic");
        // Not left in key code: `collect` refuses to run only there.
        let collected = catch_unwind(AssertUnwindSafe(|| with_mu_mut(|mu| mu.collect())));
        assert!(collected.is_ok(), "{what}: collect panicked after the caught panic (thread left in key code?)");
        // Not left locked, and consistent.
        put(&ctx, &model, 60, 1);
        take(&ctx, &model, 60);
        check_consistent(&ctx, &model);
        // Not left pinned: a key removed now is dropped by later writes.
        let key = ctx.key(70);
        let probe = key.probe.id;
        with_map(|m, mu| m.insert(key, val(mu, 70, 0)));
        with_map(|m, mu| {
            let _ = m.remove(&ctx.key(70), mu);
        });
        write_until_dropped(&ctx, probe, 71);
    }
    check_consistent(&ctx, &model);
    finish(&ctx);
}

// ---------------------------------------------------------------------------------------------
// 4. `Eq` calls into the collector during a lookup.

/// Attach this thread if it is not yet.
fn attach_here() {
    MU.with(|m| {
        let mut m = m.borrow_mut();
        if m.is_none() {
            *m = Some(gc_runtime::attach());
        }
    });
}

/// What attack 4's hook checks first, inside `Eq`: a second attach is refused cleanly.
fn attach_again_is_refused() {
    assert!(
        matches!(gc_runtime::try_attach(), Err(gc_runtime::AttachError::AlreadyAttached)),
        "a second attach inside Eq is refused"
    );
    thread_local! {
        static PANICKED_ONCE: Cell<bool> = const { Cell::new(false) };
    }
    // Once per thread: the panic's report is noisy.
    if !PANICKED_ONCE.with(|p| p.replace(true)) {
        let msg = panic_message(|| drop(gc_runtime::attach()));
        assert!(msg.contains("already attached"), "{msg}");
    }
}

/// Attack 4, through `get` (which borrows the thread's mutator, so `Eq` can reach it only
/// shared): a key's `Eq` tries to attach the thread again (`try_attach` and `attach`),
/// allocates through the thread's mutator and inserts what it allocated into the same map,
/// while another thread runs cycles back to back. Must hold: a second attach is refused
/// cleanly; nothing hangs or crashes; the key looked up is found; every value allocated inside
/// `Eq` survives the cycles (canary checked) and the map is consistent; every key is dropped
/// exactly once.
#[test]
fn eq_attaches_and_allocates_inside_get() {
    let _w = watchdog("eq_attaches_and_allocates_inside_get");
    let ctx = setup(1, 100_000);
    let model: Model = Arc::default();
    for id in 0..8 {
        put(&ctx, &model, id, 0);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let collector = spawn_collector(&stop);
    let (next, armed, ran) =
        (Arc::new(AtomicU64::new(1000)), Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
    {
        let (ctx2, model, next, armed, ran) = (ctx.clone(), model.clone(), next.clone(), armed.clone(), ran.clone());
        ctx.set_eq_hook(move |_, _| {
            if !armed.swap(false, Ordering::Relaxed) {
                return;
            }
            attach_again_is_refused();
            for _ in 0..4 {
                let id = next.fetch_add(1, Ordering::Relaxed);
                put(&ctx2, &model, id, id);
                with_mu(|mu| {
                    let _ = mu.alloc([0u64; 64]);
                }); // garbage: cycles have work
            }
            ran.fetch_add(1, Ordering::Relaxed);
        });
    }
    let rounds = if cfg!(miri) { 3 } else { 60 };
    for round in 0..rounds {
        armed.store(true, Ordering::Relaxed);
        let got = with_map(|m, mu| m.get(&ctx.key(7), mu).map(|v| v.checked()));
        assert_eq!(got, Some((7, 0)), "round {round}");
        with_mu_mut(|mu| mu.safepoint());
        if round % 10 == 0 {
            check_consistent(&ctx, &model);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let cycles = with_mu_mut(|mu| mu.blocking(|| collector.join().unwrap()));
    with_mu_mut(|mu| mu.collect());
    check_consistent(&ctx, &model);
    assert_eq!(ran.load(Ordering::Relaxed), rounds, "the hook ran in each lookup");
    println!("{cycles} cycles");
    finish(&ctx);
}

/// Attack 4, through `contains_key`, which borrows no mutator: on a map borrowed for
/// `'static` (from a leaked mutator), a key's `Eq` reaches the thread's mutator mutably and
/// calls `collect` (expected: refused with a panic about collecting, or done), `safepoint`,
/// and `blocking` (so the collector, running cycles back to back on another thread, can finish
/// cycles while the lookup is part-way through its probe), then allocates and inserts into the
/// same map. Must hold: no hang or crash; the key looked up is found; every value inserted
/// from `Eq` survives the cycles and the map is consistent; no key is dropped twice, and keys
/// cleared at the end are dropped by later writes. Runs in a child process: a leaked mutator
/// keeps every object alive at its thread's end, which would spoil the other tests' drop counts.
#[test]
fn eq_collects_and_blocks_inside_contains_key() {
    if cfg!(miri) {
        return; // no child processes under Miri
    }
    child("child_eq_collects_and_blocks_inside_contains_key", &[], Duration::from_secs(60)).assert_completed();
}

/// The scenario of [`eq_collects_and_blocks_inside_contains_key`].
#[test]
fn child_eq_collects_and_blocks_inside_contains_key() {
    if !in_child() {
        return;
    }
    attach_here();
    let ctx = Ctx::new(1, 100_000);
    let leaked: &'static Table =
        leak_static(|mu| mu.alloc(Table { map: GcMap::with_hasher(Chosen::default()) }).into_ref());
    LEAKED.with(|l| l.set(Some(&leaked.map)));
    let model: Model = Arc::default();
    for id in 0..8 {
        put(&ctx, &model, id, 0);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let collector = spawn_collector(&stop);
    let next = Arc::new(AtomicU64::new(1000));
    let armed = Arc::new(AtomicBool::new(false));
    let (collect_refused, collect_ran, blocked) =
        (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    {
        let (ctx2, model, next, armed) = (ctx.clone(), model.clone(), next.clone(), armed.clone());
        let (collect_refused, collect_ran, blocked) = (collect_refused.clone(), collect_ran.clone(), blocked.clone());
        ctx.set_eq_hook(move |_, _| {
            if !armed.swap(false, Ordering::Relaxed) {
                return;
            }
            attach_again_is_refused();
            let collected = catch_unwind(AssertUnwindSafe(|| with_mu_mut(|mu| mu.collect())));
            match collected {
                Ok(()) => drop(collect_ran.fetch_add(1, Ordering::Relaxed)),
                Err(e) => {
                    let msg = e
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    assert!(msg.contains("collect"), "unclear panic from collect inside Eq: {msg}");
                    collect_refused.fetch_add(1, Ordering::Relaxed);
                }
            }
            with_mu_mut(|mu| {
                mu.safepoint();
                mu.blocking(|| thread::sleep(Duration::from_millis(2)));
                mu.safepoint();
            });
            blocked.fetch_add(1, Ordering::Relaxed);
            let id = next.fetch_add(1, Ordering::Relaxed);
            put(&ctx2, &model, id, id);
            with_mu(|mu| {
                let _ = mu.alloc([0u64; 64]);
            });
        });
    }
    let rounds = if cfg!(miri) { 3 } else { 40 };
    for round in 0..rounds {
        armed.store(true, Ordering::Relaxed);
        assert!(leaked.map.contains_key(&ctx.key(7)), "round {round}");
        with_mu_mut(|mu| mu.safepoint());
        if round % 10 == 0 {
            check_consistent(&ctx, &model);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let cycles = with_mu_mut(|mu| mu.blocking(|| collector.join().unwrap()));
    with_mu_mut(|mu| mu.collect());
    check_consistent(&ctx, &model);
    assert_eq!(blocked.load(Ordering::Relaxed), rounds, "the hook ran in each lookup");
    println!(
        "{cycles} cycles; collect inside Eq: {} refused, {} ran",
        collect_refused.load(Ordering::Relaxed),
        collect_ran.load(Ordering::Relaxed)
    );
    // The map is pinned for good: clear it and check its keys are dropped by later writes.
    ctx.clear_hooks();
    let last = ctx.ledger.created() as u64;
    leaked.map.clear();
    for probe in 0..last {
        if ctx.ledger.drops(probe) == 0 {
            write_until_dropped(&ctx, probe, 99);
        }
    }
    let violations = ctx.violations.lock().unwrap().clone();
    assert!(violations.is_empty(), "{violations:?}");
    for probe in 0..ctx.ledger.created() as u64 {
        assert!(ctx.ledger.drops(probe) <= 1, "key probe {probe} dropped twice");
    }
    LEAKED.with(|l| l.set(None));
    MU.with(|m| m.borrow_mut().take());
    println!("done");
}

// ---------------------------------------------------------------------------------------------
// 5. Key destructors that use the same map.

/// Attack 5: keys whose destructor reads and writes the same map (`len`, `get`,
/// `contains_key`, `insert`, `remove`), dropped by the map's later writes (after `remove` and
/// `clear`), by an `insert` over an existing key (the key passed in), and during the unwinding
/// of an `insert` whose `Hash` panics. The docs say keys are dropped with no lock held: a
/// destructor that writes the map would otherwise deadlock. Must hold: no deadlock; every
/// removed key is dropped by later writes, once; the map is consistent with what the
/// destructors did; every key is dropped exactly once in the end.
#[test]
fn key_destructors_use_the_same_map() {
    let _w = watchdog("key_destructors_use_the_same_map");
    let ctx = setup(0, 200_000);
    let model: Model = Arc::default();
    let hook_runs = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicU64::new(500));
    {
        let (ctx2, model, hook_runs, next) = (ctx.clone(), model.clone(), hook_runs.clone(), next.clone());
        ctx.set_drop_hook(move |key| {
            // Only keys 0..16, and only on this test's thread (not the finalizer's).
            if key.id >= 16 || !table_reachable() {
                return;
            }
            hook_runs.fetch_add(1, Ordering::Relaxed);
            let n = next.fetch_add(1, Ordering::Relaxed);
            with_map(|m, mu| {
                let _ = m.len();
                let _ = m.get(&ctx2.key(20), mu).map(|v| v.checked());
                let _ = m.contains_key(&ctx2.key(n - 1));
            });
            put(&ctx2, &model, n, n);
            if n % 2 == 0 {
                take(&ctx2, &model, n - 1);
            }
        });
    }
    let mut probes = Vec::new();
    for id in 0..16 {
        let key = ctx.key(id);
        probes.push(key.probe.id);
        with_map(|m, mu| m.insert(key, val(mu, id, 0)));
        model.lock().unwrap().insert(id, 0);
    }
    put(&ctx, &model, 20, 0);
    // The key passed to an insert over an existing key is dropped inside `insert`.
    let before = hook_runs.load(Ordering::Relaxed);
    assert!(put(&ctx, &model, 3, 1), "an overwrite");
    assert!(hook_runs.load(Ordering::Relaxed) > before, "the key passed in was dropped, running its hook");
    check_consistent(&ctx, &model);
    // Removed keys: dropped by later writes (whose retiring then runs the hook's writes).
    for id in 0..8 {
        take(&ctx, &model, id);
    }
    for (id, &probe) in probes.iter().enumerate().take(8) {
        write_until_dropped(&ctx, probe, 30 + id as u64);
    }
    check_consistent(&ctx, &model);
    // Cleared keys, likewise.
    with_map(|m, _| m.clear());
    model.lock().unwrap().clear();
    for (id, &probe) in probes.iter().enumerate().skip(8) {
        write_until_dropped(&ctx, probe, 30 + id as u64);
    }
    // A key dropped while `insert` unwinds from a panicking `Hash`.
    let armed = Arc::new(AtomicBool::new(true));
    let armed2 = armed.clone();
    ctx.set_hash_hook(move |key| {
        if key.id == 9 && armed2.swap(false, Ordering::Relaxed) {
            panic!("hostile Hash panics");
        }
    });
    let before = hook_runs.load(Ordering::Relaxed);
    let r = catch_unwind(AssertUnwindSafe(|| with_map(|m, mu| m.insert(ctx.key(9), val(mu, 9, 0)))));
    assert!(r.is_err() && !armed.load(Ordering::Relaxed), "Hash panicked");
    assert!(hook_runs.load(Ordering::Relaxed) > before, "the key was dropped while unwinding");
    *ctx.hash_hook.lock().unwrap() = None;
    check_consistent(&ctx, &model);
    println!("{} destructor hooks ran", hook_runs.load(Ordering::Relaxed));
    finish(&ctx);
}

/// Attack 5b (and 3): a retired key whose destructor panics when a later write drops it (with
/// other retired keys in the same batch). Must hold: the panic reaches the writer (caught
/// here) after its write took effect; the map is not left locked and stays consistent; the
/// other keys of the batch are dropped once; every key is dropped exactly once in the end.
#[test]
fn a_retired_key_whose_destructor_panics() {
    let _w = watchdog("a_retired_key_whose_destructor_panics");
    let ctx = setup(0, 200_000);
    let model: Model = Arc::default();
    let mut probes = Vec::new();
    for id in 0..6 {
        let key = ctx.key(id);
        probes.push(key.probe.id);
        with_map(|m, mu| m.insert(key, val(mu, id, 0)));
        model.lock().unwrap().insert(id, 0);
    }
    let armed = Arc::new(AtomicBool::new(false));
    {
        let armed = armed.clone();
        ctx.set_drop_hook(move |key| {
            if key.id == 2 && armed.swap(false, Ordering::Relaxed) {
                panic!("hostile key destructor panics");
            }
        });
    }
    // Removed one after the other: they wait (in batches) for a later write to drop them —
    // which may be one of these removals, if a batch's epoch moved on meanwhile (other tests
    // pin and unpin it): key 2's batch can be sealed by removal 2 and found ready by removal 3.
    // So the destructor is armed first, and every write counts.
    armed.store(true, Ordering::Relaxed);
    let mut panics = 0;
    for id in 0..4 {
        if catch_unwind(AssertUnwindSafe(|| take(&ctx, &model, id))).is_err() {
            panics += 1;
            // The removal took effect before the destructors ran; the model missed it.
            model.lock().unwrap().remove(&id);
        }
    }
    let mut writes = 0u64;
    let limit = if cfg!(miri) { 400 } else { 50_000 };
    while probes[..4].iter().any(|&p| ctx.ledger.drops(p) == 0) && writes < limit {
        // A new key (inserted, then removed): both writes drop the retired keys that are ready.
        let id = 1000 + writes;
        let r = catch_unwind(AssertUnwindSafe(|| put(&ctx, &model, id, writes)));
        if r.is_err() {
            panics += 1;
            // The write took effect before the destructors ran; the model missed it.
            model.lock().unwrap().insert(id, writes);
        }
        if catch_unwind(AssertUnwindSafe(|| take(&ctx, &model, id))).is_err() {
            panics += 1;
            model.lock().unwrap().remove(&id);
        }
        writes += 2;
    }
    assert_eq!(panics, 1, "the destructor's panic reached one writer");
    for &p in &probes[..4] {
        assert_eq!(ctx.ledger.drops(p), 1, "a retired key dropped {} times", ctx.ledger.drops(p));
    }
    check_consistent(&ctx, &model);
    finish(&ctx);
}

/// Attack 5c: the docs (`GcMap`: "A removed or replaced key is dropped once no lookup can be
/// comparing against it: by a later write to the map, or when the map is dropped";
/// `retired_keys.rs`: each write that finds the oldest batch waiting counts, and every 64 such
/// writes nudge the epoch) promise that later writes drop retired keys. Here the only later
/// writes are insertions over an existing key (a map of counters or a cache, updated in place).
/// Must hold: a removed key is dropped by some of the 20,000 overwrites that follow, no lookup
/// running anywhere in this map.
#[test]
fn overwrites_drop_retired_keys() {
    let _w = watchdog("overwrites_drop_retired_keys");
    let ctx = setup(0, 100_000);
    let model: Model = Arc::default();
    for id in 0..4 {
        put(&ctx, &model, id, 0);
    }
    let key = ctx.key(9);
    let victim = key.probe.id;
    with_map(|m, mu| m.insert(key, val(mu, 9, 0)));
    with_map(|m, mu| {
        let _ = m.remove(&ctx.key(9), mu);
    });
    let limit = if cfg!(miri) { 300 } else { 20_000 };
    let mut overwrites = 0;
    while ctx.ledger.drops(victim) == 0 && overwrites < limit {
        overwrites += 1;
        assert!(put(&ctx, &model, overwrites % 4, overwrites), "an overwrite");
        if overwrites % 64 == 0 {
            thread::yield_now(); // other threads' pins move on meanwhile
        }
    }
    assert_eq!(
        ctx.ledger.drops(victim),
        1,
        "a removed key was not dropped by {overwrites} later writes (insertions over existing keys)"
    );
    check_consistent(&ctx, &model);
    finish(&ctx);
}

// ---------------------------------------------------------------------------------------------
// 6. Slow lookups while another thread churns the same key.

thread_local! {
    static SLOW_EQ: Cell<bool> = const { Cell::new(false) };
}

/// Attack 6: one thread looks keys up (`get`, `contains_key`) with an `Eq` that sleeps now and
/// then (keys collide in groups of four, so lookups compare several keys), while another
/// thread removes and reinserts the same key thousands of times, and inserts and removes
/// batches of other keys to force rehashes. Must hold: a lookup never returns the value of
/// another key (each value carries its key's id), and never a generation the key was not given;
/// a key never removed is always found; every key is dropped exactly once in the end.
#[test]
fn slow_lookups_while_another_thread_churns_the_same_key() {
    let _w = watchdog("slow_lookups_while_another_thread_churns_the_same_key");
    const STABLE: u64 = 1; // never removed
    const CHURNED: u64 = 5; // removed and reinserted (collides with STABLE)
    let ctx = setup(4, 200_000);
    let model: Model = Arc::default();
    for id in 0..8 {
        put(&ctx, &model, id, 0);
    }
    // The writer's round, and how many slow comparisons with a stored key `CHURNED` spanned
    // a round: the writer removed that very key (and wrote on) while `Eq` held it.
    let (writer_round, overlaps) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    {
        let (writer_round, overlaps) = (writer_round.clone(), overlaps.clone());
        ctx.set_eq_hook(move |stored, _| {
            if SLOW_EQ.with(Cell::get) {
                let before = writer_round.load(Ordering::Acquire);
                thread::sleep(Duration::from_micros(200));
                if stored.id == CHURNED && writer_round.load(Ordering::Acquire) > before {
                    overlaps.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    let root = TABLE.with(|t| with_mu(|mu| t.borrow().as_ref().unwrap().get(mu).root(mu)));
    let (min_rounds, rounds): (u64, u64) = if cfg!(miri) { (10, 30) } else { (500, 40_000) };
    let wanted_overlaps = if cfg!(miri) { 1 } else { 50 };
    let done = AtomicBool::new(false);
    let last_round = Mutex::new(0);
    let (lookups, found) = (AtomicU64::new(0), AtomicU64::new(0));
    with_mu_mut(|mu| {
        mu.blocking(|| {
            thread::scope(|s| {
                s.spawn(|| {
                    let mut mu = gc_runtime::attach();
                    SLOW_EQ.with(|f| f.set(true));
                    let probes: Vec<Key> = (0..10).map(|id| ctx.key(id)).collect();
                    while !done.load(Ordering::Acquire) {
                        let t = root.get(&mu);
                        for p in &probes {
                            match t.map.get(p, &mu) {
                                Some(v) => {
                                    let (id, generation) = v.checked();
                                    assert_eq!(id, p.id, "key {} read the value of key {id}", p.id);
                                    assert!(
                                        generation == 0 || (id == CHURNED && generation <= rounds),
                                        "key {id}: generation {generation}"
                                    );
                                    found.fetch_add(1, Ordering::Relaxed);
                                }
                                None => assert!(p.id == CHURNED || p.id >= 8, "key {} lost", p.id),
                            }
                            assert!(t.map.contains_key(&probes[STABLE as usize]));
                            lookups.fetch_add(1, Ordering::Relaxed);
                        }
                        mu.safepoint();
                    }
                    SLOW_EQ.with(|f| f.set(false));
                });
                s.spawn(|| {
                    let mut mu = gc_runtime::attach();
                    let probe = ctx.key(CHURNED);
                    let mut round = 0;
                    let started = std::time::Instant::now();
                    // Until enough overlaps, for 1.5 s at most; past that only until the first
                    // (checked below), 30 s at most (a loaded machine may be slow to get one).
                    while round < min_rounds
                        || (round < rounds
                            && match overlaps.load(Ordering::Relaxed) {
                                0 => started.elapsed() < Duration::from_secs(30),
                                n => n < wanted_overlaps && started.elapsed() < Duration::from_millis(1500),
                            })
                    {
                        round += 1;
                        writer_round.store(round, Ordering::Release);
                        let t = root.get(&mu);
                        let old = t.map.remove(&probe, &mu).map(|v| v.checked());
                        assert_eq!(old.map(|v| v.0), Some(CHURNED));
                        t.map.insert(ctx.key(CHURNED), val(&mu, CHURNED, round));
                        if round % 64 == 0 {
                            // A batch of other keys: rehashes, then tombstones.
                            for i in 0..24 {
                                t.map.insert(ctx.key(100 + i), val(&mu, 100 + i, 0));
                            }
                            for i in 0..24 {
                                t.map.remove(&ctx.key(100 + i), &mu);
                            }
                        }
                        mu.safepoint();
                        // Slow enough for the slow comparisons to span rounds.
                        thread::sleep(Duration::from_micros(50));
                    }
                    *last_round.lock().unwrap() = round;
                    done.store(true, Ordering::Release);
                });
            });
        })
    });
    let last_round = *last_round.lock().unwrap();
    model.lock().unwrap().insert(CHURNED, last_round);
    drop(root);
    println!(
        "{last_round} writer rounds, {} lookups, {} found, {} slow comparisons spanned the removal of their key",
        lookups.load(Ordering::Relaxed),
        found.load(Ordering::Relaxed),
        overlaps.load(Ordering::Relaxed)
    );
    assert!(found.load(Ordering::Relaxed) > 0);
    assert!(overlaps.load(Ordering::Relaxed) > 0, "no comparison overlapped a removal of its key");
    check_consistent(&ctx, &model);
    finish(&ctx);
}

// ---------------------------------------------------------------------------------------------
// 7. Keys whose `Hash` changes, and inconsistent `Eq`.

/// Attack 7: keys whose hash lives in a cell shared with the test, changed after insertion
/// (interior mutability, as a `Send + Sync` key may have), then looked up, reinserted (making
/// duplicates), removed, rehashed (by many insertions) and cleared; then `Eq` that always
/// says equal, and never equal. Wrong answers are allowed. Must hold: no panic from the map,
/// no crash; `len()` always equals the number of entries; `Hash` runs exactly once per call
/// (never in a rehash); after `clear` the map is empty; every key (duplicates included) is
/// dropped exactly once in the end.
#[test]
fn changing_hashes_and_inconsistent_eq() {
    let _w = watchdog("changing_hashes_and_inconsistent_eq");
    let ctx = setup(0, 200_000);
    let n: u64 = if cfg!(miri) { 12 } else { 64 };
    let cells: Vec<Arc<AtomicU64>> = (0..n).map(|id| Arc::new(AtomicU64::new(ctx.hash_of(id)))).collect();
    let key = |id: u64| ctx.key_with(id, cells[id as usize % cells.len()].clone());
    let entries_len = |strict: bool| {
        with_map(|m, mu| {
            let entries = m.entries(mu);
            assert_eq!(m.len(), entries.len(), "len() and the entries disagree");
            for (k, v) in &entries {
                let (id, _) = v.checked();
                // An always-equal `Eq` lets an insertion put its value under another key.
                assert!(!strict || k.id == id, "an entry holds the value of another key");
            }
            entries.len()
        })
    };
    let hashes_before = ctx.hash_calls.load(Ordering::Relaxed);
    let mut calls = 0;
    for id in 0..n {
        with_map(|m, mu| m.insert(key(id), val(mu, id, 0)));
        calls += 1;
    }
    // Change every other key's hash: the map keeps the hash it stored.
    for (id, cell) in cells.iter().enumerate().filter(|(id, _)| id % 2 == 0) {
        cell.store((id as u64).wrapping_mul(31) ^ 0x5555, Ordering::Relaxed);
    }
    let mut found = 0;
    for id in 0..n {
        with_map(|m, mu| {
            if let Some(v) = m.get(&key(id), mu) {
                assert_eq!(v.checked().0, id, "another key's value");
                found += 1;
            }
            let _ = m.contains_key(&key(id));
        });
        calls += 2;
    }
    assert_eq!(found, n / 2, "exactly the unchanged keys are found");
    // Reinsert everything: changed keys are duplicated.
    for id in 0..n {
        with_map(|m, mu| m.insert(key(id), val(mu, id, 1)));
        calls += 1;
    }
    assert_eq!(entries_len(true), (n + n / 2) as usize, "each changed key is in twice");
    // Rehash many times (from the stored hashes), changing the hashes again meanwhile.
    for id in n..n * 8 {
        cells[id as usize % cells.len()].fetch_add(1, Ordering::Relaxed);
        with_map(|m, mu| m.insert(ctx.key(id), val(mu, id, 2)));
        calls += 1;
    }
    for id in 0..n * 8 {
        with_map(|m, mu| {
            let _ = m.remove(&key(id), mu).map(|v| assert_eq!(v.checked().0, id));
        });
        calls += 1;
    }
    assert_eq!(
        ctx.hash_calls.load(Ordering::Relaxed) - hashes_before,
        calls,
        "Hash ran once per call, never in a rehash"
    );
    entries_len(true);
    // `Eq` always equal: an insertion replaces the first key of the same hash.
    for cell in &cells {
        cell.store(7, Ordering::Relaxed);
    }
    ctx.eq_mode.store(1, Ordering::Relaxed);
    for id in 0..n {
        with_map(|m, mu| m.insert(key(id), val(mu, id, 3)));
    }
    entries_len(false);
    // `Eq` never equal: every insertion adds, nothing is found or removed.
    ctx.eq_mode.store(2, Ordering::Relaxed);
    let before = entries_len(false);
    for id in 0..n {
        with_map(|m, mu| {
            m.insert(key(id), val(mu, id, 4));
            assert!(m.get(&key(id), mu).is_none());
            assert!(m.remove(&key(id), mu).is_none());
        });
    }
    assert_eq!(with_map(|m, _| m.len()), before + n as usize);
    with_map(|m, _| m.clear());
    assert_eq!(with_map(|m, mu| (m.len(), m.entries(mu).len())), (0, 0));
    ctx.eq_mode.store(0, Ordering::Relaxed);
    let _ = key;
    drop(cells);
    finish(&ctx);
}

// ---------------------------------------------------------------------------------------------
// 8. `GcIdMap`: key objects freed and their addresses reused, during lookups on another thread.

#[derive(Trace)]
struct IdKey {
    id: u64,
    canary: u64,
}

#[derive(Trace)]
struct IdTable {
    map: GcIdMap<IdKey, Val>,
}

/// Attack 8: one thread inserts key objects into a `GcIdMap`, removes them, clears the map and
/// drops the keys, so the collector (cycles back to back on a third thread) frees them and new
/// key objects reuse their addresses; another thread meanwhile looks up the keys of snapshots
/// of the map and fresh objects of its own (never inserted, likely at a freed key's address).
/// Must hold: a lookup never returns the value of another key object (each value carries its
/// key's id, each key a canary); a fresh object is never found; the map is consistent at the
/// end.
#[test]
fn id_map_lookups_while_key_addresses_are_reused() {
    let _w = watchdog("id_map_lookups_while_key_addresses_are_reused");
    let mut mu = gc_runtime::attach();
    let root = mu.alloc(IdTable { map: GcIdMap::new() }).root(&mu);
    let stop = Arc::new(AtomicBool::new(false));
    let collector = spawn_collector(&stop);
    let inserted_addrs = Mutex::new(HashSet::new());
    let done = AtomicBool::new(false);
    let rounds: u64 = if cfg!(miri) { 40 } else { 20_000 };
    let (reused_by_writer, reused_by_reader, checked) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    mu.blocking(|| {
        thread::scope(|s| {
            s.spawn(|| {
                let mut mu = gc_runtime::attach();
                for n in 1..=rounds {
                    let t = root.get(&mu);
                    let k = mu.alloc(IdKey { id: n, canary: n ^ MAGIC });
                    if !inserted_addrs.lock().unwrap().insert(k.addr()) {
                        reused_by_writer.fetch_add(1, Ordering::Relaxed);
                    }
                    t.map.insert(k, val(&mu, n, 0));
                    if n % 3 != 0 {
                        assert_eq!(t.map.remove(k, &mu).map(|v| v.checked()), Some((n, 0)));
                    }
                    if n % 97 == 0 {
                        t.map.clear();
                    }
                    mu.safepoint();
                }
                done.store(true, Ordering::Release);
            });
            s.spawn(|| {
                let mut mu = gc_runtime::attach();
                let mut fresh_id = 1 << 40;
                while !done.load(Ordering::Acquire) {
                    let t = root.get(&mu);
                    for (k, _) in t.map.entries(&mu) {
                        assert_eq!(k.canary, k.id ^ MAGIC, "a key object in the map was freed");
                        if let Some(v) = t.map.get(k, &mu) {
                            assert_eq!(v.checked().0, k.id, "key {} read the value of key {}", k.id, v.id);
                            checked.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    for _ in 0..8 {
                        fresh_id += 1;
                        let fresh = mu.alloc(IdKey { id: fresh_id, canary: fresh_id ^ MAGIC });
                        if inserted_addrs.lock().unwrap().contains(&fresh.addr()) {
                            reused_by_reader.fetch_add(1, Ordering::Relaxed);
                        }
                        if let Some(v) = t.map.get(fresh, &mu) {
                            panic!("a fresh object found, with the value of key {}", v.id);
                        }
                        assert!(!t.map.contains_key(fresh));
                    }
                    mu.safepoint();
                }
            });
        });
    });
    stop.store(true, Ordering::Relaxed);
    let cycles = mu.blocking(|| collector.join().unwrap());
    mu.collect();
    let t = root.get(&mu);
    let entries = t.map.entries(&mu);
    assert_eq!(t.map.len(), entries.len());
    for (k, v) in &entries {
        assert_eq!(k.canary, k.id ^ MAGIC);
        assert_eq!(v.checked().0, k.id);
        assert_eq!(k.id % 3, 0, "a removed key is still in the map");
        assert!(t.map.get(*k, &mu).is_some());
    }
    println!(
        "{cycles} cycles; {} lookups checked; addresses reused: {} by the writer, {} by the reader's fresh objects",
        checked.load(Ordering::Relaxed),
        reused_by_writer.load(Ordering::Relaxed),
        reused_by_reader.load(Ordering::Relaxed)
    );
}
