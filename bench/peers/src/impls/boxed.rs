//! `Box`: the baseline without sharing, for binary-trees (nodes freed when their tree is
//! dropped). A `Box` graph cannot form a ring, and there is nothing to collect.

use gc_bench_support::record::Record;

use super::{BinaryTrees, UNSUPPORTED};
use crate::{Params, Workload};

/// Runs a workload.
pub fn run(w: Workload, p: &Params) -> Result<Record, String> {
    match w {
        Workload::BinaryTrees => Ok(super::binary_trees(p, &mut Trees(None))),
        _ => Err(UNSUPPORTED.into()),
    }
}

struct Tree {
    left: Option<Box<Tree>>,
    right: Option<Box<Tree>>,
}

fn bottom_up_tree(depth: u32) -> Box<Tree> {
    if depth > 0 {
        Box::new(Tree { left: Some(bottom_up_tree(depth - 1)), right: Some(bottom_up_tree(depth - 1)) })
    } else {
        Box::new(Tree { left: None, right: None })
    }
}

fn item_check(tree: &Tree) -> u64 {
    match (&tree.left, &tree.right) {
        (Some(l), Some(r)) => 1 + item_check(l) + item_check(r),
        _ => 1,
    }
}

struct Trees(Option<Box<Tree>>);

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
