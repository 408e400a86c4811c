// #[gc] impl blocks: the self type's slots, listed types, trait impls, one method, a trait's
// provided method, and a struct from another module.
#![deny(warnings)]

use gc_runtime::{gc, Gc};

mod shapes {
    use gc_runtime::{gc, Gc};

    #[gc]
    pub struct Leaf {
        pub value: u64,
        pub owner: Option<Gc<super::Tree>>,
    }
}

#[gc]
struct Tree {
    left: Option<Gc<Tree>>,
    right: Option<Gc<Tree>>,
    leaf: Option<Gc<shapes::Leaf>>,
}

#[gc]
impl Tree {
    fn set_children(&self, left: Gc<'_, Tree>, right: Gc<'_, Tree>) {
        self.left = Some(left);
        self.right = Some(right);
    }
}

trait Attach {
    fn attach(&self, leaf: Gc<'_, shapes::Leaf>, tree: Gc<'_, Tree>);
}

// A trait impl, with the slots of two structs: the list replaces the self type.
#[gc(Tree, shapes::Leaf)]
impl Attach for Tree {
    fn attach(&self, leaf: Gc<'_, shapes::Leaf>, tree: Gc<'_, Tree>) {
        tree.leaf = Some(leaf);
        leaf.owner = Some(tree);
    }
}

// A #[gc] struct from another module, named without its path: import its registry with it.
use shapes::{__gc_slots_Leaf, Leaf};

#[gc]
impl Leaf {
    fn disown(&self) {
        self.owner = None;
    }
}

// A trait's provided method.
trait Trim {
    fn tree(&self) -> Gc<'_, Tree>;

    #[gc(Tree)]
    fn trim(&self) {
        self.tree().right = None;
    }
}

struct Gardener;

impl Trim for (Gardener, Gc<'_, Tree>) {
    fn tree(&self) -> Gc<'_, Tree> {
        self.1
    }
}

impl Gardener {
    // A single method of a plain impl.
    #[gc(Tree)]
    fn prune(&self, tree: Gc<'_, Tree>) {
        tree.left = None;
    }
}

fn main() {
    let mu = gc_runtime::attach();
    let root = Tree::new(&mu, None, None, None);
    let left = Tree::new(&mu, None, None, None);
    let right = Tree::new(&mu, None, None, None);
    root.set_children(left, right);
    let leaf = shapes::Leaf::new(&mu, 7, None);
    root.attach(leaf, right);
    assert_eq!(root.right(&mu).and_then(|t| t.leaf(&mu)).map(|l| l.value), Some(7));
    assert!(Gc::ptr_eq(leaf.owner(&mu).expect("attached"), right));
    Gardener.prune(root);
    assert!(root.left(&mu).is_none());
    (Gardener, root).trim();
    assert!(root.right(&mu).is_none());
    leaf.disown();
    assert!(leaf.owner(&mu).is_none());
}
