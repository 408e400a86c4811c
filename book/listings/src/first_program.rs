//! Getting started: the first program.

// ANCHOR: all
use gc_runtime::{Member, Trace};

/// A list node in the GC heap.
#[derive(Trace)]
pub struct Node {
    /// The payload: plain data, not traced into.
    pub value: u32,
    /// A GC pointer field (a slot): read with a mutator, written through the barrier.
    pub next: Member<Node>,
}

/// Builds a two-node cycle, collects, and returns the value reached through the cycle.
pub fn first_program() -> u32 {
    let mut mu = gc_runtime::attach(); // this thread becomes a mutator
    let a = mu.alloc(Node { value: 1, next: Member::new() });
    let b = mu.alloc(Node { value: 2, next: Member::new() });
    a.next.set(Some(b)); // the write barrier runs here
    b.next.set(Some(a)); // a cycle: fine
    let root = a.root(&mu); // keeps `a` alive across safepoints and threads
    mu.collect(); // a full cycle; the locals `a` and `b` cannot be used past this line
    let a = root.get(&mu);
    let b = a.next.get(&mu).unwrap();
    b.next.get(&mu).unwrap().value + b.value * 10
}
// ANCHOR_END: all

#[cfg(test)]
mod tests {
    #[test]
    fn the_cycle_survives_a_collection() {
        assert_eq!(super::first_program(), 21);
    }
}
