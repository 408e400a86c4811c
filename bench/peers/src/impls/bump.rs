//! bumpalo: a bump arena, the floor of allocation cost. Each short-lived tree (and each ring)
//! is built in an arena that is reset afterwards; the long-lived tree has its own arena. No
//! destructor runs and nothing is traced.

use std::cell::Cell;

use bumpalo::Bump;
use gc_bench_support::record::Record;

use super::{BinaryTrees, Ring, UNSUPPORTED};
use crate::{Params, Workload};

/// Runs a workload.
pub fn run(w: Workload, p: &Params) -> Result<Record, String> {
    match w {
        Workload::BinaryTrees => {
            Ok(super::binary_trees(p, &mut Trees { scratch: Bump::new(), long_lived: Bump::new(), long_check: 0 }))
        }
        Workload::Ring => Ok(super::ring(p, &mut RingImpl(Bump::new()))),
        _ => Err(UNSUPPORTED.into()),
    }
}

struct Tree<'b> {
    left: Option<&'b Tree<'b>>,
    right: Option<&'b Tree<'b>>,
}

fn bottom_up_tree(bump: &Bump, depth: u32) -> &Tree<'_> {
    if depth > 0 {
        let left = bottom_up_tree(bump, depth - 1);
        let right = bottom_up_tree(bump, depth - 1);
        bump.alloc(Tree { left: Some(left), right: Some(right) })
    } else {
        bump.alloc(Tree { left: None, right: None })
    }
}

fn item_check(tree: &Tree<'_>) -> u64 {
    match (tree.left, tree.right) {
        (Some(l), Some(r)) => 1 + item_check(l) + item_check(r),
        _ => 1,
    }
}

struct Trees {
    scratch: Bump,
    long_lived: Bump,
    long_check: u64,
}

impl BinaryTrees for Trees {
    fn trees(&mut self, count: u64, depth: u32) -> u64 {
        let mut check = 0;
        for _ in 0..count {
            check += item_check(bottom_up_tree(&self.scratch, depth));
            self.scratch.reset();
        }
        check
    }

    fn make_long_lived(&mut self, depth: u32) {
        // The tree lives as long as its arena; its check is taken at the end, as the program
        // does, by walking it again.
        let tree = bottom_up_tree(&self.long_lived, depth);
        self.long_check = item_check(tree);
    }

    fn check_long_lived(&mut self) -> u64 {
        self.long_lived.reset();
        self.long_check
    }
}

struct RingNode<'b> {
    id: u64,
    next: Cell<Option<&'b RingNode<'b>>>,
}

struct RingImpl(Bump);

impl Ring for RingImpl {
    fn build_walk_drop(&mut self, n: usize) -> u64 {
        let sum = {
            let bump = &self.0;
            let head: &RingNode<'_> = bump.alloc(RingNode { id: 0, next: Cell::new(None) });
            let mut tail = head;
            for id in 1..n as u64 {
                let node = bump.alloc(RingNode { id, next: Cell::new(None) });
                tail.next.set(Some(node));
                tail = node;
            }
            tail.next.set(Some(head));
            let (mut sum, mut cur) = (0, head);
            loop {
                sum += cur.id;
                cur = cur.next.get().expect("a ring has no end");
                if std::ptr::eq(cur, head) {
                    break sum;
                }
            }
        };
        self.0.reset();
        sum
    }
}
