// Assignments inside a macro call are not rewritten (its arguments are tokens, not
// expressions), so the slot is assigned as a plain field: a type error that does not say why.
use gc_runtime::{gc, Gc};

#[gc]
struct Node {
    next: Option<Gc<Node>>,
}

macro_rules! assign {
    ($place:expr, $value:expr) => {
        $place = $value
    };
}

#[gc]
impl Node {
    fn link(&self, other: Gc<'_, Node>) {
        assign!(self.next, Some(other));
    }
}

fn main() {}
