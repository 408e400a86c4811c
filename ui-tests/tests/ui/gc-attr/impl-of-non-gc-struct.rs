// #[gc] on an impl block asks the self type's slot registry, which only #[gc] structs have.
use gc_runtime::{gc, Member, Trace};

#[derive(Trace)]
struct Node {
    next: Member<Node>,
}

#[gc]
impl Node {
    fn clear(&self) {
        self.next.set(None);
    }
}

fn main() {}
