//! `bacon_rajan_cc` 0.4: reference counting plus the Bacon–Rajan synchronous cycle collector
//! (`collect_cycles()`, which the program calls; it scans only the "possible roots" buffered
//! when a count was decremented to a non-zero value). Single-threaded; `Trace` is implemented
//! by hand as its documentation shows; mutable links are `RefCell`s.
//!
//! Workloads: after each ring is dropped, `collect_cycles()` frees it. For full-gc, note that
//! a structure built bottom-up by moving `Cc`s into their parents has no buffered possible
//! root, so `collect_cycles()` has nothing to scan: its time is not a full-heap trace.
//! Pauses (pause workload): each `collect_cycles()` call after a batch of mutations.
//! Acyclic garbage is freed by reference counting inside the mutation (not counted).

use std::cell::RefCell;

use bacon_rajan_cc::{collect_cycles, Cc, Trace, Tracer};
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

struct Tree {
    left: Option<Cc<Tree>>,
    right: Option<Cc<Tree>>,
}

impl Trace for Tree {
    fn trace(&self, tracer: &mut Tracer) {
        self.left.trace(tracer);
        self.right.trace(tracer);
    }
}

fn bottom_up_tree(depth: u32) -> Cc<Tree> {
    if depth > 0 {
        Cc::new(Tree { left: Some(bottom_up_tree(depth - 1)), right: Some(bottom_up_tree(depth - 1)) })
    } else {
        Cc::new(Tree { left: None, right: None })
    }
}

fn item_check(tree: &Tree) -> u64 {
    match (&tree.left, &tree.right) {
        (Some(l), Some(r)) => 1 + item_check(l) + item_check(r),
        _ => 1,
    }
}

struct Trees(Option<Cc<Tree>>);

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

struct RingNode {
    id: u64,
    next: RefCell<Option<Cc<RingNode>>>,
}

impl Trace for RingNode {
    fn trace(&self, tracer: &mut Tracer) {
        self.next.trace(tracer);
    }
}

struct RingImpl;

impl Ring for RingImpl {
    fn build_walk_drop(&mut self, n: usize) -> u64 {
        let sum = {
            let head = Cc::new(RingNode { id: 0, next: RefCell::new(None) });
            let mut tail = head.clone();
            for id in 1..n as u64 {
                let node = Cc::new(RingNode { id, next: RefCell::new(None) });
                *tail.next.borrow_mut() = Some(node.clone());
                tail = node;
            }
            *tail.next.borrow_mut() = Some(head.clone());
            drop(tail);
            let mut sum = 0;
            let mut cur = head.clone();
            loop {
                sum += cur.id;
                let next = cur.next.borrow().clone().expect("a ring has no end");
                if Cc::ptr_eq(&next, &head) {
                    break;
                }
                cur = next;
            }
            sum
        };
        collect_cycles();
        sum
    }
}

struct TreeNode {
    id: u64,
    left: Option<Cc<TreeNode>>,
    right: Option<Cc<TreeNode>>,
}

impl Trace for TreeNode {
    fn trace(&self, tracer: &mut Tracer) {
        self.left.trace(tracer);
        self.right.trace(tracer);
    }
}

fn build_indexed(i: usize, n: usize) -> Cc<TreeNode> {
    let (l, r) = crate::tree_children(i, n);
    Cc::new(TreeNode { id: i as u64, left: l.map(|l| build_indexed(l, n)), right: r.map(|r| build_indexed(r, n)) })
}

fn sum_tree(node: &TreeNode) -> u64 {
    node.id + node.left.as_deref().map_or(0, sum_tree) + node.right.as_deref().map_or(0, sum_tree)
}

struct Full(Option<Cc<TreeNode>>);

impl FullGc for Full {
    fn build(&mut self, n: usize) {
        self.0 = Some(build_indexed(0, n));
    }

    fn collect(&mut self) -> Record {
        collect_cycles();
        Record::new()
    }

    fn check(&mut self) -> u64 {
        self.0.as_deref().map_or(0, sum_tree)
    }
}

struct Node {
    #[allow(dead_code)] // a payload, as in the other implementations' nodes
    id: u64,
    next: RefCell<Option<Cc<Node>>>,
}

impl Trace for Node {
    fn trace(&self, tracer: &mut Tracer) {
        self.next.trace(tracer);
    }
}

struct Bucket {
    slots: Vec<RefCell<Option<Cc<Node>>>>,
}

impl Trace for Bucket {
    fn trace(&self, tracer: &mut Tracer) {
        self.slots.trace(tracer);
    }
}

fn fresh_chain(len: usize, next_id: &mut u64) -> Cc<Node> {
    let mut next = None;
    for _ in 0..len {
        *next_id += 1;
        next = Some(Cc::new(Node { id: *next_id, next: RefCell::new(next) }));
    }
    next.expect("len >= 1")
}

fn pause(p: &Params) -> Record {
    let chains = chains_for(p.live);
    let mut next_id = 0;
    let buckets: Vec<Cc<Bucket>> = (0..chains)
        .step_by(BUCKET_SLOTS)
        .map(|first| {
            let slots = BUCKET_SLOTS.min(chains - first);
            Cc::new(Bucket {
                slots: (0..slots).map(|_| RefCell::new(Some(fresh_chain(CHAIN, &mut next_id)))).collect(),
            })
        })
        .collect();
    let mut rng = rng::seeded(1);
    let out = super::pause_loop(p, |log| {
        for _ in 0..BATCH {
            let m = next_mutation(&mut rng, chains);
            let slot = &buckets[m.bucket].slots[m.slot];
            if m.depth == 0 {
                *slot.borrow_mut() = Some(fresh_chain(CHAIN, &mut next_id));
                continue;
            }
            let mut node = slot.borrow().clone().expect("chains are never empty");
            for _ in 1..m.depth {
                let next = node.next.borrow().clone().expect("chains have CHAIN nodes");
                node = next;
            }
            *node.next.borrow_mut() = Some(fresh_chain(CHAIN - m.depth, &mut next_id));
        }
        let t = std::time::Instant::now();
        collect_cycles();
        let now = std::time::Instant::now();
        if now - t > std::time::Duration::from_micros(2) {
            log.record(t, now);
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
