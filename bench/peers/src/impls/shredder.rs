//! `shredder` 0.2: a concurrent collector with a background collection thread and background
//! destructors; data is reached through a guard (`Gc::get`), mutable links are `RefCell`s
//! inside `Gc`s, and `shredder::collect()` runs a collection on the calling thread. The whole
//! run is wrapped in `run_with_gc_cleanup`, as its documentation recommends.
//!
//! Pause workload: not measured — collection runs on shredder's own thread and the mutator is
//! held up only through its internal locks, which this harness cannot observe from outside.

// shredder_derive 0.2's expansion puts impls inside a function body.
#![allow(non_local_definitions)]

use std::cell::RefCell;

use gc_bench_support::record::Record;
use shredder::{Gc, Scan};

use super::{BinaryTrees, FullGc, Ring, UNSUPPORTED};
use crate::{Params, Workload};

/// Runs a workload.
pub fn run(w: Workload, p: &Params) -> Result<Record, String> {
    shredder::run_with_gc_cleanup(|| match w {
        Workload::BinaryTrees => Ok(super::binary_trees(p, &mut Trees(None))),
        Workload::Ring => Ok(super::ring(p, &mut RingImpl)),
        Workload::FullGc => Ok(super::full_gc(p, &mut Full(None))),
        Workload::Pause => Err(UNSUPPORTED.into()),
    })
}

#[derive(Scan)]
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

fn item_check(tree: &Gc<Tree>) -> u64 {
    let t = tree.get();
    match (&t.left, &t.right) {
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

#[derive(Scan)]
struct RingNode {
    id: u64,
    next: Option<Gc<RefCell<RingNode>>>,
}

struct RingImpl;

impl Ring for RingImpl {
    fn build_walk_drop(&mut self, n: usize) -> u64 {
        let head = Gc::new(RefCell::new(RingNode { id: 0, next: None }));
        let mut tail = head.clone();
        for id in 1..n as u64 {
            let node = Gc::new(RefCell::new(RingNode { id, next: None }));
            tail.borrow_mut().next = Some(node.clone());
            tail = node;
        }
        tail.borrow_mut().next = Some(head.clone());
        drop(tail);
        let mut sum = 0;
        let mut cur = head;
        loop {
            let next = {
                let node = cur.borrow();
                sum += node.id;
                node.next.clone().expect("a ring has no end")
            };
            if next.borrow().id == 0 {
                break;
            }
            cur = next;
        }
        sum
    }
}

#[derive(Scan)]
struct TreeNode {
    id: u64,
    left: Option<Gc<TreeNode>>,
    right: Option<Gc<TreeNode>>,
}

fn build_indexed(i: usize, n: usize) -> Gc<TreeNode> {
    let (l, r) = crate::tree_children(i, n);
    Gc::new(TreeNode { id: i as u64, left: l.map(|l| build_indexed(l, n)), right: r.map(|r| build_indexed(r, n)) })
}

fn sum_tree(node: &Gc<TreeNode>) -> u64 {
    let n = node.get();
    n.id + n.left.as_ref().map_or(0, sum_tree) + n.right.as_ref().map_or(0, sum_tree)
}

struct Full(Option<Gc<TreeNode>>);

impl FullGc for Full {
    fn build(&mut self, n: usize) {
        self.0 = Some(build_indexed(0, n));
    }

    fn collect(&mut self) -> Record {
        shredder::collect();
        Record::new()
    }

    fn check(&mut self) -> u64 {
        self.0.as_ref().map_or(0, sum_tree)
    }
}
