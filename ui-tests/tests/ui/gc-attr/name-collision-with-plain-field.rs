// The rewrite goes by field name: inside #[gc] code, a plain field named like a slot field
// is rewritten too, and the barrier call does not accept it.
use gc_runtime::{gc, Gc};

#[gc]
struct Node {
    next: Option<Gc<Node>>,
}

struct Cursor {
    next: usize,
}

#[gc(Node)]
fn advance(cursor: &mut Cursor, node: Gc<'_, Node>) {
    node.next = None;
    cursor.next = cursor.next + 1;
}

fn main() {}
