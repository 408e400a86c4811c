//! `gc` 0.5 (rust-gc, Manishearth/rust-gc): a single-threaded, stop-the-world mark-and-sweep
//! collector with `Gc<T>` smart pointers whose roots are counted. Collections run inside
//! `Gc::new` when the heap passes a threshold, or on `gc::force_collect()`. Mutable links live
//! in `GcCell`s, as its documentation shows.
//!
//! Pauses (pause workload): every mutation is timed, and one during which
//! `gc::stats().collections_performed` changed is recorded as a pause.

// gc_derive 0.5's expansion puts impls inside a function body.
#![allow(non_local_definitions)]

use gc::{Finalize, Gc, GcCell, Trace};
use gc_bench_support::{record::Record, rng, stats};

use super::{BinaryTrees, FullGc, Ring};
use crate::{chains_for, next_mutation, Params, Workload, BATCH, BUCKET_SLOTS, CHAIN};

/// Runs a workload.
pub fn run(w: Workload, p: &Params) -> Result<Record, String> {
    Ok(match w {
        Workload::BinaryTrees => super::binary_trees(p, &mut Trees(None)),
        Workload::Ring => super::ring(p, &mut RingImpl),
        Workload::FullGc => super::full_gc(p, &mut Full(None)),
        Workload::Pause => pause(p),
    })
}

#[derive(Trace, Finalize)]
struct Tree {
    left: Option<Gc<Tree>>,
    right: Option<Gc<Tree>>,
}

fn bottom_up_tree(depth: u32) -> Gc<Tree> {
    if depth > 0 {
        Gc::new(Tree { left: Some(bottom_up_tree(depth - 1)), right: Some(bottom_up_tree(depth - 1)) })
    } else {
        Gc::new(Tree { left: None, right: None })
    }
}

fn item_check(tree: &Tree) -> u64 {
    match (&tree.left, &tree.right) {
        (Some(l), Some(r)) => 1 + item_check(l) + item_check(r),
        _ => 1,
    }
}

struct Trees(Option<Gc<Tree>>);

impl BinaryTrees for Trees {
    fn trees(&mut self, count: u64, depth: u32) -> u64 {
        (0..count).map(|_| item_check(&bottom_up_tree(depth))).sum()
    }

    fn make_long_lived(&mut self, depth: u32) {
        self.0 = Some(bottom_up_tree(depth));
    }

    fn check_long_lived(&mut self) -> u64 {
        self.0.take().map_or(0, |t| item_check(&t))
    }
}

#[derive(Trace, Finalize)]
struct RingNode {
    id: u64,
    next: GcCell<Option<Gc<RingNode>>>,
}

struct RingImpl;

impl Ring for RingImpl {
    fn build_walk_drop(&mut self, n: usize) -> u64 {
        let head = Gc::new(RingNode { id: 0, next: GcCell::new(None) });
        let mut tail = head.clone();
        for id in 1..n as u64 {
            let node = Gc::new(RingNode { id, next: GcCell::new(None) });
            *tail.next.borrow_mut() = Some(node.clone());
            tail = node;
        }
        *tail.next.borrow_mut() = Some(head.clone());
        let mut sum = 0;
        let mut cur = head.clone();
        loop {
            sum += cur.id;
            let next = cur.next.borrow().clone().expect("a ring has no end");
            if Gc::ptr_eq(&next, &head) {
                break;
            }
            cur = next;
        }
        sum
    }
}

#[derive(Trace, Finalize)]
struct TreeNode {
    id: u64,
    left: Option<Gc<TreeNode>>,
    right: Option<Gc<TreeNode>>,
}

fn build_indexed(i: usize, n: usize) -> Gc<TreeNode> {
    let (l, r) = crate::tree_children(i, n);
    Gc::new(TreeNode { id: i as u64, left: l.map(|l| build_indexed(l, n)), right: r.map(|r| build_indexed(r, n)) })
}

fn sum_tree(node: &TreeNode) -> u64 {
    node.id + node.left.as_deref().map_or(0, sum_tree) + node.right.as_deref().map_or(0, sum_tree)
}

struct Full(Option<Gc<TreeNode>>);

impl FullGc for Full {
    fn build(&mut self, n: usize) {
        self.0 = Some(build_indexed(0, n));
    }

    fn collect(&mut self) -> Record {
        gc::force_collect();
        Record::new()
    }

    fn check(&mut self) -> u64 {
        self.0.as_deref().map_or(0, sum_tree)
    }
}

#[derive(Trace, Finalize)]
struct Node {
    id: u64,
    next: GcCell<Option<Gc<Node>>>,
}

#[derive(Trace, Finalize)]
struct Bucket {
    slots: Vec<GcCell<Option<Gc<Node>>>>,
}

fn fresh_chain(len: usize, next_id: &mut u64) -> Gc<Node> {
    let mut next = None;
    for _ in 0..len {
        *next_id += 1;
        next = Some(Gc::new(Node { id: *next_id, next: GcCell::new(next) }));
    }
    next.expect("len >= 1")
}

fn pause(p: &Params) -> Record {
    let chains = chains_for(p.live);
    let mut next_id = 0;
    let buckets: Vec<Gc<Bucket>> = (0..chains)
        .step_by(BUCKET_SLOTS)
        .map(|first| {
            let slots = BUCKET_SLOTS.min(chains - first);
            Gc::new(Bucket { slots: (0..slots).map(|_| GcCell::new(Some(fresh_chain(CHAIN, &mut next_id)))).collect() })
        })
        .collect();
    let mut rng = rng::seeded(1);
    let collections = || gc::stats().collections_performed;
    let out = super::pause_loop(p, |log| {
        for _ in 0..BATCH {
            let m = next_mutation(&mut rng, chains);
            let before = collections();
            super::timed(
                log,
                || {
                    let slot = &buckets[m.bucket].slots[m.slot];
                    if m.depth == 0 {
                        *slot.borrow_mut() = Some(fresh_chain(CHAIN, &mut next_id));
                        return;
                    }
                    let mut node = slot.borrow().clone().expect("chains are never empty");
                    for _ in 1..m.depth {
                        let next = node.next.borrow().clone().expect("chains have CHAIN nodes");
                        node = next;
                    }
                    *node.next.borrow_mut() = Some(fresh_chain(CHAIN - m.depth, &mut next_id));
                },
                || collections() != before,
            );
        }
    });
    let check: u64 = buckets
        .iter()
        .flat_map(|b| b.slots.iter())
        .map(|s| {
            let (mut len, mut cur) = (0u64, s.borrow().clone());
            while let Some(n) = cur {
                len += 1;
                cur = n.next.borrow().clone();
            }
            len
        })
        .sum();
    out.with("check", check).with("live", chains * CHAIN).with("rss_mb", format!("{:.1}", stats::rss_mb()))
}
