//! The measuring programs' live heap: complete binary trees of two-slot nodes (24 bytes with
//! the header), built depth-first, so that a depth-first marking reads memory nearly in order.

use gc_runtime::{Gc, Member, Mutator, Trace};

/// A binary tree node: two slots and nothing else.
#[derive(Trace)]
pub struct Tree {
    /// The left child, or another node (a program may link the nodes as it likes).
    pub left: Member<Tree>,
    /// The right child, or another node.
    pub right: Member<Tree>,
}

impl Tree {
    /// A node with both slots empty.
    pub fn leaf(mu: &Mutator) -> Gc<'_, Tree> {
        mu.alloc(Tree { left: Member::new(), right: Member::new() })
    }
}

/// A complete binary tree of `2^(depth+1) - 1` nodes, each allocated before its children.
pub fn build(mu: &Mutator, depth: u32) -> Gc<'_, Tree> {
    let node = Tree::leaf(mu);
    if depth > 0 {
        node.left.set(Some(build(mu, depth - 1)));
        node.right.set(Some(build(mu, depth - 1)));
    }
    node
}

/// The nodes of the tree under `node` (each counted once per path: for a tree, its size).
pub fn count(mu: &Mutator, node: Gc<'_, Tree>) -> usize {
    1 + node.left.get(mu).map_or(0, |l| count(mu, l)) + node.right.get(mu).map_or(0, |r| count(mu, r))
}

/// The number of nodes of a complete tree of `depth` ([`build`]).
pub fn size(depth: u32) -> usize {
    (1 << (depth + 1)) - 1
}
