//! A hostile (safe-Rust-only) user against the marker's runs of one type (`mark_visit::mark_run`):
//! after one object, the marker goes on with the top of its stack while that is an object of the
//! same descriptor, under limits (balance check, an assist's budget, the spill threshold), and
//! stops at an object whose visit notes a lock, a chunk or a pending ephemeron.
//!
//! Each test is one attack and asserts what must hold: every reachable object stays allocated
//! and intact (a canary in each, its edges pointing where the test put them), every unreachable
//! one is dropped exactly once (a ledger of drop probes), checkmark verifies every marking (a
//! missed object aborts the process), nothing deadlocks (a watchdog), and a panicking `Trace`
//! stops the process naming its type (child processes).
//!
//! What is tried, in file order:
//!
//! - typed graphs of seven layouts (two plain types, `NG<u32>` and `NG<u64>`, an over-aligned
//!   large type, a large type, a zero-sized type with `NEEDS_TRACE`) in trees, chains, cycles,
//!   wide fan-outs (the stack over the spill threshold), the layout changing at every node,
//!   every level, or in stretches of 2..1000, under every configuration, then cut and collected
//!   again;
//! - the counts a run reports (`objects_marked`, `heap_marked`) for the same heap of one layout
//!   and of alternating layouts;
//! - the same graphs rewired by three mutators while cycles run with 1, 2, 16 and 4 workers;
//! - large collections (`GcVec`, `GcMap` with keys whose `Eq` holds the write lock a while,
//!   `GcIdMap`) in some objects of a run type and not others, written by several threads while
//!   workers mark (chunks continued below their finds, locked objects deferred mid-run);
//! - weak maps (ephemerons) in objects of a run type: keys reachable only through other objects
//!   of the run, chains of ephemerons through values, keys reachable only through their own
//!   values, entries keyed by their holder; then writers inserting and removing while cycles run;
//! - mark assists: allocation-heavy threads beside a large live tree, small heap goals;
//! - a `Trace` that panics only for the Nth object of a run (in a pause, on a helper worker, in
//!   an assist, behind a trait object, for one instance of a generic type, with a payload whose
//!   own destructor panics): the process stops with a message naming the type, on one line
//!   even while other threads print their panic reports;
//! - hand-written `Trace` impls that report slots conditionally (fixed at construction, out of
//!   order, a variable number out of line), one that reports a slot twice, and one descriptor whose objects report slots of
//!   different shapes through a vtable (leaves, fan-outs, chunked vectors, weak maps);
//! - trait objects of several concrete types, and one type both plain and as a trait object;
//! - zero-sized traced objects in a fan-out far over the spill threshold, page-aligned objects
//!   with slots, lists whose layout changes every 1, 2 or 1000 cells (exact `objects_marked`);
//! - the worker count, checkmark and pacing from the environment (`GC_MARK_WORKERS=6`).

use std::{
    collections::HashSet,
    hash::Hash,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

mod common;

use common::{
    child::{child, in_child},
    collect2, every_config,
    hostile::{assert_checkmarked_since, hostile_config, modes, watchdog, with_collector},
    serial_only, Canary, DropProbe, Ledger, Rng,
};
use gc_runtime::{
    dyn_object, unsize, Config, Gc, GcIdMap, GcMap, GcVec, GcWeakMap, Member, Mode, Mutator, Root, Trace, Tracer,
};

// ---------------------------------------------------------------------------------------------
// Scaffolding.

/// Exactly the objects `alive` names are still allocated; then, once `world` (what keeps them)
/// is dropped and two cycles ran, none is.
fn alive_then_all_freed<W>(mu: &mut Mutator, ledger: &Ledger, alive: &HashSet<u64>, world: W) {
    ledger.check_exactly(alive);
    drop(world);
    collect2(mu);
    ledger.check_exactly(&HashSet::new());
}

/// The scramble of a [`Tag`]'s id.
const MAGIC: u64 = 0x5EED_F00D_DEAD_BEEF;

/// An object's identity: its id (its probe's), a canary (the id scrambled), and its drop probe.
#[derive(Trace)]
struct Tag {
    id: u64,
    canary: u64,
    #[trace(skip)]
    probe: DropProbe,
}

impl Tag {
    fn new(ledger: &Arc<Ledger>) -> Tag {
        let probe = ledger.probe();
        Tag { id: probe.id, canary: probe.id ^ MAGIC, probe }
    }

    /// Check the canary and the probe; returns the id.
    fn check(&self) -> u64 {
        assert_eq!(self.canary, self.id ^ MAGIC, "canary of object {} corrupted (freed while reachable?)", self.id);
        assert_eq!(self.probe.id, self.id, "probe of object {} corrupted", self.id);
        self.id
    }
}

// ---------------------------------------------------------------------------------------------
// Typed graphs of seven layouts.

/// The out-edges of a graph node: slots to each layout, as many of each as the node was
/// planned with (grouped by the target's layout, in [`KINDS`] order).
#[derive(Trace)]
struct Edges {
    a: Vec<Member<NA>>,
    b: Vec<Member<NB>>,
    g32: Vec<Member<NG<u32>>>,
    g64: Vec<Member<NG<u64>>>,
    w: Vec<Member<NW>>,
    h: Vec<Member<NH>>,
    z: Vec<Member<Zst>>,
}

#[derive(Trace)]
struct NA {
    tag: Tag,
    e: Edges,
}

#[derive(Trace)]
struct NB {
    pad: [u64; 3],
    tag: Tag,
    e: Edges,
}

/// Two instances, two descriptors (`NG<u32>` and `NG<u64>`), of one size (asserted below).
#[derive(Trace)]
struct NG<X: Trace + Send + Sync + 'static> {
    x: X,
    tag: Tag,
    e: Edges,
}

const _: () = assert!(std::mem::size_of::<NG<u32>>() == std::mem::size_of::<NG<u64>>());

/// Over-aligned (a large object: the allocator sends alignments over 16 there).
#[derive(Trace)]
#[repr(align(64))]
struct NW {
    tag: Tag,
    e: Edges,
}

/// Larger than the largest size class: a large object.
#[derive(Trace)]
struct NH {
    tag: Tag,
    e: Edges,
    pad: [u64; 1100],
}

/// Zero-sized, yet traced (`NEEDS_TRACE` left `true`): it has a run of its own, which reads
/// nothing.
struct Zst;

// SAFETY: holds no slot; reports nothing.
unsafe impl Trace for Zst {
    fn trace(&self, _: &mut Tracer<'_>) {}
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    A,
    B,
    G32,
    G64,
    W,
    H,
}

const KINDS: [Kind; 6] = [Kind::A, Kind::B, Kind::G32, Kind::G64, Kind::W, Kind::H];
const SMALL_KINDS: [Kind; 4] = [Kind::A, Kind::B, Kind::G32, Kind::G64];

impl Kind {
    fn index(self) -> usize {
        KINDS.iter().position(|&k| k == self).unwrap()
    }
}

/// A graph node of any layout, as a local.
#[derive(Clone, Copy)]
enum AnyNode<'m> {
    A(Gc<'m, NA>),
    B(Gc<'m, NB>),
    G32(Gc<'m, NG<u32>>),
    G64(Gc<'m, NG<u64>>),
    W(Gc<'m, NW>),
    H(Gc<'m, NH>),
}

impl<'m> AnyNode<'m> {
    fn alloc(mu: &'m Mutator, kind: Kind, tag: Tag, e: Edges) -> AnyNode<'m> {
        match kind {
            Kind::A => AnyNode::A(mu.alloc(NA { tag, e })),
            Kind::B => AnyNode::B(mu.alloc(NB { pad: [7, 8, 9], tag, e })),
            Kind::G32 => AnyNode::G32(mu.alloc(NG { x: 0xABCD_u32, tag, e })),
            Kind::G64 => AnyNode::G64(mu.alloc(NG { x: 0x1234_5678_9ABC_u64, tag, e })),
            Kind::W => AnyNode::W(mu.alloc(NW { tag, e })),
            Kind::H => AnyNode::H(mu.alloc(NH { tag, e, pad: [0x77; 1100] })),
        }
    }

    /// Tag, edges and layout; checks the layout's own payload.
    fn parts(self) -> (&'m Tag, &'m Edges, Kind) {
        match self {
            AnyNode::A(g) => {
                let r = g.into_ref();
                (&r.tag, &r.e, Kind::A)
            }
            AnyNode::B(g) => {
                let r = g.into_ref();
                assert_eq!(r.pad, [7, 8, 9], "NB {} payload", r.tag.id);
                (&r.tag, &r.e, Kind::B)
            }
            AnyNode::G32(g) => {
                let r = g.into_ref();
                assert_eq!(r.x, 0xABCD, "NG<u32> {} payload", r.tag.id);
                (&r.tag, &r.e, Kind::G32)
            }
            AnyNode::G64(g) => {
                let r = g.into_ref();
                assert_eq!(r.x, 0x1234_5678_9ABC, "NG<u64> {} payload", r.tag.id);
                (&r.tag, &r.e, Kind::G64)
            }
            AnyNode::W(g) => {
                let r = g.into_ref();
                assert_eq!((r as *const NW).addr() % 64, 0, "NW {} misaligned", r.tag.id);
                (&r.tag, &r.e, Kind::W)
            }
            AnyNode::H(g) => {
                let r = g.into_ref();
                assert!(r.pad.iter().all(|&p| p == 0x77), "NH {} payload", r.tag.id);
                (&r.tag, &r.e, Kind::H)
            }
        }
    }
}

fn members<T: Trace + Send + Sync + 'static>(n: usize) -> Vec<Member<T>> {
    (0..n).map(|_| Member::new()).collect()
}

/// Edges with `counts[k]` slots to layout `KINDS[k]` and `zst` to zero-sized objects.
fn edges_with(counts: [usize; 6], zst: usize) -> Edges {
    Edges {
        a: members(counts[0]),
        b: members(counts[1]),
        g32: members(counts[2]),
        g64: members(counts[3]),
        w: members(counts[4]),
        h: members(counts[5]),
        z: members(zst),
    }
}

/// Slot `pos` of layout `kind` in `e`, set to `to` (which must be of that layout) or cleared.
fn set_edge(e: &Edges, kind: Kind, pos: usize, to: Option<AnyNode<'_>>) {
    match (kind, to) {
        (Kind::A, Some(AnyNode::A(g))) => e.a[pos].set(Some(g)),
        (Kind::B, Some(AnyNode::B(g))) => e.b[pos].set(Some(g)),
        (Kind::G32, Some(AnyNode::G32(g))) => e.g32[pos].set(Some(g)),
        (Kind::G64, Some(AnyNode::G64(g))) => e.g64[pos].set(Some(g)),
        (Kind::W, Some(AnyNode::W(g))) => e.w[pos].set(Some(g)),
        (Kind::H, Some(AnyNode::H(g))) => e.h[pos].set(Some(g)),
        (Kind::A, None) => e.a[pos].set(None),
        (Kind::B, None) => e.b[pos].set(None),
        (Kind::G32, None) => e.g32[pos].set(None),
        (Kind::G64, None) => e.g64[pos].set(None),
        (Kind::W, None) => e.w[pos].set(None),
        (Kind::H, None) => e.h[pos].set(None),
        (k, Some(_)) => panic!("slot of layout {k:?} given another layout"),
    }
}

/// Every slot of `e` but the zero-sized ones, in [`KINDS`] order, read.
fn targets<'m>(e: &Edges, mu: &'m Mutator) -> Vec<Option<AnyNode<'m>>> {
    let mut out = Vec::new();
    out.extend(e.a.iter().map(|m| m.get(mu).map(AnyNode::A)));
    out.extend(e.b.iter().map(|m| m.get(mu).map(AnyNode::B)));
    out.extend(e.g32.iter().map(|m| m.get(mu).map(AnyNode::G32)));
    out.extend(e.g64.iter().map(|m| m.get(mu).map(AnyNode::G64)));
    out.extend(e.w.iter().map(|m| m.get(mu).map(AnyNode::W)));
    out.extend(e.h.iter().map(|m| m.get(mu).map(AnyNode::H)));
    out
}

/// A planned node: its layout, its out-edges (plan indices, grouped by the target's layout in
/// [`KINDS`] order; `None` once cut), and how many zero-sized objects it points to.
struct PlanNode {
    kind: Kind,
    out: Vec<Option<usize>>,
    zst: usize,
}

/// A planned graph: node `i` gets ledger id `i` (a fresh ledger per graph); node 0, an `NA`,
/// is the root.
struct Plan {
    nodes: Vec<PlanNode>,
}

impl Plan {
    /// `n` nodes of layouts `kind_of(i)`: the first 7/8 a live part (a binary tree, one node
    /// with a fan-out of up to 3000 — more than the spill threshold — chains between leaves,
    /// and back edges), the rest a garbage part (chains, cycles, edges into the live part).
    fn new(n: usize, seed: u64, kind_of: &dyn Fn(usize, &mut Rng) -> Kind) -> Plan {
        let mut rng = Rng(seed);
        let live = n * 7 / 8;
        let mut nodes: Vec<PlanNode> =
            (0..n).map(|i| PlanNode { kind: kind_of(i, &mut rng), out: Vec::new(), zst: 0 }).collect();
        nodes[0].kind = Kind::A;
        let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
        for i in 0..live {
            for c in [2 * i + 1, 2 * i + 2] {
                if c < live {
                    out[i].push(c);
                }
            }
            if rng.below(4) == 0 && i > 0 {
                out[i].push(rng.below(i)); // back edge: a cycle
            }
            if rng.below(3) == 0 && i + 1 < live {
                out[i].push(i + 1); // a chain beside the tree
            }
            if rng.below(5) == 0 {
                nodes[i].zst = 1 + rng.below(2);
            }
        }
        if live > 2 {
            let from = live / 2;
            out[1].extend(from..(from + 3000).min(live));
        }
        for (i, o) in out.iter_mut().enumerate().skip(live) {
            if i + 1 < n {
                o.push(i + 1);
            }
            o.push(live + rng.below(n - live)); // garbage cycles
            if rng.below(2) == 0 {
                o.push(rng.below(live)); // garbage pointing into the live part
            }
        }
        for (i, o) in out.into_iter().enumerate() {
            let mut o: Vec<usize> = o;
            o.sort_by_key(|&t| nodes[t].kind.index()); // stable: grouped by layout
            nodes[i].out = o.into_iter().map(Some).collect();
        }
        Plan { nodes }
    }

    /// Plan indices reachable from the root.
    fn reachable(&self) -> HashSet<u64> {
        let mut seen = HashSet::from([0u64]);
        let mut todo = vec![0usize];
        while let Some(i) = todo.pop() {
            for t in self.nodes[i].out.iter().flatten() {
                if seen.insert(*t as u64) {
                    todo.push(*t);
                }
            }
        }
        seen
    }

    /// Allocate the graph (ids from a fresh `ledger`) and wire it; returns the root.
    fn build<'m>(&self, mu: &'m Mutator, ledger: &Arc<Ledger>) -> Gc<'m, NA> {
        assert_eq!(ledger.created(), 0, "a fresh ledger per graph");
        let nodes: Vec<AnyNode<'m>> = self
            .nodes
            .iter()
            .map(|p| {
                let mut counts = [0; 6];
                for t in p.out.iter().flatten() {
                    counts[self.nodes[*t].kind.index()] += 1;
                }
                AnyNode::alloc(mu, p.kind, Tag::new(ledger), edges_with(counts, p.zst))
            })
            .collect();
        for (i, p) in self.nodes.iter().enumerate() {
            let (_, e, _) = nodes[i].parts();
            let mut pos = [0; 6];
            for t in p.out.iter().flatten() {
                let k = self.nodes[*t].kind;
                set_edge(e, k, pos[k.index()], Some(nodes[*t]));
                pos[k.index()] += 1;
            }
            for z in &e.z {
                z.set(Some(mu.alloc(Zst)));
            }
        }
        match nodes[0] {
            AnyNode::A(root) => root,
            _ => unreachable!("node 0 is an NA"),
        }
    }

    /// Cut about one edge in `one_in` (slots cleared in the heap and in the plan).
    fn cut(&mut self, root: Gc<'_, NA>, mu: &Mutator, one_in: usize, rng: &mut Rng) {
        // Find every reachable node's local through the heap, then cut.
        let mut locals: Vec<Option<AnyNode<'_>>> = vec![None; self.nodes.len()];
        let mut todo = vec![AnyNode::A(root)];
        locals[0] = Some(AnyNode::A(root));
        while let Some(n) = todo.pop() {
            let (_, e, _) = n.parts();
            for t in targets(e, mu).into_iter().flatten() {
                let id = t.parts().0.id as usize;
                if locals[id].is_none() {
                    locals[id] = Some(t);
                    todo.push(t);
                }
            }
        }
        for (i, local) in locals.iter().enumerate() {
            let Some(local) = local else { continue };
            let (_, e, _) = local.parts();
            let mut pos = [0; 6];
            let kinds: Vec<Option<Kind>> = self.nodes[i].out.iter().map(|t| t.map(|t| self.nodes[t].kind)).collect();
            for (j, k) in kinds.into_iter().enumerate() {
                // A cut slot keeps its place: the layouts of cut edges are found by position.
                let k = k.unwrap_or_else(|| kind_at(j, e));
                if self.nodes[i].out[j].is_some() && rng.below(one_in) == 0 {
                    set_edge(e, k, pos[k.index()], None);
                    self.nodes[i].out[j] = None;
                }
                pos[k.index()] += 1;
            }
        }
    }
}

/// The layout of slot `j` of a node with edges `e` (slots are grouped by layout).
fn kind_at(j: usize, e: &Edges) -> Kind {
    let counts = [e.a.len(), e.b.len(), e.g32.len(), e.g64.len(), e.w.len(), e.h.len()];
    let mut j = j;
    for (k, c) in counts.into_iter().enumerate() {
        if j < c {
            return KINDS[k];
        }
        j -= c;
    }
    panic!("slot out of range")
}

/// Walk the graph from `root`, checking every node's canary, layout, payload and every edge
/// against the plan; returns the ids reached.
fn verify(mu: &Mutator, root: Gc<'_, NA>, plan: &Plan) -> HashSet<u64> {
    let mut seen = HashSet::from([0u64]);
    let mut todo = vec![AnyNode::A(root)];
    while let Some(n) = todo.pop() {
        let (tag, e, kind) = n.parts();
        let id = tag.check();
        let p = &plan.nodes[id as usize];
        assert_eq!(kind, p.kind, "node {id}: layout");
        let slots = targets(e, mu);
        assert_eq!(slots.len(), p.out.len(), "node {id}: slot count");
        for (j, (want, got)) in p.out.iter().zip(slots).enumerate() {
            match (want, got) {
                (None, None) => {}
                (Some(t), Some(g)) => {
                    let gid = g.parts().0.check();
                    assert_eq!(gid, *t as u64, "node {id}: edge {j} points to {gid}, not {t}");
                    if seen.insert(gid) {
                        todo.push(g);
                    }
                }
                (w, g) => panic!("node {id}: edge {j} should be {w:?}, is {:?}", g.map(|g| g.parts().0.id)),
            }
        }
        assert_eq!(e.z.len(), p.zst, "node {id}: zero-sized slots");
        assert!(e.z.iter().all(|z| z.get(mu).is_some()), "node {id}: a zero-sized object lost");
    }
    assert_eq!(seen, plan.reachable(), "reached other nodes than planned");
    seen
}

/// A layout pattern: the layout of node `i`.
type KindOf = Box<dyn Fn(usize, &mut Rng) -> Kind>;

/// The layout patterns: the layout changes at every node, at every tree level, in stretches of
/// 2, 3, 64 and 1000 nodes, or at random; the two large layouts sprinkled in.
fn patterns() -> Vec<(&'static str, KindOf)> {
    fn sprinkle(rng: &mut Rng, k: Kind) -> Kind {
        match rng.below(97) {
            0 => Kind::W,
            1 => Kind::H,
            _ => k,
        }
    }
    let level = |i: usize| (usize::BITS - (i + 1).leading_zeros()) as usize;
    vec![
        ("every node", Box::new(|i, rng: &mut Rng| sprinkle(rng, SMALL_KINDS[i % 4]))),
        ("every level", Box::new(move |i, rng: &mut Rng| sprinkle(rng, SMALL_KINDS[level(i) % 4]))),
        ("A/B by level", Box::new(move |i, _: &mut Rng| if level(i) % 2 == 0 { Kind::A } else { Kind::B })),
        ("generics by node", Box::new(|i, _: &mut Rng| if i % 2 == 0 { Kind::G32 } else { Kind::G64 })),
        ("stretches of 2", Box::new(|i, rng: &mut Rng| sprinkle(rng, SMALL_KINDS[i / 2 % 4]))),
        ("stretches of 3", Box::new(|i, rng: &mut Rng| sprinkle(rng, SMALL_KINDS[i / 3 % 4]))),
        ("stretches of 64", Box::new(|i, rng: &mut Rng| sprinkle(rng, SMALL_KINDS[i / 64 % 4]))),
        ("stretches of 1000", Box::new(|i, _: &mut Rng| SMALL_KINDS[i / 1000 % 4])),
        ("one layout", Box::new(|_, _: &mut Rng| Kind::A)),
        (
            "random",
            Box::new(|_, rng: &mut Rng| {
                let of = if rng.below(16) == 0 { 6 } else { 4 };
                KINDS[rng.below(of)]
            }),
        ),
        ("large only", Box::new(|i, _: &mut Rng| if i % 3 == 0 { Kind::W } else { Kind::H })),
    ]
}

/// Build a graph, collect, check; cut a third of its edges, collect, check; drop it, collect,
/// check that everything was dropped exactly once.
fn graph_round(plan: &mut Plan, seed: u64, label: &str) {
    let ledger = Ledger::new(plan.nodes.len());
    let mut mu = gc_runtime::attach();
    let root = plan.build(&mu, &ledger).root(&mu);
    collect2(&mut mu);
    let alive = verify(&mu, root.get(&mu), plan);
    ledger.check_exactly(&alive);
    let mut rng = Rng(seed ^ 0xC0FFEE);
    plan.cut(root.get(&mu), &mu, 3, &mut rng);
    collect2(&mut mu);
    let alive = verify(&mu, root.get(&mu), plan);
    assert!(alive.len() < plan.nodes.len(), "{label}: the cut freed nothing");
    alive_then_all_freed(&mut mu, &ledger, &alive, root);
}

/// Attacks where runs start and stop: every layout pattern, in a rotating configuration (each
/// mode and barrier, one to four workers), plus the first patterns under every configuration.
/// Must hold: the reachable nodes exactly are alive, intact and wired as planned, before and
/// after a cut; everything dropped exactly once at the end.
#[test]
fn graphs_whose_layout_changes_at_every_node_level_and_stretch() {
    let _s = serial_only();
    let _w = watchdog("typed graphs");
    let configs = every_config();
    let n = if cfg!(debug_assertions) { 6000 } else { 20_000 };
    for (i, (label, kind_of)) in patterns().into_iter().enumerate() {
        let config = configs[i % configs.len()].clone().with_mark_workers(1 + i % 4);
        gc_runtime::reconfigure(config.clone()).unwrap();
        let mut plan = Plan::new(if label == "large only" { 300 } else { n }, i as u64 + 1, &*kind_of);
        graph_round(&mut plan, i as u64, &format!("{label} under {config:?}"));
    }
    for config in configs {
        gc_runtime::reconfigure(config.clone().with_mark_workers(2)).unwrap();
        let mut plan = Plan::new(n / 2, 99, &|i, _| SMALL_KINDS[i % 4]);
        graph_round(&mut plan, 5, &format!("every node under {config:?}"));
    }
    gc_runtime::reconfigure(Config::default()).unwrap();
}

/// Attacks the counts a run reports: the same heap shape (a root with 4000 children, each with
/// two children, of 5000 nodes in a chain beside) marked with one layout, with two layouts of
/// one size alternating, and with the layout changing per stretch of 64, in a pause and
/// concurrently. Must hold: every marking reports the same `objects_marked` and `heap_marked`
/// for the three (a run counts each of its objects once, with its size), and the count is the
/// number of traced objects reached.
#[test]
fn a_runs_counts_match_the_same_heap_marked_one_object_at_a_time() {
    let _s = serial_only();
    let _w = watchdog("run counts");
    for (mode, barrier, handshakes) in modes() {
        let mut seen = Vec::new();
        for (label, kind_of) in [
            ("one layout", &(|_: usize| Kind::G32) as &dyn Fn(usize) -> Kind),
            ("alternating", &|i: usize| if i % 2 == 0 { Kind::G32 } else { Kind::G64 }),
            ("stretches", &|i: usize| if i / 64 % 2 == 0 { Kind::G64 } else { Kind::G32 }),
        ] {
            gc_runtime::reconfigure(
                Config::default()
                    .with_mode(mode)
                    .with_barrier(barrier)
                    .with_handshakes(handshakes)
                    .with_gc_percent(None)
                    .with_checkmark(true),
            )
            .unwrap();
            let ledger = Ledger::new(20_000);
            let mut mu = gc_runtime::attach();
            collect2(&mut mu);
            let root = {
                let mut plan = Plan { nodes: Vec::new() };
                let top = 4000;
                plan.nodes.push(PlanNode { kind: Kind::A, out: Vec::new(), zst: 0 });
                let mut n = 1;
                let mut first_level = Vec::new();
                for _ in 0..top {
                    first_level.push(n);
                    plan.nodes.push(PlanNode { kind: kind_of(n), out: Vec::new(), zst: 0 });
                    n += 1;
                }
                for &p in &first_level {
                    for _ in 0..2 {
                        plan.nodes[p].out.push(Some(n));
                        plan.nodes.push(PlanNode { kind: kind_of(n), out: Vec::new(), zst: 0 });
                        n += 1;
                    }
                }
                let chain_start = n;
                for i in 0..5000 {
                    plan.nodes.push(PlanNode { kind: kind_of(n), out: Vec::new(), zst: 0 });
                    if i > 0 {
                        plan.nodes[n - 1].out.push(Some(n));
                    }
                    n += 1;
                }
                let mut root_out: Vec<usize> = first_level.clone();
                root_out.push(chain_start);
                root_out.sort_by_key(|&t| plan.nodes[t].kind.index());
                plan.nodes[0].out = root_out.into_iter().map(Some).collect();
                for p in &mut plan.nodes {
                    let mut o: Vec<usize> = p.out.iter().flatten().copied().collect();
                    o.sort_by_key(|&t| KINDS.iter().position(|&k| k == kind_of(t)).unwrap());
                    p.out = o.into_iter().map(Some).collect();
                }
                let root = plan.build(&mu, &ledger).root(&mu);
                assert_eq!(verify(&mu, root.get(&mu), &plan).len(), plan.nodes.len());
                root
            };
            collect2(&mut mu);
            let stats = gc_runtime::stats();
            let last = stats.recent.last().unwrap();
            seen.push((label, last.objects_marked, last.heap_marked));
            drop(root);
            collect2(&mut mu);
            ledger.check_exactly(&HashSet::new());
        }
        let (_, objects, bytes) = seen[0];
        for &(label, o, b) in &seen {
            assert_eq!((o, b), (objects, bytes), "{mode:?} {barrier:?}: {label} counted differently: {seen:?}");
        }
        // 1 + 4000 + 8000 + 5000 graph nodes, all traced; a few more objects may be the
        // runtime's own.
        let nodes = 1 + 4000 + 8000 + 5000;
        assert!((nodes..nodes + 16).contains(&objects), "{mode:?} {barrier:?}: {objects} objects marked for {nodes}");
    }
    gc_runtime::reconfigure(Config::default()).unwrap();
}

/// All the slots of `e` to layout `kind`.
fn slots_of(e: &Edges, kind: Kind) -> usize {
    match kind {
        Kind::A => e.a.len(),
        Kind::B => e.b.len(),
        Kind::G32 => e.g32.len(),
        Kind::G64 => e.g64.len(),
        Kind::W => e.w.len(),
        Kind::H => e.h.len(),
    }
}

/// A fresh node of layout `kind` with a few slots of every small layout (rarely a large one).
fn fresh_node<'m>(mu: &'m Mutator, kind: Kind, ledger: &Arc<Ledger>, rng: &mut Rng) -> AnyNode<'m> {
    let mut counts = [0; 6];
    for c in counts.iter_mut().take(4) {
        *c = rng.below(3);
    }
    if rng.below(8) == 0 {
        counts[4 + rng.below(2)] = 1;
    }
    AnyNode::alloc(mu, kind, Tag::new(ledger), edges_with(counts, rng.below(2)))
}

/// Walk the live graph from `root` (every node checked); returns the ids reached.
fn live_ids(mu: &Mutator, root: Gc<'_, NA>) -> HashSet<u64> {
    let mut seen = HashSet::from([root.tag.check()]);
    let mut todo = vec![AnyNode::A(root)];
    while let Some(n) = todo.pop() {
        let (_, e, _) = n.parts();
        for t in targets(e, mu).into_iter().flatten() {
            if seen.insert(t.parts().0.check()) {
                todo.push(t);
            }
        }
    }
    seen
}

/// Attacks runs while mutators rewire the graph under the marker: three threads walk a shared
/// typed graph (8000 nodes, the layout changing every node or in stretches) from its root and
/// rewire slots to nodes met on the walk, cut them, and hang fresh nodes of random layouts in,
/// while another thread collects back to back, under each mode and barrier with 1, 2, 16 and 4
/// workers (16 on few cores: workers preempted mid-run). Must hold: every cycle is checkmarked, every node reached is intact, and exactly
/// the unreachable nodes are dropped, once.
#[test]
fn typed_graphs_rewired_while_workers_mark() {
    let _s = serial_only();
    let _w = watchdog("rewired graphs");
    let millis = if cfg!(debug_assertions) { 300 } else { 600 };
    for (round, (mode, barrier, handshakes)) in modes().into_iter().enumerate() {
        let workers = [1, 2, 16, 4][round];
        gc_runtime::reconfigure(hostile_config(mode, barrier, workers).with_handshakes(handshakes)).unwrap();
        let before = gc_runtime::stats().cycles;
        let ledger = Ledger::new(3_000_000);
        let root = {
            let mu = gc_runtime::attach();
            let plan = if round % 2 == 0 {
                Plan::new(8000, 7 + round as u64, &|i, _| SMALL_KINDS[i % 4])
            } else {
                Plan::new(8000, 7 + round as u64, &|i, _| SMALL_KINDS[i / 50 % 4])
            };
            plan.build(&mu, &ledger).root(&mu)
        };
        let cycles = with_collector(3, millis, |t, stop| {
            let mut mu = gc_runtime::attach();
            let mut rng = Rng(0x1234_5678 + t as u64 * 0x9E37);
            while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(100_000) {
                let mut met: [Vec<AnyNode<'_>>; 6] = Default::default();
                let mut at = AnyNode::A(root.get(&mu));
                for _ in 0..200 {
                    let (tag, e, kind) = at.parts();
                    tag.check();
                    met[kind.index()].push(at);
                    // Rewire one slot of this node.
                    let k = KINDS[rng.below(6)];
                    let n = slots_of(e, k);
                    if n > 0 {
                        let pos = rng.below(n);
                        match rng.below(6) {
                            0 => set_edge(e, k, pos, None),
                            1 | 2 => {
                                let fresh = fresh_node(&mu, k, &ledger, &mut rng);
                                // Keep what the slot held reachable from the fresh node, if it fits.
                                let old = targets(e, &mu)
                                    .into_iter()
                                    .flatten()
                                    .find(|o| o.parts().2 == k && rng.below(2) == 0);
                                if let Some(old) = old {
                                    let (_, fe, _) = fresh.parts();
                                    if slots_of(fe, k) > 0 {
                                        set_edge(fe, k, 0, Some(old));
                                    }
                                }
                                set_edge(e, k, pos, Some(fresh));
                            }
                            _ => {
                                if let Some(&to) = met[k.index()].get(rng.below(met[k.index()].len().max(1))) {
                                    set_edge(e, k, pos, Some(to));
                                }
                            }
                        }
                    }
                    // Step on.
                    let next: Vec<AnyNode<'_>> = targets(e, &mu).into_iter().flatten().collect();
                    if next.is_empty() || rng.below(40) == 0 {
                        at = AnyNode::A(root.get(&mu));
                    } else {
                        at = next[rng.below(next.len())];
                    }
                }
                mu.safepoint();
            }
        });
        assert!(cycles >= 2, "{mode:?} {barrier:?}: only {cycles} cycles");
        assert_checkmarked_since(before);
        gc_runtime::reconfigure(Config::default().with_gc_percent(None).with_checkmark(true)).unwrap();
        let mut mu = gc_runtime::attach();
        collect2(&mut mu);
        let alive = live_ids(&mu, root.get(&mu));
        alive_then_all_freed(&mut mu, &ledger, &alive, root);
    }
    gc_runtime::reconfigure(Config::default()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Large collections inside objects of a run type, written while workers mark.

/// A map key whose hash has only 64 values and whose `Eq` spins a while: an insertion compares
/// it with many stored keys, holding the map's write lock, so a marker that meets the map then
/// finds it locked and defers its holder, in the middle of a run of holders.
#[derive(Debug, Clone)]
struct SlowKey(u64);

impl Hash for SlowKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.0 % 64).hash(state);
    }
}

impl PartialEq for SlowKey {
    fn eq(&self, other: &Self) -> bool {
        let mut x = self.0;
        for _ in 0..2000 {
            x = std::hint::black_box(x.rotate_left(5) ^ 0x9E37);
        }
        std::hint::black_box(x);
        self.0 == other.0
    }
}

impl Eq for SlowKey {}

/// A node of a tree of holders; a few hold collections of several scan chunks, most nearly
/// nothing — one type, so the holders are marked in runs that meet chunks and locks.
#[derive(Trace)]
struct Holder {
    tag: Tag,
    kids: [Member<Holder>; 3],
    items: GcVec<Canary>,
    map: GcMap<SlowKey, Canary>,
    ids: GcIdMap<Canary, Canary>,
}

fn new_holder<'m>(mu: &'m Mutator, ledger: &Arc<Ledger>) -> Gc<'m, Holder> {
    mu.alloc(Holder {
        tag: Tag::new(ledger),
        kids: [Member::new(), Member::new(), Member::new()],
        items: GcVec::new(),
        map: GcMap::new(),
        ids: GcIdMap::new(),
    })
}

/// Fill `h` with several chunks' worth of elements.
fn fill_big(mu: &Mutator, h: &Holder, ledger: &Arc<Ledger>) {
    for _ in 0..2500 {
        h.items.push(Canary::alloc(mu, ledger));
    }
    for k in 0..1200 {
        h.map.insert(SlowKey(k), Canary::alloc(mu, ledger));
    }
    for _ in 0..1100 {
        h.ids.insert(Canary::alloc(mu, ledger), Canary::alloc(mu, ledger));
    }
}

/// Every holder reachable from `root` and every element of its collections, checked; the ids.
fn holder_ids(mu: &Mutator, root: Gc<'_, Holder>) -> HashSet<u64> {
    let mut alive = HashSet::new();
    let mut seen = HashSet::new();
    let mut todo = vec![root];
    while let Some(h) = todo.pop() {
        let id = h.tag.check();
        if !seen.insert(id) {
            continue;
        }
        alive.insert(id);
        for c in h.items.iter(mu) {
            alive.insert(c.check());
        }
        for (k, v) in h.map.entries(mu) {
            let again = h.map.get(&k, mu).unwrap_or_else(|| panic!("key {k:?} listed, not found"));
            assert!(Gc::ptr_eq(again, v));
            alive.insert(v.check());
        }
        for (k, v) in h.ids.entries(mu) {
            alive.insert(k.check());
            alive.insert(v.check());
        }
        todo.extend(h.kids.iter().filter_map(|k| k.get(mu)));
    }
    alive
}

/// Attacks runs that meet large collections and locked ones: a ternary tree of 1500 holders,
/// every 40th holding 2500 vector elements, 1200 map entries with slow keys and 1100 identity
/// map entries (several scan chunks each), the rest nearly empty; three writers push, remove,
/// set, truncate and regrow the vectors, insert colliding slow keys (holding the write lock),
/// remove and clear map entries, and move holders between parents, while cycles run back to
/// back under each mode and barrier with one or three workers. Must hold: every cycle is
/// checkmarked, every element reachable is intact and listed keys are found, and exactly the
/// unreachable objects are dropped, once.
#[test]
fn large_and_locked_collections_in_some_objects_of_a_run() {
    let _s = serial_only();
    let _w = watchdog("holders");
    let millis = if cfg!(debug_assertions) { 300 } else { 700 };
    let holders = if cfg!(debug_assertions) { 600 } else { 1500 };
    for (round, (mode, barrier, handshakes)) in modes().into_iter().enumerate() {
        let workers = if round % 2 == 0 { 3 } else { 1 };
        gc_runtime::reconfigure(hostile_config(mode, barrier, workers).with_handshakes(handshakes)).unwrap();
        let before = gc_runtime::stats().cycles;
        let ledger = Ledger::new(4_000_000);
        let (root, bigs) = {
            let mu = gc_runtime::attach();
            let all: Vec<Gc<'_, Holder>> = (0..holders).map(|_| new_holder(&mu, &ledger)).collect();
            for (i, h) in all.iter().enumerate() {
                for (j, kid) in h.kids.iter().enumerate() {
                    if let Some(c) = all.get(3 * i + j + 1) {
                        kid.set(Some(*c));
                    }
                }
                if i % 40 == 7 {
                    fill_big(&mu, h, &ledger);
                } else {
                    for _ in 0..(i % 3) {
                        h.items.push(Canary::alloc(&mu, &ledger));
                    }
                }
            }
            let bigs: Vec<Root<Holder>> =
                all.iter().enumerate().filter(|(i, _)| i % 40 == 7).map(|(_, h)| h.root(&mu)).collect();
            (all[0].root(&mu), bigs)
        };
        let writes = AtomicU64::new(0);
        let cycles = with_collector(3, millis, |t, stop| {
            let mut mu = gc_runtime::attach();
            let mut rng = Rng(0xABCD_0000 + t as u64 * 7777);
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(200_000) {
                for _ in 0..16 {
                    let h = bigs[rng.below(bigs.len())].get(&mu);
                    let len = h.items.len();
                    match rng.below(16) {
                        0..=3 => h.items.push(Canary::alloc(&mu, &ledger)),
                        4 => {
                            if let Ok(old) = h.items.try_remove(rng.below(len.max(1)), &mu) {
                                old.check();
                                h.items.push(old);
                            }
                        }
                        5 => {
                            let _ = h.items.try_set(rng.below(len.max(1)), Canary::alloc(&mu, &ledger));
                        }
                        6 if len > 4000 => h.items.truncate(rng.below(50)),
                        6 => {
                            for _ in 0..1500 {
                                h.items.push(Canary::alloc(&mu, &ledger));
                            }
                        }
                        7..=9 => {
                            h.map.insert(SlowKey(rng.below(3000) as u64), Canary::alloc(&mu, &ledger));
                        }
                        10 => {
                            if let Some(v) = h.map.remove(&SlowKey(rng.below(3000) as u64), &mu) {
                                v.check();
                            }
                        }
                        11 if rng.below(20) == 0 => h.map.clear(),
                        12 => {
                            h.ids.insert(Canary::alloc(&mu, &ledger), Canary::alloc(&mu, &ledger));
                        }
                        13 => {
                            if let Some(k) = h.ids.keys(&mu).first().copied() {
                                if let Some(v) = h.ids.remove(k, &mu) {
                                    v.check();
                                }
                            }
                        }
                        14 => {
                            // Move a subtree: swap two kids between a big holder and the root.
                            let r = root.get(&mu);
                            let (i, j) = (rng.below(3), rng.below(3));
                            let a = h.kids[i].get(&mu);
                            let b = r.kids[j].get(&mu);
                            if let (Some(a), Some(b)) = (a, b) {
                                if !Gc::ptr_eq(a, r) && !Gc::ptr_eq(b, h) {
                                    h.kids[i].set(Some(b));
                                    r.kids[j].set(Some(a));
                                }
                            }
                        }
                        _ => {
                            // Hang a fresh holder with a few elements under a big one.
                            let fresh = new_holder(&mu, &ledger);
                            fresh.items.push(Canary::alloc(&mu, &ledger));
                            fresh.kids[0].set(h.kids[rng.below(3)].get(&mu));
                            h.kids[rng.below(3)].set(Some(fresh));
                        }
                    }
                }
                n += 16;
                mu.safepoint();
            }
            writes.fetch_add(n, Ordering::Relaxed);
        });
        assert!(cycles >= 2, "{mode:?} {barrier:?}: only {cycles} cycles");
        assert!(writes.load(Ordering::Relaxed) > 0);
        assert_checkmarked_since(before);
        gc_runtime::reconfigure(Config::default().with_gc_percent(None).with_checkmark(true)).unwrap();
        let mut mu = gc_runtime::attach();
        collect2(&mut mu);
        let mut alive = holder_ids(&mu, root.get(&mu));
        for b in &bigs {
            alive.extend(holder_ids(&mu, b.get(&mu)));
        }
        alive_then_all_freed(&mut mu, &ledger, &alive, (root, bigs));
    }
    gc_runtime::reconfigure(Config::default()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Weak maps (ephemerons) in objects of a run type.

/// One type for holders, keys and values alike, so that holders, keys and values are marked in
/// runs together: a run meets maps whose keys are not marked yet (pending) and keys that
/// become marked later in the same run.
#[derive(Trace)]
struct Eph {
    tag: Tag,
    kids: [Member<Eph>; 2],
    /// A key of some map, reachable only through this object.
    key: Member<Eph>,
    keep: GcVec<Eph>,
    wm: GcWeakMap<Eph, Eph>,
}

fn new_eph<'m>(mu: &'m Mutator, ledger: &Arc<Ledger>) -> Gc<'m, Eph> {
    mu.alloc(Eph {
        tag: Tag::new(ledger),
        kids: [Member::new(), Member::new()],
        key: Member::new(),
        keep: GcVec::new(),
        wm: GcWeakMap::new(),
    })
}

/// The ids alive under ephemeron semantics, found through the API (every object checked):
/// slots and vectors from `root`, and a holder's map's value whenever its key is alive. `holders`
/// are the objects whose maps hold entries.
fn eph_alive(mu: &Mutator, root: Gc<'_, Eph>, holders: &[Root<Eph>]) -> HashSet<u64> {
    let maps: Vec<Gc<'_, Eph>> = holders.iter().map(|h| h.get(mu)).collect();
    let mut seen = HashSet::new();
    let mut todo = vec![root];
    while let Some(x) = todo.pop() {
        if !seen.insert(x.tag.check()) {
            continue;
        }
        todo.extend(x.kids.iter().filter_map(|k| k.get(mu)));
        todo.extend(x.key.get(mu));
        todo.extend(x.keep.iter(mu));
        // `x` as a key: the values it keeps alive in every map that is alive.
        for m in &maps {
            if let Some(v) = m.wm.get(x, mu) {
                todo.push(v);
            }
        }
    }
    // A map reached after some of its keys: walk again until nothing new (the fixpoint).
    loop {
        let before = seen.len();
        let mut again = HashSet::new();
        let mut todo = vec![root];
        while let Some(x) = todo.pop() {
            if !again.insert(x.tag.id) {
                continue;
            }
            todo.extend(x.kids.iter().filter_map(|k| k.get(mu)));
            todo.extend(x.key.get(mu));
            todo.extend(x.keep.iter(mu));
            for m in &maps {
                if seen.contains(&m.tag.id) {
                    if let Some(v) = m.wm.get(x, mu) {
                        todo.push(v);
                    }
                }
            }
        }
        seen.extend(again);
        if seen.len() == before {
            return seen;
        }
    }
}

/// A live chain: the holder of its first key, and per entry (map holder, key id, value id).
type LiveChain = (usize, Vec<(usize, u64, u64)>);

/// The static part of the ephemeron attack: `holders` in a binary tree under the root (holder
/// 0); chains of ephemerons — key 0 of a chain in some holder's `key` slot, entry i (key i →
/// value i) in some holder's map, value i's `key` slot holding key i+1 — so each key but the
/// first is reachable only through a value; dead chains whose first key nothing holds; entries
/// whose key only its own value reaches; and entries keyed by their own holder.
struct EphWorld {
    root: Root<Eph>,
    holders: Vec<Root<Eph>>,
    /// Per live chain: (holder of key 0, [(map holder, key id, value id)]).
    chains: Vec<LiveChain>,
}

fn build_eph_world(mu: &Mutator, ledger: &Arc<Ledger>, holders: usize, chains: usize, len: usize) -> EphWorld {
    let mut rng = Rng(0xE9E9);
    let hs: Vec<Gc<'_, Eph>> = (0..holders).map(|_| new_eph(mu, ledger)).collect();
    for (i, h) in hs.iter().enumerate() {
        for (j, kid) in h.kids.iter().enumerate() {
            if let Some(c) = hs.get(2 * i + j + 1) {
                kid.set(Some(*c));
            }
        }
    }
    let mut live_chains = Vec::new();
    for c in 0..chains {
        let keys: Vec<Gc<'_, Eph>> = (0..len).map(|_| new_eph(mu, ledger)).collect();
        let mut entries = Vec::new();
        for i in 0..len {
            let v = new_eph(mu, ledger);
            if let Some(next) = keys.get(i + 1) {
                v.key.set(Some(*next));
            }
            // A value with a small subtree of its own.
            let sub = new_eph(mu, ledger);
            v.kids[0].set(Some(sub));
            let at = rng.below(holders);
            hs[at].wm.insert(keys[i], v);
            entries.push((at, keys[i].tag.id, v.tag.id));
        }
        if c % 4 != 3 {
            // Key 0 in the `key` slot of a holder late in the tree (one per chain): marked after
            // most maps.
            let at = holders - 1 - c;
            hs[at].key.set(Some(keys[0]));
            live_chains.push((at, entries));
        }
        // Else a dead chain: nothing holds key 0.
    }
    for h in &hs {
        // A key only its own value reaches: dead, with its value.
        let k = new_eph(mu, ledger);
        let v = new_eph(mu, ledger);
        v.key.set(Some(k));
        h.wm.insert(k, v);
        // Keyed by its own holder: alive.
        let own = new_eph(mu, ledger);
        h.wm.insert(*h, own);
    }
    EphWorld { root: hs[0].root(mu), holders: hs.iter().map(|h| h.root(mu)).collect(), chains: live_chains }
}

/// Every live chain is whole: from its first key, each entry's value is the planned one.
fn check_chains(mu: &Mutator, w: &EphWorld) {
    for (at, entries) in &w.chains {
        let mut key = w.holders[*at].get(mu).key.get(mu).expect("a chain's first key");
        for (i, (holder, kid, vid)) in entries.iter().enumerate() {
            assert_eq!(key.tag.check(), *kid, "chain entry {i}: key");
            let v = w.holders[*holder].get(mu).wm.get(key, mu).unwrap_or_else(|| panic!("chain entry {i} lost"));
            assert_eq!(v.tag.check(), *vid, "chain entry {i}: value");
            v.kids[0].get(mu).expect("a value's subtree").tag.check();
            match v.key.get(mu) {
                Some(next) => key = next,
                None => assert_eq!(i, entries.len() - 1, "chain entry {i}: cut short"),
            }
        }
    }
}

/// Attacks ephemerons met in runs: 200 holders, 40 chains of 12 ephemerons (a key reachable
/// only through the value of the entry before it, in another holder's map), dead chains, keys
/// only their own values reach, entries keyed by their holder — all one type — under every
/// configuration with one to four workers; then each live chain cut in the middle. Must hold:
/// live chains are whole, dead entries are removed and their objects dropped, exactly once.
#[test]
fn ephemeron_chains_through_objects_of_one_type() {
    let _s = serial_only();
    let _w = watchdog("ephemeron chains");
    for (i, config) in every_config().into_iter().enumerate() {
        gc_runtime::reconfigure(config.with_mark_workers(1 + i % 4)).unwrap();
        let ledger = Ledger::new(100_000);
        let mut mu = gc_runtime::attach();
        let mut w = build_eph_world(&mu, &ledger, 200, 40, 12);
        let cleared_before: usize = gc_runtime::stats().recent.iter().map(|c| c.weak_map_entries_cleared).sum();
        collect2(&mut mu);
        check_chains(&mu, &w);
        let alive = eph_alive(&mu, w.root.get(&mu), &w.holders);
        ledger.check_exactly(&alive);
        let cleared: usize = gc_runtime::stats().recent.iter().map(|c| c.weak_map_entries_cleared).sum();
        assert!(cleared - cleared_before >= 10 * 12 + 200, "dead entries not removed: {}", cleared - cleared_before);
        // Cut every live chain in the middle: the second half dies.
        for (at, entries) in &mut w.chains {
            let mut key = w.holders[*at].get(&mu).key.get(&mu).unwrap();
            for (holder, _, _) in entries.iter().take(5) {
                key = w.holders[*holder].get(&mu).wm.get(key, &mu).unwrap().key.get(&mu).unwrap();
            }
            let (holder, _, _) = entries[5];
            w.holders[holder].get(&mu).wm.get(key, &mu).unwrap().key.set(None);
            entries.truncate(6);
        }
        collect2(&mut mu);
        check_chains(&mu, &w);
        let alive = eph_alive(&mu, w.root.get(&mu), &w.holders);
        alive_then_all_freed(&mut mu, &ledger, &alive, w);
    }
    gc_runtime::reconfigure(Config::default()).unwrap();
}

/// Attacks ephemerons met in runs while writers insert and remove entries: the static world of
/// [`ephemeron_chains_through_objects_of_one_type`] (64 holders, 16 chains), and three threads
/// that insert fresh entries (their keys kept alive in some holder's vector, in another entry's
/// value, or nowhere), drop keys from the vectors, move keys into values, remove entries and
/// read them, while cycles run back to back under each mode and barrier with two workers. Must
/// hold: every cycle is checkmarked (checkmark walks ephemerons too), the static chains stay
/// whole, every read value is intact, and exactly the unreachable objects are dropped, once.
#[test]
fn ephemerons_in_runs_while_writers_insert_and_remove() {
    let _s = serial_only();
    let _w = watchdog("ephemeron writers");
    let millis = if cfg!(debug_assertions) { 250 } else { 600 };
    for (mode, barrier, handshakes) in modes() {
        gc_runtime::reconfigure(hostile_config(mode, barrier, 2).with_handshakes(handshakes)).unwrap();
        let before = gc_runtime::stats().cycles;
        let ledger = Ledger::new(3_000_000);
        let world = {
            let mu = gc_runtime::attach();
            build_eph_world(&mu, &ledger, 64, 16, 8)
        };
        let free = world.holders.len() - world.chains.len() - 8; // holders whose `key` slot is free
        let cycles = with_collector(3, millis, |t, stop| {
            let mut mu = gc_runtime::attach();
            let mut rng = Rng(0xFACE + t as u64 * 1009);
            while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(100_000) {
                for _ in 0..16 {
                    let h = world.holders[rng.below(world.holders.len())].get(&mu);
                    let other = world.holders[rng.below(world.holders.len())].get(&mu);
                    match rng.below(10) {
                        0..=2 => {
                            let k = new_eph(&mu, &ledger);
                            let v = new_eph(&mu, &ledger);
                            v.kids[0].set(Some(new_eph(&mu, &ledger)));
                            h.wm.insert(k, v);
                            match rng.below(4) {
                                0 | 1 => other.keep.push(k),
                                2 => {
                                    // Reachable only through another entry's value.
                                    if let Some(k2) = other.keep.get(rng.below(other.keep.len().max(1)), &mu) {
                                        if let Some(v2) = h.wm.get(k2, &mu) {
                                            v2.key.set(Some(k));
                                        }
                                    }
                                }
                                _ => {} // dead at once
                            }
                        }
                        3 => {
                            let n = other.keep.len();
                            if n > 0 {
                                if let Ok(k) = other.keep.try_remove(rng.below(n), &mu) {
                                    k.tag.check();
                                }
                            }
                        }
                        4 => {
                            // Move a key from a vector into a free holder's `key` slot.
                            let n = other.keep.len();
                            if n > 0 {
                                if let Ok(k) = other.keep.try_remove(rng.below(n), &mu) {
                                    world.holders[rng.below(free)].get(&mu).key.set(Some(k));
                                }
                            }
                        }
                        5 => {
                            let n = other.keep.len();
                            if let Some(k) = other.keep.get(rng.below(n.max(1)), &mu) {
                                if let Some(v) = h.wm.remove(k, &mu) {
                                    v.tag.check();
                                }
                            }
                        }
                        6 if other.keep.len() > 300 => other.keep.truncate(10),
                        _ => {
                            let n = other.keep.len();
                            if let Some(k) = other.keep.get(rng.below(n.max(1)), &mu) {
                                for m in &world.holders[..8] {
                                    if let Some(v) = m.get(&mu).wm.get(k, &mu) {
                                        v.tag.check();
                                        if let Some(sub) = v.kids[0].get(&mu) {
                                            sub.tag.check();
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                mu.safepoint();
            }
        });
        assert!(cycles >= 2, "{mode:?} {barrier:?}: only {cycles} cycles");
        assert_checkmarked_since(before);
        gc_runtime::reconfigure(Config::default().with_gc_percent(None).with_checkmark(true)).unwrap();
        let mut mu = gc_runtime::attach();
        collect2(&mut mu);
        check_chains(&mu, &world);
        let alive = eph_alive(&mu, world.root.get(&mu), &world.holders);
        alive_then_all_freed(&mut mu, &ledger, &alive, world);
    }
    gc_runtime::reconfigure(Config::default()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Mark assists.

/// Attacks runs in mark assists (whose budgets stop runs part way): a live tree of one layout
/// (every node also pointing to an `NG<u64>` stretch), small heap goals, one background worker
/// and no idle workers, so three threads allocating trees of garbage and rebuilding parts of
/// the live tree pay for marking with assists; another thread collects back to back. Under
/// each mode and barrier. Must hold: assists scanned something, every cycle is checkmarked,
/// the live tree is intact and exactly the garbage is dropped, once.
#[test]
fn runs_in_mark_assists_with_small_budgets() {
    let _s = serial_only();
    let _w = watchdog("assists");
    let millis = if cfg!(debug_assertions) { 300 } else { 700 };
    let n = if cfg!(debug_assertions) { 8000 } else { 40_000 };
    let mut assisted = 0;
    for (mode, barrier, handshakes) in modes() {
        gc_runtime::reconfigure(
            hostile_config(mode, barrier, 1)
                .with_handshakes(handshakes)
                .with_gc_percent(Some(10))
                .with_min_heap(64 << 10)
                .with_idle_mark_workers(false),
        )
        .unwrap();
        let before = gc_runtime::stats().cycles;
        let ledger = Ledger::new(4_000_000);
        let roots: Vec<Root<NA>> = {
            let mu = gc_runtime::attach();
            let plan = Plan::new(n, 3, &|i, _| if i % 500 < 480 { Kind::A } else { Kind::G64 });
            let r = plan.build(&mu, &ledger);
            (0..3).map(|_| r.root(&mu)).collect()
        };
        let cycles = with_collector(3, millis, |t, stop| {
            let mut mu = gc_runtime::attach();
            let mut rng = Rng(0xA551_0000 + t as u64);
            while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(200_000) {
                // A tree of garbage, of one layout or two.
                let two = rng.below(2) == 0;
                let mut level: Vec<AnyNode<'_>> = Vec::new();
                for i in 0..200 {
                    let kind = if two && i % 2 == 1 { Kind::B } else { Kind::A };
                    let node = AnyNode::alloc(&mu, kind, Tag::new(&ledger), edges_with([2, 2, 0, 0, 0, 0], 0));
                    if let Some(&parent) = level.get(i / 2) {
                        let (_, e, _) = parent.parts();
                        set_edge(e, kind, i % 2, Some(node));
                    }
                    level.push(node);
                }
                // Hang part of it into the live tree, replacing what was there.
                let root = roots[t].get(&mu);
                let (_, e, _) = AnyNode::A(root).parts();
                if !e.a.is_empty() && rng.below(4) == 0 {
                    if let AnyNode::A(g) = level[0] {
                        // The slot's old subtree goes: only the root's own slot is replaced,
                        // so the planned tree below other slots stays.
                        let pos = rng.below(e.a.len());
                        let old = e.a[pos].get(&mu);
                        let (_, ge, _) = level[0].parts();
                        if let Some(old) = old {
                            ge.a[0].set(Some(old)); // keep the old subtree below the new one
                        }
                        e.a[pos].set(Some(g));
                    }
                }
                mu.safepoint();
            }
        });
        assert!(cycles >= 2, "{mode:?} {barrier:?}: only {cycles} cycles");
        assert_checkmarked_since(before);
        let stats = gc_runtime::stats();
        assisted += stats.recent.iter().filter(|c| c.cycle > before).map(|c| c.assist_bytes).sum::<u64>();
        gc_runtime::reconfigure(Config::default().with_gc_percent(None).with_checkmark(true)).unwrap();
        let mut mu = gc_runtime::attach();
        collect2(&mut mu);
        let alive = live_ids(&mu, roots[0].get(&mu));
        assert!(alive.len() >= n * 7 / 8, "{mode:?} {barrier:?}: the live tree shrank to {}", alive.len());
        alive_then_all_freed(&mut mu, &ledger, &alive, roots);
    }
    assert!(assisted > 0, "no assist scanned anything: the attack did not reach assists");
    gc_runtime::reconfigure(Config::default()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// A `Trace` that panics for the Nth object of a run (child processes: the process must stop).

/// The id of the bomb whose `trace` panics (none until armed: allocation traces too).
static BOMB_ID: AtomicU64 = AtomicU64::new(u64::MAX);
/// Bombs panic only on threads that set this (for the assist scenario); all threads if unset.
static BOMB_ONLY_ON_MUTATORS: AtomicBool = AtomicBool::new(false);
/// How the bomb panics: 0 with a message, 1 with a payload whose destructor panics too.
static BOMB_PAYLOAD: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static IS_MUTATOR: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn bomb_goes_off(id: u64) -> bool {
    let armed = BOMB_ID.load(Ordering::SeqCst);
    let target = armed == id || (armed == u64::MAX - 1 && id != u64::MAX);
    target && (!BOMB_ONLY_ON_MUTATORS.load(Ordering::SeqCst) || IS_MUTATOR.with(|m| m.get()))
}

fn explode(id: u64) -> ! {
    if BOMB_PAYLOAD.load(Ordering::SeqCst) == 1 {
        std::panic::panic_any(common::ExplodingFinalizerPayload);
    }
    panic!("bomb {id} goes off in trace");
}

/// A node whose hand-written `trace` panics for one id once armed.
struct Bomb {
    id: u64,
    kids: Vec<Member<Bomb>>,
}

// SAFETY: reports every slot (unless it panics, which is the point).
unsafe impl Trace for Bomb {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        if bomb_goes_off(self.id) {
            explode(self.id);
        }
        self.kids.trace(tracer);
    }
}

/// Two instances of one generic type; only `GBomb<u64>` explodes.
struct GBomb<X: 'static> {
    id: u64,
    kids: Vec<Member<GBomb<u32>>>,
    more: Vec<Member<GBomb<u64>>>,
    _x: std::marker::PhantomData<fn() -> X>,
}

// SAFETY: reports every slot (unless it panics).
unsafe impl<X: 'static> Trace for GBomb<X> {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        if std::any::TypeId::of::<X>() == std::any::TypeId::of::<u64>() && bomb_goes_off(self.id) {
            explode(self.id);
        }
        self.kids.trace(tracer);
        self.more.trace(tracer);
    }
}

trait Fuse: Send + Sync {
    fn id(&self) -> u64;
}
dyn_object!(dyn Fuse);

impl Fuse for Bomb {
    fn id(&self) -> u64 {
        self.id
    }
}

/// A plain holder of many slots (a fan-out), so that the bombs are marked in runs.
#[derive(Trace)]
struct Fan {
    bombs: Vec<Member<Bomb>>,
    fuses: Vec<Member<dyn Fuse>>,
    g32: Vec<Member<GBomb<u32>>>,
    g64: Vec<Member<GBomb<u64>>>,
}

/// A root holding `n` bombs (ids 0..n), each also pointing to the next two: a heap marked in
/// runs of bombs; with `dyn_too`, as many again as `dyn Fuse` trait objects; with `generic`,
/// `GBomb<u32>` and `GBomb<u64>` alternating (ids 0..n each).
fn bomb_heap(mu: &Mutator, n: usize, dyn_too: bool, generic: bool) -> Root<Fan> {
    let bombs: Vec<Gc<'_, Bomb>> =
        (0..n).map(|i| mu.alloc(Bomb { id: i as u64, kids: (0..2).map(|_| Member::new()).collect() })).collect();
    for (i, b) in bombs.iter().enumerate() {
        for (j, k) in b.kids.iter().enumerate() {
            k.set(Some(bombs[(i + j + 1) % n]));
        }
    }
    let fan = mu.alloc(Fan {
        bombs: (0..n).map(|_| Member::new()).collect(),
        fuses: (0..if dyn_too { n } else { 0 }).map(|_| Member::new()).collect(),
        g32: (0..if generic { n } else { 0 }).map(|_| Member::new()).collect(),
        g64: (0..if generic { n } else { 0 }).map(|_| Member::new()).collect(),
    });
    for (m, b) in fan.bombs.iter().zip(&bombs) {
        m.set(Some(*b));
    }
    for (i, m) in fan.fuses.iter().enumerate() {
        let kids = (0..1).map(|_| Member::new()).collect();
        let f = mu.alloc_dyn(Bomb { id: 1_000_000 + i as u64, kids }, unsize!(Bomb => dyn Fuse));
        assert_eq!(f.id(), 1_000_000 + i as u64);
        m.set(Some(f));
    }
    if generic {
        let g32: Vec<Gc<'_, GBomb<u32>>> = (0..n)
            .map(|i| {
                mu.alloc(GBomb::<u32> {
                    id: i as u64,
                    kids: vec![Member::new()],
                    more: vec![Member::new()],
                    _x: std::marker::PhantomData,
                })
            })
            .collect();
        let g64: Vec<Gc<'_, GBomb<u64>>> = (0..n)
            .map(|i| {
                mu.alloc(GBomb::<u64> {
                    id: i as u64,
                    kids: vec![Member::new()],
                    more: vec![Member::new()],
                    _x: std::marker::PhantomData,
                })
            })
            .collect();
        for i in 0..n {
            // Each points to the next of the other instance: the two alternate on the stack.
            g32[i].more[0].set(Some(g64[(i + 1) % n]));
            g64[i].kids[0].set(Some(g32[(i + 1) % n]));
            g32[i].kids[0].set(Some(g32[(i + 7) % n]));
            g64[i].more[0].set(Some(g64[(i + 7) % n]));
            fan.g32[i].set(Some(g32[i]));
            fan.g64[i].set(Some(g64[i]));
        }
    }
    fan.root(mu)
}

/// A child's bomb scenario: the collector configured by `config`, a heap of `n` bombs
/// ([`bomb_heap`]'s `dyn_too` and `generic`), one collection to settle it, then bomb `id` armed
/// (with a payload whose destructor panics, if `exploding_payload`) and a collection that
/// must not return.
fn explode_in_child(config: Config, n: usize, dyn_too: bool, generic: bool, exploding_payload: bool, id: u64) {
    if !in_child() {
        return;
    }
    gc_runtime::init(config).unwrap();
    let mut mu = gc_runtime::attach();
    let _root = bomb_heap(&mu, n, dyn_too, generic);
    mu.collect();
    if exploding_payload {
        BOMB_PAYLOAD.store(1, Ordering::SeqCst);
    }
    BOMB_ID.store(id, Ordering::SeqCst);
    mu.collect();
    println!("the collector went on after a panicking trace");
}

/// The parent's side of a bomb scenario: the child must stop (not exit, not hang) with the
/// collector's message naming `ty` (in backquotes; else `ty` is the whole expected text), and
/// must not have gone on.
fn assert_stops_naming(test: &str, ty: &str) {
    let out = child(test, &[], Duration::from_secs(60));
    assert!(!out.success && !out.timed_out, "{}", out.describe());
    let want = if ty.starts_with('`') { format!("Trace::trace of {ty} panicked") } else { ty.to_string() };
    assert!(out.stderr.contains(&want), "expected `{want}`:\n{}", out.describe());
    assert!(!out.stdout.contains("went on"), "{}", out.describe());
}

#[test]
fn child_bomb_in_a_run_in_a_pause() {
    explode_in_child(
        Config::default().with_mode(Mode::StopTheWorld).with_gc_percent(None),
        5000,
        false,
        false,
        false,
        3777,
    );
}

/// Attacks the run's panic guard in a pause (every core marks): the 3778th of 5000 bombs (all
/// one type, marked in runs) panics. Must hold: the process stops, naming the type.
#[test]
fn a_trace_panicking_in_the_middle_of_a_run_stops_the_process_in_a_pause() {
    assert_stops_naming("child_bomb_in_a_run_in_a_pause", "`hostile_mark_runs::Bomb`");
}

#[test]
fn child_bomb_in_a_run_on_a_helper_worker() {
    explode_in_child(
        Config::default().with_mode(Mode::Concurrent).with_mark_workers(4).with_gc_percent(None),
        40_000,
        false,
        false,
        false,
        31_337,
    );
}

/// As [`a_trace_panicking_in_the_middle_of_a_run_stops_the_process_in_a_pause`], concurrently
/// with four mark workers (the bomb is marked on whichever helper takes its share).
#[test]
fn a_trace_panicking_in_a_run_on_a_helper_worker_stops_the_process() {
    assert_stops_naming("child_bomb_in_a_run_on_a_helper_worker", "`hostile_mark_runs::Bomb`");
}

#[test]
fn child_generic_bomb() {
    explode_in_child(
        Config::default().with_mode(Mode::StopTheWorld).with_gc_percent(None),
        3000,
        false,
        true,
        false,
        2999,
    );
}

/// Attacks the name in the message when two instances of one generic type alternate on the
/// stack (`GBomb<u32>` and `GBomb<u64>`: two descriptors) and only `GBomb<u64>` panics. Must
/// hold: the message names `GBomb<u64>`.
#[test]
fn a_panicking_generic_instance_is_named_not_its_sibling() {
    assert_stops_naming("child_generic_bomb", "`hostile_mark_runs::GBomb<u64>`");
}

#[test]
fn child_dyn_bomb() {
    explode_in_child(
        Config::default().with_mode(Mode::Concurrent).with_mark_workers(2).with_gc_percent(None),
        4000,
        true,
        false,
        false,
        1_002_500,
    );
}

/// Attacks the run of a trait object's descriptor (`DynValue<dyn Fuse, Bomb>`, beside plain
/// `Bomb`s of the same concrete type): the 2501st trait-object bomb panics. Must hold: the
/// process stops naming the concrete type.
#[test]
fn a_trace_panicking_behind_a_trait_object_stops_the_process() {
    assert_stops_naming(
        "child_dyn_bomb",
        "Trace::trace of `gc_runtime::object::dyn_object::DynValue<dyn hostile_mark_runs::Fuse, hostile_mark_runs::Bomb>` panicked",
    );
}

#[test]
fn child_bomb_with_exploding_payload() {
    explode_in_child(
        Config::default().with_mode(Mode::StopTheWorld).with_gc_percent(None),
        3000,
        false,
        false,
        true,
        1500,
    );
}

/// Attacks the run's panic guard with a payload whose own destructor panics. Must hold: the
/// process stops with the collector's message (not an unwinding payload drop).
#[test]
fn a_panicking_payload_from_a_run_still_stops_with_the_message() {
    assert_stops_naming("child_bomb_with_exploding_payload", "`hostile_mark_runs::Bomb`");
}

#[test]
fn child_bomb_in_an_assist() {
    if !in_child() {
        return;
    }
    gc_runtime::init(
        Config::default()
            .with_mode(Mode::Concurrent)
            .with_mark_workers(1)
            .with_idle_mark_workers(false)
            .with_gc_percent(Some(10))
            .with_min_heap(64 << 10),
    )
    .unwrap();
    let root = {
        let mu = gc_runtime::attach();
        bomb_heap(&mu, 60_000, false, false)
    };
    BOMB_ONLY_ON_MUTATORS.store(true, Ordering::SeqCst);
    BOMB_ID.store(u64::MAX - 1, Ordering::SeqCst); // every bomb, but only in an assist
    let start = Instant::now();
    thread::scope(|s| {
        for t in 0..3 {
            let root = &root;
            s.spawn(move || {
                IS_MUTATOR.with(|m| m.set(true));
                let mut mu = gc_runtime::attach();
                let mut rng = Rng(t + 1);
                // Until an assist traces a bomb and the process stops (a loaded machine may be
                // slow to get there), a minute at most.
                while start.elapsed() < Duration::from_secs(60) {
                    // Garbage bombs (ids u64::MAX never explode) and churn of the live ones.
                    for _ in 0..256 {
                        let b = mu.alloc(Bomb { id: u64::MAX, kids: vec![Member::new()] });
                        let fan = root.get(&mu);
                        b.kids[0].set(fan.bombs[rng.below(fan.bombs.len())].get(&mu));
                    }
                    mu.safepoint();
                }
            });
        }
    });
    println!("no assist traced a bomb in 60 s: the collector went on? (or no assist ran)");
}

/// Attacks the run's panic guard in a mark assist, on the allocating thread: the bombs panic
/// only there (every live bomb once armed), and allocation-heavy threads are made to assist.
/// Must hold: the process stops naming the type — the panic must not unwind into the
/// allocation that assisted.
#[test]
fn a_trace_panicking_in_an_assist_stops_the_process() {
    let out = child("child_bomb_in_an_assist", &[], Duration::from_secs(120));
    assert!(!out.stdout.contains("no assist traced"), "the attack did not reach an assist:\n{}", out.describe());
    assert!(!out.success && !out.timed_out, "{}", out.describe());
    // One unbroken line, though other threads' panic reports are printed meanwhile (see
    // `the_fatal_message_is_one_line_when_several_traces_panic_at_once`).
    let whole = "gc: fatal: Trace::trace of `hostile_mark_runs::Bomb` panicked; the collector cannot know";
    assert!(out.stderr.contains(whole), "`{whole}` missing from the message:\n{}", out.describe());
    // It went off on one of the allocating threads (unnamed; the collector's are `gc-…`).
    assert!(
        out.stderr.contains("thread '<unnamed>'") && out.stderr.contains("goes off in trace"),
        "{}",
        out.describe()
    );
}

/// Attacks the collector's last words when several threads' traces panic at once (every live
/// bomb armed, on the allocating threads only, with backtraces on so that their own panic
/// reports take a while): five children. Must hold: each stops, and its message naming the type
/// is one unbroken line.
///
/// It failed about four runs in ten before the collector formatted its lines before writing
/// them: the message came out as ``gc: fatal: Trace::trace of ` `` (and sometimes the type's
/// name), then the other thread's panic report, then the rest of the line, because `write_fmt`
/// on unbuffered stderr makes one `write(2)` per piece of the format, and the default panic hook
/// of another thread wrote between them.
#[test]
fn the_fatal_message_is_one_line_when_several_traces_panic_at_once() {
    for attempt in 0..5 {
        let out = child("child_bomb_in_an_assist", &[("RUST_BACKTRACE", "1")], Duration::from_secs(60));
        assert!(!out.success && !out.timed_out, "{}", out.describe());
        assert!(
            out.stderr.contains("Trace::trace of `hostile_mark_runs::Bomb` panicked"),
            "attempt {attempt}: the message is split:\n{}",
            out.describe()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Hand-written `Trace` impls that report slots conditionally.

/// A node whose `trace` reports slots by its `mode`, fixed at construction: none, `a` only,
/// `b` only, or everything (out of field order, `many` in reverse) — plus the out-of-line
/// slots of `extra` when there are any. A slot never reported is never armed (it refuses
/// stores), so the promise "every slot that can hold a pointer is reported" holds.
struct Cond {
    tag: Tag,
    mode: u8,
    a: Member<Cond>,
    b: Member<Cond>,
    many: Vec<Member<Cond>>,
    extra: Option<Box<[Member<Cond>]>>,
}

// SAFETY: reports every slot that can hold a pointer: those its fixed mode reports are armed
// at allocation; the others stay unarmed, empty, and refuse stores.
unsafe impl Trace for Cond {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        match self.mode {
            0 => {}
            1 => self.a.trace(tracer),
            2 => self.b.trace(tracer),
            _ => {
                self.b.trace(tracer);
                self.a.trace(tracer);
                for m in self.many.iter().rev() {
                    m.trace(tracer);
                }
            }
        }
        if let Some(extra) = &self.extra {
            for m in extra.iter() {
                m.trace(tracer);
            }
        }
    }
}

impl Cond {
    /// The slots this node reports (its live edges).
    fn reported(&self) -> Vec<&Member<Cond>> {
        let mut out: Vec<&Member<Cond>> = match self.mode {
            0 => Vec::new(),
            1 => vec![&self.a],
            2 => vec![&self.b],
            _ => [&self.a, &self.b].into_iter().chain(self.many.iter()).collect(),
        };
        if let Some(extra) = &self.extra {
            out.extend(extra.iter());
        }
        out
    }

    /// The slots this node does not report: empty, and stores into them panic.
    fn unreported(&self) -> Vec<&Member<Cond>> {
        match self.mode {
            0 => [&self.a, &self.b].into_iter().chain(self.many.iter()).collect(),
            1 => std::iter::once(&self.b).chain(self.many.iter()).collect(),
            2 => std::iter::once(&self.a).chain(self.many.iter()).collect(),
            _ => Vec::new(),
        }
    }
}

fn new_cond<'m>(mu: &'m Mutator, ledger: &Arc<Ledger>, rng: &mut Rng) -> Gc<'m, Cond> {
    let mode = rng.below(4) as u8;
    let many = (0..rng.below(4)).map(|_| Member::new()).collect();
    let extra = match rng.below(3) {
        0 => None,
        1 => Some(Vec::new().into_boxed_slice()),
        _ => Some((0..1 + rng.below(3)).map(|_| Member::new()).collect::<Vec<_>>().into_boxed_slice()),
    };
    mu.alloc(Cond { tag: Tag::new(ledger), mode, a: Member::new(), b: Member::new(), many, extra })
}

/// The ids reachable from `root` through reported slots (every node checked, its unreported
/// slots empty).
fn cond_ids(mu: &Mutator, root: Gc<'_, Cond>) -> HashSet<u64> {
    let mut seen = HashSet::new();
    let mut todo = vec![root];
    while let Some(c) = todo.pop() {
        if !seen.insert(c.tag.check()) {
            continue;
        }
        assert!(
            c.unreported().iter().all(|m| m.get(mu).is_none()),
            "node {}: an unreported slot holds a pointer",
            c.tag.id
        );
        todo.extend(c.reported().into_iter().filter_map(|m| m.get(mu)));
    }
    seen
}

/// Attacks runs of a type whose `trace` reports a different set of slots per object (none,
/// one, another, all of them out of order, a variable number out of line): 6000
/// such nodes wired at random through the slots each reports, then three threads rewire them
/// while cycles run back to back under each mode and barrier with two workers. Also: stores
/// into unreported slots are refused, and leave the heap sound. Must hold: every cycle is
/// checkmarked, every reached node is intact, exactly the unreachable ones dropped, once.
#[test]
fn a_trace_that_reports_slots_conditionally() {
    let _s = serial_only();
    let _w = watchdog("conditional slots");
    let millis = if cfg!(debug_assertions) { 250 } else { 500 };
    let n = if cfg!(debug_assertions) { 3000 } else { 6000 };
    for (round, (mode, barrier, handshakes)) in modes().into_iter().enumerate() {
        gc_runtime::reconfigure(hostile_config(mode, barrier, 2).with_handshakes(handshakes)).unwrap();
        let before = gc_runtime::stats().cycles;
        let ledger = Ledger::new(3_000_000);
        let root = {
            let mu = gc_runtime::attach();
            let mut rng = Rng(round as u64 + 11);
            let nodes: Vec<Gc<'_, Cond>> = (0..n).map(|_| new_cond(&mu, &ledger, &mut rng)).collect();
            for (i, c) in nodes.iter().enumerate() {
                for (j, m) in c.reported().into_iter().enumerate() {
                    // A tree through the first reported slots, random edges through the rest.
                    let to = if j == 0 { (i * 3 + 1 + rng.below(3)) % n } else { rng.below(n) };
                    m.set(Some(nodes[to]));
                }
                for m in c.unreported().into_iter().take(if i < 3 { 1 } else { 0 }) {
                    let stored = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| m.set(Some(nodes[0]))));
                    assert!(stored.is_err(), "a store into an unreported (unarmed) slot was accepted");
                    assert!(m.get(&mu).is_none());
                }
            }
            // A root that reports everything.
            let root = loop {
                let r = new_cond(&mu, &ledger, &mut rng);
                if r.mode == 3 {
                    break r;
                }
            };
            root.a.set(Some(nodes[0]));
            root.b.set(Some(nodes[n / 2]));
            root.root(&mu)
        };
        let cycles = with_collector(3, millis, |t, stop| {
            let mut mu = gc_runtime::attach();
            let mut rng = Rng(0xC0D0 + t as u64);
            while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(100_000) {
                let mut met = vec![root.get(&mu)];
                let mut at = root.get(&mu);
                for _ in 0..100 {
                    at.tag.check();
                    let slots = at.reported();
                    if !slots.is_empty() {
                        let m = slots[rng.below(slots.len())];
                        match rng.below(5) {
                            0 => m.set(None),
                            1 => m.set(Some(new_cond(&mu, &ledger, &mut rng))),
                            _ => m.set(Some(met[rng.below(met.len())])),
                        }
                    }
                    let next: Vec<Gc<'_, Cond>> = at.reported().into_iter().filter_map(|m| m.get(&mu)).collect();
                    if next.is_empty() || rng.below(30) == 0 {
                        at = root.get(&mu);
                    } else {
                        at = next[rng.below(next.len())];
                        met.push(at);
                    }
                }
                mu.safepoint();
            }
        });
        assert!(cycles >= 2, "{mode:?} {barrier:?}: only {cycles} cycles");
        assert_checkmarked_since(before);
        gc_runtime::reconfigure(Config::default().with_gc_percent(None).with_checkmark(true)).unwrap();
        let mut mu = gc_runtime::attach();
        collect2(&mut mu);
        let alive = cond_ids(&mu, root.get(&mu));
        alive_then_all_freed(&mut mu, &ledger, &alive, root);
    }
    gc_runtime::reconfigure(Config::default()).unwrap();
}

/// A node whose `trace` reports its slot `a` twice (once directly, once through `alias`, which
/// names the same slot): nothing in `Trace`'s contract forbids it.
struct Twice {
    tag: Tag,
    a: Member<Twice>,
    b: Member<Twice>,
}

// SAFETY: reports every slot (one of them twice).
unsafe impl Trace for Twice {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        self.a.trace(tracer);
        self.b.trace(tracer);
        self.a.trace(tracer);
    }
}

/// Attacks runs of a type that reports one slot twice: a ring of 2000 `Twice` nodes (each `b`
/// a chord), collected under every configuration, then cut. Must hold: allocation accepts the
/// type, every node is intact, the cut half dropped, exactly once.
///
/// With debug assertions, allocation's arming tracer used to assert that each slot it was
/// given was still unarmed, so `mu.alloc` of such a value panicked, though `Trace`'s rules
/// allow a slot to be reported more than once (they now say so).
#[test]
fn a_trace_that_reports_one_slot_twice() {
    let _s = serial_only();
    let _w = watchdog("slot reported twice");
    for config in every_config() {
        gc_runtime::reconfigure(config).unwrap();
        let ledger = Ledger::new(2000);
        let mut mu = gc_runtime::attach();
        let nodes: Vec<Gc<'_, Twice>> =
            (0..2000).map(|_| mu.alloc(Twice { tag: Tag::new(&ledger), a: Member::new(), b: Member::new() })).collect();
        for (i, n) in nodes.iter().enumerate() {
            n.a.set(Some(nodes[(i + 1) % 2000]));
            n.b.set(Some(nodes[(i * 7) % 2000]));
        }
        let root = nodes[0].root(&mu);
        drop(nodes);
        collect2(&mut mu);
        let walk = |mu: &Mutator| {
            let mut seen = HashSet::new();
            let mut todo = vec![root.get(mu)];
            while let Some(n) = todo.pop() {
                if seen.insert(n.tag.check()) {
                    todo.extend(n.a.get(mu));
                    todo.extend(n.b.get(mu));
                }
            }
            seen
        };
        let alive = walk(&mu);
        assert_eq!(alive.len(), 2000);
        ledger.check_exactly(&alive);
        // Cut the ring at 1000 and every chord into the second half.
        let mut at = root.get(&mu);
        for i in 0..2000u64 {
            let next = at.a.get(&mu).unwrap();
            if at.b.get(&mu).is_some_and(|b| b.tag.id >= 1000) {
                at.b.set(None);
            }
            if i == 999 {
                at.a.set(None);
                break;
            }
            at = next;
        }
        collect2(&mut mu);
        let alive = walk(&mu);
        assert_eq!(alive, (0..1000).collect::<HashSet<u64>>());
        alive_then_all_freed(&mut mu, &ledger, &alive, root);
    }
    gc_runtime::reconfigure(Config::default()).unwrap();
}

/// What a `Poly` holds behind a (non-GC) trait object: its slots differ per concrete type, so
/// one descriptor covers objects of many shapes.
trait Slots: Send + Sync {
    fn report(&self, tracer: &mut Tracer<'_>);
    fn kids<'m>(&self, mu: &'m Mutator) -> Vec<Gc<'m, Poly>>;
    fn link(&self, mu: &Mutator, to: Gc<'_, Poly>, rng: &mut Rng);
}

struct NoSlots;
struct OneSlot(Member<Poly>);
struct ManySlots(Vec<Member<Poly>>);
/// A vector of several scan chunks, behind the trait object.
struct BigVec(GcVec<Poly>);
/// A weak map keyed by other `Poly`s, behind the trait object.
struct WeakSlots(GcWeakMap<Poly, Poly>, Member<Poly>);

impl Slots for NoSlots {
    fn report(&self, _: &mut Tracer<'_>) {}
    fn kids<'m>(&self, _: &'m Mutator) -> Vec<Gc<'m, Poly>> {
        Vec::new()
    }
    fn link(&self, _: &Mutator, _: Gc<'_, Poly>, _: &mut Rng) {}
}

impl Slots for OneSlot {
    fn report(&self, tracer: &mut Tracer<'_>) {
        self.0.trace(tracer);
    }
    fn kids<'m>(&self, mu: &'m Mutator) -> Vec<Gc<'m, Poly>> {
        self.0.get(mu).into_iter().collect()
    }
    fn link(&self, _: &Mutator, to: Gc<'_, Poly>, _: &mut Rng) {
        self.0.set(Some(to));
    }
}

impl Slots for ManySlots {
    fn report(&self, tracer: &mut Tracer<'_>) {
        self.0.trace(tracer);
    }
    fn kids<'m>(&self, mu: &'m Mutator) -> Vec<Gc<'m, Poly>> {
        self.0.iter().filter_map(|m| m.get(mu)).collect()
    }
    fn link(&self, _: &Mutator, to: Gc<'_, Poly>, rng: &mut Rng) {
        self.0[rng.below(self.0.len())].set(Some(to));
    }
}

impl Slots for BigVec {
    fn report(&self, tracer: &mut Tracer<'_>) {
        self.0.trace(tracer);
    }
    fn kids<'m>(&self, mu: &'m Mutator) -> Vec<Gc<'m, Poly>> {
        self.0.to_vec(mu)
    }
    fn link(&self, _: &Mutator, to: Gc<'_, Poly>, _: &mut Rng) {
        self.0.push(to);
    }
}

impl Slots for WeakSlots {
    fn report(&self, tracer: &mut Tracer<'_>) {
        self.0.trace(tracer);
        self.1.trace(tracer);
    }
    fn kids<'m>(&self, mu: &'m Mutator) -> Vec<Gc<'m, Poly>> {
        // The key in the slot, and its value in the map (the map's other entries are found by
        // their keys' own holders).
        let mut out: Vec<Gc<'m, Poly>> = self.1.get(mu).into_iter().collect();
        if let Some(k) = out.first().copied() {
            out.extend(self.0.get(k, mu));
        }
        out
    }
    fn link(&self, mu: &Mutator, to: Gc<'_, Poly>, _: &mut Rng) {
        // `to` becomes the value of the key in the slot (if any), else the key.
        match self.1.get(mu) {
            Some(k) => {
                self.0.insert(k, to);
            }
            None => self.1.set(Some(to)),
        }
    }
}

/// One type, one descriptor; its `trace` goes through a vtable to slots of many shapes.
struct Poly {
    tag: Tag,
    inner: Box<dyn Slots>,
}

// SAFETY: reports every slot: `inner`'s, through its `report`.
unsafe impl Trace for Poly {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        self.inner.report(tracer);
    }
}

fn new_poly<'m>(mu: &'m Mutator, ledger: &Arc<Ledger>, shape: usize) -> Gc<'m, Poly> {
    let inner: Box<dyn Slots> = match shape {
        0 => Box::new(NoSlots),
        1 => Box::new(OneSlot(Member::new())),
        2 => Box::new(ManySlots((0..5).map(|_| Member::new()).collect())),
        3 => Box::new(BigVec(GcVec::new())),
        _ => Box::new(WeakSlots(GcWeakMap::new(), Member::new())),
    };
    mu.alloc(Poly { tag: Tag::new(ledger), inner })
}

/// The ids reachable from `root` (every node checked).
fn poly_ids(mu: &Mutator, root: Gc<'_, Poly>) -> HashSet<u64> {
    let mut seen = HashSet::new();
    let mut todo = vec![root];
    while let Some(p) = todo.pop() {
        if seen.insert(p.tag.check()) {
            todo.extend(p.inner.kids(mu));
        }
    }
    seen
}

/// Attacks the assumption that objects of one descriptor look alike: `Poly`'s `trace` reports,
/// through a trait object of its own, no slot, one, five, a `GcVec` of several scan chunks, or
/// a weak map and a key slot — so one run meets leaves, fan-outs, chunked scans and pending
/// ephemerons. 4000 of them wired at random (every shape changing at every object), then three
/// threads relink them while cycles run back to back, under each mode and barrier with three
/// workers. Must hold: every cycle checkmarked, every reached object intact, exactly the
/// unreachable ones dropped, once.
#[test]
fn one_descriptor_whose_objects_differ_through_a_vtable() {
    let _s = serial_only();
    let _w = watchdog("poly");
    let millis = if cfg!(debug_assertions) { 250 } else { 500 };
    let n = if cfg!(debug_assertions) { 2000 } else { 4000 };
    for (round, (mode, barrier, handshakes)) in modes().into_iter().enumerate() {
        gc_runtime::reconfigure(hostile_config(mode, barrier, 3).with_handshakes(handshakes)).unwrap();
        let before = gc_runtime::stats().cycles;
        let ledger = Ledger::new(2_000_000);
        let root = {
            let mu = gc_runtime::attach();
            let mut rng = Rng(round as u64 + 77);
            let nodes: Vec<Gc<'_, Poly>> =
                (0..n).map(|i| new_poly(&mu, &ledger, if i == 0 { 2 } else { i % 5 })).collect();
            for (i, p) in nodes.iter().enumerate() {
                let links = if i % 5 == 3 { 2500 } else { 1 + rng.below(5) };
                for l in 0..links {
                    let to = if l == 0 { (i * 4 + 1 + rng.below(4)) % n } else { rng.below(n) };
                    p.inner.link(&mu, nodes[to], &mut rng);
                }
            }
            nodes[0].root(&mu)
        };
        let cycles = with_collector(3, millis, |t, stop| {
            let mut mu = gc_runtime::attach();
            let mut rng = Rng(0x9019 + t as u64);
            while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(100_000) {
                let mut at = root.get(&mu);
                let mut met = vec![at];
                for _ in 0..64 {
                    at.tag.check();
                    let to = if rng.below(3) == 0 {
                        new_poly(&mu, &ledger, rng.below(5))
                    } else {
                        met[rng.below(met.len())]
                    };
                    if rng.below(2) == 0 {
                        at.inner.link(&mu, to, &mut rng);
                    }
                    let kids = at.inner.kids(&mu);
                    if kids.is_empty() || rng.below(20) == 0 {
                        at = root.get(&mu);
                    } else {
                        at = kids[rng.below(kids.len())];
                        met.push(at);
                    }
                }
                mu.safepoint();
            }
        });
        assert!(cycles >= 2, "{mode:?} {barrier:?}: only {cycles} cycles");
        assert_checkmarked_since(before);
        gc_runtime::reconfigure(Config::default().with_gc_percent(None).with_checkmark(true)).unwrap();
        let mut mu = gc_runtime::attach();
        collect2(&mut mu);
        let alive = poly_ids(&mu, root.get(&mu));
        alive_then_all_freed(&mut mu, &ledger, &alive, root);
    }
    gc_runtime::reconfigure(Config::default()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Trait objects of several concrete types.

trait Shape: Send + Sync {
    fn area(&self) -> u64;
    fn tag(&self) -> &Tag;
    fn next(&self) -> &[Member<dyn Shape>];
    /// A plain (not trait-object) `Sq` this shape points to, if any.
    fn twin(&self) -> Option<&Member<Sq>> {
        None
    }
}
dyn_object!(dyn Shape);

#[derive(Trace)]
struct Sq {
    tag: Tag,
    side: u64,
    next: Vec<Member<dyn Shape>>,
    twin: Member<Sq>,
}

#[derive(Trace)]
struct Circ {
    r: u32,
    tag: Tag,
    next: Vec<Member<dyn Shape>>,
}

#[derive(Trace)]
#[repr(align(64))]
struct WideShape {
    tag: Tag,
    next: Vec<Member<dyn Shape>>,
}

#[derive(Trace)]
struct GenShape<X: Trace + Copy + Into<u64> + Send + Sync + 'static> {
    x: X,
    tag: Tag,
    next: Vec<Member<dyn Shape>>,
}

impl Shape for Sq {
    fn area(&self) -> u64 {
        self.side * self.side
    }
    fn tag(&self) -> &Tag {
        &self.tag
    }
    fn next(&self) -> &[Member<dyn Shape>] {
        &self.next
    }
    fn twin(&self) -> Option<&Member<Sq>> {
        Some(&self.twin)
    }
}

impl Shape for Circ {
    fn area(&self) -> u64 {
        3 * u64::from(self.r) * u64::from(self.r)
    }
    fn tag(&self) -> &Tag {
        &self.tag
    }
    fn next(&self) -> &[Member<dyn Shape>] {
        &self.next
    }
}

impl Shape for WideShape {
    fn area(&self) -> u64 {
        assert_eq!((self as *const Self).addr() % 64, 0, "misaligned");
        64
    }
    fn tag(&self) -> &Tag {
        &self.tag
    }
    fn next(&self) -> &[Member<dyn Shape>] {
        &self.next
    }
}

impl<X: Trace + Copy + Into<u64> + Send + Sync + 'static> Shape for GenShape<X> {
    fn area(&self) -> u64 {
        self.x.into()
    }
    fn tag(&self) -> &Tag {
        &self.tag
    }
    fn next(&self) -> &[Member<dyn Shape>] {
        &self.next
    }
}

/// The area a shape with id `id` and layout `k` was made with.
fn planned_area(k: usize, id: u64) -> u64 {
    match k {
        0 => (id % 100) * (id % 100),
        1 => 3 * (id % 50) * (id % 50),
        2 => 64,
        3 => id % 1000,
        _ => id % 70_000,
    }
}

fn new_shape<'m>(mu: &'m Mutator, k: usize, ledger: &Arc<Ledger>, slots: usize) -> Gc<'m, dyn Shape> {
    let tag = Tag::new(ledger);
    let id = tag.id;
    let next: Vec<Member<dyn Shape>> = (0..slots).map(|_| Member::new()).collect();
    match k {
        0 => mu.alloc_dyn(Sq { tag, side: id % 100, next, twin: Member::new() }, unsize!(Sq => dyn Shape)),
        1 => mu.alloc_dyn(Circ { r: (id % 50) as u32, tag, next }, unsize!(Circ => dyn Shape)),
        2 => mu.alloc_dyn(WideShape { tag, next }, unsize!(WideShape => dyn Shape)),
        3 => mu.alloc_dyn(GenShape { x: (id % 1000) as u16, tag, next }, unsize!(GenShape<u16> => dyn Shape)),
        _ => mu.alloc_dyn(GenShape { x: (id % 70_000) as u32, tag, next }, unsize!(GenShape<u32> => dyn Shape)),
    }
}

/// Attacks runs of trait objects: 5000 shapes of five concrete types (two instances of one
/// generic type, one over-aligned), the type changing at every shape or in stretches of 32,
/// in a tree with back edges, each `Sq` also pointing to a plain `Sq` (the same concrete type
/// under another descriptor) that points back into the shapes, under every configuration;
/// then half the edges cut. Must hold: every reached shape has its planned layout and
/// area, and exactly the unreachable ones are dropped, once.
#[test]
fn trait_objects_of_several_types_in_runs() {
    let _s = serial_only();
    let _w = watchdog("trait objects");
    let n = if cfg!(debug_assertions) { 2500 } else { 5000 };
    for (round, config) in every_config().into_iter().enumerate() {
        gc_runtime::reconfigure(config.with_mark_workers(1 + round % 3)).unwrap();
        let ledger = Ledger::new(4 * n);
        let mut mu = gc_runtime::attach();
        let mut rng = Rng(round as u64 + 3);
        let stretch = if round % 2 == 0 { 1 } else { 32 };
        // Layout of each shape by id (ids: shapes first, in order).
        let kinds: Vec<usize> =
            (0..n).map(|i| if rng.below(50) == 0 { 2 } else { [0, 1, 3, 4][i / stretch % 4] }).collect();
        let root = {
            let shapes: Vec<Gc<'_, dyn Shape>> = kinds.iter().map(|&k| new_shape(&mu, k, &ledger, 3)).collect();
            for (i, s) in shapes.iter().enumerate() {
                let next = s.next();
                for (j, m) in next.iter().enumerate().take(2) {
                    if let Some(c) = shapes.get(2 * i + j + 1) {
                        m.set(Some(*c));
                    }
                }
                if rng.below(3) == 0 {
                    next[2].set(Some(shapes[rng.below(n)]));
                }
                if let Some(twin) = s.twin() {
                    let plain = mu.alloc(Sq {
                        tag: Tag::new(&ledger),
                        side: 7,
                        next: vec![Member::new()],
                        twin: Member::new(),
                    });
                    plain.next[0].set(Some(shapes[rng.below(n)]));
                    twin.set(Some(plain));
                }
            }
            shapes[0].root(&mu)
        };
        let check = |mu: &Mutator| -> HashSet<u64> {
            let mut seen = HashSet::new();
            let mut todo = vec![root.get(mu)];
            while let Some(s) = todo.pop() {
                let id = s.tag().check();
                if !seen.insert(id) {
                    continue;
                }
                if (id as usize) < n {
                    assert_eq!(s.area(), planned_area(kinds[id as usize], id), "shape {id}: area");
                }
                todo.extend(s.next().iter().filter_map(|m| m.get(mu)));
                if let Some(twin) = s.twin().and_then(|t| t.get(mu)) {
                    let t = twin.into_ref();
                    if seen.insert(t.tag.check()) {
                        assert_eq!(t.side, 7);
                        todo.extend(t.next.iter().filter_map(|m| m.get(mu)));
                    }
                }
            }
            seen
        };
        collect2(&mut mu);
        let alive = check(&mu);
        ledger.check_exactly(&alive);
        // Cut half the edges of the shapes (and twins) reached.
        {
            let mut todo = vec![root.get(&mu)];
            let mut seen = HashSet::new();
            while let Some(s) = todo.pop() {
                if !seen.insert(s.tag().id) {
                    continue;
                }
                for m in s.next() {
                    if rng.below(2) == 0 {
                        m.set(None);
                    } else if let Some(c) = m.get(&mu) {
                        todo.push(c);
                    }
                }
                if let Some(twin) = s.twin().and_then(|t| t.get(&mu)) {
                    let m = &twin.into_ref().next[0];
                    if rng.below(2) == 0 {
                        m.set(None);
                    } else if let Some(c) = m.get(&mu) {
                        todo.push(c);
                    }
                }
            }
        }
        collect2(&mut mu);
        let alive2 = check(&mu);
        assert!(
            alive2.len() < alive.len(),
            "the cut freed nothing: {} then {} (round {round})",
            alive.len(),
            alive2.len()
        );
        ledger.check_exactly(&alive2);
        drop(root);
        collect2(&mut mu);
        ledger.check_exactly(&HashSet::new());
    }
    gc_runtime::reconfigure(Config::default()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Zero-sized and page-aligned run types, long chains, a fan-out far over the spill threshold.

/// Zero-sized, traced, with a destructor that counts (a hand-written `Trace` may have one).
struct ZstDrop;

static ZST_DROPS: AtomicU64 = AtomicU64::new(0);

// SAFETY: holds no slot; reports nothing; its destructor reads no slot.
unsafe impl Trace for ZstDrop {
    fn trace(&self, _: &mut Tracer<'_>) {}
}

impl Drop for ZstDrop {
    fn drop(&mut self) {
        ZST_DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

/// Page-aligned, with slots (a large object: one per block).
#[derive(Trace)]
#[repr(align(4096))]
struct PageNode {
    tag: Tag,
    kids: [Member<PageNode>; 2],
    plain: Member<NA>,
    zst: Member<ZstDrop>,
}

/// A list cell, the layout changing every `stretch` cells.
#[derive(Trace)]
struct Cell<X: Trace + Send + Sync + 'static> {
    tag: Tag,
    x: X,
    next: Member<Cell<u32>>,
    other: Member<Cell<u8>>,
}

#[derive(Trace)]
struct Wide {
    zsts: Vec<Member<ZstDrop>>,
    pages: Vec<Member<PageNode>>,
    nodes: Vec<Member<NA>>,
    list32: Member<Cell<u32>>,
}

/// Attacks runs of a zero-sized traced type (a fan-out of 30 000, far over the spill threshold,
/// so runs stop at the stack limit and at the balance check), of a page-aligned type with
/// slots beside plain `NA`s, and a list of 60 000 cells whose layout (`Cell<u32>`/`Cell<u8>`)
/// changes every 1, 2 or 1000 cells, under every configuration. Must hold: everything reachable
/// is intact, `objects_marked` counts each traced object once (in a pause), and once unrooted
/// every object — the zero-sized ones included — is dropped exactly once.
#[test]
fn zero_sized_page_aligned_and_long_lists_in_runs() {
    let _s = serial_only();
    let _w = watchdog("zero-sized and page-aligned");
    let (zsts, pages, cells) = if cfg!(debug_assertions) { (10_000, 100, 20_000) } else { (30_000, 300, 60_000) };
    for (round, config) in every_config().into_iter().enumerate() {
        let stw = round == 0;
        gc_runtime::reconfigure(config.with_mark_workers(1 + round % 4)).unwrap();
        let ledger = Ledger::new(4 * (pages + cells) + 10);
        let mut mu = gc_runtime::attach();
        collect2(&mut mu);
        let drops_before = ZST_DROPS.load(Ordering::SeqCst);
        let stretch = [1, 2, 1000][round % 3];
        let root = {
            let wide = mu.alloc(Wide {
                zsts: (0..zsts).map(|_| Member::new()).collect(),
                pages: (0..pages).map(|_| Member::new()).collect(),
                nodes: (0..pages).map(|_| Member::new()).collect(),
                list32: Member::new(),
            });
            for m in &wide.zsts {
                m.set(Some(mu.alloc(ZstDrop)));
            }
            let ps: Vec<Gc<'_, PageNode>> = (0..pages)
                .map(|_| {
                    mu.alloc(PageNode {
                        tag: Tag::new(&ledger),
                        kids: [Member::new(), Member::new()],
                        plain: Member::new(),
                        zst: Member::new(),
                    })
                })
                .collect();
            for (i, p) in ps.iter().enumerate() {
                assert_eq!(p.into_ref() as *const PageNode as usize % 4096, 0, "page node misaligned");
                p.kids[0].set(Some(ps[(i + 1) % pages]));
                p.kids[1].set(Some(ps[i / 2]));
                let plain = AnyNode::alloc(&mu, Kind::A, Tag::new(&ledger), edges_with([0; 6], 1));
                let AnyNode::A(plain) = plain else { unreachable!() };
                plain.e.z[0].set(Some(mu.alloc(Zst)));
                p.plain.set(Some(plain));
                wide.nodes[i].set(Some(plain));
                p.zst.set(wide.zsts[i].get(&mu));
                wide.pages[i].set(Some(*p));
            }
            // The list: built from its tail; each cell is a `Cell<u32>` or a `Cell<u8>` by
            // stretch; `Cell<u8>`s hang off the `other` slot of the `Cell<u32>` before them.
            let mut next32: Option<Gc<'_, Cell<u32>>> = None;
            let mut pending8: Option<Gc<'_, Cell<u8>>> = None;
            for i in (0..cells).rev() {
                if i / stretch % 2 == 1 {
                    let c =
                        mu.alloc(Cell { tag: Tag::new(&ledger), x: 8u8, next: Member::new(), other: Member::new() });
                    c.next.set(next32);
                    c.other.set(pending8);
                    pending8 = Some(c);
                } else {
                    let c =
                        mu.alloc(Cell { tag: Tag::new(&ledger), x: 32u32, next: Member::new(), other: Member::new() });
                    c.next.set(next32);
                    c.other.set(pending8.take());
                    next32 = Some(c);
                }
            }
            if let Some(p8) = pending8 {
                let head =
                    mu.alloc(Cell { tag: Tag::new(&ledger), x: 32u32, next: Member::new(), other: Member::new() });
                head.next.set(next32);
                head.other.set(Some(p8));
                next32 = Some(head);
            }
            wide.list32.set(next32);
            wide.root(&mu)
        };
        collect2(&mut mu);
        // Check everything.
        let wide = root.get(&mu);
        let mut alive = HashSet::new();
        assert!(wide.zsts.iter().all(|z| z.get(&mu).is_some()));
        for p in wide.pages.iter().map(|p| p.get(&mu).expect("a page node")) {
            alive.insert(p.tag.check());
            let plain = p.plain.get(&mu).expect("a page node's plain node");
            alive.insert(plain.tag.check());
            assert!(plain.e.z[0].get(&mu).is_some());
            assert!(p.kids.iter().all(|k| k.get(&mu).is_some()));
        }
        let mut c32 = wide.list32.get(&mu);
        let mut list_cells = 0;
        while let Some(c) = c32 {
            alive.insert(c.tag.check());
            assert_eq!(c.x, 32);
            list_cells += 1;
            let mut c8 = c.other.get(&mu);
            while let Some(e) = c8 {
                alive.insert(e.tag.check());
                assert_eq!(e.x, 8);
                list_cells += 1;
                assert!(e.next.get(&mu).map(|n| n.x) == c.next.get(&mu).map(|n| n.x));
                c8 = e.other.get(&mu);
            }
            c32 = c.next.get(&mu);
        }
        // Cell 0 is always a `Cell<u32>` (stretch parity), so no head cell was added.
        assert_eq!(list_cells, cells, "list cells lost");
        ledger.check_exactly(&alive);
        assert_eq!(ZST_DROPS.load(Ordering::SeqCst), drops_before, "a reachable zero-sized object was dropped");
        if stw {
            // Traced objects: the wide root, the zero-sized ones, page nodes, their plain nodes
            // and those nodes' `Zst`s, the list.
            let want = 1 + zsts + 3 * pages + list_cells;
            let last = gc_runtime::stats().recent.last().unwrap().objects_marked;
            assert_eq!(last, want, "objects marked");
        }
        drop(root);
        collect2(&mut mu);
        ledger.check_exactly(&HashSet::new());
        assert_eq!(ZST_DROPS.load(Ordering::SeqCst) - drops_before, zsts as u64, "zero-sized objects dropped");
    }
    gc_runtime::reconfigure(Config::default()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Workers set through the environment.

#[test]
fn child_rewired_graph_under_env_workers() {
    if !in_child() {
        return;
    }
    let ledger = Ledger::new(3_000_000);
    let root = {
        let mu = gc_runtime::attach();
        Plan::new(6000, 17, &|i, _| SMALL_KINDS[i % 3]).build(&mu, &ledger).root(&mu)
    };
    let cycles = with_collector(3, 400, |t, stop| {
        let mut mu = gc_runtime::attach();
        let mut rng = Rng(t as u64 + 100);
        while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(100_000) {
            let mut at = AnyNode::A(root.get(&mu));
            for _ in 0..100 {
                let (_, e, _) = at.parts();
                let k = SMALL_KINDS[rng.below(4)];
                let n = slots_of(e, k);
                if n > 0 {
                    let fresh = fresh_node(&mu, k, &ledger, &mut rng);
                    let (_, fe, _) = fresh.parts();
                    if let (true, Some(old)) =
                        (slots_of(fe, k) > 0, targets(e, &mu).into_iter().flatten().find(|o| o.parts().2 == k))
                    {
                        set_edge(fe, k, 0, Some(old));
                    }
                    set_edge(e, k, rng.below(n), Some(fresh));
                }
                let next: Vec<AnyNode<'_>> = targets(e, &mu).into_iter().flatten().collect();
                at = if next.is_empty() { AnyNode::A(root.get(&mu)) } else { next[rng.below(next.len())] };
            }
            mu.safepoint();
        }
    });
    assert!(cycles >= 2);
    let stats = gc_runtime::stats();
    assert!(stats.recent.iter().all(|c| c.checkmarked_objects.is_some()), "checkmark from the environment");
    let workers = stats.recent.iter().map(|c| c.mark_workers).max().unwrap();
    let mut mu = gc_runtime::attach();
    collect2(&mut mu);
    let alive = live_ids(&mu, root.get(&mu));
    alive_then_all_freed(&mut mu, &ledger, &alive, root);
    println!("done: {cycles} cycles, up to {workers} marking threads");
}

/// Attacks runs with the worker count from the environment (`GC_MARK_WORKERS=6` on this
/// machine's few cores, checkmark and a small heap goal from the environment too): a typed
/// graph rewired by three threads while a fourth collects. Must hold: the child completes, every
/// cycle checkmarked, exactly the unreachable nodes dropped.
#[test]
fn runs_with_mark_workers_from_the_environment() {
    let out = child(
        "child_rewired_graph_under_env_workers",
        &[("GC_MARK_WORKERS", "6"), ("GC_CHECKMARK", "1"), ("GC_PERCENT", "30"), ("GC_MIN_HEAP", "262144")],
        Duration::from_secs(60),
    );
    out.assert_completed();
}
