//! A thread waiting in a stop-the-world `collect` marks beside the collector instead of
//! parking (see `marker/pool.rs`, "Threads waiting in `collect` join"); in concurrent mode, and
//! on a machine with one core, it parks. Each node's `trace` notes, in a thread-local flag, that it ran on the current thread.
//!
//! Hostile case: the joining thread's `trace` panics (the process must stop, as for any mark
//! worker, with the type named). Many threads collecting at once in stop-the-world mode, all
//! joining the same pauses, is `hostile_mark_workers.rs`' `collect_storm`.

use std::{
    cell::Cell,
    sync::atomic::{AtomicBool, Ordering},
};

mod common;

use common::{
    child::{child, in_child, DEADLINE},
    cores,
    hostile::watchdog,
    serial_only,
};
use gc_runtime::{Config, Member, Mode, Root, Trace, Tracer};

thread_local! {
    /// Set by [`Node::trace`] on the thread it runs on.
    static TRACED_HERE: Cell<bool> = const { Cell::new(false) };
}

/// When set, [`Node::trace`] panics on the thread that waits in `collect` (see
/// [`a_panicking_trace_on_the_joining_thread_stops_the_process`]).
static PANIC_ON_JOINER: AtomicBool = AtomicBool::new(false);

thread_local! {
    static IS_JOINER: Cell<bool> = const { Cell::new(false) };
}

struct Node {
    next: Member<Node>,
    _pad: [u64; 2],
}

// SAFETY: reports its one slot.
unsafe impl Trace for Node {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        TRACED_HERE.with(|t| t.set(true));
        if PANIC_ON_JOINER.load(Ordering::Relaxed) && IS_JOINER.with(Cell::get) {
            panic!("a node's trace panics on the thread waiting in collect");
        }
        self.next.trace(tracer);
    }
}

/// Stop-the-world mode, no automatic cycles, and eight mark workers. A pause marks with
/// `max(workers, cores)` and wakes a helper thread for each worker but one; a thread waiting in
/// `collect` takes a helper's place when it is first to join. With two cores the waiting thread
/// may share one with the collector, and then the helper on the other core wins the one place
/// every time (that is what should happen: the waiting thread could not mark in parallel
/// there); with seven places, some of them wait for helpers that are still waking.
fn stop_the_world() -> Config {
    Config::default().with_mode(Mode::StopTheWorld).with_gc_percent(None).with_mark_workers(8)
}

/// Chains per heap, and nodes per chain after its head.
const CHAINS: usize = 16_384;
const CHAIN_TAIL: usize = 63;

/// Many short chains of nodes, 32 MiB in all: above the heap size from which marking in a
/// pause uses every core, and enough to mark for milliseconds, so that a waiting thread that
/// shares its core with the collector still gets a turn. Their heads are roots, published to
/// the grey queue in buffers of 256 before the workers start, so every worker that joins finds
/// a buffer to take.
fn build_chains(mu: &gc_runtime::Mutator) -> Vec<Root<Node>> {
    (0..CHAINS)
        .map(|_| {
            let head = mu.alloc(Node { next: Member::new(), _pad: [0; 2] });
            let mut tail = head;
            for _ in 0..CHAIN_TAIL {
                let n = mu.alloc(Node { next: Member::new(), _pad: [0; 2] });
                tail.next.set(Some(n));
                tail = n;
            }
            head.root(mu)
        })
        .collect()
}

fn chain_len(mu: &gc_runtime::Mutator, head: &Root<Node>) -> usize {
    let mut n = 0;
    let mut at = Some(head.get(mu));
    while let Some(node) = at {
        n += 1;
        at = node.next.get(mu);
    }
    n
}

/// Whether any of `tries` collections traced a node on this thread.
fn collect_traces_here(mu: &mut gc_runtime::Mutator, tries: usize) -> bool {
    (0..tries).any(|_| {
        TRACED_HERE.with(|t| t.set(false));
        mu.collect();
        TRACED_HERE.with(Cell::get)
    })
}

#[test]
fn the_thread_waiting_in_a_stop_the_world_collect_marks() {
    let _s = serial_only();
    let _w = watchdog("stop-the-world collect joins marking");
    gc_runtime::reconfigure(stop_the_world().with_checkmark(true)).unwrap();
    let mut mu = gc_runtime::attach();
    let chains = build_chains(&mu);
    // The thread polls from the moment it asks for the cycle, and the marking takes hundreds
    // of microseconds, so it joins in most cycles (see `stop_the_world`); two hundred tries
    // keep a descheduled thread from failing the test, while a thread that never joins fails
    // it every time.
    if cores() < 2 {
        // One core: the waiting thread would only take turns on it with the collector.
        assert!(!collect_traces_here(&mut mu, 5), "the collecting thread polled on a single core");
    } else {
        assert!(collect_traces_here(&mut mu, 200), "the collecting thread never traced an object");
    }
    assert!(chains.iter().all(|c| chain_len(&mu, c) == CHAIN_TAIL + 1), "every chain intact");
    drop(chains);
    drop(mu);
    gc_runtime::reconfigure(Config::default()).unwrap();
}

#[test]
fn the_thread_waiting_in_a_concurrent_collect_parks() {
    let _s = serial_only();
    let _w = watchdog("concurrent collect parks");
    gc_runtime::reconfigure(Config::default().with_mode(Mode::Concurrent).with_gc_percent(None)).unwrap();
    let mut mu = gc_runtime::attach();
    let chains = build_chains(&mu);
    mu.safepoint();
    // No allocation while the cycles run, so no mark assist traces on this thread either.
    assert!(!collect_traces_here(&mut mu, 5), "a concurrent collect traced on the waiting thread");
    assert!(chains.iter().all(|c| chain_len(&mu, c) == CHAIN_TAIL + 1), "every chain intact");
    drop(chains);
    drop(mu);
    gc_runtime::reconfigure(Config::default()).unwrap();
}

/// A `trace` that panics while the thread waiting in `collect` runs it: marking cannot go on
/// without the object's referents, so the process stops with the type named, as it does for a
/// panic on a mark worker (run in a child process).
#[test]
fn a_panicking_trace_on_the_joining_thread_stops_the_process() {
    if in_child() {
        gc_runtime::reconfigure(stop_the_world()).unwrap();
        let mut mu = gc_runtime::attach();
        let _chains = build_chains(&mu);
        IS_JOINER.with(|j| j.set(true));
        PANIC_ON_JOINER.store(true, Ordering::Relaxed);
        for _ in 0..200 {
            mu.collect();
        }
        eprintln!("the joining thread never traced a node");
        std::process::exit(0);
    }
    // Serial: the child's cycles would take a core from another test's joining thread.
    let _s = serial_only();
    let out = child("a_panicking_trace_on_the_joining_thread_stops_the_process", &[], DEADLINE);
    if cores() < 2 {
        // One core: the waiting thread parks and never traces.
        assert!(out.success && out.stderr.contains("never traced"), "{}", out.describe());
        return;
    }
    assert!(!out.success && !out.timed_out, "the process went on after a trace panicked: {}", out.describe());
    assert!(
        out.stderr.contains("Trace::trace of `collect_helps_mark::Node` panicked"),
        "the abort names the type: {}",
        out.describe()
    );
}
