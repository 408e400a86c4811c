// #[gc] on an inline module: its structs are expanded, and every assignment in it is
// rewritten with all their slot names.
use gc_runtime::gc;

#[gc]
mod tree {
    use gc_runtime::{Gc, Mutator};

    #[gc]
    pub struct Branch {
        pub left: Option<Gc<Branch>>,
        pub right: Option<Gc<Branch>>,
        pub leaf: Option<Gc<Leaf>>,
    }

    #[gc]
    pub struct Leaf {
        pub value: u64,
        pub parent: Gc<Branch>,
    }

    impl Branch {
        pub fn grow(&self, this: Gc<'_, Branch>, mu: &Mutator, value: u64) {
            self.leaf = Some(Leaf::new(mu, value, this));
        }
    }

    pub fn graft(mu: &Mutator, parent: Gc<'_, Branch>, left: Gc<'_, Branch>, right: Gc<'_, Branch>) {
        parent.left = Some(left);
        parent.right = Some(right);
        if let Some(leaf) = left.leaf(mu) {
            leaf.parent = parent;
        }
    }
}

fn main() {
    use tree::{Branch, Leaf};

    let mu = gc_runtime::attach();
    let root = Branch::new(&mu, None, None, None);
    let left = Branch::new(&mu, None, None, None);
    let right = Branch::new(&mu, None, None, None);
    left.grow(left, &mu, 5);
    tree::graft(&mu, root, left, right);
    let leaf: gc_runtime::Gc<'_, Leaf> = root.left(&mu).and_then(|left| left.leaf(&mu)).expect("grown");
    assert_eq!(leaf.value, 5);
    assert!(gc_runtime::Gc::ptr_eq(leaf.parent(&mu), root));
}
