//! `Arc`: thread-safe reference counting without a cycle collector. binary-trees as with
//! `Box`; the ring is broken by hand and freed node by node (nodes hold their link in a
//! `Mutex`, as a structure shared between threads would).

use std::sync::{Arc, Mutex};

use gc_bench_support::record::Record;

use super::{BinaryTrees, Ring, UNSUPPORTED};
use crate::{Params, Workload};

/// Runs a workload.
pub fn run(w: Workload, p: &Params) -> Result<Record, String> {
    match w {
        Workload::BinaryTrees => Ok(super::binary_trees(p, &mut Trees(None))),
        Workload::Ring => Ok(super::ring(p, &mut RingImpl)),
        _ => Err(UNSUPPORTED.into()),
    }
}

struct Tree {
    left: Option<Arc<Tree>>,
    right: Option<Arc<Tree>>,
}

fn bottom_up_tree(depth: u32) -> Arc<Tree> {
    if depth > 0 {
        Arc::new(Tree { left: Some(bottom_up_tree(depth - 1)), right: Some(bottom_up_tree(depth - 1)) })
    } else {
        Arc::new(Tree { left: None, right: None })
    }
}

fn item_check(tree: &Tree) -> u64 {
    match (&tree.left, &tree.right) {
        (Some(l), Some(r)) => 1 + item_check(l) + item_check(r),
        _ => 1,
    }
}

struct Trees(Option<Arc<Tree>>);

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
    next: Mutex<Option<Arc<RingNode>>>,
}

fn next_of(node: &RingNode) -> Option<Arc<RingNode>> {
    node.next.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
}

fn take_next(node: &RingNode) -> Option<Arc<RingNode>> {
    node.next.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
}

struct RingImpl;

impl Ring for RingImpl {
    fn build_walk_drop(&mut self, n: usize) -> u64 {
        let head = Arc::new(RingNode { id: 0, next: Mutex::new(None) });
        let mut tail = head.clone();
        for id in 1..n as u64 {
            let node = Arc::new(RingNode { id, next: Mutex::new(None) });
            *tail.next.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(node.clone());
            tail = node;
        }
        *tail.next.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(head.clone());
        drop(tail);
        let mut sum = 0;
        let mut cur = head.clone();
        loop {
            sum += cur.id;
            let next = next_of(&cur).expect("a ring has no end");
            if Arc::ptr_eq(&next, &head) {
                break;
            }
            cur = next;
        }
        drop(cur);
        let mut next = take_next(&head);
        while let Some(node) = next {
            next = take_next(&node);
        }
        sum
    }
}
