//! Hostile user programs: safe code that tries to make the collector read freed memory, crash,
//! or hang. Each scenario runs in a child process (this test binary, re-run with one test
//! selected), so a crash or a hang fails only that scenario; the parent checks the exit status,
//! the output, and a deadline.
//!
//! One test per way in, each named after what it tries:
//!
//! - large or over-aligned objects allocated while another thread collects (an object must not
//!   be visible to a sweeper before it is fully written);
//! - destructors whose panic payload panics again when dropped, destructors that reach their
//!   thread's mutator through a thread-local and allocate, destructors that attach;
//! - map keys whose `Hash` and `Eq` allocate (a mark assist must not wait for the map's lock);
//! - the trace line written into a pipe nobody reads;
//! - a mutator leaked on a thread that exits, with and without a `'static` reference borrowed
//!   from it still in use elsewhere, and threads that leak theirs one after another; a scoped
//!   child that attaches while its parent waits for it;
//! - garbage in another running thread's allocation cache, and a weak reference that another
//!   thread upgrades in a loop, under each barrier;
//! - `stats()` read from destructors, beside threads that end with their mutators leaked.

use std::{
    cell::{Cell, RefCell},
    hash::{Hash, Hasher},
    io::Read,
    process::{Command, Stdio},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, OnceLock,
    },
    thread,
    time::{Duration, Instant},
};

mod common;

use common::child::{child, in_child, run_for, run_until, spawn_collector, DEADLINE};
use gc_runtime::{BarrierKind, Config, GcMap, Member, Mutator, Root, Trace, Weak};

fn scenario_millis() -> u64 {
    std::env::var("GC_HOSTILE_MILLIS").ok().and_then(|v| v.parse().ok()).unwrap_or(600)
}

// ---------------------------------------------------------------------------------------------
// Publication of large and over-aligned objects.

#[derive(Trace)]
#[repr(align(32))]
struct OverAligned {
    value: u64,
    next: Member<OverAligned>,
}

#[derive(Trace)]
struct Big {
    bytes: [u8; 9000],
    label: String,
}

/// One thread allocates over-aligned and large objects in a loop while another collects.
#[test]
fn child_large_objects_while_collecting() {
    if !in_child() {
        return;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let collector = spawn_collector(&stop);
    let mut mu = gc_runtime::attach();
    let keep = mu.alloc(OverAligned { value: 7, next: Member::new() }).root(&mu);
    let mut n = 0u64;
    let mut refused = 0u64;
    run_for(scenario_millis(), || {
        for _ in 0..64 {
            // Under a memory limit an allocation may be refused (when the collector lags): the
            // value comes back, and a safepoint that collects makes room (the documented way).
            let Ok(a) = mu.try_alloc(OverAligned { value: n, next: Member::new() }) else {
                refused += 1;
                break;
            };
            a.next.set(Some(keep.get(&mu)));
            let Ok(b) = mu.try_alloc(Big { bytes: [n as u8; 9000], label: format!("big {n}") }) else {
                refused += 1;
                break;
            };
            assert_eq!(b.bytes[8999], n as u8);
            assert_eq!(a.value, n);
            n += 1;
        }
        if refused > 0 && mu.try_reserve(64 * 1024).is_err() {
            mu.collect();
        }
        mu.safepoint();
    });
    stop.store(true, Ordering::Relaxed);
    // Joining a thread that collects: detached, or the two wait for each other.
    mu.blocking(|| collector.join().unwrap());
    assert_eq!(keep.get(&mu).value, 7);
    println!("done after {n} rounds ({refused} allocations refused by the memory limit)");
}

#[test]
fn large_objects_are_never_seen_half_written_concurrent() {
    child("child_large_objects_while_collecting", &[("GC_MODE", "concurrent")], DEADLINE).assert_completed();
}

#[test]
fn large_objects_are_never_seen_half_written_stop_the_world() {
    child("child_large_objects_while_collecting", &[("GC_MODE", "stw")], DEADLINE).assert_completed();
}

#[test]
fn large_objects_are_never_seen_half_written_over_the_memory_limit() {
    // The limit makes allocators finish sweeps themselves (the memory-limit path).
    child("child_large_objects_while_collecting", &[("GC_MODE", "stw"), ("GC_MEMORY_LIMIT", "64M")], DEADLINE)
        .assert_completed();
}

// ---------------------------------------------------------------------------------------------
// User code inside the sweep.

/// A panic payload whose own destructor panics.
struct ExplodingPayload;

impl Drop for ExplodingPayload {
    fn drop(&mut self) {
        panic!("the payload's destructor panics too");
    }
}

static PAYLOAD_DROPS: AtomicUsize = AtomicUsize::new(0);

/// A field whose destructor panics with an `ExplodingPayload`.
struct PanicsWithExplodingPayload;

impl Drop for PanicsWithExplodingPayload {
    fn drop(&mut self) {
        PAYLOAD_DROPS.fetch_add(1, Ordering::SeqCst);
        std::panic::panic_any(ExplodingPayload);
    }
}

#[derive(Trace)]
struct Doomed {
    #[trace(skip)]
    _field: PanicsWithExplodingPayload,
    pad: [u64; 2],
}

#[derive(Trace)]
struct DoomedLarge {
    #[trace(skip)]
    _field: PanicsWithExplodingPayload,
    pad: [u64; 1100],
}

/// Destructors that panic with a panicking payload, small and large, swept by every kind of
/// sweeper (background, lazy inside allocation, in a stop-the-world pause).
#[test]
fn child_destructor_payload_panics() {
    if !in_child() {
        return;
    }
    common::quiet_panics_on_the_finalizer();
    const ROUNDS: u64 = 8;
    let mut mu = gc_runtime::attach();
    for round in 0..ROUNDS {
        for _ in 0..1_000 {
            mu.alloc(Doomed { _field: PanicsWithExplodingPayload, pad: [round; 2] });
        }
        for _ in 0..4 {
            mu.alloc(DoomedLarge { _field: PanicsWithExplodingPayload, pad: [round; 1100] });
        }
        mu.collect();
        // Allocate over the freed pages (lazy sweeping happens here).
        for _ in 0..1_000 {
            let k = mu.alloc(Doomed { _field: PanicsWithExplodingPayload, pad: [0; 2] });
            assert_eq!(k.pad, [0; 2]);
        }
    }
    mu.collect();
    let total = ROUNDS as usize * 2_004;
    assert_eq!(PAYLOAD_DROPS.load(Ordering::SeqCst), total, "every dead object's destructor ran once");
    assert_eq!(gc_runtime::stats().drop_panics, total as u64, "every panic counted");
    // The collector still works.
    let keep = mu.alloc(String::from("kept")).root(&mu);
    mu.collect();
    assert_eq!(*keep.get(&mu), "kept");
    println!("done");
}

#[test]
fn a_destructor_panic_whose_payload_panics_is_contained_concurrent() {
    child("child_destructor_payload_panics", &[("GC_MODE", "concurrent")], DEADLINE).assert_completed();
}

#[test]
fn a_destructor_panic_whose_payload_panics_is_contained_stop_the_world() {
    child("child_destructor_payload_panics", &[("GC_MODE", "stw")], DEADLINE).assert_completed();
}

thread_local! {
    static THREAD_MUTATOR: RefCell<Option<Mutator>> = const { RefCell::new(None) };
}

static REENTRANT_DROPS: AtomicUsize = AtomicUsize::new(0);

/// A field whose destructor reaches the current thread's mutator through a thread-local and
/// allocates with it (large objects too), or attaches one if there is none.
struct AllocatesWhenDropped;

impl Drop for AllocatesWhenDropped {
    fn drop(&mut self) {
        REENTRANT_DROPS.fetch_add(1, Ordering::SeqCst);
        let used = THREAD_MUTATOR.try_with(|m| {
            if let Ok(m) = m.try_borrow() {
                if let Some(mu) = m.as_ref() {
                    let s = mu.alloc(String::from("allocated by a destructor"));
                    let big = mu.alloc(Big { bytes: [1; 9000], label: String::new() });
                    assert_eq!(s.len(), 25);
                    assert_eq!(big.bytes[0], 1);
                    return true;
                }
            }
            false
        });
        if used != Ok(true) {
            // No mutator reachable here: try to attach one (the collector's threads refuse).
            if let Ok(mu) = gc_runtime::try_attach() {
                mu.alloc(String::from("attached in a destructor"));
            }
        }
    }
}

#[derive(Trace)]
struct Reentrant {
    #[trace(skip)]
    _field: AllocatesWhenDropped,
    pad: [u64; 3],
}

#[derive(Trace)]
#[repr(align(64))]
struct ReentrantLarge {
    #[trace(skip)]
    _field: AllocatesWhenDropped,
    pad: u64,
}

#[test]
fn child_destructors_reenter_the_allocator() {
    if !in_child() {
        return;
    }
    THREAD_MUTATOR.with(|m| *m.borrow_mut() = Some(gc_runtime::attach()));
    let keep = THREAD_MUTATOR.with(|m| {
        let m = m.borrow();
        let mu = m.as_ref().unwrap();
        mu.alloc(String::from("kept")).root(mu)
    });
    // Cycles are started by the pacer (a small minimum heap) while this thread allocates, so
    // it finds unswept pages when it refills: the lazy sweep inside allocation.
    for round in 0..30u64 {
        THREAD_MUTATOR.with(|m| {
            let m = m.borrow();
            let mu = m.as_ref().unwrap();
            for _ in 0..3_000 {
                mu.alloc(Reentrant { _field: AllocatesWhenDropped, pad: [round; 3] });
                mu.alloc(ReentrantLarge { _field: AllocatesWhenDropped, pad: round });
            }
        });
        THREAD_MUTATOR.with(|m| {
            let mut m = m.borrow_mut();
            let mu = m.as_mut().unwrap();
            if round % 10 == 9 {
                mu.collect();
            } else {
                mu.safepoint();
            }
        });
    }
    THREAD_MUTATOR.with(|m| {
        let mut m = m.borrow_mut();
        let mu = m.as_mut().unwrap();
        mu.collect();
        assert_eq!(*keep.get(mu), "kept");
    });
    assert!(REENTRANT_DROPS.load(Ordering::SeqCst) > 100_000, "{}", REENTRANT_DROPS.load(Ordering::SeqCst));
    println!("done");
}

#[test]
fn destructors_that_reach_a_mutator_never_run_inside_the_allocator_concurrent() {
    child("child_destructors_reenter_the_allocator", &[("GC_MODE", "concurrent"), ("GC_MIN_HEAP", "256K")], DEADLINE)
        .assert_completed();
}

#[test]
fn destructors_that_reach_a_mutator_never_run_inside_the_allocator_stop_the_world() {
    child(
        "child_destructors_reenter_the_allocator",
        &[("GC_MODE", "stw"), ("GC_MIN_HEAP", "256K"), ("GC_MEMORY_LIMIT", "256M")],
        DEADLINE,
    )
    .assert_completed();
}

// ---------------------------------------------------------------------------------------------
// User code under a collection's lock.

/// A key whose `Hash` and `Eq` allocate through the thread's mutator.
#[derive(Clone, PartialEq)]
struct AllocatingKey(u64);

fn allocate_some() {
    THREAD_MUTATOR.with(|m| {
        if let Ok(m) = m.try_borrow() {
            if let Some(mu) = m.as_ref() {
                // Enough to pass an assist chunk now and then.
                mu.alloc([0u64; 120]);
            }
        }
    });
}

impl Hash for AllocatingKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        allocate_some();
        self.0.hash(state);
    }
}

impl Eq for AllocatingKey {}

#[derive(Trace)]
struct Table {
    map: GcMap<AllocatingKey, String>,
}

#[test]
fn child_map_keys_allocate_in_hash_and_eq() {
    if !in_child() {
        return;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let collector = spawn_collector(&stop);
    THREAD_MUTATOR.with(|m| *m.borrow_mut() = Some(gc_runtime::attach()));
    let table = THREAD_MUTATOR.with(|m| {
        let m = m.borrow();
        let mu = m.as_ref().unwrap();
        mu.alloc(Table { map: GcMap::new() }).root(mu)
    });
    let mut n = 0u64;
    run_for(scenario_millis(), || {
        THREAD_MUTATOR.with(|m| {
            let m = m.borrow();
            let mu = m.as_ref().unwrap();
            let t = table.get(mu);
            for _ in 0..200 {
                t.map.insert(AllocatingKey(n % 500), mu.alloc(format!("value {n}")));
                let _ = t.map.get(&AllocatingKey(n % 300), mu);
                if n % 7 == 0 {
                    t.map.remove(&AllocatingKey(n % 200), mu);
                }
                n += 1;
            }
        });
        THREAD_MUTATOR.with(|m| m.borrow_mut().as_mut().unwrap().safepoint());
    });
    stop.store(true, Ordering::Relaxed);
    THREAD_MUTATOR.with(|m| m.borrow_mut().as_mut().unwrap().blocking(|| collector.join().unwrap()));
    THREAD_MUTATOR.with(|m| {
        let mut m = m.borrow_mut();
        let mu = m.as_mut().unwrap();
        mu.collect();
        let t = table.get(mu);
        for (k, v) in t.map.entries(mu) {
            assert!(v.starts_with("value "), "{}", k.0);
        }
    });
    println!("done after {n} operations");
}

#[test]
fn a_map_key_whose_hash_allocates_does_not_deadlock_the_marker() {
    child("child_map_keys_allocate_in_hash_and_eq", &[("GC_MARK_WORKERS", "2")], DEADLINE).assert_completed();
}

#[test]
fn a_map_key_whose_hash_allocates_does_not_deadlock_the_marker_hybrid() {
    child("child_map_keys_allocate_in_hash_and_eq", &[("GC_BARRIER", "hybrid"), ("GC_MIN_HEAP", "256K")], DEADLINE)
        .assert_completed();
}

// ---------------------------------------------------------------------------------------------
// The collector's own output.

#[test]
fn child_trace_into_a_closed_pipe() {
    if !in_child() {
        return;
    }
    // Give the parent time to close its end of the pipe.
    thread::sleep(Duration::from_millis(200));
    let mut mu = gc_runtime::attach();
    let keep = mu.alloc(String::from("kept")).root(&mu);
    for _ in 0..10 {
        for _ in 0..1000 {
            mu.alloc(String::from("garbage"));
        }
        mu.collect();
    }
    assert_eq!(*keep.get(&mu), "kept");
    println!("done");
}

#[test]
fn the_trace_line_into_a_closed_pipe_does_not_kill_the_collector() {
    for mode in ["concurrent", "stw"] {
        let mut proc = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_trace_into_a_closed_pipe", "--nocapture", "--test-threads=1"])
            .env("GC_HOSTILE_CHILD", "1")
            .env("GC_TRACE", "1")
            .env("GC_MODE", mode)
            .env("GC_SAFEPOINT_WARN_MS", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(proc.stderr.take()); // nobody reads the trace lines: writes fail with EPIPE
        let mut stdout = proc.stdout.take().unwrap();
        let start = Instant::now();
        let status = loop {
            if let Some(status) = proc.try_wait().unwrap() {
                break Some(status);
            }
            if start.elapsed() > DEADLINE {
                let _ = proc.kill();
                break None;
            }
            thread::sleep(Duration::from_millis(10));
        };
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        assert!(status.is_some_and(|s| s.success()) && out.contains("done"), "{mode}: {status:?}\n{out}");
    }
}

// ---------------------------------------------------------------------------------------------
// Liveness: leaked mutators and threads waiting for each other.

static LEAKED_REF: OnceLock<&'static String> = OnceLock::new();
static LEAKED_HOLDER: OnceLock<&'static Holder> = OnceLock::new();
static LEAKED_BIG: OnceLock<&'static Big> = OnceLock::new();

#[test]
fn child_leaked_mutator_on_an_exited_thread() {
    if !in_child() {
        return;
    }
    let drops = Arc::new(AtomicUsize::new(0));
    thread::spawn(|| {
        let mu: &'static Mutator = Box::leak(Box::new(gc_runtime::attach()));
        // A `'static` borrow of the leaked mutator, handed to another thread.
        let s: &'static String = mu.alloc(String::from("borrowed for 'static")).into_ref();
        LEAKED_REF.set(s).unwrap();
        let h: &'static Holder = mu.alloc(Holder { slot: Member::new() }).into_ref();
        assert!(LEAKED_HOLDER.set(h).is_ok());
        // A large object (pinned from the large-object list, not a page's bits).
        let big: &'static Big = mu.alloc(Big { bytes: [7; 9000], label: "big".into() }).into_ref();
        assert!(LEAKED_BIG.set(big).is_ok());
    })
    .join()
    .unwrap();
    thread::spawn(|| {
        // Leaked without a borrow.
        std::mem::forget(gc_runtime::attach());
    })
    .join()
    .unwrap();
    let mut mu = gc_runtime::attach();
    mu.collect(); // must not wait for the exited threads; its first pause pins what is alive
    assert!(
        gc_runtime::stats().pinned_objects >= 3,
        "the string, the holder and the large object: {:?}",
        gc_runtime::stats()
    );
    // Garbage made after that is collected as usual.
    for _ in 0..100 {
        mu.alloc(Tracked { _f: CountsDrop(drops.clone()), pad: 0 });
    }
    for _ in 0..3 {
        mu.collect();
        for _ in 0..10_000 {
            mu.alloc(String::from("garbage"));
        }
    }
    assert_eq!(drops.load(Ordering::SeqCst), 100, "garbage made after the leak is freed");
    assert_eq!(**LEAKED_REF.get().unwrap(), "borrowed for 'static", "a 'static borrow stays valid");
    let big = *LEAKED_BIG.get().unwrap();
    assert!(big.bytes.iter().all(|&b| b == 7) && big.label == "big", "a large object borrowed for 'static stays");
    // A pinned object is traced at every cycle: what is stored into it later stays alive.
    let holder = *LEAKED_HOLDER.get().unwrap();
    for i in 0..20 {
        holder.slot.set(Some(mu.alloc(Shared { value: i })));
        for _ in 0..5_000 {
            mu.alloc(String::from("garbage"));
        }
        mu.collect();
        assert_eq!(holder.slot.get(&mu).unwrap().value, i);
    }
    assert_eq!(gc_runtime::stats().mutators.running, 1, "{:?}", gc_runtime::stats().mutators);
    println!("done");
}

#[test]
fn a_mutator_leaked_on_a_thread_that_exits_does_not_stop_collection() {
    for mode in ["concurrent", "stw"] {
        child("child_leaked_mutator_on_an_exited_thread", &[("GC_MODE", mode)], DEADLINE).assert_completed();
    }
}

/// Threads that end with leaked mutators one after another: each exit pins every object alive
/// then, and an object pinned before is pinned once, not once more per exit (the root table
/// would otherwise grow by the whole live heap at every exit, and every mark start would scan
/// each pinned object as many times).
#[test]
fn child_mutators_leaked_again_and_again() {
    if !in_child() {
        return;
    }
    let mut mu = gc_runtime::attach();
    let keep: Vec<Root<Shared>> = (0..1_000).map(|i| mu.alloc(Shared { value: i }).root(&mu)).collect();
    mu.collect();
    let mut pinned = Vec::new();
    for _ in 0..5 {
        thread::spawn(|| std::mem::forget(gc_runtime::attach())).join().unwrap();
        mu.collect();
        pinned.push(gc_runtime::stats().pinned_objects);
    }
    assert!(pinned[0] >= keep.len(), "every object alive at the first exit is pinned: {pinned:?}");
    assert!(pinned.iter().all(|&p| p == pinned[0]), "each object pinned once: {pinned:?}");
    // Objects made after the exits and alive at the next one are pinned with the rest.
    let more: Vec<Root<Shared>> = (0..500).map(|i| mu.alloc(Shared { value: 1_000 + i }).root(&mu)).collect();
    thread::spawn(|| std::mem::forget(gc_runtime::attach())).join().unwrap();
    mu.collect();
    assert_eq!(gc_runtime::stats().pinned_objects, pinned[0] + more.len());
    for (i, r) in keep.iter().chain(&more).enumerate() {
        assert_eq!(r.get(&mu).value, i as u64);
    }
    println!("done");
}

#[test]
fn mutators_leaked_again_and_again_pin_each_object_once() {
    for mode in ["concurrent", "stw"] {
        child("child_mutators_leaked_again_and_again", &[("GC_MODE", mode)], DEADLINE).assert_completed();
    }
}

#[derive(Trace)]
struct Shared {
    value: u64,
}

#[test]
fn child_scoped_child_attaches_while_parent_waits() {
    if !in_child() {
        return;
    }
    let mu = gc_runtime::attach();
    let shared: &Shared = mu.alloc(Shared { value: 5 }).into_ref();
    thread::scope(|s| {
        thread::Builder::new()
            .name("scoped-child".into())
            .spawn_scoped(s, || {
                let mut child_mu = gc_runtime::attach();
                assert_eq!(shared.value, 5);
                child_mu.collect(); // waits for the parent, which waits for this thread
            })
            .unwrap();
    });
    drop(mu);
    println!("done");
}

#[test]
fn a_parent_waiting_for_an_attached_scoped_child_is_diagnosed() {
    let out = child(
        "child_scoped_child_attaches_while_parent_waits",
        &[("GC_SAFEPOINT_WARN_MS", "100")],
        Duration::from_secs(3),
    );
    // This program deadlocks by construction; the warning must say who waits for whom and
    // what to do.
    assert!(out.timed_out, "{}", out.describe());
    let warning = out.stderr.lines().find(|l| l.contains("waiting")).unwrap_or_default().to_string();
    let text = out.stderr.clone();
    assert!(text.contains("child_scoped_child_attaches_while_parent_waits"), "parent named: {text}");
    assert!(text.contains("scoped-child"), "waiting child named: {text}");
    assert!(text.contains("Mutator::blocking") && text.contains("Root"), "fix named: {warning}");
}

// ---------------------------------------------------------------------------------------------
// Bounded-time freeing and clearing.

#[derive(Trace)]
struct Tracked {
    #[trace(skip)]
    _f: CountsDrop,
    pad: u64,
}

struct CountsDrop(Arc<AtomicUsize>);

impl Drop for CountsDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn child_garbage_in_another_threads_cache() {
    if !in_child() {
        return;
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let allocated = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let other = {
        let (drops, allocated, stop) = (drops.clone(), allocated.clone(), stop.clone());
        thread::spawn(move || {
            let mut mu = gc_runtime::attach();
            // One object, dead at once, in this thread's cached page.
            mu.alloc(Tracked { _f: CountsDrop(drops), pad: 1 });
            allocated.store(true, Ordering::SeqCst);
            while !stop.load(Ordering::SeqCst) {
                mu.safepoint(); // running, polling, not allocating
                std::hint::spin_loop();
            }
        })
    };
    while !allocated.load(Ordering::SeqCst) {
        thread::yield_now();
    }
    let mut mu = gc_runtime::attach();
    mu.collect();
    assert_eq!(drops.load(Ordering::SeqCst), 1, "collect() returned before the dead object was finalized");
    stop.store(true, Ordering::SeqCst);
    mu.blocking(|| other.join().unwrap());
    println!("done");
}

#[test]
fn collect_frees_garbage_in_another_running_threads_cache() {
    for mode in ["concurrent", "stw"] {
        child("child_garbage_in_another_threads_cache", &[("GC_MODE", mode)], DEADLINE).assert_completed();
    }
}

#[test]
fn child_weak_polled_in_a_loop_expires() {
    if !in_child() {
        return;
    }
    for barrier in [BarrierKind::Dijkstra, BarrierKind::Yuasa, BarrierKind::Hybrid] {
        gc_runtime::reconfigure(Config::from_env().unwrap().with_barrier(barrier).with_mark_workers(4)).unwrap();
        let mut mu = gc_runtime::attach();
        let target: Root<Shared> = mu.alloc(Shared { value: 9 }).root(&mu);
        let weak = Arc::new(Weak::new(&mu, target.get(&mu)));
        let stop = Arc::new(AtomicBool::new(false));
        let poller = {
            let (weak, stop) = (weak.clone(), stop.clone());
            thread::spawn(move || {
                let mut mu = gc_runtime::attach();
                let mut seen = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if let Some(s) = weak.upgrade(&mu) {
                        seen += s.value;
                    }
                    mu.safepoint();
                }
                seen
            })
        };
        drop(target);
        let mut cycles = 0;
        while !weak.is_cleared() && cycles < 20 {
            mu.collect();
            cycles += 1;
        }
        stop.store(true, Ordering::Relaxed);
        let seen = mu.blocking(|| poller.join().unwrap());
        assert!(weak.is_cleared(), "{barrier:?}: still not cleared after {cycles} cycles");
        assert!(cycles <= 2, "{barrier:?}: cleared only after {cycles} cycles");
        assert!(weak.upgrade(&mu).is_none());
        println!("{barrier:?}: cleared after {cycles} cycles; upgraded {} times", seen / 9);
        drop(weak);
    }
    println!("done");
}

#[test]
fn a_weak_reference_polled_in_a_loop_is_still_cleared() {
    child("child_weak_polled_in_a_loop_expires", &[], DEADLINE).assert_completed();
}

#[derive(Trace)]
struct Holder {
    slot: Member<Shared>,
}

/// Upgrade a weak reference to an object nothing else holds, then store the local into the
/// heap, while cycles run back to back with checkmark on: the stored object must survive under
/// every barrier (the upgrade does not shade it; the store must).
#[test]
fn child_weak_upgrade_then_store() {
    if !in_child() {
        return;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let collector = spawn_collector(&stop);
    let mut mu = gc_runtime::attach();
    let holder = mu.alloc(Holder { slot: Member::new() }).root(&mu);
    let (stored, mut n) = (Cell::new(0u64), 0u64);
    // For the scenario's time, and until an upgrade was stored (checked below).
    let enough = || stored.get() > 0;
    run_until(scenario_millis(), enough, || {
        let weak = Weak::new(&mu, mu.alloc(Shared { value: n }));
        mu.safepoint(); // the local is gone: only the weak reference names the object
        if let Some(x) = weak.upgrade(&mu) {
            holder.get(&mu).slot.set(Some(x));
            stored.set(stored.get() + 1);
        }
        mu.safepoint();
        if let Some(x) = holder.get(&mu).slot.get(&mu) {
            assert!(x.value <= n);
        }
        n += 1;
    });
    stop.store(true, Ordering::Relaxed);
    mu.blocking(|| collector.join().unwrap());
    mu.collect();
    let stored = stored.get();
    assert!(stored > 0, "no upgrade succeeded");
    println!("done: {stored} of {n} upgrades stored");
}

#[test]
fn an_upgraded_weak_stored_into_the_heap_survives_under_every_barrier() {
    for barrier in ["dijkstra", "yuasa", "hybrid"] {
        child("child_weak_upgrade_then_store", &[("GC_BARRIER", barrier), ("GC_CHECKMARK", "1")], DEADLINE)
            .assert_completed();
    }
}

// ---------------------------------------------------------------------------------------------
// Statistics read from destructors.

/// Reads of `stats()` made from a destructor.
static STATS_FROM_DROP: AtomicUsize = AtomicUsize::new(0);

/// Read the statistics and check what a reader relies on; count the read in `count`.
fn read_stats(count: &AtomicUsize) {
    let s = gc_runtime::stats();
    for u in s.thread_pauses.mmu.into_iter().flatten() {
        assert!((0.0..=1.0).contains(&u), "MMU out of range: {:?}", s.thread_pauses);
    }
    assert!(s.thread_pauses.p99 <= s.thread_pauses.max, "{:?}", s.thread_pauses);
    count.fetch_add(1, Ordering::Relaxed);
}

/// A field that reads the collector's statistics when it is dropped — on the finalizer thread —
/// once per 64 drops (a read walks every thread's pause log). (Not from `trace`: `Trace`'s
/// contract forbids calling the crate there, where checkmark holds the root table's lock.)
struct ReadsStats;

static DROPS: AtomicUsize = AtomicUsize::new(0);

impl Drop for ReadsStats {
    fn drop(&mut self) {
        if DROPS.fetch_add(1, Ordering::Relaxed) % 64 == 0 {
            read_stats(&STATS_FROM_DROP);
        }
    }
}

#[derive(Trace)]
struct StatsNode {
    #[trace(skip)]
    _reads: ReadsStats,
    next: Member<StatsNode>,
    value: u64,
}

fn stats_node<'m>(mu: &'m Mutator, value: u64) -> gc_runtime::Gc<'m, StatsNode> {
    mu.alloc(StatsNode { _reads: ReadsStats, next: Member::new(), value })
}

/// `stats()` from destructors on the finalizer thread, while one thread collects back to back,
/// another reads the statistics in a loop without a mutator, and threads attach and end one
/// after another — every fourth of the first forty with its mutator leaked (an exit that pins
/// the heap, and ends a pause log that a read walks).
#[test]
fn child_stats_read_from_destructors() {
    if !in_child() {
        return;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let collector = spawn_collector(&stop);
    let reader = {
        let stop = stop.clone();
        thread::spawn(move || {
            let reads = AtomicUsize::new(0);
            while !stop.load(Ordering::Relaxed) {
                read_stats(&reads);
            }
            reads.into_inner()
        })
    };
    let comers = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let leak = n % 4 == 3 && n < 40;
                thread::spawn(move || {
                    let mu = gc_runtime::attach();
                    stats_node(&mu, n);
                    if leak {
                        std::mem::forget(mu);
                    }
                })
                .join()
                .unwrap();
                n += 1;
            }
            n
        })
    };
    let mut mu = gc_runtime::attach();
    // A rooted list of 1,000 nodes whose values say where they are, and garbage beside it.
    let head = stats_node(&mu, 0).root(&mu);
    for value in 1..1_000 {
        let h = head.get(&mu);
        let node = stats_node(&mu, value);
        node.next.set(h.next.get(&mu));
        h.next.set(Some(node));
    }
    let enough = || STATS_FROM_DROP.load(Ordering::Relaxed) > 0;
    run_until(scenario_millis(), enough, || {
        for value in 0..200 {
            stats_node(&mu, value);
        }
        mu.safepoint();
    });
    stop.store(true, Ordering::Relaxed);
    let (cycles, reads, comers) =
        mu.blocking(|| (collector.join().unwrap(), reader.join().unwrap(), comers.join().unwrap()));
    mu.collect();
    // The list is intact: the head's value, then 999 down to 1.
    let mut values = Vec::new();
    let mut node = Some(head.get(&mu));
    while let Some(n) = node {
        values.push(n.value);
        node = n.next.get(&mu);
    }
    let expected: Vec<u64> = std::iter::once(0).chain((1..1_000).rev()).collect();
    assert_eq!(values, expected);
    let dropped = STATS_FROM_DROP.load(Ordering::Relaxed);
    assert!(cycles > 0 && reads > 0 && comers > 0 && dropped > 0, "{cycles} cycles, {reads} reads, {comers} threads");
    println!("done: {cycles} cycles, {dropped} reads from destructors, {reads} beside, {comers} threads");
}

#[test]
fn stats_read_from_destructors_beside_leaking_threads() {
    for mode in ["concurrent", "stw"] {
        let env = [("GC_MODE", mode), ("GC_MIN_HEAP", "256K"), ("GC_CHECKMARK", "1")];
        child("child_stats_read_from_destructors", &env, DEADLINE).assert_completed();
    }
}
