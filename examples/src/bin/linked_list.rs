//! A doubly linked list and a graph with cycles, in the GC heap.
//!
//! ```text
//! cargo run --release -p gc-examples --bin linked_list -- 100000
//! ```
//!
//! The list: `n` cells linked both ways (every neighbouring pair is a cycle), the even cells
//! unlinked, a collection, and both directions read back. The graph: two rings of `n` vertices
//! with chords; one ring is kept by a root, the other is dropped. After a collection, weak
//! references show that the kept ring is whole and the dropped one, cycles and all, is gone —
//! a tracing collector needs no cycle breaking. Exits non-zero if any check fails.

use gc_runtime::{Gc, GcVec, Member, Mutator, Root, Trace, Weak};

// ANCHOR: list
/// A list cell.
#[derive(Trace)]
struct Cell {
    value: u64,
    prev: Member<Cell>,
    next: Member<Cell>,
}

/// The list header.
#[derive(Trace)]
struct List {
    head: Member<Cell>,
    tail: Member<Cell>,
}

fn push_back(mu: &Mutator, list: Gc<'_, List>, value: u64) {
    let cell = mu.alloc(Cell { value, prev: Member::new(), next: Member::new() });
    match list.tail.get(mu) {
        Some(tail) => {
            cell.prev.set(Some(tail));
            tail.next.set(Some(cell));
        }
        None => list.head.set(Some(cell)),
    }
    list.tail.set(Some(cell));
}

/// Unlink every cell whose value is even.
fn remove_even(mu: &Mutator, list: Gc<'_, List>) {
    let mut cur = list.head.get(mu);
    while let Some(cell) = cur {
        let next = cell.next.get(mu);
        if cell.value % 2 == 0 {
            let prev = cell.prev.get(mu);
            match prev {
                Some(p) => p.next.set(next),
                None => list.head.set(next),
            }
            match next {
                Some(n) => n.prev.set(prev),
                None => list.tail.set(prev),
            }
        }
        cur = next;
    }
}
// ANCHOR_END: list

// ANCHOR: graph
/// A graph vertex: edges to other vertices, cycles allowed.
#[derive(Trace)]
struct Vertex {
    id: usize,
    edges: GcVec<Vertex>,
}

/// A ring `0 -> 1 -> ... -> n-1 -> 0` with a chord `i -> i + n/2` from every tenth vertex.
/// Returns the first vertex and weak references to all of them.
fn ring(mu: &Mutator, n: usize) -> (Gc<'_, Vertex>, Vec<Weak<Vertex>>) {
    let vs: Vec<Gc<'_, Vertex>> = (0..n).map(|id| mu.alloc(Vertex { id, edges: GcVec::new() })).collect();
    for (i, v) in vs.iter().enumerate() {
        v.edges.push(vs[(i + 1) % n]);
        if i % 10 == 0 {
            v.edges.push(vs[(i + n / 2) % n]);
        }
    }
    (vs[0], vs.iter().map(|v| Weak::new(mu, *v)).collect())
}

/// Walk the ring from `start` along first edges; returns the ids in order.
fn walk(mu: &Mutator, start: Gc<'_, Vertex>) -> Vec<usize> {
    let mut ids = vec![start.id];
    let mut cur = start.edges.get(0, mu).unwrap();
    while !Gc::ptr_eq(cur, start) {
        ids.push(cur.id);
        cur = cur.edges.get(0, mu).unwrap();
    }
    ids
}
// ANCHOR_END: graph

fn main() {
    let n: usize = std::env::args().nth(1).map_or(10_000, |a| a.parse().expect("usage: linked_list [N]")).max(2);
    let mut mu = gc_runtime::attach();
    let mut failures = Vec::new();

    // The list.
    let list: Root<List> = mu.alloc(List { head: Member::new(), tail: Member::new() }).root(&mu);
    for i in 1..=n as u64 {
        push_back(&mu, list.get(&mu), i);
        if i % 1000 == 0 {
            mu.safepoint();
        }
    }
    remove_even(&mu, list.get(&mu));
    mu.collect();
    let (mut forward, mut backward) = (Vec::new(), Vec::new());
    let mut cur = list.get(&mu).head.get(&mu);
    while let Some(c) = cur {
        forward.push(c.value);
        cur = c.next.get(&mu);
    }
    let mut cur = list.get(&mu).tail.get(&mu);
    while let Some(c) = cur {
        backward.push(c.value);
        cur = c.prev.get(&mu);
    }
    let odd: Vec<u64> = (1..=n as u64).filter(|v| v % 2 == 1).collect();
    if forward != odd {
        failures.push(format!("list forward: {} values, expected {}", forward.len(), odd.len()));
    }
    backward.reverse();
    if backward != odd {
        failures.push("list backward differs from forward".to_string());
    }
    println!("list: {} cells kept of {n}, same both ways: {}", forward.len(), backward == forward);

    // The graph.
    let (kept, kept_weak) = ring(&mu, n);
    let kept = kept.root(&mu);
    let (_dropped, dropped_weak) = ring(&mu, n);
    mu.collect(); // `_dropped` is a local: it ends here, and nothing else reaches its ring
    let ids = walk(&mu, kept.get(&mu));
    if ids != (0..n).collect::<Vec<_>>() {
        failures.push(format!("kept ring: walked {} vertices, expected {n}", ids.len()));
    }
    let kept_alive = kept_weak.iter().filter(|w| w.upgrade(&mu).is_some()).count();
    let dropped_alive = dropped_weak.iter().filter(|w| w.upgrade(&mu).is_some()).count();
    if kept_alive != n {
        failures.push(format!("kept ring: {kept_alive} of {n} vertices alive"));
    }
    if dropped_alive != 0 {
        failures.push(format!("dropped ring: {dropped_alive} of {n} vertices still alive"));
    }
    println!("graph: kept ring {kept_alive}/{n} alive, dropped ring {dropped_alive}/{n} alive");

    if failures.is_empty() {
        println!("ok");
    } else {
        for f in &failures {
            eprintln!("FAILED: {f}");
        }
        std::process::exit(1);
    }
}
