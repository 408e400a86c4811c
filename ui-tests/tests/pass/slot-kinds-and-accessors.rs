// Non-null (`Gc<T>`) and nullable (`Option<Gc<T>>`) slots, their getters and setters, and
// field visibility on the accessors.
#![deny(warnings)]

mod model {
    use gc_runtime::{gc, Gc};

    #[gc]
    pub struct Leaf {
        pub value: u64,
    }

    #[gc]
    pub struct Node {
        pub leaf: Gc<Leaf>,
        pub next: Option<Gc<Node>>,
        hidden: Option<Gc<Leaf>>,
    }

    impl Node {
        pub fn hidden_value(&self, mu: &gc_runtime::Mutator) -> Option<u64> {
            self.hidden(mu).map(|leaf| leaf.value)
        }

        pub fn hide(&self, leaf: Gc<'_, Leaf>) {
            self.set_hidden(Some(leaf));
        }
    }
}

use model::{Leaf, Node};

fn main() {
    let mu = gc_runtime::attach();
    let one = Leaf::new(&mu, 1);
    let two = Leaf::new(&mu, 2);
    let node = Node::new(&mu, one, None, None);
    assert_eq!(node.leaf(&mu).value, 1);
    node.set_leaf(two);
    assert_eq!(node.leaf(&mu).value, 2);
    assert!(node.next(&mu).is_none());
    node.set_next(Some(node));
    assert!(gc_runtime::Gc::ptr_eq(node.next(&mu).expect("set"), node));
    node.set_next(None);
    assert!(node.next(&mu).is_none());
    assert_eq!(node.hidden_value(&mu), None);
    node.hide(one);
    assert_eq!(node.hidden_value(&mu), Some(1));
}
