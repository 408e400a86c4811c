//! Tutorial 2: a graph shared by threads.

// ANCHOR: types
use std::sync::Arc;

use gc_runtime::{GcVec, Trace};

/// A vertex: an id and its outgoing edges.
#[derive(Trace)]
pub struct Vertex {
    /// The vertex number.
    pub id: usize,
    /// Edges, as GC pointers to other vertices (cycles allowed).
    pub edges: GcVec<Vertex>,
}

/// The whole graph.
#[derive(Trace)]
pub struct Graph {
    /// Every vertex, by id.
    pub vertices: GcVec<Vertex>,
}
// ANCHOR_END: types

// ANCHOR: run
/// Build `n` vertices, then let `threads` threads add edges `i -> (i + k) % n` concurrently
/// (thread `t` adds those for `k = t + 1`). Returns the total number of edges, and whether each
/// edge points where it should.
pub fn run(n: usize, threads: usize) -> (usize, bool) {
    let mut mu = gc_runtime::attach();
    let graph = mu.alloc(Graph { vertices: GcVec::new() });
    for id in 0..n {
        graph.vertices.push(mu.alloc(Vertex { id, edges: GcVec::new() }));
    }
    // A `Root` is `Send + Sync`: it is how an object crosses threads. A `Gc` local cannot.
    let root = Arc::new(graph.root(&mu));
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let root = Arc::clone(&root);
            std::thread::spawn(move || {
                let mut mu = gc_runtime::attach(); // each thread attaches its own mutator
                for i in 0..n {
                    let graph = root.get(&mu);
                    let from = graph.vertices.get(i, &mu).unwrap();
                    let to = graph.vertices.get((i + t + 1) % n, &mu).unwrap();
                    from.edges.push(to); // barriered store, safe while the collector marks
                    if i % 100 == 0 {
                        mu.safepoint(); // `graph`, `from`, `to` end here; the root does not
                    }
                }
            })
        })
        .collect();
    // Joining blocks: detach meanwhile, or every pause would wait for this thread.
    mu.blocking(|| workers.into_iter().for_each(|w| w.join().unwrap()));
    mu.collect();
    let graph = root.get(&mu);
    let mut edges = 0;
    let mut right = true;
    for v in graph.vertices.iter(&mu) {
        for e in v.edges.iter(&mu) {
            edges += 1;
            let k = (e.id + n - v.id) % n;
            right &= (1..=threads).contains(&k);
        }
    }
    (edges, right)
}
// ANCHOR_END: run

#[cfg(test)]
mod tests {
    #[test]
    fn every_thread_adds_its_edges() {
        assert_eq!(super::run(500, 3), (1500, true));
    }
}
