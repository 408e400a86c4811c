//! Hostile uses of `TaggedMember<T>` (a slot holding a GC pointer, a number or a small integer
//! in one word), in safe code only, against the public API.
//!
//! What is attacked, and the safe outcome each test asserts:
//!
//! - the encoding: every `f64` (signed zeros, subnormals, infinities, values whose bits sit at
//!   the encoding's boundaries) reads back bit for bit, every NaN — signed, signalling, with a
//!   payload, and the NaNs whose bits are an object's address minus the number offset — reads
//!   back as the canonical NaN of its sign; `Data` at the maximum round-trips and above it panics with the
//!   slot (and a collection's contents) unchanged, the pointer it held still alive;
//! - unarmed slots (loose, boxed, in a `Vec`, an `Option`, an array, an `Arc`, a skipped field
//!   hidden behind an alias, `HeapValue::empty`), also on a thread without a mutator: every
//!   store panics and leaves them empty, and no lock is left held;
//! - slots nested in std containers, derived enums and `#[gc]` structs: exactly the pointers
//!   they hold keep their objects alive, immediates made from objects' addresses never do;
//! - `Weak` to an object whose last pointer a number overwrites; `Debug`; unsized and
//!   trait-object referents (`Gc<[TaggedMember<T>]>`, `str`, `dyn Trait`);
//! - threads without a mutator (a leaked mutator's pinned object, and `Mutator::blocking`)
//!   storing immediates, also into `GcValueVec`/`GcValueMap` values and from a map key's `Eq`;
//! - concurrent stress with checkmark on under every barrier: several threads (one without a
//!   mutator) storing numbers, data and pointers into the same slots, vectors and maps, and
//!   hiding objects from the marker by overwriting their slot with a number; per-thread
//!   vectors and maps checked against a model after every read; maps rehashing while the
//!   marker's chunked scan of them is part way through; a `HeapValue` whose `load` takes the
//!   pointer out of the element (a destructive read under the collection's lock);
//! - the immediate store's deletion barrier itself: while the marker scans one large slice,
//!   objects move from its unscanned back to its scanned front, their slots overwritten by a
//!   number or data (by the mutator, or by a thread without a mutator). Under Yuasa only that
//!   barrier keeps them; with it removed from the number store, checkmark aborts (checked on a
//!   mutated copy of the library: 4 runs in 5 for the number test, every run for the
//!   unattached one with the locked path removed);
//! - key code run under a `GcValueMap`'s lock that attaches a mutator (a thread without one
//!   storing numbers into the map) or passes through `Mutator::blocking`: it waits for a
//!   stopped world while it holds the map's lock. This deadlocked, every run (in child
//!   processes), before the fix: now the attach is refused and `blocking` runs its closure in
//!   place (`key_code_that_waits_for_the_world_under_a_map_lock_does_not_deadlock`).

mod common;

use std::{
    collections::{HashMap, HashSet, VecDeque},
    fmt::Debug,
    hash::{Hash, Hasher},
    panic::{catch_unwind, AssertUnwindSafe},
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        mpsc, Arc, OnceLock,
    },
    thread,
    time::Duration,
};

use common::{leak_static, panic_message, DropProbe, Ledger, Rng};
use gc_runtime::{
    dyn_object, gc, unsize, AttachError, Config, Gc, GcValueMap, GcValueVec, HeapValue, Member, Mutator, Tagged,
    TaggedMember, Trace, Weak, TAGGED_DATA_MAX,
};

/// The bits every NaN is stored as.
const CANONICAL_NAN: u64 = 0x7ff8_0000_0000_0000;
/// The canonical NaN of the negative sign (a NaN keeps its sign, not its payload).
const CANONICAL_NEGATIVE_NAN: u64 = 0xfff8_0000_0000_0000;
/// `TaggedMember`'s offsets, as its module docs give them (data at 2^48 + d, numbers at bits + 2^49).
const DATA_OFFSET: u64 = 1 << 48;
const NUMBER_OFFSET: u64 = 1 << 49;

/// A heap object with a canary and a drop probe.
use common::Canary as Obj;

fn obj<'m>(mu: &'m Mutator, ledger: &Arc<Ledger>) -> Gc<'m, Obj> {
    Obj::alloc(mu, ledger)
}

#[derive(Trace)]
struct Holder {
    slot: TaggedMember<Obj>,
}

fn holder(mu: &Mutator) -> Gc<'_, Holder> {
    mu.alloc(Holder { slot: TaggedMember::new() })
}

/// What a slot holds, comparable: numbers by their bits, pointers by their object's id (its
/// canary checked on the way).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Want {
    Empty,
    Num(u64),
    Data(u64),
    Ptr(u64),
}

fn seen(t: Tagged<'_, Obj>) -> Want {
    match t {
        Tagged::Empty => Want::Empty,
        Tagged::Number(n) => Want::Num(n.to_bits()),
        Tagged::Data(d) => Want::Data(d),
        Tagged::Ptr(o) => Want::Ptr(o.check()),
    }
}

/// What a slot must read back after `value` was stored into it.
fn want(value: Tagged<'_, Obj>) -> Want {
    match value {
        Tagged::Number(n) if n.is_nan() => {
            Want::Num(if n.is_sign_negative() { CANONICAL_NEGATIVE_NAN } else { CANONICAL_NAN })
        }
        other => seen(other),
    }
}

/// Every reader of one slot agrees with `expected`.
fn check_slot(slot: &TaggedMember<Obj>, mu: &Mutator, expected: Want, what: &str) {
    assert_eq!(seen(slot.get(mu)), expected, "{what}: get");
    assert_eq!(slot.number().map(f64::to_bits), if let Want::Num(b) = expected { Some(b) } else { None }, "{what}");
    assert_eq!(slot.data(), if let Want::Data(d) = expected { Some(d) } else { None }, "{what}: data()");
    assert_eq!(slot.is_gc(), matches!(expected, Want::Ptr(_)), "{what}: is_gc()");
    assert_eq!(slot.is_empty(), expected == Want::Empty, "{what}: is_empty()");
    let debug = format!("{slot:?}");
    match expected {
        Want::Empty => assert_eq!(debug, "TaggedMember(Empty)", "{what}"),
        Want::Num(b) => assert_eq!(debug, format!("TaggedMember(Number({:?}))", f64::from_bits(b)), "{what}"),
        Want::Data(d) => assert_eq!(debug, format!("TaggedMember(Data({d}))"), "{what}"),
        Want::Ptr(_) => {
            let addr = slot.get(mu).as_gc().expect("a pointer").addr();
            assert_eq!(debug, format!("TaggedMember({addr:#x})"), "{what}");
        }
    }
}

/// Numbers at every edge of the encoding, and random ones (no NaN among them).
fn edge_numbers(rng: &mut Rng, random: usize) -> Vec<f64> {
    let mut bits: Vec<u64> = vec![
        0,
        1 << 63, // -0.0
        1,       // the smallest subnormal
        0x000f_ffff_ffff_ffff,
        0x8000_0000_0000_0001,
        0x800f_ffff_ffff_ffff,
        f64::MIN_POSITIVE.to_bits(),
        (-f64::MIN_POSITIVE).to_bits(),
        f64::EPSILON.to_bits(),
        f64::MAX.to_bits(),
        f64::MIN.to_bits(),
        f64::INFINITY.to_bits(),
        f64::NEG_INFINITY.to_bits(),
        1.0_f64.to_bits(),
        (-1.0_f64).to_bits(),
        // Bits at the encoding's own boundaries (what a pointer, data or an offset look like).
        2,
        8,
        DATA_OFFSET - 1,
        DATA_OFFSET,
        DATA_OFFSET + 1,
        NUMBER_OFFSET - 1,
        NUMBER_OFFSET,
        NUMBER_OFFSET + 1,
        u64::MAX - NUMBER_OFFSET,  // a NaN: filtered below
        0xfff0_0000_0000_0000 - 1, // the largest negative finite's neighbour
        0x7fef_ffff_ffff_ffff,     // f64::MAX
        0xffef_ffff_ffff_ffff,     // f64::MIN
        (9_007_199_254_740_993_u64 as f64).to_bits(),
        std::f64::consts::PI.to_bits(),
    ];
    bits.extend((0..random).map(|_| rng.next()));
    bits.into_iter().map(f64::from_bits).filter(|n| !n.is_nan()).collect()
}

/// NaNs of every sign and payload, signalling ones and NaNs computed at run time included.
fn nans(addrs: &[u64]) -> Vec<f64> {
    // Computed at run time (the black boxes keep the compiler from folding them): the
    // hardware's default NaNs, of either sign.
    let (zero, zero2) = (std::hint::black_box(0.0_f64), std::hint::black_box(0.0_f64));
    let (inf, inf2) = (std::hint::black_box(f64::INFINITY), std::hint::black_box(f64::INFINITY));
    let mut bits = vec![
        CANONICAL_NAN,
        0xfff8_0000_0000_0000,
        0x7ff0_0000_0000_0001, // signalling
        0xfff0_0000_0000_0001,
        0x7ff4_0000_0000_0000,
        0x7fff_ffff_ffff_ffff,
        u64::MAX,
        0xfff4_dead_beef_0000,
        (zero / zero2).to_bits(),
        (inf - inf2).to_bits(),
        (-(zero / zero2)).to_bits(),
        f64::NAN.copysign(-1.0).to_bits(),
    ];
    // A NaN whose bits plus the number offset would wrap around to an object's address: stored
    // as is, it would read back as that object.
    bits.extend(addrs.iter().map(|a| a.wrapping_sub(NUMBER_OFFSET)));
    let out: Vec<f64> = bits.into_iter().map(f64::from_bits).collect();
    assert!(out.iter().all(|n| n.is_nan()));
    out
}

/// Aborts the process, naming `what`, if it is not dropped within `secs`: a deadlock is then a
/// failure with a message rather than a hung test run.
struct Watchdog(#[allow(dead_code)] mpsc::Sender<()>);

fn watchdog(what: &'static str, secs: u64) -> Watchdog {
    let (tx, rx) = mpsc::channel::<()>();
    thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(Duration::from_secs(secs)) {
            eprintln!("hostile_tagged: `{what}` did not finish in {secs} s: a deadlock");
            std::process::abort();
        }
    });
    Watchdog(tx)
}

// ---------------------------------------------------------------------------------------------
// The encoding.
// ---------------------------------------------------------------------------------------------

#[derive(Trace)]
struct Lists {
    vec: GcValueVec<TaggedMember<Obj>>,
    map: GcValueMap<u64, TaggedMember<Obj>>,
}

/// Every number reads back bit for bit, and every NaN as the canonical one of its sign, through a slot, a
/// vector, a map and a slice of slots, before and after collections (checkmark on).
#[test]
fn every_number_reads_back_bit_exact_and_every_nan_as_the_canonical_one_of_its_sign() {
    let _s = common::serial_with_checkmark();
    let ledger = Ledger::new(64);
    let mut mu = gc_runtime::attach();
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let addrs: Vec<u64> = (0..8).map(|_| obj(&mu, &ledger).addr() as u64).collect();
    let mut values = edge_numbers(&mut rng, 300);
    values.extend(nans(&addrs));
    let wants: Vec<Want> = values.iter().map(|&n| want(Tagged::Number(n))).collect();
    let wanted_nans =
        wants.iter().filter(|w| matches!(w, Want::Num(CANONICAL_NAN) | Want::Num(CANONICAL_NEGATIVE_NAN))).count();
    assert!(wanted_nans >= 12 + addrs.len());

    let h = holder(&mu);
    for (&n, &w) in values.iter().zip(&wants) {
        h.slot.set(Tagged::Number(n));
        check_slot(&h.slot, &mu, w, &format!("{n:e} ({:#x})", n.to_bits()));
        let local = h.slot.get(&mu);
        assert_eq!(
            format!("{local:?}"),
            format!("Number({:?})", f64::from_bits(if let Want::Num(b) = w { b } else { 0 }))
        );
    }
    let lists = mu.alloc(Lists { vec: GcValueVec::new(), map: GcValueMap::new() });
    let slice = mu.alloc_slice_from_fn(values.len(), |_| TaggedMember::<Obj>::new());
    for (i, &n) in values.iter().enumerate() {
        lists.vec.push(Tagged::Number(n));
        lists.map.insert(i as u64, Tagged::Number(n));
        slice[i].set(Tagged::Number(n));
    }
    let check_all = |lists: &Lists, slice: &[TaggedMember<Obj>], mu: &Mutator| {
        assert_eq!(lists.vec.len(), wants.len());
        for (i, &w) in wants.iter().enumerate() {
            assert_eq!(seen(lists.vec.get(i, mu).expect("in range")), w, "vec[{i}]");
            assert_eq!(seen(lists.map.get(&(i as u64), mu).expect("a key")), w, "map[{i}]");
            check_slot(&slice[i], mu, w, &format!("slice[{i}]"));
        }
        assert_eq!(lists.vec.to_vec(mu).into_iter().map(seen).collect::<Vec<_>>(), wants);
    };
    check_all(&lists, &slice, &mu);
    let (lists, slice) = (lists.root(&mu), slice.root(&mu));
    common::collect2(&mut mu);
    check_all(&lists.get(&mu), &slice.get(&mu), &mu);
    // `set` replaces in place; `pop` hands the number back whole.
    let v = &lists.get(&mu).vec;
    for (i, &n) in values.iter().rev().enumerate() {
        v.set(i, Tagged::Number(n));
    }
    for &w in &wants {
        assert_eq!(seen(v.pop(&mu).expect("not empty")), w);
    }
    assert!(v.is_empty());
    assert_eq!(ledger.total_drops(), 8, "the objects whose addresses made NaNs are garbage");
}

/// `Data` up to the maximum round-trips; above it every store panics and leaves the slot as it
/// was — a pointer it held stays alive — and a vector or map it was meant for unchanged.
#[test]
fn data_above_the_maximum_is_refused_everywhere_and_changes_nothing() {
    let _s = common::serial_with_checkmark();
    let ledger = Ledger::new(64);
    let mut mu = gc_runtime::attach();
    let h = holder(&mu);
    for d in [0, 1, 2, 0xffff, DATA_OFFSET - 2, TAGGED_DATA_MAX] {
        h.slot.set(Tagged::Data(d));
        check_slot(&h.slot, &mu, Want::Data(d), &format!("Data({d:#x})"));
        assert_eq!(format!("{:?}", h.slot.get(&mu)), format!("Data({d})"));
    }
    let some_addr = obj(&mu, &ledger).addr() as u64;
    let too_large = [
        TAGGED_DATA_MAX + 1,
        DATA_OFFSET + 5,
        NUMBER_OFFSET - 1,
        NUMBER_OFFSET,
        NUMBER_OFFSET + some_addr,
        some_addr.wrapping_sub(DATA_OFFSET), // data that would encode to an address
        u64::MAX,
        1 << 63,
    ];
    let kept = obj(&mu, &ledger);
    let kept_id = kept.id;
    let priors = [Tagged::Empty, Tagged::Number(-0.0), Tagged::Data(TAGGED_DATA_MAX), Tagged::Ptr(kept)];
    for prior in priors {
        let before = want(prior);
        h.slot.set(prior);
        for bad in too_large {
            let message = panic_message(|| h.slot.set(Tagged::Data(bad)));
            assert!(message.contains("TAGGED_DATA_MAX"), "Data({bad:#x}): {message}");
            check_slot(&h.slot, &mu, before, &format!("after refusing Data({bad:#x}) over {before:?}"));
        }
    }
    // The pointer the refused stores left in place keeps its object alive.
    let h = h.root(&mu);
    common::collect2(&mut mu);
    assert_eq!(ledger.drops(kept_id), 0, "the object a refused store left in its slot was freed");
    check_slot(&h.get(&mu).slot, &mu, Want::Ptr(kept_id), "the slot after the refusals and two cycles");

    // Collections: the refused value never joins, nothing moves.
    let lists = mu.alloc(Lists { vec: GcValueVec::new(), map: GcValueMap::new() });
    let anchor = obj(&mu, &ledger);
    let anchor_id = anchor.id;
    lists.vec.extend([Tagged::Ptr(anchor), Tagged::Number(1.5), Tagged::Data(3)]);
    lists.map.insert(7, Tagged::Ptr(anchor));
    let snapshot = |lists: &Lists, mu: &Mutator| {
        let mut entries: Vec<(u64, Want)> = lists.map.entries(mu).into_iter().map(|(k, v)| (k, seen(v))).collect();
        entries.sort_unstable_by_key(|e| e.0);
        (lists.vec.to_vec(mu).into_iter().map(seen).collect::<Vec<_>>(), entries)
    };
    let before = snapshot(&lists, &mu);
    // An element made for `extend` before the refused one holds a pointer to an object nothing
    // else reaches: it must be dropped with the discarded elements, exactly once.
    let orphan_id = {
        let orphan = obj(&mu, &ledger);
        let id = orphan.id;
        for attempt in 0..6 {
            let bad = Tagged::Data(TAGGED_DATA_MAX + 1 + attempt);
            let message = panic_message(|| match attempt {
                0 => lists.vec.push(bad),
                1 => lists.vec.set(0, bad),
                2 => lists.vec.insert(1, bad),
                3 => lists.vec.extend([Tagged::Ptr(orphan), Tagged::Number(2.0), bad, Tagged::Data(1)]),
                4 => {
                    lists.map.insert(7, bad);
                }
                _ => {
                    lists.map.insert(8, bad);
                }
            });
            assert!(message.contains("TAGGED_DATA_MAX"), "attempt {attempt}: {message}");
            assert_eq!(snapshot(&lists, &mu), before, "attempt {attempt} changed the collections");
        }
        id
    };
    let lists = lists.root(&mu);
    common::collect2(&mut mu);
    assert_eq!(snapshot(&lists.get(&mu), &mu), before);
    assert_eq!(ledger.drops(anchor_id), 0);
    assert_eq!(ledger.drops(orphan_id), 1, "the object only a discarded element held");
    assert_eq!(ledger.drops(kept_id), 0);
}

// ---------------------------------------------------------------------------------------------
// Unarmed slots.
// ---------------------------------------------------------------------------------------------

type Hidden = TaggedMember<Obj>;

/// A skipped field whose type hides `TaggedMember` from the derive's check behind an alias,
/// and one inside an `Arc` (traced as holding nothing): allocation arms neither.
#[derive(Trace)]
struct Unreached {
    #[trace(skip)]
    hidden: Hidden,
    shared: Arc<TaggedMember<Obj>>,
}

/// Every kind of store into `slot` panics, and the slot still reads as empty everywhere.
fn assert_refuses_everything(slot: &TaggedMember<Obj>, target: Option<Gc<'_, Obj>>, what: &str) {
    let mut values = vec![Tagged::Number(1.0), Tagged::Number(f64::NAN), Tagged::Data(0), Tagged::Empty];
    values.extend(target.map(Tagged::Ptr));
    for v in values {
        let message = panic_message(|| slot.set(v));
        assert!(message.contains("not inside an allocated object"), "{what}: {v:?}: {message}");
        assert!(slot.is_empty() && !slot.is_gc() && slot.number().is_none() && slot.data().is_none(), "{what}");
        assert_eq!(format!("{slot:?}"), "TaggedMember(Empty)", "{what}");
    }
    // An oversized datum is refused too (by either check), and changes nothing either.
    assert!(catch_unwind(AssertUnwindSafe(|| slot.set(Tagged::Data(u64::MAX)))).is_err(), "{what}");
    assert!(slot.is_empty(), "{what}");
}

#[test]
fn unarmed_slots_refuse_every_store_wherever_they_are() {
    let _s = common::serial_with_checkmark();
    let ledger = Ledger::new(64);
    let mut mu = gc_runtime::attach();
    let target = obj(&mu, &ledger);
    let loose = TaggedMember::<Obj>::new();
    assert_refuses_everything(&loose, Some(target), "a loose slot");
    assert!(matches!(loose.get(&mu), Tagged::Empty));
    let default: TaggedMember<Obj> = Default::default();
    assert_refuses_everything(&default, Some(target), "Default");
    let empty = <TaggedMember<Obj> as HeapValue>::empty();
    assert_refuses_everything(&empty, Some(target), "HeapValue::empty");
    let boxed = Box::new(TaggedMember::<Obj>::new());
    assert_refuses_everything(&boxed, Some(target), "a box");
    let option = Some(TaggedMember::<Obj>::new());
    assert_refuses_everything(option.as_ref().unwrap(), Some(target), "an option");
    let array: [TaggedMember<Obj>; 3] = Default::default();
    for s in &array {
        assert_refuses_everything(s, Some(target), "an array");
    }
    let vec: Vec<TaggedMember<Obj>> = (0..5).map(|_| TaggedMember::new()).collect();
    for s in &vec {
        assert_refuses_everything(s, Some(target), "a vec");
    }
    // The same `Vec`, allocated: its slots are armed now, and work.
    let armed = mu.alloc_slice(vec);
    armed[0].set(Tagged::Ptr(target));
    armed[1].set(Tagged::Number(-0.0));
    armed[2].set(Tagged::Data(TAGGED_DATA_MAX));
    check_slot(&armed[0], &mu, Want::Ptr(target.id), "armed[0]");
    check_slot(&armed[1], &mu, Want::Num((-0.0_f64).to_bits()), "armed[1]");
    check_slot(&armed[2], &mu, Want::Data(TAGGED_DATA_MAX), "armed[2]");
    check_slot(&armed[3], &mu, Want::Empty, "armed[3]");

    // Inside an allocated object, but never reached by allocation's tracing.
    let unreached = mu.alloc(Unreached { hidden: TaggedMember::new(), shared: Arc::new(TaggedMember::new()) });
    assert_refuses_everything(&unreached.hidden, Some(target), "a skipped field behind an alias");
    assert_refuses_everything(&unreached.shared, Some(target), "a slot in an Arc");
    let outside: Arc<TaggedMember<Obj>> = unreached.shared.clone();

    // A thread without a mutator: the locked path refuses too, and releases the root table's
    // lock (the collections below would hang otherwise).
    let _dog = watchdog("unarmed stores on a thread without a mutator", 60);
    thread::scope(|s| {
        s.spawn(|| {
            for v in [Tagged::Number(2.0), Tagged::Data(4), Tagged::Empty] {
                let message = panic_message(|| outside.set(v));
                assert!(message.contains("not inside an allocated object"), "{message}");
                let message = panic_message(|| loose.set(v));
                assert!(message.contains("not inside an allocated object"), "{message}");
            }
            assert!(outside.is_empty() && loose.is_empty());
        });
    });
    let keep = (armed.root(&mu), unreached.root(&mu));
    common::collect2(&mut mu);
    assert_eq!(ledger.drops(0), 0, "the target is held by the armed slice");
    check_slot(&keep.0.get(&mu)[0], &mu, Want::Ptr(0), "armed[0] after two cycles");
    drop(keep);
    common::collect2(&mut mu);
    assert_eq!(ledger.drops(0), 1);
}

// ---------------------------------------------------------------------------------------------
// Slots nested in containers, enums and `#[gc]` structs.
// ---------------------------------------------------------------------------------------------

#[derive(Trace)]
enum Shape {
    Leaf(TaggedMember<Obj>),
    Pair(TaggedMember<Obj>, Box<TaggedMember<Obj>>),
    Plain(#[allow(dead_code)] u64),
}

#[derive(Trace)]
struct Nest {
    boxed: Box<TaggedMember<Obj>>,
    some: Option<TaggedMember<Obj>>,
    none: Option<TaggedMember<Obj>>,
    array: [TaggedMember<Obj>; 3],
    vec: Vec<TaggedMember<Obj>>,
    deque: VecDeque<Option<Box<TaggedMember<Obj>>>>,
    map: HashMap<u8, TaggedMember<Obj>>,
    tuple: (u8, TaggedMember<Obj>, [Box<TaggedMember<Obj>>; 1]),
    ok: Result<TaggedMember<Obj>, u8>,
    leaf: Shape,
    pair: Shape,
    plain: Shape,
    /// A slot in an object of its own, which is a bare `TaggedMember`.
    bare: TaggedMember<TaggedMember<Obj>>,
}

#[gc]
struct GcHolder {
    first: Gc<Obj>,
    maybe: Option<Gc<Obj>>,
    tagged: TaggedMember<Obj>,
}

fn nest() -> Nest {
    Nest {
        boxed: Box::default(),
        some: Some(TaggedMember::new()),
        none: None,
        array: Default::default(),
        vec: (0..4).map(|_| TaggedMember::new()).collect(),
        deque: [Some(Box::default()), None, Some(Box::default())].into_iter().collect(),
        map: (0..3).map(|k| (k, TaggedMember::new())).collect(),
        tuple: (1, TaggedMember::new(), [Box::default()]),
        ok: Ok(TaggedMember::new()),
        leaf: Shape::Leaf(TaggedMember::new()),
        pair: Shape::Pair(TaggedMember::new(), Box::default()),
        plain: Shape::Plain(5),
        bare: TaggedMember::new(),
    }
}

/// Every tagged slot of a nest that allocation armed, in a fixed order.
fn nest_slots(n: &Nest) -> Vec<&TaggedMember<Obj>> {
    let mut out: Vec<&TaggedMember<Obj>> = vec![&n.boxed, n.some.as_ref().unwrap()];
    out.extend(&n.array);
    out.extend(&n.vec);
    out.extend(n.deque.iter().flatten().map(|b| &**b));
    let mut keys: Vec<&u8> = n.map.keys().collect();
    keys.sort_unstable();
    out.extend(keys.into_iter().map(|k| &n.map[k]));
    out.push(&n.tuple.1);
    out.push(&n.tuple.2[0]);
    out.push(n.ok.as_ref().unwrap());
    match (&n.leaf, &n.pair) {
        (Shape::Leaf(a), Shape::Pair(b, c)) => out.extend([a, b, &**c]),
        _ => unreachable!(),
    }
    out
}

/// In every configuration: each armed slot nested anywhere in an object keeps exactly the
/// object its pointer names; immediates overwriting them let the objects go; an unarmed one
/// (`None`, then never armed) refuses stores.
#[test]
fn nested_slots_keep_exactly_their_pointers_in_every_configuration() {
    for config in common::every_config() {
        let _s = common::serial_only();
        let label = format!("{config:?}");
        gc_runtime::reconfigure(config).unwrap();
        let ledger = Ledger::new(256);
        let mut mu = gc_runtime::attach();
        let n = mu.alloc(nest());
        let slots = nest_slots(&n);
        assert_eq!(slots.len(), 20, "{label}");
        let mut ids = Vec::new();
        for s in &slots {
            let o = obj(&mu, &ledger);
            ids.push(o.id);
            s.set(Tagged::Ptr(o));
        }
        assert!(n.none.is_none(), "{label}");
        let inner = mu.alloc(TaggedMember::<Obj>::new());
        let inner_target = obj(&mu, &ledger);
        let inner_target_id = inner_target.id;
        inner.set(Tagged::Ptr(inner_target));
        n.bare.set(Tagged::Ptr(inner));
        let g = GcHolder::new(&mu, obj(&mu, &ledger), Some(obj(&mu, &ledger)), TaggedMember::new());
        let gc_target = obj(&mu, &ledger);
        g.tagged.set(Tagged::Ptr(gc_target));
        let (g_first, g_maybe, g_tagged) = (g.first(&mu).id, g.maybe(&mu).unwrap().id, gc_target.id);
        let (n, g) = (n.root(&mu), g.root(&mu));
        common::collect2(&mut mu);
        assert_eq!(ledger.total_drops(), 0, "{label}: an object held by a nested slot was freed");
        let nn = n.get(&mu);
        for (i, (s, &id)) in nest_slots(&nn).into_iter().zip(&ids).enumerate() {
            check_slot(s, &mu, Want::Ptr(id), &format!("{label}: slot {i}"));
        }
        let bare = nn.bare.get(&mu).as_gc().expect("the bare slot object");
        check_slot(&bare, &mu, Want::Ptr(inner_target_id), &label);
        check_slot(&g.get(&mu).tagged, &mu, Want::Ptr(g_tagged), &label);
        assert_eq!((g.get(&mu).first(&mu).check(), g.get(&mu).maybe(&mu).unwrap().check()), (g_first, g_maybe));
        // Immediates over the even slots (and over the `#[gc]` struct's tagged field).
        for (i, s) in nest_slots(&nn).into_iter().enumerate() {
            if i % 2 == 0 {
                s.set(if i % 4 == 0 { Tagged::Number(i as f64) } else { Tagged::Data(i as u64) });
            }
        }
        g.get(&mu).tagged.set(Tagged::Number(f64::from_bits(g_tagged)));
        bare.set(Tagged::Data(inner_target_id));
        common::collect2(&mut mu);
        for (i, &id) in ids.iter().enumerate() {
            assert_eq!(ledger.drops(id), u8::from(i % 2 == 0), "{label}: object of slot {i}");
        }
        assert_eq!(ledger.drops(g_tagged), 1, "{label}");
        assert_eq!(ledger.drops(inner_target_id), 1, "{label}");
        assert_eq!((ledger.drops(g_first), ledger.drops(g_maybe)), (0, 0), "{label}");
        let nn = n.get(&mu);
        for (i, s) in nest_slots(&nn).into_iter().enumerate() {
            let expected = match i % 4 {
                0 => Want::Num((i as f64).to_bits()),
                2 => Want::Data(i as u64),
                _ => Want::Ptr(ids[i]),
            };
            check_slot(s, &mu, expected, &format!("{label}: slot {i} after the immediates"));
        }
        drop((n, g));
        common::collect2(&mut mu);
        let alive: HashSet<u64> = HashSet::new();
        ledger.check_exactly(&alive);
    }
}

// ---------------------------------------------------------------------------------------------
// Immediates made from objects' addresses; weak references.
// ---------------------------------------------------------------------------------------------

/// In every configuration: numbers and data made from objects' addresses (their bits, their
/// value, their address with an offset taken off so that the encoding would give the address
/// back if it were not canonicalised) keep no object alive, while a pointer to one of them
/// does; the immediates read back exactly.
#[test]
fn immediates_made_from_addresses_never_keep_objects_alive() {
    const N: usize = 32;
    for config in common::every_config() {
        let _s = common::serial_only();
        let label = format!("{config:?}");
        gc_runtime::reconfigure(config).unwrap();
        let ledger = Ledger::new(64);
        let mut mu = gc_runtime::attach();
        let table = mu.alloc_slice_from_fn(N * 6, |_| TaggedMember::<Obj>::new());
        let mut expected = Vec::new();
        let mut kept = HashSet::new();
        for i in 0..N {
            let o = obj(&mu, &ledger);
            let addr = o.addr() as u64;
            assert!(addr < DATA_OFFSET, "{label}: an object at {addr:#x}, above 2^48");
            let values = [
                Tagged::Data(addr),
                Tagged::Data(addr + 8),
                Tagged::Number(f64::from_bits(addr)),
                Tagged::Number(addr as f64),
                Tagged::Number(f64::from_bits(addr.wrapping_sub(NUMBER_OFFSET))), // a NaN
                if i % 4 == 0 { Tagged::Ptr(o) } else { Tagged::Number(-(addr as f64)) },
            ];
            if i % 4 == 0 {
                kept.insert(o.id);
            }
            for (k, v) in values.into_iter().enumerate() {
                table[i * 6 + k].set(v);
                expected.push(want(v));
            }
            // Refused: data that would encode to the object's address.
            assert!(catch_unwind(AssertUnwindSafe(|| table[i * 6].set(Tagged::Data(addr.wrapping_sub(DATA_OFFSET)))))
                .is_err());
        }
        let table = table.root(&mu);
        common::collect2(&mut mu);
        ledger.check_exactly(&kept);
        let t = table.get(&mu);
        for (i, &w) in expected.iter().enumerate() {
            check_slot(&t[i], &mu, w, &format!("{label}: table[{i}]"));
        }
        drop(table);
        common::collect2(&mut mu);
        ledger.check_exactly(&HashSet::new());
    }
}

/// In every configuration: a `Weak` to an object whose only strong reference is a tagged slot
/// upgrades while the slot points to it, and is cleared once a number overwrites it.
#[test]
fn a_weak_reference_is_cleared_once_a_number_overwrites_the_last_pointer() {
    for config in common::every_config() {
        let _s = common::serial_only();
        let label = format!("{config:?}");
        gc_runtime::reconfigure(config).unwrap();
        let ledger = Ledger::new(8);
        let mut mu = gc_runtime::attach();
        let h = holder(&mu);
        let o = obj(&mu, &ledger);
        let weak = Weak::new(&mu, o);
        let addr = o.addr() as u64;
        h.slot.set(Tagged::Ptr(o));
        let h = h.root(&mu);
        common::collect2(&mut mu);
        assert_eq!(weak.upgrade(&mu).map(|o| o.check()), Some(0), "{label}: the slot holds it");
        h.get(&mu).slot.set(Tagged::Number(f64::from_bits(addr)));
        common::collect2(&mut mu);
        assert!(weak.upgrade(&mu).is_none() && weak.is_cleared(), "{label}: the weak outlived its object");
        assert_eq!(ledger.drops(0), 1, "{label}");
        check_slot(&h.get(&mu).slot, &mu, Want::Num(addr), &label);
        // The upgraded local stored back before the number: kept.
        let o = obj(&mu, &ledger);
        let weak = Weak::new(&mu, o);
        h.get(&mu).slot.set(Tagged::Ptr(o));
        let o = weak.upgrade(&mu).expect("alive");
        h.get(&mu).slot.set(Tagged::Data(1));
        h.get(&mu).slot.set(Tagged::Ptr(o));
        common::collect2(&mut mu);
        assert_eq!(weak.upgrade(&mu).map(|o| o.check()), Some(1), "{label}");
    }
}

// ---------------------------------------------------------------------------------------------
// Debug; unsized and trait-object referents.
// ---------------------------------------------------------------------------------------------

#[test]
fn debug_prints_immediates_exactly_and_pointers_as_addresses() {
    let _s = common::serial_with_checkmark();
    let ledger = Ledger::new(8);
    let mu = gc_runtime::attach();
    let h = holder(&mu);
    let o = obj(&mu, &ledger);
    let cases: [(Tagged<'_, Obj>, String, String); 9] = [
        (Tagged::Empty, "Empty".into(), "TaggedMember(Empty)".into()),
        (Tagged::Number(-0.0), "Number(-0.0)".into(), "TaggedMember(Number(-0.0))".into()),
        (Tagged::Number(f64::NEG_INFINITY), "Number(-inf)".into(), "TaggedMember(Number(-inf))".into()),
        (Tagged::Number(f64::from_bits(1)), "Number(5e-324)".into(), "TaggedMember(Number(5e-324))".into()),
        (Tagged::Number(f64::from_bits(u64::MAX)), "Number(NaN)".into(), "TaggedMember(Number(NaN))".into()),
        (Tagged::Data(0), "Data(0)".into(), "TaggedMember(Data(0))".into()),
        (
            Tagged::Data(TAGGED_DATA_MAX),
            format!("Data({TAGGED_DATA_MAX})"),
            format!("TaggedMember(Data({TAGGED_DATA_MAX}))"),
        ),
        (Tagged::Ptr(o), format!("Ptr({:#x})", o.addr()), format!("TaggedMember({:#x})", o.addr())),
        (Tagged::Empty, "Empty".into(), "TaggedMember(Empty)".into()),
    ];
    for (value, local, slot) in cases {
        h.slot.set(value);
        // What was read back, not what was stored: the NaN's sign and payload are gone.
        assert_eq!(format!("{:?}", h.slot.get(&mu)), local);
        assert_eq!(format!("{:?}", h.slot), slot);
        assert_eq!(format!("{:#?}", h.slot), slot, "alternate form");
    }
    // The local form's accessors.
    assert_eq!(Tagged::<Obj>::Number(2.5).as_number(), Some(2.5));
    assert!(Tagged::<Obj>::Number(2.5).as_data().is_none() && Tagged::<Obj>::Data(2).as_gc().is_none());
    assert_eq!(Tagged::Ptr(o).as_gc().map(|g| g.addr()), Some(o.addr()));
    let v = mu.alloc(GcValueVec::<TaggedMember<Obj>>::new());
    v.extend([Tagged::Number(1.0), Tagged::Ptr(o)]);
    assert_eq!(format!("{v:?}"), "GcValueVec { len: 2, .. }");
    let loose = GcValueVec::<TaggedMember<Obj>>::new();
    assert!(format!("{loose:?}").contains("armed: false"));
}

trait Valued {
    fn slot(&self) -> &TaggedMember<Obj>;
    fn name(&self) -> String;
}
dyn_object!(dyn Valued);

#[derive(Trace)]
struct Cell {
    slot: TaggedMember<Obj>,
    #[trace(skip)]
    probe: DropProbe,
}

impl Valued for Cell {
    fn slot(&self) -> &TaggedMember<Obj> {
        &self.slot
    }
    fn name(&self) -> String {
        format!("cell {}", self.probe.id)
    }
}

#[derive(Trace)]
struct Unsized {
    words: TaggedMember<[u64]>,
    text: TaggedMember<str>,
    table: TaggedMember<[TaggedMember<Obj>]>,
    object: TaggedMember<dyn Valued>,
    strings: GcValueVec<TaggedMember<str>>,
    tables: GcValueMap<u8, TaggedMember<[TaggedMember<Obj>]>>,
}

/// Slices, strings and trait objects behind tagged slots (and tagged slots inside slices and
/// trait objects): what they point to reads back after cycles, and is freed once numbers
/// overwrite the pointers.
#[test]
fn unsized_and_trait_object_referents() {
    let _s = common::serial_with_checkmark();
    let ledger = Ledger::new(256);
    let mut mu = gc_runtime::attach();
    let u = mu.alloc(Unsized {
        words: TaggedMember::new(),
        text: TaggedMember::new(),
        table: TaggedMember::new(),
        object: TaggedMember::new(),
        strings: GcValueVec::new(),
        tables: GcValueMap::new(),
    });
    u.words.set(Tagged::Ptr(mu.alloc_slice(vec![1_u64, 2, 3])));
    u.text.set(Tagged::Ptr(mu.alloc_str("häppy")));
    let table = mu.alloc_slice_from_fn(40, |_| TaggedMember::<Obj>::new());
    for (i, s) in table.iter().enumerate() {
        match i % 3 {
            0 => s.set(Tagged::Ptr(obj(&mu, &ledger))),
            1 => s.set(Tagged::Number(i as f64)),
            _ => s.set(Tagged::Data(i as u64)),
        }
    }
    let table_ids: Vec<u64> = table.iter().filter_map(|s| s.get(&mu).as_gc().map(|o| o.id)).collect();
    u.table.set(Tagged::Ptr(table));
    let (object, cell) =
        mu.alloc_dyn_split(Cell { slot: TaggedMember::new(), probe: ledger.probe() }, unsize!(Cell => dyn Valued));
    let overwritten = obj(&mu, &ledger);
    let overwritten_id = overwritten.id;
    cell.slot.set(Tagged::Ptr(overwritten));
    object.slot().set(Tagged::Number(0.5)); // through the trait: the same slot
    let cell_target = obj(&mu, &ledger);
    object.slot().set(Tagged::Ptr(cell_target));
    let (cell_id, cell_target_id) = (cell.probe.id, cell_target.id);
    u.object.set(Tagged::Ptr(object));
    for s in ["", "a", "ünïcödé"] {
        u.strings.push(Tagged::Ptr(mu.alloc_str(s)));
    }
    u.strings.push(Tagged::Data(7));
    let from_iter = mu.alloc_from_iter((0..5).map(|_| TaggedMember::<Obj>::new()));
    let iter_target = obj(&mu, &ledger);
    from_iter[4].set(Tagged::Ptr(iter_target));
    let iter_target_id = iter_target.id;
    u.tables.insert(1, Tagged::Ptr(from_iter));
    u.tables.insert(2, Tagged::Number(2.0));
    let u = u.root(&mu);
    common::collect2(&mut mu);

    let uu = u.get(&mu);
    assert_eq!(&*uu.words.get(&mu).as_gc().unwrap(), &[1, 2, 3]);
    assert_eq!(&*uu.text.get(&mu).as_gc().unwrap(), "häppy");
    let table = uu.table.get(&mu).as_gc().unwrap();
    assert_eq!(table.len(), 40);
    for (i, s) in table.iter().enumerate() {
        match (i % 3, s.get(&mu)) {
            (0, Tagged::Ptr(o)) => assert!(table_ids.contains(&o.check())),
            (1, Tagged::Number(n)) => assert_eq!(n, i as f64),
            (2, Tagged::Data(d)) => assert_eq!(d, i as u64),
            (k, other) => panic!("table[{i}] ({k}): {other:?}"),
        }
    }
    let object = uu.object.get(&mu).as_gc().unwrap();
    assert_eq!(object.name(), format!("cell {cell_id}"));
    assert_eq!(seen(object.slot().get(&mu)), Want::Ptr(cell_target_id));
    let strings: Vec<String> =
        uu.strings.to_vec(&mu).into_iter().filter_map(|t| t.as_gc().map(|s| s.to_string())).collect();
    assert_eq!(strings, ["", "a", "ünïcödé"]);
    assert_eq!(uu.strings.get(3, &mu).and_then(Tagged::as_data), Some(7));
    let iter_table = uu.tables.get(&1, &mu).and_then(Tagged::as_gc).unwrap();
    assert_eq!(seen(iter_table[4].get(&mu)), Want::Ptr(iter_target_id));
    assert_eq!(uu.tables.get(&2, &mu).and_then(Tagged::as_number), Some(2.0));
    let mut alive: HashSet<u64> = table_ids.iter().copied().collect();
    alive.extend([cell_id, cell_target_id, iter_target_id]);
    assert!(!alive.contains(&overwritten_id));
    ledger.check_exactly(&alive);

    // Numbers over every pointer: everything below goes.
    uu.table.set(Tagged::Number(1.0));
    uu.object.set(Tagged::Data(2));
    uu.tables.insert(1, Tagged::Number(3.0));
    common::collect2(&mut mu);
    ledger.check_exactly(&HashSet::new());
    let uu = u.get(&mu);
    assert_eq!(uu.words.get(&mu).as_gc().map(|w| w.len()), Some(3));
    assert_eq!(uu.table.get(&mu).as_number(), Some(1.0));
    assert_eq!(uu.tables.get(&1, &mu).and_then(Tagged::as_number), Some(3.0));
}

/// A large object (bigger than a page) holding a tagged slot.
#[derive(Trace)]
struct Big {
    pad: Vec<u64>,
    inline: [u64; 8192],
    slot: TaggedMember<Obj>,
    #[trace(skip)]
    probe: DropProbe,
}

/// An over-aligned object (the large-object path too).
#[derive(Trace)]
#[repr(align(4096))]
struct Wide {
    slot: TaggedMember<Big>,
    #[trace(skip)]
    probe: DropProbe,
}

#[derive(Trace)]
struct Dot;

#[derive(Trace)]
struct Odd {
    big: TaggedMember<Big>,
    wide: TaggedMember<Wide>,
    dot: TaggedMember<Dot>,
    unit: TaggedMember<()>,
}

/// Tagged slots pointing to, and held in, large, over-aligned and zero-sized objects: kept
/// while pointed to, freed once numbers overwrite the pointers (checkmark on).
#[test]
fn large_over_aligned_and_zero_sized_referents() {
    let _s = common::serial_with_checkmark();
    let ledger = Ledger::new(16);
    let mut mu = gc_runtime::attach();
    let odd = mu.alloc(Odd {
        big: TaggedMember::new(),
        wide: TaggedMember::new(),
        dot: TaggedMember::new(),
        unit: TaggedMember::new(),
    });
    let big = mu.alloc(Big { pad: vec![7; 1000], inline: [3; 8192], slot: TaggedMember::new(), probe: ledger.probe() });
    let inner = obj(&mu, &ledger);
    big.slot.set(Tagged::Ptr(inner));
    let wide = mu.alloc(Wide { slot: TaggedMember::new(), probe: ledger.probe() });
    assert_eq!(wide.addr() % 4096, 0, "over-aligned");
    let wide_big =
        mu.alloc(Big { pad: Vec::new(), inline: [5; 8192], slot: TaggedMember::new(), probe: ledger.probe() });
    wide.slot.set(Tagged::Ptr(wide_big));
    odd.big.set(Tagged::Ptr(big));
    odd.wide.set(Tagged::Ptr(wide));
    let (dot, unit) = (mu.alloc(Dot), mu.alloc(()));
    odd.dot.set(Tagged::Ptr(dot));
    odd.unit.set(Tagged::Ptr(unit));
    let (dot_addr, unit_addr) = (dot.addr(), unit.addr());
    let (inner_id, big_id, wide_id, wide_big_id) = (inner.id, big.probe.id, wide.probe.id, wide_big.probe.id);
    let odd = odd.root(&mu);
    common::collect2(&mut mu);
    assert_eq!(ledger.total_drops(), 0);
    let o = odd.get(&mu);
    let big = o.big.get(&mu).as_gc().expect("the big object");
    assert_eq!((big.probe.id, big.pad.len(), big.inline[8191]), (big_id, 1000, 3));
    assert_eq!(seen(big.slot.get(&mu)), Want::Ptr(inner_id));
    let wide = o.wide.get(&mu).as_gc().expect("the wide object");
    assert_eq!((wide.probe.id, wide.addr() % 4096), (wide_id, 0));
    let wide_big = wide.slot.get(&mu).as_gc().expect("the wide object's big one");
    assert_eq!((wide_big.probe.id, wide_big.inline[0]), (wide_big_id, 5));
    assert_eq!(o.dot.get(&mu).as_gc().map(|g| g.addr()), Some(dot_addr));
    assert_eq!(o.unit.get(&mu).as_gc().map(|g| g.addr()), Some(unit_addr));
    // Numbers over the pointers: everything below goes.
    big.slot.set(Tagged::Number(f64::from_bits(inner_id)));
    o.wide.set(Tagged::Data(wide_id));
    common::collect2(&mut mu);
    let alive: HashSet<u64> = [big_id].into();
    ledger.check_exactly(&alive);
    let o = odd.get(&mu);
    assert_eq!(o.big.get(&mu).as_gc().map(|b| b.slot.number().map(f64::to_bits)), Some(Some(inner_id)));
    o.big.set(Tagged::Number(1.0));
    common::collect2(&mut mu);
    ledger.check_exactly(&HashSet::new());
}

// ---------------------------------------------------------------------------------------------
// Threads without a mutator.
// ---------------------------------------------------------------------------------------------

const SHARED_SLOTS: usize = 8;

/// A map key whose `Eq` stores into a tagged slot of the shared object: user code the map runs
/// under its lock, which takes the barrier (and on a thread without a mutator, the root
/// table's lock) while the map's lock is held.
#[derive(Clone)]
struct Key(u32);

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        if let Some(shared) = SHARED.get() {
            shared.scratch.set(Tagged::Data(u64::from(self.0)));
        }
        self.0 == other.0
    }
}

impl Eq for Key {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

#[derive(Trace)]
struct Shared {
    slots: [TaggedMember<Obj>; SHARED_SLOTS],
    scratch: TaggedMember<Obj>,
    vec: GcValueVec<TaggedMember<Obj>>,
    map: GcValueMap<Key, TaggedMember<Obj>>,
}

/// An object borrowed for `'static` from a mutator leaked on a thread that ended (pinned for
/// the rest of the process): what a thread without a mutator can reach.
static SHARED: OnceLock<&'static Shared> = OnceLock::new();

/// The shared object, made (and pinned, by the cycle run here) on first use. Call with the
/// serial lock held and no mutator on this thread.
fn shared() -> &'static Shared {
    SHARED.get_or_init(|| {
        let shared = leak_static(|mu| {
            mu.alloc(Shared {
                slots: std::array::from_fn(|_| TaggedMember::new()),
                scratch: TaggedMember::new(),
                vec: GcValueVec::new(),
                map: GcValueMap::new(),
            })
            .into_ref()
        });
        let mut mu = gc_runtime::attach();
        common::collect2(&mut mu); // the pause that pins what the leaked mutator left
        assert!(gc_runtime::stats().pinned_objects >= 1);
        shared
    })
}

fn clear_shared(s: &Shared) {
    for slot in s.slots.iter().chain([&s.scratch]) {
        slot.set(Tagged::Empty);
    }
    s.vec.clear();
    s.map.clear();
}

/// A thread without a mutator (and one inside `Mutator::blocking`) overwrites the only pointer
/// to an object with a number or data, in a slot, a vector and a map: the object dies, the
/// immediates read back; an oversized datum is refused there too and leaves the lock free.
#[test]
fn threads_without_a_mutator_store_immediates_over_pointers() {
    let _s = common::serial_with_checkmark();
    let _dog = watchdog("stores without a mutator", 60);
    let s = shared();
    clear_shared(s);
    let ledger = Ledger::new(64);
    let mut mu = gc_runtime::attach();
    let targets: Vec<u64> = (0..4)
        .map(|i| {
            let o = obj(&mu, &ledger);
            s.slots[i].set(Tagged::Ptr(o));
            o.id
        })
        .collect();
    s.vec.clear();
    s.vec.extend((0..3).map(|_| Tagged::Ptr(obj(&mu, &ledger))));
    s.map.insert(Key(1), Tagged::Ptr(obj(&mu, &ledger)));
    s.map.insert(Key(2), Tagged::Ptr(obj(&mu, &ledger)));
    common::collect2(&mut mu);
    assert_eq!(ledger.total_drops(), 0, "pinned slots keep their objects");
    mu.blocking(|| {
        thread::scope(|sc| {
            sc.spawn(|| {
                s.slots[0].set(Tagged::Number(-0.0));
                s.slots[1].set(Tagged::Data(TAGGED_DATA_MAX));
                s.slots[2].set(Tagged::Empty);
                let message = panic_message(|| s.slots[3].set(Tagged::Data(TAGGED_DATA_MAX + 1)));
                assert!(message.contains("TAGGED_DATA_MAX"), "{message}");
                assert!(s.slots[3].is_gc(), "the refused store left the pointer");
                s.vec.set(0, Tagged::Number(1.0));
                s.vec.push(Tagged::Data(5));
                s.vec.truncate(3);
                assert!(s.map.insert(Key(1), Tagged::Number(f64::NAN)));
                assert!(!s.map.insert(Key(3), Tagged::Data(3)));
                assert_eq!(format!("{:?}", s.slots[0]), "TaggedMember(Number(-0.0))");
                assert_eq!(s.slots[1].data(), Some(TAGGED_DATA_MAX));
            });
        });
        // This thread's mutator is not running here: the locked path as well.
        s.slots[3].set(Tagged::Number(3.0));
        s.vec.set(1, Tagged::Data(1));
    });
    common::collect2(&mut mu);
    let dropped: Vec<u8> = targets.iter().map(|&id| ledger.drops(id)).collect();
    assert_eq!(dropped, [1, 1, 1, 1], "objects overwritten by threads without a running mutator");
    assert_eq!(ledger.total_drops(), 4 + 2 + 1, "vec[0], vec[1] and map[1] let theirs go, vec[2] and map[2] not");
    check_slot(&s.slots[0], &mu, Want::Num((-0.0_f64).to_bits()), "slots[0]");
    check_slot(&s.slots[1], &mu, Want::Data(TAGGED_DATA_MAX), "slots[1]");
    check_slot(&s.slots[2], &mu, Want::Empty, "slots[2]");
    check_slot(&s.slots[3], &mu, Want::Num(3.0_f64.to_bits()), "slots[3]");
    assert_eq!(seen(s.vec.get(0, &mu).unwrap()), Want::Num(1.0_f64.to_bits()));
    assert_eq!(seen(s.vec.get(1, &mu).unwrap()), Want::Data(1));
    assert!(matches!(s.vec.get(2, &mu), Some(Tagged::Ptr(_))));
    assert_eq!(s.map.get(&Key(1), &mu).map(seen), Some(Want::Num(CANONICAL_NAN)));
    assert_eq!(s.map.get(&Key(3), &mu).map(seen), Some(Want::Data(3)));
    clear_shared(s);
    common::collect2(&mut mu);
    ledger.check_exactly(&HashSet::new());
}

// ---------------------------------------------------------------------------------------------
// Concurrent stress, checkmark on.
// ---------------------------------------------------------------------------------------------

const STRESS_MILLIS: u64 = 300;

/// Numbers the stress threads store: `x + 0.5` for `x < 2^40`, and a few special ones.
fn stress_number(x: u64) -> f64 {
    (x & ((1 << 40) - 1)) as f64 + 0.5
}

const SPECIAL_NUMBERS: [u64; 7] =
    [1 << 63, 0x7ff0_0000_0000_0000, 0xfff0_0000_0000_0000, 1, CANONICAL_NAN, CANONICAL_NEGATIVE_NAN, 0];

/// Data the stress threads store: 32 bits and a 16-bit check of them.
fn stress_data(x: u64) -> u64 {
    let x = x & 0xffff_ffff;
    (x << 16) | data_check(x)
}

fn data_check(x: u64) -> u64 {
    (x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 48) & 0xffff
}

fn valid_number(n: f64) -> bool {
    SPECIAL_NUMBERS.contains(&n.to_bits()) || (n >= 0.5 && n.fract() == 0.5 && n < (1_u64 << 41) as f64)
}

fn valid_data(d: u64) -> bool {
    d == TAGGED_DATA_MAX || (d <= TAGGED_DATA_MAX && d & 0xffff == data_check(d >> 16))
}

/// A value read from a slot some thread wrote: one of the shapes the threads store, a live
/// object.
fn validate(t: Tagged<'_, Obj>, what: &str) {
    match t {
        Tagged::Empty => {}
        Tagged::Number(n) => assert!(valid_number(n), "{what}: a number no thread stored: {n:e} ({:#x})", n.to_bits()),
        Tagged::Data(d) => assert!(valid_data(d), "{what}: data no thread stored: {d:#x}"),
        Tagged::Ptr(o) => {
            o.check();
        }
    }
}

/// A random immediate (or `Empty`) of the shapes `validate` accepts.
fn random_immediate<'m>(rng: &mut Rng) -> Tagged<'m, Obj> {
    match rng.below(8) {
        0..=2 => Tagged::Number(stress_number(rng.next())),
        3 => Tagged::Number(f64::from_bits(SPECIAL_NUMBERS[rng.below(SPECIAL_NUMBERS.len())])),
        4 => Tagged::Number(f64::from_bits(rng.next() | 0x7ff0_0000_0000_0001)), // some NaN
        5 | 6 => Tagged::Data(stress_data(rng.next())),
        _ => Tagged::Empty,
    }
}

/// A mutator thread of the shared-slot stress: stores, reads and moves values in the pinned
/// object's slots, vector and map, which other mutators and a thread without a mutator write
/// at the same time.
fn shared_mutator(s: &'static Shared, ledger: &Arc<Ledger>, seed: u64, stop: &AtomicBool) -> u64 {
    let mut mu = gc_runtime::attach();
    let mut rng = Rng(seed);
    let mut n = 0_u64;
    while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(1000) {
        let i = rng.below(SHARED_SLOTS);
        let slot = &s.slots[i];
        match rng.below(16) {
            0 | 1 => slot.set(random_immediate(&mut rng)),
            2 | 3 => slot.set(Tagged::Ptr(obj(&mu, ledger))),
            4 | 5 => validate(slot.get(&mu), "slot"),
            6 | 7 => {
                // Hide an object from the marker: take it out, overwrite its slot with a number,
                // check it, and store it in another slot.
                if let Tagged::Ptr(o) = slot.get(&mu) {
                    slot.set(Tagged::Number(stress_number(o.id)));
                    o.check();
                    s.slots[rng.below(SHARED_SLOTS)].set(Tagged::Ptr(o));
                }
            }
            8 => {
                let v = if rng.below(2) == 0 { Tagged::Ptr(obj(&mu, ledger)) } else { random_immediate(&mut rng) };
                if s.vec.len() < 48 {
                    s.vec.push(v);
                } else {
                    let _ = s.vec.try_set(rng.below(48), v);
                }
            }
            9 => {
                if let Some(v) = s.vec.pop(&mu) {
                    validate(v, "popped");
                }
                if let Ok(v) = s.vec.try_remove(rng.below(8), &mu) {
                    validate(v, "removed");
                }
            }
            10 => {
                for v in s.vec.to_vec(&mu) {
                    validate(v, "vec");
                }
                // Move a pointer from the vector into a slot, leaving a number behind.
                let at = rng.below(48);
                if let Some(Tagged::Ptr(o)) = s.vec.get(at, &mu) {
                    let _ = s.vec.try_set(at, Tagged::Number(stress_number(at as u64)));
                    slot.set(Tagged::Ptr(o));
                }
            }
            11 => {
                let k = Key(rng.below(32) as u32);
                let v = if rng.below(2) == 0 { Tagged::Ptr(obj(&mu, ledger)) } else { random_immediate(&mut rng) };
                s.map.insert(k, v);
            }
            12 => {
                let k = Key(rng.below(32) as u32);
                if let Some(v) = s.map.get(&k, &mu) {
                    validate(v, "map get");
                }
                if rng.below(4) == 0 {
                    if let Some(v) = s.map.remove(&k, &mu) {
                        validate(v, "map remove");
                    }
                }
                if let Tagged::Ptr(o) = slot.get(&mu) {
                    s.map.insert(k, Tagged::Ptr(o));
                    slot.set(Tagged::Data(stress_data(o.id)));
                }
            }
            13 => {
                let v = random_immediate(&mut rng);
                mu.blocking(|| slot.set(v));
            }
            14 => match s.scratch.get(&mu) {
                // What the keys' `Eq` stores: a key.
                Tagged::Empty => {}
                Tagged::Data(d) => assert!(d < 32, "scratch holds data no key stored: {d}"),
                other => panic!("scratch holds {other:?}, which nothing stored"),
            },
            _ => mu.safepoint(),
        }
        n += 1;
        if n % 8 == 0 {
            mu.safepoint();
        }
    }
    n
}

/// The thread without a mutator: immediates only, into the same slots, vector and map.
fn shared_unattached(s: &'static Shared, seed: u64, stop: &AtomicBool) -> u64 {
    let mut rng = Rng(seed);
    let mut n = 0_u64;
    while !stop.load(Ordering::Relaxed) {
        let slot = &s.slots[rng.below(SHARED_SLOTS)];
        match rng.below(10) {
            0..=3 => slot.set(random_immediate(&mut rng)),
            4 => {
                if let Some(x) = slot.number() {
                    assert!(valid_number(x), "a number no thread stored: {x:e}");
                }
                if let Some(d) = slot.data() {
                    assert!(valid_data(d), "data no thread stored: {d:#x}");
                }
                assert!(format!("{slot:?}").starts_with("TaggedMember("));
            }
            5 => {
                if s.vec.len() < 48 {
                    s.vec.push(random_immediate(&mut rng));
                } else {
                    let _ = s.vec.try_set(rng.below(48), random_immediate(&mut rng));
                }
            }
            6 => s.vec.truncate(rng.below(48)),
            7 => {
                s.map.insert(Key(rng.below(32) as u32), random_immediate(&mut rng));
            }
            8 => {
                let _ = s.map.contains_key(&Key(rng.below(32) as u32));
                if rng.below(16) == 0 {
                    s.map.clear();
                }
            }
            _ => thread::yield_now(),
        }
        n += 1;
    }
    n
}

/// Several threads — two mutators and one thread without a mutator — store numbers, data and
/// pointers into the same slots, vector and map of a pinned object (and a map key's `Eq` stores
/// into another slot), while cycles run back to back under every barrier with checkmark on.
/// Every value read must be one some thread stored, every object read intact; afterwards every
/// object must be freed exactly once.
#[test]
fn threads_race_numbers_data_and_pointers_through_the_same_slots() {
    let _s = common::serial_only();
    let _dog = watchdog("the shared-slot stress", 120);
    let s = shared();
    clear_shared(s);
    for config in common::stress_configs() {
        let label = format!("{config:?}");
        gc_runtime::reconfigure(config.with_checkmark(true).with_gc_percent(Some(50))).unwrap();
        let ledger = Ledger::new(2_000_000);
        let ticket = AtomicUsize::new(0);
        let (cycles, ops) = common::churn(3, STRESS_MILLIS, |seed, stop, ops| {
            let n = match ticket.fetch_add(1, Ordering::SeqCst) {
                0 => shared_unattached(s, seed, stop),
                _ => shared_mutator(s, &ledger, seed, stop),
            };
            ops.fetch_add(n, Ordering::Relaxed);
        });
        assert!(cycles >= 2, "{label}: only {cycles} cycles ran");
        assert!(ops > 0, "{label}");
        let mut mu = gc_runtime::attach();
        for slot in &s.slots {
            validate(slot.get(&mu), "a slot after the run");
        }
        for v in s.vec.to_vec(&mu) {
            validate(v, "a vector value after the run");
        }
        for (_, v) in s.map.entries(&mu) {
            validate(v, "a map value after the run");
        }
        clear_shared(s);
        common::collect2(&mut mu);
        ledger.check_exactly(&HashSet::new());
    }
}

/// The per-thread model of a vector's and a map's contents.
struct Model {
    vec: Vec<Want>,
    map: HashMap<u64, Want>,
}

const MODEL_MAX_LEN: usize = 2500;

/// A random value to store: an immediate from every corner of the encoding, a new object, or
/// an object already in the vector.
fn model_value<'m>(
    mu: &'m Mutator,
    ledger: &Arc<Ledger>,
    rng: &mut Rng,
    v: &GcValueVec<TaggedMember<Obj>>,
) -> Tagged<'m, Obj> {
    match rng.below(10) {
        0 => Tagged::Number(f64::from_bits(rng.next())), // NaNs included
        1 => Tagged::Number(f64::from_bits(SPECIAL_NUMBERS[rng.below(SPECIAL_NUMBERS.len())])),
        2 => Tagged::Data(rng.next() & TAGGED_DATA_MAX),
        3 => Tagged::Data([0, TAGGED_DATA_MAX, 1][rng.below(3)]),
        4 | 5 => Tagged::Ptr(obj(mu, ledger)),
        6 | 7 => match v.get(rng.below(v.len().max(1)), mu) {
            Some(t @ Tagged::Ptr(_)) => t,
            _ => Tagged::Number(rng.below(1000) as f64),
        },
        8 => Tagged::Empty,
        _ => Tagged::Number(-(rng.below(1 << 20) as f64)),
    }
}

/// A thread of the model stress: its own rooted vector and map of tagged values, changed at
/// random (pushes, pops, insertions and removals at the front while the marker's chunked scan
/// of a vector of thousands is part way through, truncations, extends, moves that hide an
/// object) and compared with the model at every read.
fn model_mutate(ledger: &Arc<Ledger>, seed: u64, stop: &AtomicBool, ops: &AtomicU64) {
    let mut mu = gc_runtime::attach();
    let mut rng = Rng(seed);
    let lists = mu.alloc(Lists { vec: GcValueVec::new(), map: GcValueMap::new() }).root(&mu);
    let mut model = Model { vec: Vec::new(), map: HashMap::new() };
    let mut n = 0_u64;
    let mut growing = true;
    while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(5000) {
        {
            let l = lists.get(&mu);
            let (v, m) = (&l.vec, &l.map);
            let len = model.vec.len();
            if len >= MODEL_MAX_LEN {
                growing = false;
            } else if len < 64 {
                growing = true;
            }
            match rng.below(14) {
                0..=2 if growing => {
                    let x = model_value(&mu, ledger, &mut rng, v);
                    model.vec.push(want(x));
                    v.push(x);
                }
                3 if growing => {
                    let xs: Vec<Tagged<'_, Obj>> =
                        (0..rng.below(40)).map(|_| model_value(&mu, ledger, &mut rng, v)).collect();
                    model.vec.extend(xs.iter().map(|&x| want(x)));
                    v.extend(xs);
                }
                0..=3 => {
                    let got = v.pop(&mu).map(seen);
                    assert_eq!(got, model.vec.pop(), "pop");
                }
                4 => {
                    let at = rng.below(len + 1).min(rng.below(8)); // mostly near the front
                    let x = model_value(&mu, ledger, &mut rng, v);
                    model.vec.insert(at, want(x));
                    v.insert(at, x);
                }
                5 if len > 0 => {
                    let at = rng.below(len).min(rng.below(8));
                    assert_eq!(seen(v.remove(at, &mu)), model.vec.remove(at), "remove({at})");
                }
                6 if len > 0 => {
                    let at = rng.below(len);
                    let x = model_value(&mu, ledger, &mut rng, v);
                    model.vec[at] = want(x);
                    v.set(at, x);
                }
                7 | 8 if len > 0 => {
                    let at = rng.below(len);
                    assert_eq!(v.get(at, &mu).map(seen), Some(model.vec[at]), "get({at})");
                }
                9 if len > 1 => {
                    // Hide: take the pointer out, overwrite it with a number, store it elsewhere.
                    let (a, b) = (rng.below(len), rng.below(len));
                    if let Some(Tagged::Ptr(o)) = v.get(a, &mu) {
                        v.set(a, Tagged::Number(a as f64));
                        model.vec[a] = Want::Num((a as f64).to_bits());
                        v.set(b, Tagged::Ptr(o));
                        model.vec[b] = Want::Ptr(o.check());
                    }
                }
                10 if rng.below(20) == 0 => {
                    let keep = rng.below(len + 1);
                    model.vec.truncate(keep);
                    v.truncate(keep);
                }
                11 => {
                    let k = rng.below(300) as u64;
                    let x = model_value(&mu, ledger, &mut rng, v);
                    assert_eq!(m.insert(k, x), model.map.insert(k, want(x)).is_some(), "map insert {k}");
                }
                12 => {
                    let k = rng.below(300) as u64;
                    if rng.below(3) == 0 {
                        assert_eq!(m.remove(&k, &mu).map(seen), model.map.remove(&k), "map remove {k}");
                    } else {
                        assert_eq!(m.get(&k, &mu).map(seen), model.map.get(&k).copied(), "map get {k}");
                    }
                }
                _ => {}
            }
            if n % 512 == 0 {
                assert_eq!(v.to_vec(&mu).into_iter().map(seen).collect::<Vec<_>>(), model.vec, "the whole vector");
                let entries: HashMap<u64, Want> = m.entries(&mu).into_iter().map(|(k, t)| (k, seen(t))).collect();
                assert_eq!(entries, model.map, "the whole map");
            }
        }
        n += 1;
        if n % 8 == 0 {
            mu.safepoint();
        }
    }
    let l = lists.get(&mu);
    assert_eq!(l.vec.to_vec(&mu).into_iter().map(seen).collect::<Vec<_>>(), model.vec, "the whole vector at the end");
    ops.fetch_add(n, Ordering::Relaxed);
}

#[test]
fn value_vectors_and_maps_of_tagged_values_match_a_model_under_every_barrier() {
    let _dog = watchdog("the model stress", 120);
    for config in common::stress_configs() {
        common::ledger_stress(config, STRESS_MILLIS, model_mutate);
    }
}

fn growth_value<'m>(k: u64, mu: &'m Mutator, ledger: &Arc<Ledger>) -> Tagged<'m, Obj> {
    match k % 3 {
        0 => Tagged::Ptr(obj(mu, ledger)),
        1 => Tagged::Number(k as f64 + 0.25),
        _ => Tagged::Data(k | (TAGGED_DATA_MAX - 0xffff_ffff)),
    }
}

/// Entries that fill a hash table of 2^16 buckets (7/8 of them): the next insertion rehashes.
const GROWTH_FULL: u64 = 57_344;

/// Maps of tagged values filled, outside a marking, to the brink of a rehash, then given one
/// more entry once a marking has started: the rehash moves the entries while the marker's
/// chunked scan of the table (64 chunks) is likely part way through, so every value is shaded
/// again (numbers and data included, which must stay untouched). Objects are then hidden by
/// moving them between keys, their old entry overwritten by a number. Each map is checked
/// against a model; checkmark verifies every marking.
fn map_growth(ledger: &Arc<Ledger>, seed: u64, stop: &AtomicBool, ops: &AtomicU64) {
    let mut mu = gc_runtime::attach();
    let mut rng = Rng(seed);
    let mut n = 0_u64;
    while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(GROWTH_FULL as usize) {
        let map = mu.alloc(GcValueMap::<u64, TaggedMember<Obj>>::new()).root(&mu);
        let mut model: HashMap<u64, Want> = HashMap::new();
        for k in 0..GROWTH_FULL {
            let v = growth_value(k, &mu, ledger);
            model.insert(k, want(v));
            assert!(!map.get(&mu).insert(k, v), "key {k} is new");
            if k % 64 == 0 {
                mu.safepoint();
            }
        }
        // Wait (a little) for a marking, then make the table rehash.
        let waited = std::time::Instant::now();
        while gc_runtime::phase() != gc_runtime::Phase::Mark
            && waited.elapsed() < Duration::from_millis(50)
            && !stop.load(Ordering::Relaxed)
        {
            mu.safepoint();
        }
        for k in GROWTH_FULL..GROWTH_FULL + 64 {
            let m = map.get(&mu);
            let v = growth_value(k, &mu, ledger);
            model.insert(k, want(v));
            assert!(!m.insert(k, v), "key {k} is new");
            let (from, to) = (rng.below(k as usize) as u64, rng.below(k as usize) as u64);
            if let Some(Tagged::Ptr(o)) = m.get(&from, &mu) {
                m.insert(from, Tagged::Number(-(from as f64)));
                model.insert(from, Want::Num((-(from as f64)).to_bits()));
                m.insert(to, Tagged::Ptr(o));
                model.insert(to, Want::Ptr(o.check()));
            }
        }
        mu.safepoint();
        let m = map.get(&mu);
        let entries: HashMap<u64, Want> = m.entries(&mu).into_iter().map(|(k, t)| (k, seen(t))).collect();
        assert!(entries == model, "the grown map differs from its model");
        n += GROWTH_FULL;
    }
    ops.fetch_add(n, Ordering::Relaxed);
}

#[test]
fn maps_of_tagged_values_rehashing_while_the_marker_scans_them() {
    let _dog = watchdog("the map growth stress", 120);
    for config in common::stress_configs() {
        common::ledger_stress(config, STRESS_MILLIS, map_growth);
    }
}

/// A value whose `load` takes the pointer out of the element, leaving a number: a destructive
/// read, under the collection's lock, racing with the marker's scan of the same elements.
#[derive(Trace)]
struct Grab {
    slot: TaggedMember<Obj>,
}

const GRABBED: f64 = -1.5;

impl HeapValue for Grab {
    type Local<'m> = Tagged<'m, Obj>;

    fn empty() -> Grab {
        Grab { slot: TaggedMember::new() }
    }

    fn load<'m>(&self, mu: &'m Mutator) -> Tagged<'m, Obj> {
        let v = self.slot.get(mu);
        if v.as_gc().is_some() {
            self.slot.set(Tagged::Number(GRABBED));
        }
        v
    }

    fn store(&self, value: Tagged<'_, Obj>) {
        self.slot.set(value);
    }
}

#[derive(Trace)]
struct Belt {
    full: GcValueVec<Grab>,
    empty: GcValueVec<Grab>,
    side: GcValueMap<u32, Grab>,
}

const BELT: usize = 2048;

/// A conveyor of objects between two vectors (and a side map) whose reads take the object out
/// of its element: each object is in exactly one element, or only in a local between a read
/// and the store that puts it back elsewhere. A read that leaves an element grabbed (number)
/// is how the deletion barriers learn of it; checkmark aborts on a miss.
fn grab_conveyor(ledger: &Arc<Ledger>, seed: u64, stop: &AtomicBool, ops: &AtomicU64) {
    let mut mu = gc_runtime::attach();
    let belt = mu.alloc(Belt { full: GcValueVec::new(), empty: GcValueVec::new(), side: GcValueMap::new() }).root(&mu);
    {
        let b = belt.get(&mu);
        for k in 0..BELT {
            b.full.push(Tagged::Ptr(obj(&mu, ledger)));
            b.empty.push(Tagged::Number(k as f64));
        }
    }
    let mut rng = Rng(seed);
    let stride = (seed as usize % BELT) | 1;
    let mut flipped = false;
    let mut moved = 0_u64;
    while !stop.load(Ordering::Relaxed) {
        for k in 0..BELT {
            {
                let b = belt.get(&mu);
                let (src, dst) = if flipped { (&b.empty, &b.full) } else { (&b.full, &b.empty) };
                let o =
                    src.get(k, &mu).and_then(Tagged::as_gc).expect("every element of the full belt holds an object");
                assert_eq!(src.get(k, &mu).and_then(Tagged::as_number), Some(GRABBED), "the read took it out");
                o.check();
                if rng.below(64) == 0 {
                    // A detour through the map: in, read out (destructively), back.
                    b.side.insert(k as u32, Tagged::Ptr(o));
                    let back = b.side.get(&(k as u32), &mu).and_then(Tagged::as_gc).expect("the map holds it");
                    assert!(Gc::ptr_eq(back, o));
                    assert_eq!(b.side.remove(&(k as u32), &mu).and_then(Tagged::as_number), Some(GRABBED));
                }
                let at = k * stride % BELT;
                dst.set(at, Tagged::Ptr(o));
            }
            moved += 1;
            if k % 32 == 0 {
                mu.safepoint();
            }
        }
        flipped = !flipped;
    }
    let b = belt.get(&mu);
    let full = if flipped { &b.empty } else { &b.full };
    let mut ids: Vec<u64> =
        (0..BELT).map(|k| full.get(k, &mu).and_then(Tagged::as_gc).expect("an object").check()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), BELT, "every object is on the belt exactly once");
    ops.fetch_add(moved, Ordering::Relaxed);
}

#[test]
fn destructive_reads_under_the_collection_lock_hide_nothing_from_the_marker() {
    let _dog = watchdog("the destructive-read conveyor", 120);
    for config in common::stress_configs() {
        common::ledger_stress(config, STRESS_MILLIS, grab_conveyor);
    }
}

/// How the swap burst below overwrites a pointer it takes out of a slot.
#[derive(Clone, Copy, Debug)]
enum Deleter {
    /// The mutator stores a number.
    Number,
    /// The mutator stores data.
    Data,
    /// A thread without a mutator stores numbers and data, while the mutator holds the objects
    /// as locals (the root table's locked path).
    Unattached,
}

const BURST_SLOTS: usize = 1 << 17;
const BURST_BATCH: usize = 256;

/// A large slice of tagged slots borrowed for `'static` from a leaked mutator (pinned: a root
/// for the rest of the process), so that a thread without a mutator can reach it. Its objects
/// are stored after the pinning, so they are reachable through the slice only.
static BURST: OnceLock<&'static [TaggedMember<Obj>]> = OnceLock::new();

/// The burst slice, made and pinned on first use (serial lock held, no mutator on this thread).
fn burst_slice() -> &'static [TaggedMember<Obj>] {
    BURST.get_or_init(|| {
        let slice = leak_static(|mu| mu.alloc_slice_from_fn(BURST_SLOTS, |_| TaggedMember::new()).into_ref());
        let mut mu = gc_runtime::attach();
        common::collect2(&mut mu); // the pause that pins it
        slice
    })
}

/// While the marker scans one large slice of tagged slots front to back, a mutator keeps moving
/// the objects of its back half (not scanned yet) into its front half (scanned already) and the
/// front's objects to the back, overwriting each back slot with an immediate before the front's
/// object is stored there. Under the Yuasa barrier a stored pointer is not shaded, so only the
/// deletion barrier of the immediate store protects a moved object: a number or data store that
/// skipped the barrier lets the marker miss it, which checkmark turns into a fatal error (and,
/// were it off, the canary check into a freed object read). The other barriers shade the stored
/// pointer too; they run for coverage.
fn burst_while_marking(deleter: Deleter, config: Config) {
    let _s = common::serial_only();
    let label = format!("{deleter:?} {config:?}");
    let slots = burst_slice();
    gc_runtime::reconfigure(config.with_checkmark(true).with_gc_percent(None)).unwrap();
    let ledger = Ledger::new(BURST_SLOTS + 16);
    let stop = Arc::new(AtomicBool::new(false));
    // Requests to the thread without a mutator: `1 + start` of a batch of back slots to
    // overwrite with immediates; 0 when there is none (it sets it back to 0 when done).
    let request = AtomicUsize::new(0);
    let (bursts, swaps) = thread::scope(|sc| {
        if matches!(deleter, Deleter::Unattached) {
            let (stop, request) = (&stop, &request);
            sc.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let r = request.load(Ordering::Acquire);
                    if r == 0 {
                        thread::yield_now();
                        continue;
                    }
                    for (k, slot) in slots[r - 1..r - 1 + BURST_BATCH].iter().enumerate() {
                        slot.set(if k % 2 == 0 { Tagged::Number(k as f64) } else { Tagged::Data(k as u64) });
                    }
                    request.store(0, Ordering::Release);
                }
            });
        }
        let worker = sc.spawn(|| {
            let mut mu = gc_runtime::attach();
            for s in slots {
                s.set(Tagged::Ptr(obj(&mu, &ledger)));
            }
            let collector = common::child::spawn_collector(&stop);
            let (mut bursts, mut swaps) = (0_u32, 0_u64);
            let started = std::time::Instant::now();
            // Three bursts, for 3 s at most; past that only until the first (checked below), a
            // minute at most (a loaded machine may be slow to overlap a marking).
            while bursts < 3
                && (started.elapsed() < Duration::from_secs(3)
                    || (bursts == 0 && started.elapsed() < Duration::from_secs(60)))
            {
                mu.safepoint();
                if gc_runtime::phase() != gc_runtime::Phase::Mark {
                    continue;
                }
                // Marking: move objects until it ends (passing safepoints between batches, so
                // the mark-start rounds and termination get their answers).
                let mut overlapped = false;
                let burst_started = std::time::Instant::now();
                while gc_runtime::phase() == gc_runtime::Phase::Mark
                    && burst_started.elapsed() < Duration::from_millis(300)
                {
                    for j in (0..BURST_SLOTS / 2).step_by(BURST_BATCH) {
                        let back_start = BURST_SLOTS - j - BURST_BATCH;
                        {
                            let front: Vec<Gc<'_, Obj>> =
                                (j..j + BURST_BATCH).map(|k| slots[k].get(&mu).as_gc().expect("an object")).collect();
                            let back: Vec<Gc<'_, Obj>> = (back_start..back_start + BURST_BATCH)
                                .map(|k| slots[k].get(&mu).as_gc().expect("an object"))
                                .collect();
                            let back_slots = &slots[back_start..back_start + BURST_BATCH];
                            match deleter {
                                Deleter::Number => back_slots.iter().for_each(|s| s.set(Tagged::Number(0.5))),
                                Deleter::Data => back_slots.iter().for_each(|s| s.set(Tagged::Data(5))),
                                Deleter::Unattached => {
                                    request.store(1 + back_start, Ordering::Release);
                                    while request.load(Ordering::Acquire) != 0 {
                                        thread::yield_now();
                                    }
                                }
                            }
                            assert!(back_slots.iter().all(|s| !s.is_gc()), "{label}: the deleter ran");
                            // The back's objects, held by locals only now, go to the front.
                            for (k, o) in back.iter().enumerate() {
                                slots[j + k].set(Tagged::Ptr(*o));
                            }
                            for (k, o) in front.iter().enumerate() {
                                back_slots[k].set(Tagged::Ptr(*o));
                            }
                        }
                        swaps += BURST_BATCH as u64;
                        overlapped |= gc_runtime::phase() == gc_runtime::Phase::Mark;
                        if j % (BURST_BATCH * 16) == 0 {
                            mu.safepoint();
                        }
                    }
                }
                bursts += u32::from(overlapped);
                while gc_runtime::phase() == gc_runtime::Phase::Mark {
                    mu.safepoint();
                }
            }
            // Every object is in exactly one slot, intact.
            let mut ids: Vec<u64> =
                slots.iter().map(|slot| slot.get(&mu).as_gc().expect("an object").check()).collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), BURST_SLOTS, "{label}: objects lost or duplicated");
            stop.store(true, Ordering::Relaxed);
            mu.blocking(|| collector.join().unwrap());
            for s in slots {
                s.set(Tagged::Empty);
            }
            common::collect2(&mut mu);
            (bursts, swaps)
        });
        worker.join().unwrap()
    });
    assert!(bursts >= 1 && swaps > 0, "{label}: no burst overlapped a marking ({bursts} bursts, {swaps} swaps)");
    ledger.check_exactly(&HashSet::new());
}

/// The concurrent configurations, the Yuasa barrier (the one that needs the immediate's
/// deletion barrier here) with and without per-thread handshakes.
fn concurrent_configs() -> Vec<Config> {
    use gc_runtime::{BarrierKind, Mode};
    [
        (BarrierKind::Yuasa, true),
        (BarrierKind::Yuasa, false),
        (BarrierKind::Hybrid, true),
        (BarrierKind::Dijkstra, true),
    ]
    .into_iter()
    .map(|(b, h)| Config::default().with_mode(Mode::Concurrent).with_barrier(b).with_handshakes(h))
    .collect()
}

#[test]
fn numbers_overwriting_pointers_while_a_large_slice_is_scanned() {
    let _dog = watchdog("the number burst", 120);
    for config in concurrent_configs() {
        burst_while_marking(Deleter::Number, config);
    }
}

#[test]
fn data_overwriting_pointers_while_a_large_slice_is_scanned() {
    let _dog = watchdog("the data burst", 120);
    for config in concurrent_configs().into_iter().take(2) {
        burst_while_marking(Deleter::Data, config);
    }
}

#[test]
fn a_thread_without_a_mutator_overwriting_pointers_while_a_large_slice_is_scanned() {
    let _dog = watchdog("the unattached burst", 120);
    for config in concurrent_configs().into_iter().take(2) {
        burst_while_marking(Deleter::Unattached, config);
    }
}

// ---------------------------------------------------------------------------------------------
// Key code that waits for the world under a map's lock (child processes: a deadlock there
// must not hang this binary).
// ---------------------------------------------------------------------------------------------

/// What the keys' `Eq` does on the thread it runs on: 1 = attach a mutator for the moment if
/// the thread has none (and allocate with it), 2 = pass through `Mutator::blocking` with the
/// thread's own mutator, kept in [`TL_MU`].
static KEY_WAITS: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);
/// Times the keys' `Eq` attached or went through `blocking`.
static KEY_WAITED: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static TL_MU: std::cell::RefCell<Option<Mutator>> = const { std::cell::RefCell::new(None) };
}

struct WaitingKey(u32);

impl PartialEq for WaitingKey {
    fn eq(&self, other: &WaitingKey) -> bool {
        match KEY_WAITS.load(Ordering::Relaxed) {
            // A thread without a mutator would need one to allocate; attaching here would
            // wait out a stopped world under the map's lock, so it is refused
            // (thread_state/user_code.rs).
            1 => match gc_runtime::try_attach() {
                Err(AttachError::InCollectionCode) => {
                    KEY_WAITED.fetch_add(1, Ordering::Relaxed);
                }
                // The reader's thread: it has its own mutator.
                Err(AttachError::AlreadyAttached) => {}
                Ok(_) => panic!("a mutator attached in a key's Eq, under the map's lock"),
                Err(e) => panic!("attaching in a key's Eq failed otherwise: {e}"),
            },
            // `Mutator::blocking` runs its closure without detaching here
            // (thread_state/user_code.rs).
            2 => TL_MU.with(|m| {
                if let Ok(mut m) = m.try_borrow_mut() {
                    if let Some(mu) = m.as_mut() {
                        mu.blocking(|| KEY_WAITED.fetch_add(1, Ordering::Relaxed));
                    }
                }
            }),
            _ => {}
        }
        self.0 == other.0
    }
}

impl Eq for WaitingKey {}

impl Hash for WaitingKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

/// The child: a pinned `GcValueMap<WaitingKey, TaggedMember<Obj>>`; one thread stores numbers
/// into it (`insert` needs no mutator) — without a mutator (variant `attach`), or with its
/// mutator in a thread-local (variant `blocking`) — so that the keys' `Eq` runs on it under the
/// map's write lock; a mutator reads and writes the same keys; cycles run back to back in
/// stop-the-world mode. The cycles must go on.
#[test]
fn child_key_code_waits_for_the_world_under_the_map_lock() {
    if !common::child::in_child() {
        return;
    }
    let variant = std::env::var("HOSTILE_TAGGED_KEY_WAITS").unwrap_or_default();
    KEY_WAITS.store(if variant == "attach" { 1 } else { 2 }, Ordering::Relaxed);
    gc_runtime::reconfigure(Config::default().with_mode(gc_runtime::Mode::StopTheWorld).with_gc_percent(None)).unwrap();
    let map: &'static GcValueMap<WaitingKey, TaggedMember<Obj>> =
        leak_static(|mu| mu.alloc(GcValueMap::new()).into_ref());
    gc_runtime::attach().collect(); // pins the map
    let stop = Arc::new(AtomicBool::new(false));
    let collector = common::child::spawn_collector(&stop);
    let writer = {
        let stop = stop.clone();
        let attached = variant != "attach";
        thread::spawn(move || {
            if attached {
                TL_MU.with(|m| *m.borrow_mut() = Some(gc_runtime::attach()));
            }
            let mut n = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                if attached {
                    map.insert(WaitingKey((n % 4) as u32), Tagged::Number(n as f64));
                } else {
                    // A thread without a mutator that writes a value with slots is attached for
                    // the call (`heap_value.rs`, `new_element`); a lookup runs its key code
                    // unattached, under the map's lock.
                    map.contains_key(&WaitingKey((n % 4) as u32));
                }
                n += 1;
                if attached && n % 8 == 0 {
                    TL_MU.with(|m| m.borrow_mut().as_mut().expect("attached").safepoint());
                }
            }
            TL_MU.with(|m| m.borrow_mut().take());
        })
    };
    let reader = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut mu = gc_runtime::attach();
            let mut n = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                if let Some(v) = map.get(&WaitingKey((n % 4) as u32), &mu) {
                    assert!(v.as_number().is_some() || v.as_data().is_some(), "{v:?}");
                }
                map.insert(WaitingKey((n % 4) as u32), Tagged::Data(n & 0xffff));
                n += 1;
                if n % 8 == 0 {
                    mu.safepoint();
                }
            }
        })
    };
    let started = std::time::Instant::now();
    let (mut cycles, mut progress_at) = (gc_runtime::stats().cycles, std::time::Instant::now());
    let first = cycles;
    // For 1.2 s, and until the cycles and the waits checked below happened (a loaded machine may
    // need longer for them), a minute at most.
    while started.elapsed() < Duration::from_millis(1200)
        || ((cycles - first < 5 || KEY_WAITED.load(Ordering::Relaxed) == 0)
            && started.elapsed() < Duration::from_secs(60))
    {
        thread::sleep(Duration::from_millis(20));
        let now = gc_runtime::stats().cycles;
        if now != cycles {
            (cycles, progress_at) = (now, std::time::Instant::now());
        }
        if progress_at.elapsed() > Duration::from_millis(1000) {
            println!(
                "deadlock ({variant}): no cycle for 1 s after {} cycles, key code waited {} times; the \
                 writer holds the map's lock in the key's Eq, waiting for the stopped world to \
                 restart (attach / the end of Mutator::blocking); the reader, a running mutator, \
                 waits for that lock; the collector waits for the reader to stop",
                now - first,
                KEY_WAITED.load(Ordering::Relaxed)
            );
            std::process::exit(1);
        }
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    reader.join().unwrap();
    collector.join().unwrap();
    assert!(cycles - first >= 5, "{} cycles", cycles - first);
    assert!(KEY_WAITED.load(Ordering::Relaxed) > 0, "the key code never waited");
    println!("done");
}

/// Key code run under a map's lock on a thread that attaches a mutator for the moment (to
/// allocate), or that goes through `Mutator::blocking`, waited for a stopped world to restart
/// while it held the map's lock, and a mutator waiting for the lock kept the world from
/// stopping: a deadlock, every run, in both variants. Now the attach is refused
/// (`AttachError::InCollectionCode`) and `blocking` runs its closure in place; cycles must
/// keep running.
#[test]
fn key_code_that_waits_for_the_world_under_a_map_lock_does_not_deadlock() {
    let outcomes: Vec<(&str, common::child::Outcome)> = ["attach", "blocking"]
        .into_iter()
        .map(|variant| {
            let out = common::child::child(
                "child_key_code_waits_for_the_world_under_the_map_lock",
                &[("HOSTILE_TAGGED_KEY_WAITS", variant)],
                Duration::from_secs(90),
            );
            (variant, out)
        })
        .collect();
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|(_, out)| !(out.success && !out.timed_out && out.stdout.contains("done")))
        .map(|(variant, out)| format!("variant {variant}: {}", out.describe()))
        .collect();
    assert!(failed.is_empty(), "{} of 2 variants failed:\n{}", failed.len(), failed.join("\n"));
}

/// The member types stay one word, whatever they point to.
#[test]
fn a_tagged_slot_is_one_word_for_every_referent() {
    assert_eq!(std::mem::size_of::<TaggedMember<Obj>>(), 8);
    assert_eq!(std::mem::size_of::<TaggedMember<[u64]>>(), 8);
    assert_eq!(std::mem::size_of::<TaggedMember<str>>(), 8);
    assert_eq!(std::mem::size_of::<TaggedMember<dyn Valued>>(), 8);
    assert_eq!(std::mem::size_of::<TaggedMember<dyn Debug>>(), 8);
    assert_eq!(std::mem::size_of::<Member<Obj>>(), std::mem::size_of::<TaggedMember<Obj>>());
    assert_eq!(TAGGED_DATA_MAX, DATA_OFFSET - 1);
}
