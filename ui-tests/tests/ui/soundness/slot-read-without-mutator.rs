// Reading a slot needs the mutator, so code without one (a destructor on the sweeper) cannot
// reach another object.
use gc_runtime::{Member, Trace};

#[derive(Trace)]
struct Node {
    value: u64,
    next: Member<Node>,
}

fn next_value(node: &Node) -> u64 {
    node.next.get().map_or(0, |next| next.value)
}

fn main() {}
