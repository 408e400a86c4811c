// #[gc] cannot tell which struct's slots an impl for `&Node` assigns: list them.
use gc_runtime::{gc, Gc};

#[gc]
struct Node {
    next: Option<Gc<Node>>,
}

trait Clear {
    fn clear(self);
}

#[gc]
impl Clear for &Node {
    fn clear(self) {
        self.next = None;
    }
}

fn main() {}
