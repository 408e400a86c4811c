//! `GcValueVec` and `GcValueMap`: collections of values — numbers, `nil` and objects in one
//! value type, the way a dynamic language's arrays and objects hold them. Every method with
//! mixed values, the unarmed collections' refusals, contents that survive cycles and removed
//! objects that are freed, and concurrent use (two writers, two readers, cycles back to back,
//! checkmark on) under each barrier and in stop-the-world mode.
//!
//! Each element is a `Cell`: a word (a number, `nil`, or an object's id with a tag) and a slot.
//! Reading one checks that its word and its slot agree (an object cell's slot holds the object
//! its word names), so a reader that saw a value half written would fail; each object carries a
//! canary and a drop probe, and at the end exactly the objects still in the vector are alive.

use std::{
    collections::HashSet,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    thread,
};

mod common;

use common::{panic_message, DropProbe, Ledger, Rng};
use gc_runtime::{Gc, GcValueMap, GcValueVec, HeapValue, IndexOutOfRange, Member, Mutator, Root, Trace};

const MAGIC: u64 = 0x9E37_79B9_7F4A_7C15;

#[derive(Trace)]
struct Elem {
    id: u64,
    canary: u64,
    /// A few objects of its own, so that marking takes long enough between two chunks of a
    /// vector for a writer to move values past the marker.
    ballast: Member<Node>,
    #[trace(skip)]
    probe: DropProbe,
}

#[derive(Trace)]
struct Node {
    next: Member<Node>,
}

const BALLAST: usize = if cfg!(miri) { 1 } else { 24 };

impl Elem {
    fn check(&self) -> u64 {
        assert_eq!(self.canary, self.id ^ MAGIC, "canary of object {} corrupted", self.id);
        assert_eq!(self.probe.id, self.id, "probe of object {} corrupted", self.id);
        self.id
    }
}

fn elem<'m>(ledger: &Arc<Ledger>, mu: &'m Mutator) -> Gc<'m, Elem> {
    let probe = ledger.probe();
    let id = probe.id;
    let e = mu.alloc(Elem { id, canary: id ^ MAGIC, ballast: Member::new(), probe });
    let mut head = None;
    for _ in 0..BALLAST {
        let node = mu.alloc(Node { next: Member::new() });
        node.next.set(head);
        head = Some(node);
    }
    e.ballast.set(head);
    e
}

/// A value as running code holds it.
#[derive(Clone, Copy)]
enum Value<'m> {
    Nil,
    Number(u64),
    Obj(Gc<'m, Elem>),
}

impl Value<'_> {
    /// The object's id, the number, or `u64::MAX` for `nil`: for comparing.
    fn key(self) -> (u8, u64) {
        match self {
            Value::Nil => (0, 0),
            Value::Number(n) => (1, n),
            Value::Obj(o) => (2, o.check()),
        }
    }
}

/// A value in the heap: `nil` is word 1, a number `n` is `2n` (even), an object is its id
/// shifted up with the tag 3, with the object in the slot.
#[derive(Trace)]
struct Cell {
    word: AtomicU64,
    obj: Member<Elem>,
}

const NIL: u64 = 1;

impl HeapValue for Cell {
    type Local<'m> = Value<'m>;

    fn empty() -> Cell {
        Cell { word: AtomicU64::new(NIL), obj: Member::new() }
    }

    fn load<'m>(&self, mu: &'m Mutator) -> Value<'m> {
        let word = self.word.load(Ordering::Relaxed);
        let obj = self.obj.get(mu);
        match word {
            NIL => {
                assert!(obj.is_none(), "a nil cell holds no object");
                Value::Nil
            }
            w if w % 2 == 0 => {
                assert!(obj.is_none(), "a number cell holds no object");
                Value::Number(w / 2)
            }
            w => {
                let o = obj.expect("an object cell holds its object");
                assert_eq!(o.check(), w >> 2, "an object cell's word names the object in its slot");
                Value::Obj(o)
            }
        }
    }

    fn store(&self, value: Value<'_>) {
        let word = match value {
            Value::Nil => NIL,
            Value::Number(n) => n * 2,
            Value::Obj(o) => {
                self.obj.set(Some(o));
                self.word.store(o.id << 2 | 3, Ordering::Relaxed);
                return;
            }
        };
        self.obj.set(None);
        self.word.store(word, Ordering::Relaxed);
    }
}

#[derive(Trace)]
struct Holder {
    values: GcValueVec<Cell>,
    fields: GcValueMap<u32, Cell>,
}

fn holder(mu: &Mutator) -> Gc<'_, Holder> {
    mu.alloc(Holder { values: GcValueVec::new(), fields: GcValueMap::new() })
}

/// The vector of one of the holders.
fn vector<'m>(roots: &[Root<Holder>; 2], mu: &'m Mutator, side: usize) -> &'m GcValueVec<Cell> {
    &roots[side].get(mu).into_ref().values
}

/// The map of one of the holders.
fn fields<'m>(roots: &[Root<Holder>; 2], mu: &'m Mutator, side: usize) -> &'m GcValueMap<u32, Cell> {
    &roots[side].get(mu).into_ref().fields
}

fn keys(values: &[Value<'_>]) -> Vec<(u8, u64)> {
    values.iter().map(|v| v.key()).collect()
}

/// The ids of the objects in the holders' vectors and maps (checking each on the way).
fn alive<'a>(mu: &Mutator, holders: impl IntoIterator<Item = &'a Root<Holder>>) -> HashSet<u64> {
    let values = holders.into_iter().flat_map(|h| {
        let h = h.get(mu);
        let mut values = h.values.to_vec(mu);
        values.extend(h.fields.values(mu));
        values
    });
    values.filter_map(|v| if let Value::Obj(o) = v { Some(o.check()) } else { None }).collect()
}

#[test]
fn every_method_with_mixed_values() {
    let _s = common::serial_with_checkmark();
    let ledger = Ledger::new(64);
    let mut mu = gc_runtime::attach();
    let root: Root<Holder> = {
        let h = mu.alloc(Holder { values: GcValueVec::with_capacity(2), fields: GcValueMap::new() });
        let v = &h.values;
        assert!(v.is_empty() && v.get(0, &mu).is_none() && v.last(&mu).is_none() && v.pop(&mu).is_none());
        let (a, b, c) = (elem(&ledger, &mu), elem(&ledger, &mu), elem(&ledger, &mu));
        v.push(Value::Number(7));
        v.push(Value::Obj(a));
        v.extend([Value::Nil, Value::Obj(b)]);
        assert_eq!(keys(&v.to_vec(&mu)), [(1, 7), (2, 0), (0, 0), (2, 1)]);
        assert_eq!(v.len(), 4);
        assert_eq!(v.last(&mu).map(Value::key), Some((2, 1)));
        // set / try_set: over an object, a number; over a number, an object.
        v.set(1, Value::Number(8));
        v.set(0, Value::Obj(c));
        assert_eq!(v.try_set(4, Value::Nil), Err(IndexOutOfRange { index: 4, len: 4 }));
        assert_eq!(keys(&v.to_vec(&mu)), [(2, 2), (1, 8), (0, 0), (2, 1)]);
        // insert / remove shift; the errors leave the vector as it was.
        v.insert(0, Value::Nil);
        v.insert(5, Value::Number(9)); // at the end
        assert_eq!(v.try_insert(7, Value::Nil), Err(IndexOutOfRange { index: 7, len: 6 }));
        assert_eq!(v.remove(1, &mu).key(), (2, 2));
        assert_eq!(v.try_remove(5, &mu).map(Value::key), Err(IndexOutOfRange { index: 5, len: 5 }));
        assert_eq!(keys(&v.iter(&mu).collect::<Vec<_>>()), [(0, 0), (1, 8), (0, 0), (2, 1), (1, 9)]);
        assert_eq!(v.pop(&mu).map(Value::key), Some((1, 9)));
        h.root(&mu)
    };
    // `a` and `c` left the vector; `b` is in it.
    mu.collect();
    mu.collect();
    ledger.check_exactly(&alive(&mu, [&root]));
    assert_eq!(alive(&mu, [&root]), HashSet::from([1]));
    let h = root.get(&mu);
    h.values.truncate(3);
    assert_eq!(h.values.len(), 3);
    h.values.truncate(10); // longer: no effect
    assert_eq!(h.values.len(), 3);
    h.values.clear();
    assert!(h.values.is_empty());
    assert_eq!(format!("{:?}", h.values), "GcValueVec { len: 0, .. }");
    mu.collect();
    mu.collect();
    assert_eq!(ledger.total_drops(), ledger.created(), "every object left the vector and was freed");
}

#[test]
fn an_unarmed_vector_reads_as_empty_and_refuses_stores() {
    let mu = gc_runtime::attach();
    let loose = GcValueVec::<Cell>::new();
    assert!(loose.is_empty() && loose.get(0, &mu).is_none() && loose.pop(&mu).is_none());
    assert_eq!(format!("{loose:?}"), "GcValueVec { len: 0, armed: false, .. }");
    let stores: [(&str, &dyn Fn()); 4] = [
        ("push", &|| loose.push(Value::Nil)),
        ("extend", &|| loose.extend([Value::Nil])),
        ("insert", &|| loose.insert(0, Value::Nil)),
        ("set", &|| loose.set(0, Value::Nil)),
    ];
    for (name, store) in stores {
        let message = panic_message(store);
        assert!(
            message.starts_with(&format!("GcValueVec::{name} on a GcValueVec that is not inside an allocated object")),
            "{message}"
        );
        assert!(message.contains("allocate it with `mu.alloc`"), "{message}");
    }
    assert!(loose.is_empty());
    // Out of range on an armed vector: the message gives both numbers.
    let v = mu.alloc(GcValueVec::<Cell>::new());
    assert_eq!(panic_message(|| v.set(3, Value::Nil)), "GcValueVec::set: index 3 out of range for length 0");
    assert_eq!(
        panic_message(|| {
            let _ = v.remove(0, &mu);
        }),
        "GcValueVec::remove: index 0 out of range for length 0"
    );
    assert_eq!(panic_message(|| v.insert(1, Value::Nil)), "GcValueVec::insert: index 1 out of range for length 0");
}

/// The harness of the concurrent tests. Two holders, each a root: the marker scans one and
/// everything it reaches before it gets to the other, so values moved from the second into the
/// first while it does must not be lost (the deletion barriers' work, when the second's copy is
/// overwritten). Two writers run `write` (one operation each time) at least `WRITES` times and
/// until `MIN_CYCLES` cycles ran, two readers run `read` on alternate holders meanwhile, and a
/// fifth thread runs cycles back to back, under `config` with checkmark on. Then exactly the
/// objects still in the holders' collections must be alive, and with the roots gone, none.
fn concurrently(
    config: gc_runtime::Config,
    write: impl Fn(&[Root<Holder>; 2], &Arc<Ledger>, &mut Rng, &Mutator) + Sync,
    read: impl Fn(&[Root<Holder>; 2], usize, &Mutator) + Sync,
) {
    const WRITES: usize = if cfg!(miri) { 100 } else { 250_000 };
    const MIN_CYCLES: u64 = if cfg!(miri) { 2 } else { 4 };
    let _s = common::serial_only();
    let config = config.with_checkmark(true).with_gc_percent(Some(50));
    let label = format!("{config:?}");
    gc_runtime::reconfigure(config).unwrap();
    let ledger = Ledger::new(if cfg!(miri) { 10_000 } else { 1_000_000 });
    let roots = {
        let mu = gc_runtime::attach();
        [holder(&mu).root(&mu), holder(&mu).root(&mu)]
    };
    let (writers_done, cycles, reads) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let stop = AtomicBool::new(false);
    let writer = |seed: u64| {
        let mut mu = gc_runtime::attach();
        let mut rng = Rng(seed);
        let mut w = 0;
        while w < WRITES || cycles.load(Ordering::Relaxed) < MIN_CYCLES {
            w += 1;
            write(&roots, &ledger, &mut rng, &mu);
            if w % 16 == 0 {
                mu.safepoint();
            }
        }
        writers_done.fetch_add(1, Ordering::Relaxed);
    };
    let reader = || {
        let mut mu = gc_runtime::attach();
        let mut side = 0;
        while writers_done.load(Ordering::Relaxed) < 2 {
            side = 1 - side;
            read(&roots, side, &mu);
            reads.fetch_add(1, Ordering::Relaxed);
            mu.safepoint();
        }
    };
    thread::scope(|s| {
        let threads = [
            s.spawn(|| writer(0x5EED_0001)),
            s.spawn(|| writer(0x5EED_0002)),
            s.spawn(reader),
            s.spawn(reader),
            s.spawn(|| {
                let mut mu = gc_runtime::attach();
                while writers_done.load(Ordering::Relaxed) < 2 && !stop.load(Ordering::Relaxed) {
                    mu.collect();
                    cycles.fetch_add(1, Ordering::Relaxed);
                }
            }),
        ];
        for t in threads {
            if let Err(e) = t.join() {
                stop.store(true, Ordering::Relaxed);
                std::panic::resume_unwind(e);
            }
        }
    });
    let (cycles, reads) = (cycles.load(Ordering::Relaxed), reads.load(Ordering::Relaxed));
    let sizes = {
        let mu = gc_runtime::attach();
        [0, 1].map(|side| (vector(&roots, &mu, side).len(), fields(&roots, &mu, side).len()))
    };
    eprintln!(
        "{label}: {cycles} cycles, {reads} read rounds, {} objects, sizes at the end {sizes:?}",
        ledger.created()
    );
    assert!(cycles >= MIN_CYCLES && reads > 0, "{label}: cycles ({cycles}) and reads ({reads}) ran during the writes");
    let mut mu = gc_runtime::attach();
    mu.collect();
    mu.collect();
    ledger.check_exactly(&alive(&mu, &roots));
    drop(roots);
    mu.collect();
    mu.collect();
    assert_eq!(ledger.total_drops(), ledger.created(), "{label}: with the roots gone every object is freed");
}

/// A value for a writer to store: `nil`, a number (3 mod 7, so a reader can tell one a writer
/// stored), a new object, or one read from the other holder (`from`), to be stored in this one:
/// the pattern the deletion barriers exist for.
fn any_value<'m>(
    ledger: &Arc<Ledger>,
    rng: &mut Rng,
    mu: &'m Mutator,
    from: impl FnOnce(&mut Rng) -> Option<Value<'m>>,
) -> Value<'m> {
    match rng.below(4) {
        0 => Value::Nil,
        1 => Value::Number(rng.below(1 << 20) as u64 * 7 + 3),
        2 if !ledger.nearly_full(10) => Value::Obj(elem(ledger, mu)),
        _ => from(rng).unwrap_or(Value::Nil),
    }
}

/// A value a reader found: numbers must be ones a writer stored.
fn check(v: Value<'_>) -> (u8, u64) {
    if let Value::Number(n) = v {
        assert_eq!(n % 7, 3, "a number some writer stored");
    }
    v.key()
}

/// Two writers push, insert, remove, pop, set and truncate mixed values in two vectors (moving
/// values from one to the other) while two readers read every index, iterate, copy and read the
/// last value (see `concurrently`). Every value read must be whole (its word and slot agree).
fn concurrent_use(config: gc_runtime::Config) {
    const CAP: usize = if cfg!(miri) { 24 } else { 3_000 };
    let write = |roots: &[Root<Holder>; 2], ledger: &Arc<Ledger>, rng: &mut Rng, mu: &Mutator| {
        let side = rng.below(2);
        let v = vector(roots, mu, side);
        let len = v.len();
        let value = any_value(ledger, rng, mu, |rng| {
            let from = vector(roots, mu, 1 - side);
            from.get(rng.below(from.len().max(1)), mu)
        });
        match rng.below(10) {
            0..=2 if len < CAP => v.push(value),
            3 => {
                let _ = v.try_insert(rng.below(len + 1), value);
            }
            // Another writer may have shortened the vector since `len` was read: the `try_`
            // forms say so instead of panicking.
            4 if len > 0 => {
                let _ = v.try_remove(rng.below(len), mu).map(check);
            }
            5 => {
                let _ = v.pop(mu).map(check);
            }
            6 if rng.below(2000) == 0 => v.truncate(rng.below(len + 1)),
            _ if len > 0 => {
                let _ = v.try_set(rng.below(len), value);
            }
            _ => v.push(value),
        }
    };
    let read = |roots: &[Root<Holder>; 2], side: usize, mu: &Mutator| {
        let v = vector(roots, mu, side);
        for i in 0..v.len() {
            v.get(i, mu).map(check);
        }
        for x in v.iter(mu).chain(v.to_vec(mu)).chain(v.last(mu)) {
            check(x);
        }
    };
    concurrently(config, write, read);
}

#[test]
fn concurrent_use_stop_the_world() {
    concurrent_use(common::stress_configs()[0].clone());
}

#[test]
fn concurrent_use_dijkstra() {
    concurrent_use(common::stress_configs()[1].clone());
}

#[test]
fn concurrent_use_yuasa() {
    concurrent_use(common::stress_configs()[2].clone());
}

#[test]
fn concurrent_use_hybrid() {
    concurrent_use(common::stress_configs()[3].clone());
}

#[test]
fn map_every_method_with_mixed_values() {
    let _s = common::serial_with_checkmark();
    let ledger = Ledger::new(64);
    let mut mu = gc_runtime::attach();
    let root: Root<Holder> = {
        let h = holder(&mu);
        let m = &h.fields;
        assert!(m.is_empty() && m.get(&0, &mu).is_none() && m.remove(&0, &mu).is_none());
        let (a, b) = (elem(&ledger, &mu), elem(&ledger, &mu));
        assert!(!m.insert(1, Value::Number(7)));
        assert!(!m.insert(2, Value::Obj(a)));
        assert!(!m.insert(3, Value::Nil));
        assert!(m.insert(1, Value::Obj(b)), "replaces the number");
        assert!(m.insert(2, Value::Number(8)), "replaces the object");
        assert_eq!(m.len(), 3);
        assert!(m.contains_key(&3) && !m.contains_key(&4));
        assert_eq!(m.get(&1, &mu).map(Value::key), Some((2, 1)));
        let mut entries: Vec<(u32, (u8, u64))> = m.entries(&mu).into_iter().map(|(k, v)| (k, v.key())).collect();
        entries.sort();
        assert_eq!(entries, [(1, (2, 1)), (2, (1, 8)), (3, (0, 0))]);
        let mut keys = m.keys();
        keys.sort();
        assert_eq!(keys, [1, 2, 3]);
        assert_eq!(m.values(&mu).len(), 3);
        let mut seen = 0;
        m.for_each(&mu, |_, v| seen += usize::from(v.key().0 == 2));
        assert_eq!(seen, 1);
        assert_eq!(m.remove(&3, &mu).map(Value::key), Some((0, 0)));
        assert_eq!(format!("{m:?}"), "GcValueMap { len: 2, .. }");
        h.root(&mu)
    };
    // `a` left the map; `b` is in it.
    mu.collect();
    mu.collect();
    ledger.check_exactly(&alive(&mu, [&root]));
    assert_eq!(alive(&mu, [&root]), HashSet::from([1]));
    root.get(&mu).fields.clear();
    assert!(root.get(&mu).fields.is_empty());
    mu.collect();
    mu.collect();
    assert_eq!(ledger.total_drops(), ledger.created(), "every object left the map and was freed");
}

#[test]
fn an_unarmed_map_reads_as_empty_and_refuses_stores() {
    let mu = gc_runtime::attach();
    let loose = GcValueMap::<u32, Cell>::new();
    assert!(loose.is_empty() && loose.get(&0, &mu).is_none() && loose.remove(&0, &mu).is_none());
    let message = panic_message(|| {
        loose.insert(0, Value::Nil);
    });
    assert!(
        message.starts_with("GcValueMap::insert on a GcValueMap that is not inside an allocated object"),
        "{message}"
    );
    assert!(loose.is_empty());
}

/// Two writers insert, replace and remove mixed values under 3,000 keys in two maps (moving
/// values from one to the other, and clearing one now and then) while two readers look up keys
/// and copy the entries (see `concurrently`). Every value read must be whole.
fn concurrent_map_use(config: gc_runtime::Config) {
    const KEYS: usize = if cfg!(miri) { 24 } else { 3_000 };
    let write = |roots: &[Root<Holder>; 2], ledger: &Arc<Ledger>, rng: &mut Rng, mu: &Mutator| {
        let side = rng.below(2);
        let m = fields(roots, mu, side);
        let key = rng.below(KEYS) as u32;
        let value = any_value(ledger, rng, mu, |_| fields(roots, mu, 1 - side).get(&key, mu));
        match rng.below(8) {
            0..=4 => {
                m.insert(key, value);
            }
            5 | 6 => {
                m.remove(&key, mu).map(check);
            }
            _ if rng.below(5000) == 0 => m.clear(),
            _ => {
                m.get(&key, mu).map(check);
            }
        }
    };
    let read = |roots: &[Root<Holder>; 2], side: usize, mu: &Mutator| {
        let m = fields(roots, mu, side);
        for key in (0..KEYS as u32).step_by(7) {
            m.get(&key, mu).map(check);
        }
        for (key, value) in m.entries(mu) {
            assert!((key as usize) < KEYS);
            check(value);
        }
    };
    concurrently(config, write, read);
}

#[test]
fn concurrent_map_use_stop_the_world() {
    concurrent_map_use(common::stress_configs()[0].clone());
}

#[test]
fn concurrent_map_use_dijkstra() {
    concurrent_map_use(common::stress_configs()[1].clone());
}

#[test]
fn concurrent_map_use_yuasa() {
    concurrent_map_use(common::stress_configs()[2].clone());
}

#[test]
fn concurrent_map_use_hybrid() {
    concurrent_map_use(common::stress_configs()[3].clone());
}
