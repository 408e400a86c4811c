//! Shared set-up for gc-runtime's criterion micro benchmarks (`benches/`).
//!
//! ```text
//! cargo bench -p gc-bench-micro                 # all of them, with criterion's statistics
//! cargo bench -p gc-bench-micro -- --test       # smoke: each benchmark once (CI)
//! cargo bench -p gc-bench-micro --bench barrier # one file
//! ```
//!
//! | file | what it measures |
//! |---|---|
//! | `barrier.rs` | a slot store through the write barrier, collector idle and while a cycle marks, next to a raw `AtomicPtr` store |
//! | `alloc.rs` | the allocation fast path for a small object, next to `Box::new` |
//! | `handshake.rs` | stop-the-world handshake latency (a `collect()` of a tiny heap in stop-the-world mode) against the number of attached mutators |
//! | `mark_sweep.rs` | mark rate (objects/s, bytes/s) of a full collection of N live objects and sweep rate of N dead ones, from the cycle's `CycleStats` |
//!
//! Each benchmark file is its own process, so each configures the one runtime of its process
//! with [`init`] before anything else.

use gc_runtime::{Config, Gc, Member, Mode, Mutator, Root, Trace};

/// A small object: one payload word and one slot.
#[derive(Trace)]
pub struct Small {
    /// Payload.
    pub value: u64,
    /// A pointer slot.
    pub next: Member<Small>,
}

/// Objects between two safepoints in the benchmark loops (a safepoint is where a pause can
/// happen, so loops that run for long must reach one regularly).
pub const CHUNK: u64 = 1024;

/// Start the runtime in `mode`, with the other settings from the `GC_*` environment, and
/// `gc_percent` as given (`None`: only explicit collections).
pub fn init(mode: Mode, gc_percent: Option<u32>) {
    let config = Config::from_env().expect("valid GC_* environment").with_mode(mode).with_gc_percent(gc_percent);
    gc_runtime::init(config).expect("runtime not started yet");
}

/// Allocate a fresh `Small`.
pub fn small(mu: &Mutator, value: u64) -> Gc<'_, Small> {
    mu.alloc(Small { value, next: Member::new() })
}

/// A live structure of `n` objects held by roots: chains of 1024 `Small`s, one root each.
/// Returns the roots; calls safepoints while building.
pub fn live_chains(mu: &mut Mutator, n: u64) -> Vec<Root<Small>> {
    let mut roots = Vec::new();
    let mut left = n;
    while left > 0 {
        let len = left.min(CHUNK);
        {
            let head = small(mu, 0);
            let mut tail = head;
            for i in 1..len {
                let node = small(mu, i);
                tail.next.set(Some(node));
                tail = node;
            }
            roots.push(head.root(mu));
        }
        left -= len;
        mu.safepoint();
    }
    roots
}

/// Whether criterion runs in its quick `--test` mode (each benchmark once): set-ups use
/// smaller heaps then.
pub fn test_mode() -> bool {
    std::env::args().any(|a| a == "--test")
}
