//! `#[derive(Trace)]`'s `NEEDS_TRACE`, against the runtime's real impls, and what the collector
//! does with a derived type that needs no trace.
//!
//! # What is checked
//!
//! 1. The constant is exact for fields built from primitives, std types and the type's own
//!    parameters: `false` for plain data, `true` as soon as a slot can be inside, decided per
//!    instantiation of a generic type (compile-time assertions).
//! 2. Recursive types, whose constant must not depend on itself (a const-evaluation cycle
//!    would fail the build), compile, and their constant is the conservative `true`.
//! 3. An object whose type has `NEEDS_TRACE == false`, which the marker blackens without
//!    tracing it (`TypeDesc::trace` is `None`) and allocation does not arm, still survives
//!    every collection while reachable (from a root, a slot or a GC collection, allocated
//!    before or during marking) and reads back intact, and is freed, once, when it is not.

// Most types here exist for their `NEEDS_TRACE` alone and are never constructed.
#![allow(dead_code)]

mod common;

use std::{
    collections::{BTreeMap, HashMap, HashSet, VecDeque},
    marker::PhantomData,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use common::{DropProbe, Ledger};
use gc_runtime::{AtomicCell, Config, ExternalBytes, GcVec, Member, Mode, Phase, Trace};

// --- 1. exact for std and parameter types ------------------------------------------------------

#[derive(Trace)]
struct P {
    a: i32,
    b: i32,
}

#[derive(Trace)]
struct G<T> {
    x: T,
}

/// A referent for the slots below.
#[derive(Trace)]
struct X {
    v: u8,
}

/// One field of every std type the derive reads (`symbol::STD_TRACE_TYPES` in gc-derive), with
/// plain-data arguments: each impl must exist and forward `false`.
#[derive(Trace)]
struct EveryStdType<'a> {
    string: String,
    boxed: Box<str>,
    shared: std::sync::Arc<str>,
    vec: Vec<u8>,
    deque: VecDeque<u16>,
    option: Option<String>,
    result: Result<u32, String>,
    map: HashMap<String, (u8, bool)>,
    btree: std::collections::BTreeMap<u64, ::std::vec::Vec<char>>,
    phantom: PhantomData<&'a [u8]>,
    duration: Duration,
    instant: Instant,
    atomics: (std::sync::atomic::AtomicBool, std::sync::atomic::AtomicU8, std::sync::atomic::AtomicU16),
    more_atomics: (
        std::sync::atomic::AtomicU32,
        AtomicU64,
        std::sync::atomic::AtomicUsize,
        std::sync::atomic::AtomicI8,
        std::sync::atomic::AtomicI16,
        std::sync::atomic::AtomicI32,
        std::sync::atomic::AtomicI64,
        std::sync::atomic::AtomicIsize,
    ),
    cell: AtomicCell<f64>,
    tuple: (u8, i128, f32, [usize; 3], ()),
    function: fn(u32, bool) -> Option<u64>,
    text: &'static str,
    primitives: (u32, u64, u128, isize, i8, i16, i64, f64),
    chars: Box<[core::primitive::char]>,
}

/// The same std types around a type parameter: each must forward its parameter's constant.
#[derive(Trace)]
struct Forwards<T> {
    vec: Vec<T>,
    deque: VecDeque<T>,
    option: Option<Box<T>>,
    ok: Result<T, u8>,
    err: Result<u8, T>,
    map: HashMap<u8, T>,
    btree: BTreeMap<u8, T>,
    array: [T; 2],
    tuple: (u8, T),
}

/// A field of a type that holds no GC pointer, but is not read: the contribution is `true`.
#[derive(Trace)]
struct WrapsP {
    p: P,
}

#[derive(Trace)]
enum OneVariantHasASlot {
    Plain(u32, String),
    Slot { m: Member<X> },
    Empty,
}

#[derive(Trace)]
enum AllPlain {
    A(u32),
    B { s: Option<String>, v: Vec<u8> },
    C,
}

/// A skipped field counts for nothing, whatever its type.
#[derive(Trace)]
struct SkipsAnOpaqueField {
    v: u64,
    #[trace(skip)]
    _opaque: HashSet<u8>,
}

/// Not `Trace`: a type argument of `Tagged` that no field stores.
struct NotTrace;

/// `Trace` for every `T`, by `#[trace(bound = "")]`: the `PhantomData<T>` read for
/// `NEEDS_TRACE` is `false` whatever `T` is.
#[derive(Trace)]
#[trace(bound = "")]
struct Tagged<T> {
    id: u32,
    _marker: PhantomData<T>,
}

#[test]
fn needs_trace_is_exact_for_std_and_parameter_types() {
    const {
        assert!(!P::NEEDS_TRACE);
        assert!(!<G<u32>>::NEEDS_TRACE);
        assert!(<G<Member<X>>>::NEEDS_TRACE);
        assert!(<G<GcVec<X>>>::NEEDS_TRACE);
        assert!(!<G<G<Option<String>>>>::NEEDS_TRACE);
        assert!(<G<G<Vec<Member<X>>>>>::NEEDS_TRACE);
        assert!(!X::NEEDS_TRACE);
        assert!(!EveryStdType::NEEDS_TRACE);
        assert!(!<Forwards<u8>>::NEEDS_TRACE);
        assert!(<Forwards<Member<X>>>::NEEDS_TRACE);
        assert!(<Forwards<G<Member<X>>>>::NEEDS_TRACE);
        assert!(!AllPlain::NEEDS_TRACE);
        assert!(OneVariantHasASlot::NEEDS_TRACE);
        assert!(!SkipsAnOpaqueField::NEEDS_TRACE);
        assert!(!<Tagged<NotTrace>>::NEEDS_TRACE);
        assert!(!<Tagged<Member<X>>>::NEEDS_TRACE);
        // Conservative: `P` is a user type, whose constant is not read.
        assert!(WrapsP::NEEDS_TRACE);
        // No pointer, but allocation must arm it and the marker see it.
        assert!(ExternalBytes::NEEDS_TRACE);
        assert!(<G<ExternalBytes>>::NEEDS_TRACE);
        assert!(DeclaresItsBytes::NEEDS_TRACE);
    }
}

/// Plain data beside the declaration of its size: traced for the declaration alone.
#[derive(Trace)]
struct DeclaresItsBytes {
    _data: Box<[u8]>,
    _bytes: ExternalBytes,
}

// --- 2. recursive types ---------------------------------------------------------------------------
//
// Each recursion goes through a path the derive does not read (the type's own name, an alias,
// another user type), which contributes `true`. That is what keeps the constants from depending
// on themselves; the price is that these types, which hold no GC pointer, are traced anyway.

#[derive(Trace)]
struct Node {
    value: u32,
    children: Vec<Node>,
}

type Link = Option<Box<L>>;

#[derive(Trace)]
struct L {
    next: Link,
    value: u32,
}

#[derive(Trace)]
enum Expr {
    Block(Vec<Stmt>),
    Lit(u32),
}

#[derive(Trace)]
enum Stmt {
    E(Box<Expr>),
}

#[derive(Trace)]
struct Node2<T> {
    v: Vec<T>,
}

#[derive(Trace)]
struct Foo {
    n: Node2<Foo>,
}

#[test]
fn recursive_types_compile_and_need_trace() {
    const {
        assert!(Node::NEEDS_TRACE);
        assert!(L::NEEDS_TRACE);
        assert!(Expr::NEEDS_TRACE && Stmt::NEEDS_TRACE);
        assert!(Foo::NEEDS_TRACE);
        // `Node2` itself only forwards its parameter.
        assert!(!<Node2<u8>>::NEEDS_TRACE && <Node2<Foo>>::NEEDS_TRACE);
    }
    let mut mu = gc_runtime::attach();
    let tree = mu.alloc(Node { value: 1, children: vec![Node { value: 2, children: Vec::new() }] }).root(&mu);
    let expr = mu.alloc(Expr::Block(vec![Stmt::E(Box::new(Expr::Lit(3)))])).root(&mu);
    mu.collect();
    assert_eq!(tree.get(&mu).children[0].value, 2);
    assert!(
        matches!(&*expr.get(&mu), Expr::Block(stmts) if matches!(&stmts[0], Stmt::E(e) if matches!(**e, Expr::Lit(3))))
    );
}

// --- 3. the collector and pointer-free objects ----------------------------------------------------

/// Serialises the tests that reconfigure the runtime.
static SERIAL: Mutex<()> = Mutex::new(());

/// A pointer-free object: `NEEDS_TRACE == false`, so the marker never traces it and
/// allocation never arms it.
#[derive(Trace)]
struct Plain {
    id: u64,
    name: String,
    values: Vec<u64>,
    pair: (u8, Option<Box<i64>>),
    counter: AtomicU64,
    #[trace(skip)]
    probe: DropProbe,
}

/// Large enough for the large-object path.
#[derive(Trace)]
struct BigPlain {
    id: u64,
    words: [u64; 4096],
}

/// A traced object that reaches plain ones only through its slots.
#[derive(Trace)]
struct Holder {
    one: Member<Plain>,
    many: GcVec<Plain>,
    big: Member<BigPlain>,
}

const _: () = assert!(!Plain::NEEDS_TRACE && !BigPlain::NEEDS_TRACE && Holder::NEEDS_TRACE);

fn plain(id: u64, ledger: &Arc<Ledger>) -> Plain {
    Plain {
        id,
        name: format!("plain-{id}"),
        values: (0..id % 7).map(|i| i * id).collect(),
        pair: (id as u8, Some(Box::new(-(id as i64)))),
        counter: AtomicU64::new(id * 3),
        probe: ledger.probe(),
    }
}

/// Every field of `p` is what `plain(id, ..)` put there.
fn check(p: &Plain, id: u64) {
    assert_eq!(p.id, id);
    assert_eq!(p.name, format!("plain-{id}"));
    assert_eq!(p.values, (0..id % 7).map(|i| i * id).collect::<Vec<_>>());
    assert_eq!(p.pair, (id as u8, Some(Box::new(-(id as i64)))));
    assert_eq!(p.counter.load(Ordering::Relaxed), id * 3);
}

/// Pointer-free objects reachable from a root, from a slot and from a `GcVec` survive
/// collections in both modes (checkmark re-marks from the roots and must agree) and read back
/// intact; unreachable ones are freed exactly once.
#[test]
fn pointer_free_objects_survive_collection_untraced() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for mode in [Mode::Concurrent, Mode::StopTheWorld] {
        gc_runtime::reconfigure(Config::default().with_mode(mode).with_gc_percent(None).with_checkmark(true)).unwrap();
        let ledger = Ledger::new(1_000);
        let mut mu = gc_runtime::attach();
        let rooted = mu.alloc(plain(0, &ledger));
        let holder = mu.alloc(Holder { one: Member::new(), many: GcVec::new(), big: Member::new() });
        holder.one.set(Some(mu.alloc(plain(1, &ledger))));
        for id in 2..100 {
            holder.many.push(mu.alloc(plain(id, &ledger)));
            // Garbage between the live objects.
            mu.alloc(plain(1_000 + id, &ledger));
        }
        let mut words = [0u64; 4096];
        words.iter_mut().zip(0..).for_each(|(w, i)| *w = i * 31);
        holder.big.set(Some(mu.alloc(BigPlain { id: 7, words })));
        // The probes of the live objects: ledger ids are given out in allocation order.
        let mut alive: HashSet<u64> = [rooted.probe.id, holder.one.get(&mu).unwrap().probe.id].into();
        alive.extend((0..holder.many.len()).map(|i| holder.many.get(i, &mu).unwrap().probe.id));
        let (rooted, holder) = (rooted.root(&mu), holder.root(&mu));
        for _ in 0..2 {
            mu.collect();
            check(&rooted.get(&mu), 0);
            let h = holder.get(&mu);
            check(&h.one.get(&mu).expect("kept by the holder"), 1);
            assert_eq!(h.many.len(), 98);
            for (i, id) in (2..100).enumerate() {
                check(&h.many.get(i, &mu).expect("kept by the holder"), id);
            }
            let big = h.big.get(&mu).expect("kept by the holder");
            assert_eq!(big.id, 7);
            assert!(big.words.iter().zip(0..).all(|(&w, i)| w == i * 31));
        }
        let checkmarked = gc_runtime::stats().recent.last().and_then(|c| c.checkmarked_objects);
        assert!(checkmarked.is_some(), "{mode:?}: checkmark ran and agreed with the marking");
        assert_eq!(alive.len(), 100);
        ledger.check_exactly(&alive);
        drop((rooted, holder));
        mu.collect();
        ledger.check_exactly(&HashSet::new());
    }
    gc_runtime::reconfigure(Config::default()).unwrap();
}

/// A traced chain, long enough that marking it takes a while.
#[derive(Trace)]
struct Chain {
    next: Member<Chain>,
}

/// Pointer-free objects allocated while a concurrent cycle marks (black, unarmed, untraced)
/// survive it and the next one.
#[test]
fn pointer_free_objects_allocated_during_marking_survive() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    gc_runtime::reconfigure(Config::default().with_mode(Mode::Concurrent).with_gc_percent(None)).unwrap();
    const CHAIN: usize = if cfg!(miri) { 2_000 } else { 200_000 };
    let ledger = Ledger::new(CHAIN);
    let mut mu = gc_runtime::attach();
    let head = mu.alloc(Chain { next: Member::new() });
    let mut tail = head;
    for _ in 0..CHAIN {
        let link = mu.alloc(Chain { next: Member::new() });
        tail.next.set(Some(link));
        tail = link;
    }
    let chain = head.root(&mu);
    let holder = mu.alloc(Holder { one: Member::new(), many: GcVec::new(), big: Member::new() }).root(&mu);
    let done = Arc::new(AtomicBool::new(false));
    let collector = {
        let done = done.clone();
        std::thread::spawn(move || {
            gc_runtime::attach().collect();
            done.store(true, Ordering::SeqCst);
        })
    };
    // Each object's id is its probe's: the ledger is this test's alone.
    let (mut next, mut during_mark) = (0, 0);
    while !done.load(Ordering::SeqCst) && !ledger.nearly_full(100) {
        let marking = gc_runtime::phase() == Phase::Mark;
        for _ in 0..100 {
            let p = mu.alloc(plain(next, &ledger));
            assert_eq!(p.probe.id, next);
            holder.get(&mu).many.push(p);
            next += 1;
            during_mark += usize::from(marking);
        }
        mu.safepoint();
    }
    collector.join().unwrap();
    assert!(during_mark > 0, "no allocation overlapped the marking ({next} in all)");
    mu.collect();
    let h = holder.get(&mu);
    assert_eq!(h.many.len(), next as usize);
    for id in 0..next {
        check(&h.many.get(id as usize, &mu).expect("kept by the holder"), id);
    }
    ledger.check_exactly(&(0..next).collect());
    drop(chain);
    gc_runtime::reconfigure(Config::default()).unwrap();
}
