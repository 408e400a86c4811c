// #[gc] on a struct: slot fields, the derive, the constructor, accessors and the registry.
use gc_runtime::{gc, Gc};

#[gc]
pub struct Node<T> {
    pub value: T,
    pub next: Option<Gc<Node<T>>>,
    pub first: Gc<Leaf>,
    #[cfg(any())]
    pub debug_prev: Option<Gc<Node<T>>>,
}

#[gc(constructor = "make")]
pub struct Leaf {
    pub weight: u64,
}

fn main() {
    let mu = gc_runtime::attach();
    let leaf = Leaf::make(&mu, 3);
    let node = Node::new(&mu, "head", None, leaf);
    node.set_next(Some(node));
    assert_eq!(node.next(&mu).map(|next| next.value), Some("head"));
    assert_eq!(node.first(&mu).weight, 3);
}
