//! A hostile (safe-Rust-only) user against the threads that join marking from a stop-the-world
//! `collect` (see `marker/pool.rs`, "Threads waiting in `collect` join"): in
//! [`Mode::StopTheWorld`] a thread in `Mutator::collect` polls the mark pool, joins each job of
//! the cycle's pause that has room (marking, sweep), and runs user `Trace` impls on its own
//! thread — its own stack and its own thread-locals — before it parks.
//!
//! Attacked here:
//! - the joining thread's stack: a deep plain-Rust value inside one object, built and traced
//!   once on a thread with a main thread's stack, then marked while a thread with the default
//!   spawn stack (2 MiB) waits in a stop-the-world `collect` (the collector's own threads get
//!   64 MiB for exactly this, see `thread_state::collector_stack_size`); and the same in
//!   concurrent mode, where that thread parks. (Whether the waiting thread joins depends on
//!   whether it takes the job's room before the woken helpers do: this attack failed in every
//!   run before the joined drain moved to a stack as deep as the collector's threads', on a
//!   busy machine; on a quiet one the helpers often take the room first. The deterministic
//!   check of that stack is `marker::pool`'s unit test
//!   `a_thread_that_joins_drains_on_a_stack_as_deep_as_the_collectors`.)
//! - the joining thread's thread-locals: a `Trace` that borrows a thread-local `RefCell` the
//!   collecting thread holds borrowed across `collect`;
//! - many threads in `collect` at once (more than may poll) beside mutators, slow `Trace` impls
//!   that yield, threads that exit right after `collect`, and `blocking` interleaved;
//! - the mode flipped between stop-the-world and concurrent while threads sit in `collect`;
//! - threads that `collect` and then leak their mutator (`std::mem::forget`) and exit;
//! - heaps just below and just above the 1 MiB threshold of parallel marking;
//! - a stop held up for a second and a half by a mutator that does not reach a safepoint: the
//!   thread in `collect` must park, not spin, while it waits for the pause.
//!
//! Objects carry a `Canary` and a drop probe: one freed while reachable fails its canary or the
//! ledger; checkmark verifies every marking (a missed object aborts the process). A watchdog
//! turns a deadlock into an abort; scenarios that crash, leak or are expected to abort run in a
//! child process.

use std::{
    cell::{Cell, RefCell},
    collections::HashSet,
    sync::atomic::{AtomicBool, AtomicUsize, Ordering},
    thread,
    time::{Duration, Instant},
};

mod common;

use common::{
    child::{child, in_child, DEADLINE},
    collect2, cores,
    hostile::{assert_checkmarked_since, watchdog},
    serial_only, Canary, Ledger, Rng,
};
use gc_runtime::{BarrierKind, Config, GcVec, Member, Mode, Mutator, Root, Trace, Tracer};

thread_local! {
    /// How many objects [`Slow::trace`] and [`Node::trace`] traced on the current thread.
    static TRACED_HERE: Cell<u64> = const { Cell::new(0) };
}

fn traced_here() -> u64 {
    TRACED_HERE.with(Cell::get)
}

/// When set, every 128th [`Slow`] yields its core in `trace` (and every 4096th sleeps).
static SLOW_TRACE: AtomicBool = AtomicBool::new(false);

/// A slot holding a canary, with a `trace` that yields now and then while [`SLOW_TRACE`] is on.
struct Slow {
    canary: Member<Canary>,
    n: u64,
}

// SAFETY: reports its one slot.
unsafe impl Trace for Slow {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        TRACED_HERE.with(|t| t.set(t.get() + 1));
        if SLOW_TRACE.load(Ordering::Relaxed) {
            if self.n % 4096 == 0 {
                thread::sleep(Duration::from_micros(50));
            } else if self.n % 128 == 0 {
                thread::yield_now();
            }
        }
        self.canary.trace(tracer);
    }
}

#[derive(Trace)]
struct Set {
    items: GcVec<Slow>,
}

fn alloc_slow<'m>(mu: &'m Mutator, ledger: &std::sync::Arc<Ledger>, n: u64) -> gc_runtime::Gc<'m, Slow> {
    let canary = Canary::alloc(mu, ledger);
    let s = mu.alloc(Slow { canary: Member::new(), n });
    s.canary.set(Some(canary));
    s
}

/// A rooted set of `len` slow slots, each with a canary.
fn build_set(ledger: &std::sync::Arc<Ledger>, len: usize) -> Root<Set> {
    let mu = gc_runtime::attach();
    let set = mu.alloc(Set { items: GcVec::new() });
    for n in 0..len {
        set.items.push(alloc_slow(&mu, ledger, n as u64));
    }
    set.root(&mu)
}

/// Every canary of `set`, checked; their ids.
fn set_ids(mu: &Mutator, set: &Root<Set>) -> HashSet<u64> {
    set.get(mu).items.iter(mu).map(|s| s.canary.get(mu).expect("a slot's canary").check()).collect()
}

/// Replace random slots of `set` until `stop`, with a safepoint every 32 stores.
/// Every one of the set's `len` elements is alive and none was dropped; once the set is
/// unrooted and collected, every element was dropped exactly once. Then the default settings.
fn assert_intact_then_released(set: Root<Set>, ledger: &Ledger, len: usize) {
    let mut mu = gc_runtime::attach();
    collect2(&mut mu);
    let alive = set_ids(&mu, &set);
    assert_eq!(alive.len(), len);
    ledger.check_exactly(&alive);
    drop(set);
    collect2(&mut mu);
    ledger.check_exactly(&HashSet::new());
    drop(mu);
    gc_runtime::reconfigure(Config::default()).unwrap();
}

/// A thread that attaches, collects twice and exits (its mutator dropped).
fn collect_twice_on_a_fresh_thread() {
    thread::spawn(|| {
        let mut mu = gc_runtime::attach();
        mu.collect();
        mu.collect();
    })
    .join()
    .unwrap();
}

fn churn_set(set: &Root<Set>, ledger: &std::sync::Arc<Ledger>, seed: u64, stop: &dyn Fn() -> bool) {
    let mut mu = gc_runtime::attach();
    let mut rng = Rng(seed);
    while !stop() && !ledger.nearly_full(1000) {
        let s = set.get(&mu);
        for _ in 0..32 {
            let len = s.items.len();
            let n = rng.next();
            let _ = s.items.try_set(rng.below(len), alloc_slow(&mu, ledger, n));
        }
        mu.safepoint();
    }
}

/// Checkmark on, no automatic cycles, eight mark workers: a pause with a heap above 1 MiB has
/// room for seven workers besides the collector, so a thread in `collect` finds room.
fn stw() -> Config {
    Config::default().with_mode(Mode::StopTheWorld).with_gc_percent(None).with_mark_workers(8).with_checkmark(true)
}

fn concurrent() -> Config {
    Config::default().with_mode(Mode::Concurrent).with_gc_percent(None).with_mark_workers(2).with_checkmark(true)
}

// ---------------------------------------------------------------------------------------------
// The joining thread's stack.

/// A plain-Rust list inside one GC object with a slot at every level; `next` first, so its
/// trace is not a tail call (as in `attacks.rs`).
#[derive(Trace)]
struct Deep {
    next: Option<Box<Deep>>,
    slot: Member<Node>,
}

#[derive(Trace)]
struct Holder {
    deep: Option<Box<Deep>>,
    leaf: Member<Node>,
}

struct Node {
    next: Member<Node>,
    _pad: [u64; 2],
}

// SAFETY: reports its one slot.
unsafe impl Trace for Node {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        TRACED_HERE.with(|t| t.set(t.get() + 1));
        self.next.trace(tracer);
    }
}

/// The depth that `attacks.rs` shows a thread with a main thread's stack (8 MiB) builds and
/// traces without trouble.
const DEEP: usize = 100_000;
/// Holders in all, one root each (the roots are published in buffers of 256, so every worker
/// that joins takes a buffer), and every how many of them holds a deep list.
const HOLDERS: usize = 2048;
const DEEP_EVERY: usize = 128;

fn build_deep(depth: usize) -> Option<Box<Deep>> {
    let mut d = None;
    for _ in 0..depth {
        d = Some(Box::new(Deep { next: d, slot: Member::new() }));
    }
    d
}

/// The scenario of the deep-value tests, in `GC_JOIN_MODE` (`stw` or `concurrent`): a thread
/// with an 8 MiB stack allocates the holders (allocation traces each deep list once, on that
/// thread) and 2 MiB of leaves besides (above the parallel-marking threshold), then waits
/// detached while a thread spawned with the default stack collects 60 times.
#[test]
fn child_deep_value_marked_while_a_default_stack_thread_collects() {
    if !in_child() {
        return;
    }
    let config = match std::env::var("GC_JOIN_MODE").as_deref() {
        Ok("stw") => stw(),
        Ok("concurrent") => concurrent(),
        other => panic!("GC_JOIN_MODE: {other:?}"),
    };
    gc_runtime::reconfigure(config).unwrap();
    thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(|| {
            let mut mu = gc_runtime::attach();
            let roots: Vec<Root<Holder>> = (0..HOLDERS)
                .map(|i| {
                    let deep = if i % DEEP_EVERY == 0 { build_deep(DEEP) } else { None };
                    let h = mu.alloc(Holder { deep, leaf: Member::new() });
                    let leaf = mu.alloc(Node { next: Member::new(), _pad: [0; 2] });
                    h.leaf.set(Some(leaf));
                    h.root(&mu)
                })
                .collect();
            let filler = mu.alloc_slice(vec![0_u64; 256 << 10]).root(&mu);
            let traced = mu.blocking(|| {
                // Rust's default stack for a spawned thread (2 MiB, or RUST_MIN_STACK).
                let collector = thread::Builder::new().name("default-stack-collector".into());
                collector
                    .spawn(|| {
                        let mut mu = gc_runtime::attach();
                        for _ in 0..60 {
                            mu.collect();
                        }
                        traced_here()
                    })
                    .unwrap()
                    .join()
            });
            let traced = traced.expect("the default-stack thread that collects");
            for (i, r) in roots.iter().enumerate() {
                let h = r.get(&mu);
                assert!(h.leaf.get(&mu).is_some(), "holder {i} lost its leaf");
                assert_eq!(h.deep.is_some(), i % DEEP_EVERY == 0, "holder {i}");
            }
            assert_eq!(filler.get(&mu).len(), 256 << 10);
            println!("the collecting thread traced {traced} nodes");
            // The deep lists stay rooted: their destructors are not what is tested here.
            std::mem::forget(roots);
        })
        .unwrap()
        .join()
        .unwrap();
    println!("done");
}

/// **Attack:** a deep plain-Rust value inside one object (100 000 levels of `Option<Box<_>>`,
/// traced natively), built on a thread with a main thread's 8 MiB stack, is marked while a
/// thread spawned with Rust's default 2 MiB stack waits in a stop-the-world `collect`, polling
/// to join the pause's marking. **Must hold:** the program runs to the end, as it did when that
/// thread parked: `attacks.rs` requires the collector to trace any value a program could build
/// and arm, and gives the collector's threads 64 MiB for it; a joining thread traces on the
/// caller's stack.
#[test]
fn a_deep_value_survives_a_default_stack_thread_joining_a_stop_the_world_mark() {
    let _s = serial_only();
    let out =
        child("child_deep_value_marked_while_a_default_stack_thread_collects", &[("GC_JOIN_MODE", "stw")], DEADLINE);
    out.assert_completed();
}

/// **Control** for the test above: the same program in concurrent mode, where the thread in
/// `collect` parks (and, allocating nothing, does no mark assist). **Must hold:** it runs to
/// the end.
#[test]
fn a_deep_value_survives_a_default_stack_thread_collecting_concurrently() {
    let _s = serial_only();
    let out = child(
        "child_deep_value_marked_while_a_default_stack_thread_collects",
        &[("GC_JOIN_MODE", "concurrent")],
        DEADLINE,
    );
    out.assert_completed();
}

// ---------------------------------------------------------------------------------------------
// The joining thread's thread-locals.

thread_local! {
    /// Per-thread scratch that [`Borrower::trace`] borrows mutably.
    static SCRATCH: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// A node whose `trace` keeps per-thread scratch in a thread-local `RefCell`.
struct Borrower {
    next: Member<Borrower>,
    _pad: [u64; 2],
}

// SAFETY: reports its one slot.
unsafe impl Trace for Borrower {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            s.clear();
            s.push(1);
        });
        self.next.trace(tracer);
    }
}

#[test]
fn child_trace_borrows_a_thread_local_held_across_collect() {
    if !in_child() {
        return;
    }
    gc_runtime::reconfigure(stw()).unwrap();
    let mut mu = gc_runtime::attach();
    // 16 384 chains of 64: 2 MiB and more, marked in parallel.
    let _chains: Vec<Root<Borrower>> = (0..16_384)
        .map(|_| {
            let head = mu.alloc(Borrower { next: Member::new(), _pad: [0; 2] });
            let mut tail = head;
            for _ in 0..63 {
                let n = mu.alloc(Borrower { next: Member::new(), _pad: [0; 2] });
                tail.next.set(Some(n));
                tail = n;
            }
            head.root(&mu)
        })
        .collect();
    SCRATCH.with(|s| {
        let held = s.borrow();
        for _ in 0..30 {
            mu.collect();
        }
        drop(held);
    });
    println!("done: the collecting thread never traced a Borrower");
}

/// **Attack:** a `Trace` impl borrows a thread-local `RefCell` mutably, and the thread that
/// calls a stop-the-world `collect` holds that `RefCell` borrowed across the call (legal before
/// this change: in stop-the-world mode no `Trace` ran on a mutator's thread). **Must hold** (as
/// `Mutator::collect` documents: `Trace` impls may run on the collecting thread, and a
/// panicking `Trace` stops the process): if the collecting thread traced a `Borrower`, the
/// process stops with the type named — never a hang, a silent mis-mark or an unwind into the
/// caller; if it never did in 30 collections (one core, where it parks; or the woken helpers
/// took each job's room first, as they usually do on a quiet machine once they are awake), the
/// program completes and says so.
#[test]
fn a_trace_borrowing_a_thread_local_held_across_collect_stops_the_process() {
    let _s = serial_only();
    let out = child("child_trace_borrows_a_thread_local_held_across_collect", &[], DEADLINE);
    if out.success {
        assert!(out.stdout.contains("never traced a Borrower"), "{}", out.describe());
        return;
    }
    assert!(!out.timed_out, "{}", out.describe());
    assert!(
        out.stderr.contains("Trace::trace of `hostile_collect_join::Borrower` panicked"),
        "the abort names the type: {}",
        out.describe()
    );
}

// ---------------------------------------------------------------------------------------------
// Many threads in collect.

/// **Attack:** in stop-the-world mode, with checkmark on, six threads collect at once (more
/// than `cores - 1` may poll: the others park), each collecting twice on a fresh thread that
/// then exits, three rounds each; a seventh alternates `blocking` (yielding, sleeping) with
/// `collect`; two mutators replace slots of a 40 000-slot set meanwhile; every slot's `trace`
/// yields its core now and then (and sleeps rarely), on whichever thread runs it. **Must hold:**
/// no deadlock, every cycle checkmarked, the marking never used more workers than the pause
/// allows, every slot's canary intact, and every object dropped exactly when unreachable.
#[test]
fn many_threads_collect_with_slow_traces_while_others_mutate() {
    let _s = serial_only();
    let _w = watchdog("stop-the-world collect storm with slow traces");
    gc_runtime::reconfigure(stw().with_mark_workers(2)).unwrap();
    let before = gc_runtime::stats().cycles;
    let ledger = Ledger::new(1_000_000);
    let set = build_set(&ledger, 40_000);
    SLOW_TRACE.store(true, Ordering::SeqCst);
    let done = AtomicUsize::new(0);
    let collectors = 7;
    thread::scope(|s| {
        for _ in 0..6 {
            s.spawn(|| {
                for _ in 0..3 {
                    collect_twice_on_a_fresh_thread();
                }
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
        s.spawn(|| {
            let mut mu = gc_runtime::attach();
            for i in 0..8 {
                mu.blocking(|| {
                    if i % 2 == 0 {
                        thread::yield_now();
                    } else {
                        thread::sleep(Duration::from_micros(200));
                    }
                });
                mu.collect();
            }
            done.fetch_add(1, Ordering::SeqCst);
        });
        for t in 0..2 {
            let (set, ledger, done) = (&set, &ledger, &done);
            s.spawn(move || churn_set(set, ledger, t + 11, &|| done.load(Ordering::SeqCst) == collectors));
        }
    });
    SLOW_TRACE.store(false, Ordering::SeqCst);
    assert_checkmarked_since(before);
    let stats = gc_runtime::stats();
    for c in stats.recent.iter().filter(|c| c.cycle > before) {
        assert!(c.mark_workers <= cores().max(2), "cycle {} marked with {} workers", c.cycle, c.mark_workers);
    }
    assert_intact_then_released(set, &ledger, 40_000);
}

/// **Attack:** a thread flips the mode between stop-the-world and concurrent (and the worker
/// count between 1 and 8) every half millisecond while four threads call `collect` back to back
/// — so a thread that read "stop-the-world" may wait for a concurrent cycle, poll through it
/// and join a concurrent drain, or read "concurrent" and park through a pause — and a mutator
/// replaces slots. **Must hold:** no deadlock, every cycle checkmarked, both modes ran, every
/// slot intact, and every object dropped exactly when unreachable.
#[test]
fn the_mode_flips_while_threads_sit_in_collect() {
    let _s = serial_only();
    let _w = watchdog("mode flips under collect");
    gc_runtime::reconfigure(stw()).unwrap();
    let before = gc_runtime::stats().cycles;
    let ledger = Ledger::new(1_000_000);
    let set = build_set(&ledger, 30_000);
    let stop = AtomicBool::new(false);
    let modes_seen = std::sync::Mutex::new(HashSet::new());
    thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let mut mu = gc_runtime::attach();
                while !stop.load(Ordering::SeqCst) {
                    mu.collect();
                }
            });
        }
        s.spawn(|| churn_set(&set, &ledger, 3, &|| stop.load(Ordering::SeqCst)));
        s.spawn(|| {
            let mut i = 0_u32;
            while !stop.load(Ordering::SeqCst) {
                let config = if i % 2 == 0 { concurrent() } else { stw() };
                let config = config.with_mark_workers(if i % 3 == 0 { 1 } else { 8 });
                let config = if i % 5 == 0 { config.with_barrier(BarrierKind::Yuasa) } else { config };
                gc_runtime::reconfigure(config).unwrap();
                i += 1;
                thread::sleep(Duration::from_micros(500));
            }
        });
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(1500)
            || (modes_seen.lock().unwrap().len() < 2 && start.elapsed() < Duration::from_secs(30))
        {
            for c in gc_runtime::stats().recent.iter().filter(|c| c.cycle > before) {
                modes_seen.lock().unwrap().insert(format!("{:?}", c.mode));
            }
            thread::sleep(Duration::from_millis(10));
        }
        stop.store(true, Ordering::SeqCst);
    });
    assert_eq!(modes_seen.lock().unwrap().len(), 2, "both modes ran: {:?}", modes_seen.lock().unwrap());
    assert_checkmarked_since(before);
    gc_runtime::reconfigure(stw()).unwrap();
    assert_intact_then_released(set, &ledger, 30_000);
}

// ---------------------------------------------------------------------------------------------
// Threads that leak their mutator after collect.

#[test]
fn child_collect_then_leak_the_mutator() {
    if !in_child() {
        return;
    }
    gc_runtime::reconfigure(stw()).unwrap();
    let ledger = Ledger::new(1_000_000);
    let set = build_set(&ledger, 30_000);
    SLOW_TRACE.store(true, Ordering::SeqCst);
    let done = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..3 {
                    thread::spawn(|| {
                        let mut mu = gc_runtime::attach();
                        mu.collect();
                        std::mem::forget(mu);
                    })
                    .join()
                    .unwrap();
                }
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
        s.spawn(|| churn_set(&set, &ledger, 5, &|| done.load(Ordering::SeqCst) == 4));
    });
    // After the leaks: more stop-the-world collections from fresh threads still finish.
    for _ in 0..2 {
        collect_twice_on_a_fresh_thread();
    }
    let mut mu = gc_runtime::attach();
    collect2(&mut mu);
    let alive = set_ids(&mu, &set);
    assert_eq!(alive.len(), 30_000);
    // Leaked mutators pin what was alive when they leaked: only the live set is exact.
    for id in 0..ledger.created() as u64 {
        let drops = ledger.drops(id);
        assert!(drops <= 1, "object {id} dropped {drops} times");
        assert!(!(alive.contains(&id) && drops > 0), "live object {id} was dropped");
    }
    println!("done");
}

/// **Attack:** in stop-the-world mode, twelve threads (four at a time) each call `collect`
/// once — polling, perhaps joining the pause's marking through slow traces — then leak their
/// mutator with `std::mem::forget` and exit, while a mutator replaces slots; then fresh threads
/// collect again. **Must hold** (child process): no deadlock or crash, every live slot intact,
/// no object dropped twice or while reachable.
#[test]
fn threads_that_collect_then_leak_their_mutator() {
    let _s = serial_only();
    let out = child("child_collect_then_leak_the_mutator", &[], DEADLINE);
    out.assert_completed();
}

// ---------------------------------------------------------------------------------------------
// The parallel-marking threshold.

/// Chains of 64 [`Node`]s, rooted by their heads, until the live heap is about `bytes`.
fn build_chains(mu: &mut Mutator, bytes: usize) -> Vec<Root<Node>> {
    let mut chains = Vec::new();
    // Measure a chain's bytes from a collection's marked heap.
    for _ in 0..64 {
        chains.push(node_chain(mu));
    }
    mu.collect();
    let base = gc_runtime::stats().recent.last().unwrap().heap_marked;
    let per_chain = base / 64;
    let more = bytes.saturating_sub(base) / per_chain.max(1);
    for _ in 0..more {
        chains.push(node_chain(mu));
    }
    chains
}

/// A chain of 64 [`Node`]s, rooted by its head.
fn node_chain(mu: &Mutator) -> Root<Node> {
    let head = mu.alloc(Node { next: Member::new(), _pad: [0; 2] });
    let mut tail = head;
    for _ in 0..63 {
        let n = mu.alloc(Node { next: Member::new(), _pad: [0; 2] });
        tail.next.set(Some(n));
        tail = n;
    }
    head.root(mu)
}

fn chains_intact(mu: &Mutator, chains: &[Root<Node>]) -> bool {
    chains.iter().all(|c| {
        let mut n = 0;
        let mut at = Some(c.get(mu));
        while let Some(node) = at {
            n += 1;
            at = node.next.get(mu);
        }
        n == 64
    })
}

/// **Attack:** one mark worker configured, a heap of about 0.9 MiB and then about 1.3 MiB (just
/// below and above the 1 MiB from which a pause marks with every core), `collect` called 100
/// times at each size by the only mutator, then 100 more above it with four workers.
/// **Must hold:** below, the pause marks alone — the collecting thread finds no job, traces
/// nothing and still returns (it stops polling when the marking ends); above, the pause marks
/// with a worker per core, then with four (on one core the collecting thread never traces);
/// every chain intact, every cycle checkmarked.
#[test]
fn heaps_just_below_and_just_above_the_parallel_threshold() {
    let _s = serial_only();
    let _w = watchdog("parallel-marking threshold");
    gc_runtime::reconfigure(stw().with_mark_workers(1)).unwrap();
    let mut mu = gc_runtime::attach();
    collect2(&mut mu);
    let before = gc_runtime::stats().cycles;
    let mut chains = build_chains(&mut mu, 900 << 10);
    let tries = |mu: &mut Mutator, n: usize| -> (u64, Vec<(usize, usize)>) {
        let cycles_before = gc_runtime::stats().cycles;
        let mut traced = 0;
        for _ in 0..n {
            TRACED_HERE.with(|t| t.set(0));
            mu.collect();
            traced += u64::from(traced_here() > 0);
        }
        let stats = gc_runtime::stats();
        let seen = stats.recent.iter().filter(|c| c.cycle > cycles_before).map(|c| (c.heap_before, c.mark_workers));
        (traced, seen.collect())
    };
    let (traced_below, below) = tries(&mut mu, 100);
    assert!(chains_intact(&mu, &chains), "every chain intact below the threshold");
    for &(heap, workers) in &below {
        assert!(heap < 1 << 20, "the heap was meant to stay below 1 MiB: {heap}");
        assert_eq!(workers, 1, "a heap of {heap} bytes marked alone");
    }
    assert_eq!(traced_below, 0, "the collecting thread traced below the threshold");
    chains.extend(build_chains(&mut mu, 1300 << 10));
    let (traced_above, above) = tries(&mut mu, 100);
    assert!(chains_intact(&mu, &chains), "every chain intact above the threshold");
    for &(heap, workers) in &above {
        assert!(heap >= 1 << 20, "the heap was meant to be above 1 MiB: {heap}");
        assert_eq!(workers, cores().max(1), "a heap of {heap} bytes marked with a worker per core");
    }
    // One place besides the collector, which the helper on the other core may take every time
    // (see `collect_helps_mark.rs`, `stop_the_world`): whether this thread joined is not
    // asked; on one core it never polls.
    if cores() < 2 {
        assert_eq!(traced_above, 0, "the collecting thread polled on one core");
    }
    // Four workers configured: places for three besides the collector, which the helpers may
    // all take before this thread polls (in this short marking they did in most runs on two
    // cores), so whether it joined is not asked here either; every pause marks with them.
    gc_runtime::reconfigure(stw().with_mark_workers(4)).unwrap();
    let (traced_four, four) = tries(&mut mu, 100);
    assert!(chains_intact(&mu, &chains), "every chain intact with four workers");
    assert!(four.iter().all(|&(_, w)| w == cores().max(4)), "four workers or one per core: {four:?}");
    if cores() < 2 {
        assert_eq!(traced_four, 0, "the collecting thread polled on one core");
    }
    assert_checkmarked_since(before);
    drop(chains);
    drop(mu);
    gc_runtime::reconfigure(Config::default()).unwrap();
}

/// This thread's CPU time so far (Linux: the first field of `/proc/thread-self/schedstat`, in
/// nanoseconds); `None` where that file does not exist.
fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(Duration::from_nanos(s.split_whitespace().next()?.parse().ok()?))
}

/// A mutator keeps running for 1.5 s without a safepoint, so the collector's stop waits for it,
/// while another thread calls `collect` in stop-the-world mode: that thread polls for the pause
/// for a millisecond at most, then parks — its CPU time is a small part of its wait. (Before,
/// it yielded in a loop for the whole wait: 1.50 s of CPU in 1.50 s.)
#[test]
fn a_thread_in_collect_parks_while_a_slow_mutator_holds_up_the_stop() {
    let _s = serial_only();
    let _w = watchdog("stop-the-world collect waiting for a slow safepoint");
    if thread_cpu().is_none() {
        return; // No per-thread CPU time on this platform: nothing to measure.
    }
    gc_runtime::reconfigure(stw().with_checkmark(false).with_safepoint_warn(Duration::from_secs(30))).unwrap();
    let holding = AtomicBool::new(false);
    let (cpu, wall) = thread::scope(|scope| {
        scope.spawn(|| {
            let mut mu = gc_runtime::attach();
            holding.store(true, Ordering::SeqCst);
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(1500) {
                std::hint::spin_loop();
            }
            mu.safepoint();
        });
        while !holding.load(Ordering::SeqCst) {
            thread::yield_now();
        }
        scope
            .spawn(|| {
                let mut mu = gc_runtime::attach();
                let (cpu, wall) = (thread_cpu().expect("checked above"), Instant::now());
                mu.collect();
                (thread_cpu().expect("checked above") - cpu, wall.elapsed())
            })
            .join()
            .expect("the collecting thread")
    });
    gc_runtime::reconfigure(Config::default()).unwrap();
    assert!(wall >= Duration::from_millis(1000), "the collection waited for the slow mutator: {wall:?}");
    assert!(cpu < wall / 4, "the thread in collect used {cpu:?} of CPU while it waited {wall:?} for the stop");
}
