//! Tutorial 1: a doubly linked list.

// ANCHOR: types
use gc_runtime::{Gc, Member, Mutator, Root, Trace};

/// A list cell: two slots, one in each direction. The cycles they make (`a.next == b`,
/// `b.prev == a`) need no weak pointers: the collector traces, it does not count.
#[derive(Trace)]
pub struct Cell {
    /// The payload.
    pub value: i64,
    /// The previous cell, empty at the head.
    pub prev: Member<Cell>,
    /// The next cell, empty at the tail.
    pub next: Member<Cell>,
}

/// The list's header object: where the two ends are.
#[derive(Trace)]
pub struct List {
    /// First cell.
    pub head: Member<Cell>,
    /// Last cell.
    pub tail: Member<Cell>,
}
// ANCHOR_END: types

// ANCHOR: ops
/// Append `value` at the tail. Allocation is not a safepoint, so `list` stays valid.
pub fn push_back(mu: &Mutator, list: Gc<'_, List>, value: i64) {
    let cell = mu.alloc(Cell { value, prev: Member::new(), next: Member::new() });
    match list.tail.get(mu) {
        Some(tail) => {
            cell.prev.set(Some(tail)); // barrier
            tail.next.set(Some(cell)); // barrier
        }
        None => list.head.set(Some(cell)),
    }
    list.tail.set(Some(cell));
}

/// Unlink the first cell holding `value`; returns whether one was found. The unlinked cell
/// becomes garbage: nothing points to it any more.
pub fn remove(mu: &Mutator, list: Gc<'_, List>, value: i64) -> bool {
    let mut cur = list.head.get(mu);
    while let Some(cell) = cur {
        if cell.value == value {
            let (prev, next) = (cell.prev.get(mu), cell.next.get(mu));
            match prev {
                Some(p) => p.next.set(next),
                None => list.head.set(next),
            }
            match next {
                Some(n) => n.prev.set(prev),
                None => list.tail.set(prev),
            }
            return true;
        }
        cur = cell.next.get(mu);
    }
    false
}

/// The values from head to tail, and from tail to head.
pub fn both_ways(mu: &Mutator, list: Gc<'_, List>) -> (Vec<i64>, Vec<i64>) {
    let (mut forward, mut backward) = (Vec::new(), Vec::new());
    let mut cur = list.head.get(mu);
    while let Some(c) = cur {
        forward.push(c.value);
        cur = c.next.get(mu);
    }
    let mut cur = list.tail.get(mu);
    while let Some(c) = cur {
        backward.push(c.value);
        cur = c.prev.get(mu);
    }
    (forward, backward)
}
// ANCHOR_END: ops

// ANCHOR: main
/// Build 1..=n, remove the even numbers with a collection in between, and read it back.
pub fn run(n: i64) -> (Vec<i64>, Vec<i64>) {
    let mut mu = gc_runtime::attach();
    let list: Root<List> = mu.alloc(List { head: Member::new(), tail: Member::new() }).root(&mu);
    for i in 1..=n {
        push_back(&mu, list.get(&mu), i);
    }
    mu.collect(); // every cell is reachable from the root: nothing is freed
    for i in (2..=n).step_by(2) {
        assert!(remove(&mu, list.get(&mu), i));
    }
    mu.collect(); // the removed cells are garbage now, cycles and all
    both_ways(&mu, list.get(&mu))
}
// ANCHOR_END: main

#[cfg(test)]
mod tests {
    #[test]
    fn odd_numbers_remain_in_both_directions() {
        let (forward, backward) = super::run(10);
        assert_eq!(forward, [1, 3, 5, 7, 9]);
        assert_eq!(backward, [9, 7, 5, 3, 1]);
    }
}
