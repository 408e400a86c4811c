// #[gc] on an impl block: assignments to the self type's slots become barrier calls.
use gc_runtime::{gc, Gc, Mutator};

#[gc]
struct Node {
    value: u64,
    next: Option<Gc<Node>>,
    prev: Option<Gc<Node>>,
}

#[gc]
impl Node {
    fn insert_after(&self, this: Gc<'_, Node>, mu: &Mutator, value: u64) {
        let node = Node::new(mu, value, self.next(mu), Some(this));
        if let Some(next) = self.next(mu) {
            next.prev = Some(node);
        }
        self.next = Some(node);
    }

    fn unlink(&self) {
        self.next = None;
        self.prev = None;
    }
}

fn main() {
    let mu = gc_runtime::attach();
    let head = Node::new(&mu, 0, None, None);
    head.insert_after(head, &mu, 2);
    head.insert_after(head, &mu, 1);
    let one = head.next(&mu).expect("inserted");
    assert_eq!(one.value, 1);
    assert_eq!(one.next(&mu).expect("inserted").value, 2);
    one.unlink();
    assert!(one.next(&mu).is_none());
}
