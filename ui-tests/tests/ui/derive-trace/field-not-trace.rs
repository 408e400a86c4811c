// Every traced field must implement `Trace`; the error points at the field.
use gc_runtime::{Member, Trace};

struct NotTrace;

#[derive(Trace)]
struct Node {
    next: Member<Node>,
    opaque: NotTrace,
}

fn main() {}
