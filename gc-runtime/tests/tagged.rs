//! `TaggedMember`: a slot holding a GC pointer, a number or a small integer in one word.
//!
//! - The pointer keeps its object alive; no immediate does, whatever its bits — numbers and
//!   data made from live objects' addresses included — in every configuration.
//! - A stress run under every barrier with checkmark on: threads store numbers, data and
//!   pointers into tagged slots, and move objects between slots the way a mutator hides one
//!   from the marker (read the pointer, overwrite its slot with a number, store it elsewhere).
//!   Every immediate a node's slot holds must read back as the value its writer stored.

mod common;

use std::sync::{
    atomic::{AtomicBool, AtomicU64, Ordering},
    Arc,
};

use common::{DropProbe, Ledger};
use gc_runtime::{Gc, Mutator, Tagged, TaggedMember, TaggedWord, Trace, ValueStack, TAGGED_DATA_MAX};

#[derive(Trace)]
struct Probe {
    #[trace(skip)]
    probe: DropProbe,
}

#[derive(Trace)]
struct Holder {
    slot: TaggedMember<Probe>,
}

#[test]
fn a_pointer_keeps_its_object_alive_and_no_immediate_does() {
    for config in common::every_config() {
        let _s = common::serial_only();
        let label = format!("{config:?}");
        gc_runtime::reconfigure(config).unwrap();
        let ledger = Ledger::new(16);
        let mut mu = gc_runtime::attach();
        let holder = mu.alloc(Holder { slot: TaggedMember::new() });
        let probe = mu.alloc(Probe { probe: ledger.probe() });
        let addr = probe.addr() as u64;
        holder.slot.set(Tagged::Ptr(probe));
        let holder = holder.root(&mu);
        common::collect2(&mut mu);
        assert_eq!(ledger.total_drops(), 0, "{label}: the object held by the tagged slot was freed");
        let holder_now = holder.get(&mu);
        assert!(holder_now.slot.get(&mu).as_gc().is_some_and(|p| p.probe.id == 0), "{label}");
        // Immediates whose bits are (or are made from) the object's address: none keeps it.
        holder_now.slot.set(Tagged::Data(addr & TAGGED_DATA_MAX));
        let spare = mu.alloc(Holder { slot: TaggedMember::new() });
        spare.slot.set(Tagged::Number(f64::from_bits(addr)));
        holder_now.slot.set(Tagged::Number(f64::from_bits(addr)));
        let spare = spare.root(&mu);
        common::collect2(&mut mu);
        assert_eq!(ledger.drops(0), 1, "{label}: the object overwritten by immediates was kept");
        assert_eq!(holder.get(&mu).slot.number().map(f64::to_bits), Some(addr), "{label}");
        assert_eq!(spare.get(&mu).slot.number().map(f64::to_bits), Some(addr), "{label}");
    }
}

/// A value stack of `TaggedWord`s, and one of `Tagged`s, keep the objects their pointers name
/// alive across collections (and only those: popped, they are freed); the immediates beside
/// them, numbers made from the objects' addresses included, keep nothing.
#[test]
fn value_stacks_of_tagged_values_keep_exactly_their_objects() {
    let _s = common::serial_only();
    let ledger = Ledger::new(64);
    let mut mu = gc_runtime::attach();
    let mut words = ValueStack::<TaggedWord<'static, Probe>>::new(&mu);
    let mut tagged = ValueStack::<Tagged<'static, Probe>>::new(&mu);
    {
        let (mut w, mut t) = (words.open(&mu), tagged.open(&mu));
        for _ in 0..16 {
            let p = mu.alloc(Probe { probe: ledger.probe() });
            w.push(TaggedWord::ptr(p));
            w.push(TaggedWord::number(f64::from_bits(p.addr() as u64)));
            let q = mu.alloc(Probe { probe: ledger.probe() });
            t.push(Tagged::Ptr(q));
            t.push(Tagged::Data(q.addr() as u64 & TAGGED_DATA_MAX));
        }
    }
    common::collect2(&mut mu);
    assert_eq!(ledger.total_drops(), 0, "an object named by a stack value was freed");
    {
        let (w, t) = (words.open(&mu), tagged.open(&mu));
        let ids = |v: Vec<u64>| v.into_iter().collect::<std::collections::HashSet<_>>().len();
        let word_ids: Vec<u64> = w.iter().filter_map(|v| v.as_gc()).map(|p| p.probe.id).collect();
        let tagged_ids: Vec<u64> = t.iter().filter_map(|v| v.as_gc()).map(|p| p.probe.id).collect();
        assert_eq!((ids(word_ids), ids(tagged_ids)), (16, 16), "every object is still there, once");
    }
    words.open(&mu).truncate(16); // keeps 8 objects of the words' 16
    tagged.open(&mu).clear();
    common::collect2(&mut mu);
    assert_eq!(ledger.total_drops(), 24, "exactly the objects no stack value names any more were freed");
    assert!(words.open(&mu).iter().step_by(2).all(|v| v.as_gc().is_some_and(|p| ledger.drops(p.probe.id) == 0)));
}

const MAGIC: u64 = 0x9E37_79B9_7F4A_7C15;
const KIDS: usize = 4;

#[derive(Trace)]
struct Node {
    id: u64,
    canary: u64,
    kids: [TaggedMember<Node>; KIDS],
    #[trace(skip)]
    probe: DropProbe,
}

/// The number a node's kid slot `i` holds when its writer stores a number there.
fn number_for(id: u64, i: usize) -> f64 {
    (id * KIDS as u64 + i as u64) as f64 + 0.25
}

/// The data a node's kid slot `i` holds when its writer stores data there.
fn data_for(id: u64, i: usize) -> u64 {
    (id.wrapping_mul(MAGIC) ^ i as u64) & TAGGED_DATA_MAX
}

impl Node {
    fn check(&self, mu: &Mutator) {
        assert_eq!(self.canary, self.id ^ MAGIC, "canary of node {} corrupted", self.id);
        assert_eq!(self.probe.id, self.id);
        for (i, kid) in self.kids.iter().enumerate() {
            match kid.get(mu) {
                Tagged::Empty => {}
                Tagged::Ptr(k) => assert_eq!(k.canary, k.id ^ MAGIC, "canary of node {} corrupted", k.id),
                Tagged::Number(n) => assert_eq!(n, number_for(self.id, i), "node {} kid {i}", self.id),
                Tagged::Data(d) => assert_eq!(d, data_for(self.id, i), "node {} kid {i}", self.id),
            }
        }
    }
}

fn node<'m>(mu: &'m Mutator, ledger: &Arc<Ledger>) -> Gc<'m, Node> {
    let probe = ledger.probe();
    let id = probe.id;
    let n = mu.alloc(Node { id, canary: id ^ MAGIC, kids: Default::default(), probe });
    n.kids[0].set(Tagged::Number(number_for(id, 0)));
    n.kids[1].set(Tagged::Data(data_for(id, 1)));
    n
}

const SLOTS: usize = 48;
const RUN_FOR_MILLIS: u64 = if cfg!(miri) { 100 } else { 700 };

/// Each thread keeps a rooted array of tagged slots (its working set) and rewires it.
fn mutate(ledger: &Arc<Ledger>, seed: u64, stop: &AtomicBool, ops: &AtomicU64) {
    common::rewire_working_set::<TaggedMember<Node>>(
        ledger,
        seed,
        stop,
        ops,
        SLOTS,
        |mu, set, rng| {
            let at = rng.below(SLOTS);
            let slot = &set[at];
            let i = rng.below(KIDS);
            match (rng.below(9), slot.get(mu).as_gc()) {
                (0 | 1, _) => slot.set(Tagged::Ptr(node(mu, ledger))),
                (2, _) => {
                    let x = rng.next() as f64;
                    slot.set(Tagged::Number(x));
                    assert_eq!(slot.number(), Some(x));
                }
                (3, _) => {
                    let d = rng.next() & TAGGED_DATA_MAX;
                    slot.set(Tagged::Data(d));
                    assert_eq!(slot.data(), Some(d));
                }
                (4, Some(a)) => {
                    // Link another working-set node (or an immediate) into a kid slot.
                    match set[rng.below(SLOTS)].get(mu).as_gc() {
                        Some(b) => a.kids[i].set(Tagged::Ptr(b)),
                        None if i % 2 == 0 => a.kids[i].set(Tagged::Number(number_for(a.id, i))),
                        None => a.kids[i].set(Tagged::Data(data_for(a.id, i))),
                    }
                }
                (5, Some(a)) => {
                    // Hide a kid from the marker: take it out of its slot, overwrite the slot
                    // with an immediate, and store it into the working set.
                    if let Some(kid) = a.kids[i].get(mu).as_gc() {
                        if i % 2 == 0 {
                            a.kids[i].set(Tagged::Number(number_for(a.id, i)));
                        } else {
                            a.kids[i].set(Tagged::Data(data_for(a.id, i)));
                        }
                        kid.check(mu);
                        set[rng.below(SLOTS)].set(Tagged::Ptr(kid));
                    }
                }
                (6, Some(a)) => a.check(mu),
                (7, Some(_)) => slot.set(Tagged::Empty),
                _ => {}
            }
        },
        |mu, set| {
            for slot in set {
                if let Some(a) = slot.get(mu).as_gc() {
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

const BELT: usize = if cfg!(miri) { 256 } else { 4096 };

/// A conveyor: every node of a fixed population sits in exactly one slot of two rooted arrays;
/// a pass takes each node out of the first array, overwrites its slot with a number, and
/// stores the node over a number in the second array (at a scrambled index), then the arrays
/// swap roles. The population outlives every cycle, so each marking finds it white, reachable
/// through one slot only, and a node in flight is hidden exactly as the barrier must catch:
/// the deletion barriers shade it when the number overwrites it, the insertion barrier when it
/// is stored. A number store that skipped the barrier would let the marker miss a node that
/// moved from an unscanned slot to a scanned one, which checkmark turns into a fatal error.
fn conveyor(ledger: &Arc<Ledger>, seed: u64, stop: &AtomicBool, ops: &AtomicU64) {
    let mut mu = gc_runtime::attach();
    let belt = || mu.alloc_slice((0..BELT).map(|_| TaggedMember::<Node>::new()).collect::<Vec<_>>()).root(&mu);
    let (from, to) = (belt(), belt());
    for (k, slot) in from.get(&mu).iter().enumerate() {
        slot.set(Tagged::Ptr(node(&mu, ledger)));
        to.get(&mu)[k].set(Tagged::Number(k as f64));
    }
    let mut ids: Vec<u64> = from.get(&mu).iter().map(|s| s.get(&mu).as_gc().expect("a node").id).collect();
    ids.sort_unstable();
    let (mut from, mut to) = (from, to);
    let stride = (seed as usize % BELT) | 1; // odd: a permutation of the power-of-two belt
    let mut moved = 0_u64;
    while !stop.load(Ordering::Relaxed) {
        for k in 0..BELT {
            {
                let (src, dst) = (from.get(&mu), to.get(&mu));
                let at = k * stride % BELT;
                let node = src[k].get(&mu).as_gc().expect("every slot of the full belt holds a node");
                src[k].set(Tagged::Number(k as f64));
                node.check(&mu);
                assert_eq!(dst[at].number(), Some(at as f64), "the empty belt holds numbers");
                dst[at].set(Tagged::Ptr(node));
            }
            moved += 1;
            if k % 64 == 0 {
                mu.safepoint();
            }
        }
        std::mem::swap(&mut from, &mut to);
    }
    let mut seen: Vec<u64> = from.get(&mu).iter().map(|s| s.get(&mu).as_gc().expect("a node").id).collect();
    seen.sort_unstable();
    assert_eq!(seen, ids, "every node is on the belt exactly once");
    ops.fetch_add(moved, Ordering::Relaxed);
}

#[test]
fn conveyor_under_every_barrier() {
    for config in common::stress_configs() {
        common::ledger_stress(config, RUN_FOR_MILLIS, conveyor);
    }
}
