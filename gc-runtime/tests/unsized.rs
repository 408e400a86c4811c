//! Unsized objects: `Gc<[E]>` and `Gc<str>`. Their contents read back as written; an array of
//! slots keeps its referents alive exactly while the array is reachable; elements are dropped
//! exactly once when the array dies; small, large, empty, zero-sized and over-aligned element
//! types; roots, weak references and slots of unsized types; the memory limit gives the
//! elements back; and a concurrent stress run under every barrier with checkmark on.

use std::{
    collections::HashSet,
    sync::{
        atomic::{AtomicBool, AtomicU64},
        Arc,
    },
};

mod common;

use common::{DropProbe, Ledger, Rng};
use gc_runtime::{
    gc, Config, Gc, GcIdMap, GcMap, GcVec, GcWeakMap, GlobalRoot, Member, Mutator, Object, Root, Trace, Weak,
};

fn serial() -> std::sync::MutexGuard<'static, ()> {
    common::serial_with_checkmark()
}

/// An element that records its drop.
#[derive(Trace)]
struct Probed {
    id: u64,
    #[trace(skip)]
    probe: DropProbe,
}

#[derive(Trace)]
struct Leaf {
    id: u64,
    #[trace(skip)]
    probe: DropProbe,
}

#[test]
fn slices_and_strings_read_back_what_was_written() {
    let _s = serial();
    let mu = gc_runtime::attach();
    let from_vec: Gc<[u64]> = mu.alloc_slice(vec![1, 2, 3]);
    let from_array = mu.alloc_slice([4_u16; 5]);
    let from_slice = mu.alloc_slice(&["a".to_string(), "b".to_string()][..]);
    let from_box = mu.alloc_slice(vec![7_i8, -7].into_boxed_slice());
    let from_iter = mu.alloc_from_iter((0..100_u32).map(|i| i * 3));
    let text = mu.alloc_str("héllo, wörld");
    assert_eq!(&*from_vec, &[1, 2, 3]);
    assert_eq!(&*from_array, &[4; 5]);
    assert_eq!(from_slice.iter().map(String::as_str).collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(&*from_box, &[7, -7]);
    assert_eq!(from_iter.len(), 100);
    assert!(from_iter.iter().enumerate().all(|(i, &x)| x == 3 * i as u32));
    assert_eq!(&*text, "héllo, wörld");
    assert_eq!(text.chars().count(), 12);
    assert_eq!(format!("{text} {text:?} {from_vec:?}"), "héllo, wörld \"héllo, wörld\" [1, 2, 3]");
    let empty: Gc<[String]> = mu.alloc_slice(Vec::new());
    assert!(empty.is_empty() && mu.alloc_str("").is_empty());
    let units = mu.alloc_slice(vec![(); 1000]);
    assert_eq!(units.len(), 1000, "zero-sized elements keep their count");
    assert!(!Gc::ptr_eq(text, mu.alloc_str("héllo, wörld")), "each allocation is its own object");
}

#[test]
fn over_aligned_elements_are_aligned() {
    #[derive(Trace, Clone, Copy, PartialEq, Debug)]
    #[repr(align(64))]
    struct Wide(u8);
    #[derive(Trace, Clone, Copy, PartialEq, Debug)]
    #[repr(align(16))]
    struct Pair(u64, u64);
    let _s = serial();
    let mu = gc_runtime::attach();
    for len in [0, 1, 3, 200] {
        let wide = mu.alloc_slice(vec![Wide(9); len]);
        assert_eq!(wide.as_ptr() as usize % 64, 0);
        assert!(wide.iter().all(|w| *w == Wide(9)));
        let pairs = mu.alloc_slice(vec![Pair(1, 2); len]);
        assert_eq!(pairs.as_ptr() as usize % 16, 0);
        assert!(pairs.iter().all(|p| *p == Pair(1, 2)));
    }
}

/// The arrays' sizes cover both the small-object pages and the large-object path.
const LENGTHS: [usize; 5] = [1, 7, 100, 5_000, 70_000];

#[test]
fn an_array_of_slots_keeps_its_referents_alive_while_it_is_reachable() {
    let _s = serial();
    let ledger = Ledger::new(200_000);
    let mut mu = gc_runtime::attach();
    for len in LENGTHS {
        let first = ledger.created() as u64;
        let root = {
            let table = mu.alloc_slice((0..len).map(|_| Member::<Leaf>::new()).collect::<Vec<_>>());
            for slot in table.iter() {
                slot.set(Some(mu.alloc(Leaf { id: 0, probe: ledger.probe() })));
            }
            table.root(&mu)
        };
        mu.collect();
        mu.collect();
        let table = root.get(&mu);
        assert_eq!(table.len(), len);
        for (i, slot) in table.iter().enumerate() {
            let leaf = slot.get(&mu).expect("a slot of a reachable array keeps its referent");
            assert_eq!(leaf.probe.id, first + i as u64);
        }
        let alive: HashSet<u64> = (first..first + len as u64).collect();
        let dead_before: HashSet<u64> = (0..first).filter(|&id| ledger.drops(id) == 0).collect();
        assert!(dead_before.is_empty(), "earlier rounds' leaves are all freed");
        ledger.check_exactly(&alive);
        drop(root);
        mu.collect();
        mu.collect();
        ledger.check_exactly(&HashSet::new());
    }
}

#[test]
fn elements_are_dropped_exactly_once_when_their_array_dies() {
    let _s = serial();
    let ledger = Ledger::new(100_000);
    let mut mu = gc_runtime::attach();
    let mut kept = Vec::new();
    for (round, len) in LENGTHS.into_iter().enumerate() {
        let arr = mu.alloc_slice((0..len).map(|_| Probed { id: 0, probe: ledger.probe() }).collect::<Vec<_>>());
        if round % 2 == 0 {
            kept.push((arr.root(&mu), arr[0].probe.id, len));
        }
    }
    mu.collect();
    mu.collect();
    let alive: HashSet<u64> = kept.iter().flat_map(|&(_, first, len)| first..first + len as u64).collect();
    ledger.check_exactly(&alive);
    for (root, first, len) in &kept {
        let arr = root.get(&mu);
        assert!(arr.iter().enumerate().all(|(i, p)| p.probe.id == first + i as u64 && p.id == 0));
        assert_eq!(arr.len(), *len);
    }
    kept.clear();
    mu.collect();
    mu.collect();
    ledger.check_exactly(&HashSet::new());
}

#[gc]
struct Symbol {
    name: Gc<str>,
    aliases: Option<Gc<[Member<str>]>>,
    bytes: Option<Gc<[u8]>>,
}

#[test]
fn unsized_objects_in_slots_roots_weak_references_and_gc_structs() {
    static NAME: GlobalRoot<str> = GlobalRoot::new();
    let _s = serial();
    let mut mu = gc_runtime::attach();
    let sym = Symbol::new(&mu, mu.alloc_str("lambda"), None, None);
    let aliases = mu.alloc_slice(vec![Member::new(), Member::new()]);
    aliases[0].set(Some(mu.alloc_str("λ")));
    aliases[1].set(Some(mu.alloc_str("fn")));
    sym.set_aliases(Some(aliases));
    sym.set_bytes(Some(mu.alloc_slice(b"\x00\xff".to_vec())));
    let root: Root<Symbol> = sym.root(&mu);
    let name_root: Root<str> = mu.alloc_str("rooted").root(&mu);
    NAME.set(&mu, mu.alloc_str("global"));
    let weak_kept: Weak<str> = sym.name(&mu).downgrade(&mu);
    let weak_lost: Weak<[u8]> = mu.alloc_slice(vec![1_u8; 64]).downgrade(&mu);
    mu.collect();
    mu.collect();
    let sym = root.get(&mu);
    assert_eq!(&*sym.name(&mu), "lambda");
    let aliases: Vec<String> = sym.aliases(&mu).unwrap().iter().map(|m| m.get(&mu).unwrap().to_string()).collect();
    assert_eq!(aliases, ["λ", "fn"]);
    assert_eq!(&*sym.bytes(&mu).unwrap(), &[0, 255]);
    assert_eq!(&*name_root.get(&mu), "rooted");
    assert_eq!(&*NAME.get(&mu).unwrap(), "global");
    assert_eq!(&*weak_kept.upgrade(&mu).unwrap(), "lambda");
    assert!(weak_lost.upgrade(&mu).is_none(), "an unreachable slice is collected and its weak cleared");
    assert!(format!("{name_root:?}").starts_with("Root<str>("));
    sym.set_name(mu.alloc_str("mu"));
    mu.collect();
    assert!(weak_kept.upgrade(&mu).is_none(), "the old name was collected");
    NAME.clear();
}

#[derive(Trace)]
struct Interner {
    names: GcVec<str>,
    by_id: GcMap<u32, str>,
    meaning: GcIdMap<str, [u64]>,
    notes: GcWeakMap<str, str>,
}

#[test]
fn collections_hold_unsized_objects() {
    let _s = serial();
    let mut mu = gc_runtime::attach();
    let root = {
        let t = mu.alloc(Interner {
            names: GcVec::new(),
            by_id: GcMap::new(),
            meaning: GcIdMap::new(),
            notes: GcWeakMap::new(),
        });
        for (i, word) in ["alpha", "beta", "gamma"].into_iter().enumerate() {
            let s = mu.alloc_str(word);
            t.names.push(s);
            t.by_id.insert(i as u32, s);
            t.meaning.insert(s, mu.alloc_slice(vec![i as u64; i + 1]));
        }
        let gamma = t.names.get(2, &mu).unwrap();
        t.notes.insert(gamma, mu.alloc_str("the third"));
        let temp = mu.alloc_str("temporary");
        t.notes.insert(temp, mu.alloc_str("dies with its key"));
        t.root(&mu)
    };
    mu.collect();
    mu.collect();
    let t = root.get(&mu);
    let names: Vec<String> = t.names.iter(&mu).map(|s| s.to_string()).collect();
    assert_eq!(names, ["alpha", "beta", "gamma"]);
    assert_eq!(&*t.by_id.get(&1, &mu).unwrap(), "beta");
    let beta = t.names.get(1, &mu).unwrap();
    assert_eq!(&*t.meaning.get(beta, &mu).unwrap(), &[1, 1]);
    let gamma = t.names.get(2, &mu).unwrap();
    assert_eq!(&*t.notes.get(gamma, &mu).unwrap(), "the third");
    assert_eq!(t.notes.len(), 1, "the entry of the unreachable key was cleared");
    assert_eq!(&*t.names.pop(&mu).unwrap(), "gamma");
}

#[test]
fn generic_code_over_unsized_objects_names_the_object_trait() {
    fn total_len<T: ?Sized + Object + AsRef<[u8]>>(items: &[Gc<'_, T>]) -> usize {
        items.iter().map(|g| (**g).as_ref().len()).sum()
    }
    let _s = serial();
    let mu = gc_runtime::attach();
    let strs = [mu.alloc_str("ab"), mu.alloc_str("cde")];
    let bytes = [mu.alloc_slice(vec![0_u8; 4])];
    assert_eq!(total_len(&strs) + total_len(&bytes), 9);
}

#[test]
fn iterators_may_allocate_and_a_panicking_clone_leaves_the_heap_intact() {
    #[derive(Trace)]
    struct Bomb(u32);
    impl Clone for Bomb {
        fn clone(&self) -> Self {
            assert!(self.0 != 3, "clone of element 3");
            Bomb(self.0)
        }
    }
    let _s = serial();
    let mut mu = gc_runtime::attach();
    // An iterator that allocates while the slice's elements are gathered.
    let names = mu.alloc_from_iter((0..50).map(|i| {
        let s = mu.alloc_str(&format!("n{i}"));
        s.len()
    }));
    assert_eq!(names.iter().sum::<usize>(), 10 * 2 + 40 * 3);
    let source: Vec<Bomb> = (0..5).map(Bomb).collect();
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| mu.alloc_slice(&source[..]).len())).unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"clone of element 3"));
    let kept = mu.alloc_slice(vec![Bomb(1), Bomb(2)]).root(&mu);
    mu.collect();
    assert_eq!(kept.get(&mu).iter().map(|b| b.0).collect::<Vec<_>>(), [1, 2]);
}

#[test]
fn over_the_memory_limit_the_elements_come_back() {
    let _s = serial();
    let ledger = Ledger::new(10);
    gc_runtime::reconfigure(Config::default().with_memory_limit(Some(4 << 20)).with_checkmark(true)).unwrap();
    let mut mu = gc_runtime::attach();
    mu.collect();
    let big: Vec<u64> = vec![7; 1 << 20]; // 8 MiB: over the limit on its own
    let err = mu.try_alloc_slice(big).unwrap_err();
    assert!(err.to_string().contains("limit"), "{err}");
    let back = err.into_value();
    assert_eq!((back.len(), back[12345]), (1 << 20, 7), "nothing is lost");
    let probes = vec![Probed { id: 1, probe: ledger.probe() }];
    let text = "x".repeat(5 << 20);
    let err = mu.try_alloc_str(&text).unwrap_err();
    assert_eq!(err.into_value().len(), 5 << 20);
    let fits = mu.try_alloc_slice(probes).expect("a small slice fits");
    assert_eq!(fits[0].id, 1);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| mu.alloc_slice(vec![0_u8; 6 << 20]).len()));
    assert!(caught.is_err(), "alloc_slice panics over the limit");
    gc_runtime::reconfigure(Config::default().with_gc_percent(None)).unwrap();
    mu.collect();
    mu.collect();
    ledger.check_exactly(&HashSet::new());
}

#[test]
fn slices_made_element_by_element_may_allocate_and_a_panic_leaves_a_well_formed_object() {
    let _s = serial();
    let ledger = Ledger::new(300_000);
    let mut mu = gc_runtime::attach();
    // `make` allocates, also arrays made the same way.
    let nested = mu.alloc_slice_from_fn(20, |i| {
        let inner = mu.alloc_slice_from_fn(i, |j| j as u32);
        let slot = Member::<[u32]>::new();
        (inner.len(), slot)
    });
    nested[5].1.set(Some(mu.alloc_slice_from_fn(5, |j| j as u32 * 10)));
    let kept = nested.root(&mu);
    for len in [5, 70_000] {
        // A small and a large array whose `make` panics at element 3: the three elements made
        // are dropped once, with the garbage object, by a later sweep.
        let before = ledger.created();
        let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            mu.alloc_slice_from_fn(len, |i| {
                assert!(i != 3, "make fails at 3");
                Probed { id: i as u64, probe: ledger.probe() }
            })
            .len()
        }))
        .unwrap_err();
        assert_eq!(err.downcast_ref::<&str>(), Some(&"make fails at 3"));
        assert_eq!(ledger.created() - before, 3);
    }
    mu.collect();
    mu.collect();
    ledger.check_exactly(&HashSet::new());
    let nested = kept.get(&mu);
    assert!(nested.iter().enumerate().all(|(i, (len, _))| *len == i));
    assert_eq!(&*nested[5].1.get(&mu).unwrap(), &[0, 10, 20, 30, 40]);
    assert!(nested[6].1.get(&mu).is_none());
}

#[test]
fn over_the_memory_limit_make_is_given_back_uncalled() {
    let _s = serial();
    gc_runtime::reconfigure(Config::default().with_memory_limit(Some(4 << 20)).with_checkmark(true)).unwrap();
    let mut mu = gc_runtime::attach();
    mu.collect();
    let calls = std::cell::Cell::new(0);
    let err = mu
        .try_alloc_slice_from_fn(1 << 20, |i| {
            calls.set(calls.get() + 1);
            i as u64
        })
        .unwrap_err();
    assert_eq!(calls.get(), 0, "over the limit, `make` is never called");
    let mut make = err.into_value();
    assert_eq!(make(7), 7);
    let fits = mu.try_alloc_slice_from_fn(4, make).expect("a small slice fits");
    assert_eq!(&*fits, &[0, 1, 2, 3]);
    gc_runtime::reconfigure(Config::default().with_gc_percent(None)).unwrap();
}

#[test]
fn zero_sized_elements_take_any_count_in_a_fixed_size_object() {
    let _s = serial();
    let mut mu = gc_runtime::attach();
    let before = gc_runtime::stats().heap_committed;
    let units = mu.alloc_slice(vec![(); usize::MAX]);
    assert_eq!(units.len(), usize::MAX);
    assert!(gc_runtime::stats().heap_committed.saturating_sub(before) < 1 << 20, "no element takes room");
    // A zero-sized type whose hand-written `Trace` claims it needs tracing: it cannot hold a
    // slot, so its array is neither armed nor traced element by element (which would take
    // `usize::MAX` steps at allocation and again at every marking).
    struct Claims;
    // SAFETY: holds nothing; `NEEDS_TRACE` is a harmless overstatement.
    unsafe impl Trace for Claims {
        fn trace(&self, _: &mut gc_runtime::Tracer<'_>) {
            panic!("a zero-sized element was traced");
        }
    }
    let claims = mu.alloc_slice(all_of_them::<Claims>()).root(&mu);
    mu.collect();
    assert_eq!(claims.get(&mu).len(), usize::MAX);
}

/// A vector of `usize::MAX` values of a fieldless zero-sized type (building it element by
/// element would take 2^64 steps).
// A zero-sized value has no bytes to leave uninitialised: the lint's concern does not apply.
#[allow(clippy::uninit_vec)]
fn all_of_them<T>() -> Vec<T> {
    assert_eq!(std::mem::size_of::<T>(), 0);
    let mut many = Vec::new();
    // SAFETY: a vector of a zero-sized type has capacity `usize::MAX`; the callers' types are
    // fieldless structs, whose values need no bytes written.
    unsafe { many.set_len(usize::MAX) };
    many
}

#[derive(Trace)]
struct Node {
    id: u64,
    canary: u64,
    name: Member<str>,
    kids: Member<[Member<Node>]>,
    numbers: Member<[u64]>,
    #[trace(skip)]
    probe: DropProbe,
}

const MAGIC: u64 = 0x9E37_79B9_7F4A_7C15;

impl Node {
    fn check(&self, mu: &Mutator) {
        assert_eq!(self.canary, self.id ^ MAGIC, "canary of node {} corrupted", self.id);
        assert_eq!(self.probe.id, self.id);
        if let Some(name) = self.name.get(mu) {
            assert_eq!(&*name, format!("node-{}", self.id));
        }
        if let Some(numbers) = self.numbers.get(mu) {
            assert!(numbers.iter().enumerate().all(|(i, &n)| n == self.id.wrapping_mul(i as u64 + 1)));
        }
        if let Some(kids) = self.kids.get(mu) {
            for kid in kids.iter() {
                if let Some(kid) = kid.get(mu) {
                    assert_eq!(kid.canary, kid.id ^ MAGIC, "canary of node {} corrupted", kid.id);
                }
            }
        }
    }
}

fn node<'m>(mu: &'m Mutator, ledger: &Arc<Ledger>, rng: &mut Rng) -> Gc<'m, Node> {
    let probe = ledger.probe();
    let id = probe.id;
    let n = mu.alloc(Node {
        id,
        canary: id ^ MAGIC,
        name: Member::new(),
        kids: Member::new(),
        numbers: Member::new(),
        probe,
    });
    n.name.set(Some(mu.alloc_str(&format!("node-{id}"))));
    let count = [0, 3, 40, 600][rng.below(4)];
    n.numbers.set(Some(mu.alloc_from_iter((0..count as u64).map(|i| id.wrapping_mul(i + 1)))));
    n.kids.set(Some(mu.alloc_slice((0..rng.below(6)).map(|_| Member::new()).collect::<Vec<_>>())));
    n
}

const SLOTS: usize = 48;
const RUN_FOR_MILLIS: u64 = if cfg!(miri) { 100 } else { 700 };

/// Each thread keeps a rooted array of slots (its working set) and rewires it: new nodes,
/// nodes stored into other nodes' kid arrays, kid arrays and names replaced, slots cleared.
fn mutate(ledger: &Arc<Ledger>, seed: u64, stop: &AtomicBool, ops: &AtomicU64) {
    common::rewire_working_set::<Member<Node>>(
        ledger,
        seed,
        stop,
        ops,
        SLOTS,
        |mu, set, rng| {
            let slot = &set[rng.below(SLOTS)];
            match (rng.below(8), slot.get(mu)) {
                (0 | 1, _) => slot.set(Some(node(mu, ledger, rng))),
                (2, Some(a)) => {
                    if let (Some(kids), Some(b)) = (a.kids.get(mu), set[rng.below(SLOTS)].get(mu)) {
                        if !kids.is_empty() {
                            kids[rng.below(kids.len())].set(Some(b));
                        }
                    }
                }
                (3, Some(a)) => {
                    // Replace the kid array by a longer copy: the old one becomes garbage.
                    let old = a.kids.get(mu).map(|k| k.iter().map(|m| m.get(mu)).collect::<Vec<_>>());
                    let old = old.unwrap_or_default();
                    let bigger = mu.alloc_slice((0..old.len() + 1).map(|_| Member::new()).collect::<Vec<_>>());
                    for (m, kid) in bigger.iter().zip(old) {
                        m.set(kid);
                    }
                    a.kids.set(Some(bigger));
                }
                (4, Some(a)) => {
                    // A kid, reached only through an array, moved into the working set.
                    if let Some(kid) = a.kids.get(mu).and_then(|k| k.first().and_then(|m| m.get(mu))) {
                        kid.check(mu);
                        set[rng.below(SLOTS)].set(Some(kid));
                    }
                }
                (5, Some(_)) => slot.set(None),
                (6, Some(a)) => a.check(mu),
                _ => {}
            }
        },
        |mu, set| {
            for slot in set {
                if let Some(a) = slot.get(mu) {
                    a.check(mu);
                }
            }
        },
    );
}

#[test]
fn stress_under_every_barrier() {
    for config in common::stress_configs() {
        common::ledger_stress(config, RUN_FOR_MILLIS, mutate);
    }
}
