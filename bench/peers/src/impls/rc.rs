//! `Rc`: reference counting without a cycle collector. binary-trees as with `Box`; the ring
//! workload in two forms: `rc` drops the ring without breaking its cycle (so every ring leaks:
//! the memory column shows it), `rc-hand` breaks it by hand, freeing node by node — the
//! baseline of the ring ratios.

use std::{cell::RefCell, rc::Rc};

use gc_bench_support::record::Record;

use super::{BinaryTrees, Ring, UNSUPPORTED};
use crate::{Params, Workload};

/// Runs a workload (the ring leaks).
pub fn run(w: Workload, p: &Params) -> Result<Record, String> {
    match w {
        Workload::BinaryTrees => Ok(super::binary_trees(p, &mut Trees(None))),
        Workload::Ring => Ok(super::ring(p, &mut RingImpl { hand_free: false })),
        _ => Err(UNSUPPORTED.into()),
    }
}

/// Runs the ring workload, breaking each ring by hand.
pub fn run_hand_freed(w: Workload, p: &Params) -> Result<Record, String> {
    match w {
        Workload::Ring => Ok(super::ring(p, &mut RingImpl { hand_free: true })),
        _ => Err(UNSUPPORTED.into()),
    }
}

struct Tree {
    left: Option<Rc<Tree>>,
    right: Option<Rc<Tree>>,
}

fn bottom_up_tree(depth: u32) -> Rc<Tree> {
    if depth > 0 {
        Rc::new(Tree { left: Some(bottom_up_tree(depth - 1)), right: Some(bottom_up_tree(depth - 1)) })
    } else {
        Rc::new(Tree { left: None, right: None })
    }
}

fn item_check(tree: &Tree) -> u64 {
    match (&tree.left, &tree.right) {
        (Some(l), Some(r)) => 1 + item_check(l) + item_check(r),
        _ => 1,
    }
}

struct Trees(Option<Rc<Tree>>);

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
    next: RefCell<Option<Rc<RingNode>>>,
}

struct RingImpl {
    hand_free: bool,
}

impl Ring for RingImpl {
    fn build_walk_drop(&mut self, n: usize) -> u64 {
        let head = Rc::new(RingNode { id: 0, next: RefCell::new(None) });
        let mut tail = head.clone();
        for id in 1..n as u64 {
            let node = Rc::new(RingNode { id, next: RefCell::new(None) });
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
            if Rc::ptr_eq(&next, &head) {
                break;
            }
            cur = next;
        }
        drop(cur);
        if self.hand_free {
            // Break the cycle and free node by node (a recursive drop of 100k nodes would
            // overflow the stack).
            let mut next = head.next.borrow_mut().take();
            while let Some(node) = next {
                next = node.next.borrow_mut().take();
            }
        }
        sum
    }
}
