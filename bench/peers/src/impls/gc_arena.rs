//! `gc-arena` 0.7: safe, incremental, single-threaded mark-and-sweep inside an `Arena`. All
//! access happens inside `arena.mutate(|mc, root| ...)`; the collector runs only between
//! mutations, when the program calls `collect_debt()` (incremental work proportional to what
//! was allocated) or `finish_cycle()` (a full cycle), as its documentation describes. Mutable
//! links are `Lock`s written through `unlock!`/`Gc::unlock` (the write barrier).
//!
//! Pauses (pause workload): each `collect_debt()` call between batches of mutations.

use gc_arena::{barrier::unlock, Arena, Collect, Gc, Lock, Mutation, Rootable};
use gc_bench_support::{record::Record, rng, stats};

use super::{BinaryTrees, FullGc, Ring};
use crate::{chains_for, next_mutation, Params, Workload, BATCH, BUCKET_SLOTS, CHAIN};

/// Runs a workload.
pub fn run(w: Workload, p: &Params) -> Result<Record, String> {
    Ok(match w {
        Workload::BinaryTrees => super::binary_trees(p, &mut Trees(TreeArena::new(|_| None))),
        Workload::Ring => super::ring(p, &mut RingImpl(Arena::new(|_| None))),
        Workload::FullGc => super::full_gc(p, &mut Full(Arena::new(|_| None))),
        Workload::Pause => pause(p),
    })
}

#[derive(Collect)]
#[collect(no_drop)]
struct Tree<'gc> {
    left: Option<Gc<'gc, Tree<'gc>>>,
    right: Option<Gc<'gc, Tree<'gc>>>,
}

fn bottom_up_tree<'gc>(mc: &Mutation<'gc>, depth: u32) -> Gc<'gc, Tree<'gc>> {
    if depth > 0 {
        let left = bottom_up_tree(mc, depth - 1);
        let right = bottom_up_tree(mc, depth - 1);
        Gc::new(mc, Tree { left: Some(left), right: Some(right) })
    } else {
        Gc::new(mc, Tree { left: None, right: None })
    }
}

fn item_check(tree: &Tree<'_>) -> u64 {
    match (tree.left, tree.right) {
        (Some(l), Some(r)) => 1 + item_check(&l) + item_check(&r),
        _ => 1,
    }
}

/// An arena rooted at an optional tree.
type TreeArena = Arena<Rootable![Option<Gc<'_, Tree<'_>>>]>;

struct Trees(TreeArena);

impl BinaryTrees for Trees {
    fn trees(&mut self, count: u64, depth: u32) -> u64 {
        let mut check = 0;
        for _ in 0..count {
            check += self.0.mutate(|mc, _| item_check(&bottom_up_tree(mc, depth)));
            self.0.collect_debt();
        }
        check
    }

    fn make_long_lived(&mut self, depth: u32) {
        self.0.mutate_root(|mc, root| *root = Some(bottom_up_tree(mc, depth)));
        self.0.collect_debt();
    }

    fn check_long_lived(&mut self) -> u64 {
        let check = self.0.mutate(|_, root| root.map_or(0, |t| item_check(&t)));
        self.0.mutate_root(|_, root| *root = None);
        check
    }
}

#[derive(Collect)]
#[collect(no_drop)]
struct RingNode<'gc> {
    id: u64,
    next: Lock<Option<Gc<'gc, RingNode<'gc>>>>,
}

/// An arena rooted at an optional ring.
type RingArena = Arena<Rootable![Option<Gc<'_, RingNode<'_>>>]>;

struct RingImpl(RingArena);

impl Ring for RingImpl {
    fn build_walk_drop(&mut self, n: usize) -> u64 {
        self.0.mutate_root(|mc, root| {
            let head = Gc::new(mc, RingNode { id: 0, next: Lock::new(None) });
            let mut tail = head;
            for id in 1..n as u64 {
                let node = Gc::new(mc, RingNode { id, next: Lock::new(None) });
                unlock!(Gc::write(mc, tail), RingNode, next).set(Some(node));
                tail = node;
            }
            unlock!(Gc::write(mc, tail), RingNode, next).set(Some(head));
            *root = Some(head);
        });
        self.0.collect_debt();
        let sum = self.0.mutate(|_, root| {
            let head = root.expect("ring built");
            let (mut sum, mut cur) = (0, head);
            loop {
                sum += cur.id;
                cur = cur.next.get().expect("a ring has no end");
                if Gc::ptr_eq(cur, head) {
                    break sum;
                }
            }
        });
        self.0.mutate_root(|_, root| *root = None);
        self.0.collect_debt();
        sum
    }
}

#[derive(Collect)]
#[collect(no_drop)]
struct TreeNode<'gc> {
    id: u64,
    left: Option<Gc<'gc, TreeNode<'gc>>>,
    right: Option<Gc<'gc, TreeNode<'gc>>>,
}

fn build_indexed<'gc>(mc: &Mutation<'gc>, i: usize, n: usize) -> Gc<'gc, TreeNode<'gc>> {
    let (l, r) = crate::tree_children(i, n);
    let left = l.map(|l| build_indexed(mc, l, n));
    let right = r.map(|r| build_indexed(mc, r, n));
    Gc::new(mc, TreeNode { id: i as u64, left, right })
}

fn sum_tree(node: &TreeNode<'_>) -> u64 {
    node.id + node.left.map_or(0, |l| sum_tree(&l)) + node.right.map_or(0, |r| sum_tree(&r))
}

/// An arena rooted at an optional indexed tree.
type FullArena = Arena<Rootable![Option<Gc<'_, TreeNode<'_>>>]>;

struct Full(FullArena);

impl FullGc for Full {
    fn build(&mut self, n: usize) {
        self.0.mutate_root(|mc, root| *root = Some(build_indexed(mc, 0, n)));
        // Bring the collector to rest, so that the timed call below is one whole cycle.
        self.0.finish_cycle();
    }

    fn collect(&mut self) -> Record {
        // From the sleeping phase, `finish_cycle` runs a full collection.
        self.0.finish_cycle();
        Record::new()
    }

    fn check(&mut self) -> u64 {
        self.0.mutate(|_, root| root.map_or(0, |t| sum_tree(&t)))
    }
}

#[derive(Collect)]
#[collect(no_drop)]
struct Node<'gc> {
    id: u64,
    next: Lock<Option<Gc<'gc, Node<'gc>>>>,
}

/// A chain head slot; its own object, so that it can be written with `Gc::unlock`.
type Slot<'gc> = Gc<'gc, Lock<Option<Gc<'gc, Node<'gc>>>>>;

#[derive(Collect)]
#[collect(no_drop)]
struct Bucket<'gc> {
    slots: Vec<Slot<'gc>>,
}

fn fresh_chain<'gc>(mc: &Mutation<'gc>, len: usize, next_id: &mut u64) -> Gc<'gc, Node<'gc>> {
    let mut next = None;
    for _ in 0..len {
        *next_id += 1;
        next = Some(Gc::new(mc, Node { id: *next_id, next: Lock::new(next) }));
    }
    next.expect("len >= 1")
}

/// An arena rooted at the buckets of chains.
type BucketArena = Arena<Rootable![Vec<Gc<'_, Bucket<'_>>>]>;

fn pause(p: &Params) -> Record {
    let chains = chains_for(p.live);
    let mut next_id = 0;
    let mut arena = BucketArena::new(|_| Vec::new());
    for first in (0..chains).step_by(BUCKET_SLOTS) {
        let slots = BUCKET_SLOTS.min(chains - first);
        arena.mutate_root(|mc, root| {
            let slots =
                (0..slots).map(|_| Gc::new(mc, Lock::new(Some(fresh_chain(mc, CHAIN, &mut next_id))))).collect();
            root.push(Gc::new(mc, Bucket { slots }));
        });
        arena.collect_debt();
    }
    let mut rng = rng::seeded(1);
    let out = super::pause_loop(p, |log| {
        arena.mutate(|mc, root| {
            for _ in 0..BATCH {
                let m = next_mutation(&mut rng, chains);
                let slot = root[m.bucket].slots[m.slot];
                if m.depth == 0 {
                    slot.unlock(mc).set(Some(fresh_chain(mc, CHAIN, &mut next_id)));
                    continue;
                }
                let mut node = slot.get().expect("chains are never empty");
                for _ in 1..m.depth {
                    node = node.next.get().expect("chains have CHAIN nodes");
                }
                unlock!(Gc::write(mc, node), Node, next).set(Some(fresh_chain(mc, CHAIN - m.depth, &mut next_id)));
            }
        });
        let t = std::time::Instant::now();
        arena.collect_debt();
        let now = std::time::Instant::now();
        if now - t > std::time::Duration::from_micros(2) {
            log.record(t, now);
        }
    });
    let check: u64 = arena.mutate(|_, root| {
        root.iter()
            .flat_map(|b| b.slots.iter())
            .map(|s| {
                let (mut len, mut cur) = (0u64, s.get());
                while let Some(n) = cur {
                    len += 1;
                    cur = n.next.get();
                }
                len
            })
            .sum()
    });
    out.with("check", check).with("live", chains * CHAIN).with("rss_mb", format!("{:.1}", stats::rss_mb()))
}
