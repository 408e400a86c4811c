//! Faults and differential checks: a `Trace` impl that panics in the marker stops the process
//! with a clear message; a mutator that runs long without a safepoint gets a warning (and the collector
//! keeps waiting); a thread that exits without detaching explicitly is detached; and the same
//! workload frees the same objects in concurrent and stop-the-world mode.

use std::{
    process::Command,
    sync::{
        atomic::{AtomicBool, AtomicU8, Ordering},
        Arc, Mutex,
    },
    thread,
    time::Duration,
};

use gc_runtime::{Config, Member, Mode, Root, Trace, Tracer};

static SERIAL: Mutex<()> = Mutex::new(());

/// Runs one test of this file in a child process with extra environment; returns its output.
fn child(test: &str, env: &[(&str, &str)]) -> std::process::Output {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("GC_FAULTS_CHILD", "1")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn in_child() -> bool {
    std::env::var_os("GC_FAULTS_CHILD").is_some()
}

struct Exploding;

/// Set once the object is allocated: allocation traces a new value too (to arm its slots),
/// and a panic there simply propagates to the allocating thread. This test is about the marker.
static EXPLODE: AtomicBool = AtomicBool::new(false);

// SAFETY: holds no GC pointer; its `trace` panics on purpose once armed.
unsafe impl Trace for Exploding {
    fn trace(&self, _: &mut Tracer<'_>) {
        if EXPLODE.load(Ordering::SeqCst) {
            panic!("trace impl fails");
        }
    }
}

#[test]
fn child_panicking_trace() {
    if !in_child() {
        return;
    }
    let mut mu = gc_runtime::attach();
    let _root: Root<Exploding> = mu.alloc(Exploding).root(&mu);
    EXPLODE.store(true, Ordering::SeqCst);
    mu.collect(); // the marker calls `trace`: the process must stop
    unreachable!("the collector went on after a panicking trace");
}

#[test]
fn a_panicking_trace_stops_the_process_with_a_message() {
    let out = child("child_panicking_trace", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("Trace::trace of `faults::Exploding` panicked"), "{stderr}");
    assert!(!stderr.contains("went on"), "{stderr}");
}

#[test]
fn child_slow_safepoint() {
    if !in_child() {
        return;
    }
    let go = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let spinner = {
        let (go, started) = (go.clone(), started.clone());
        thread::Builder::new()
            .name("slow-mutator".into())
            .spawn(move || {
                let mut mu = gc_runtime::attach();
                started.store(true, Ordering::SeqCst);
                while !go.load(Ordering::SeqCst) {
                    std::hint::spin_loop();
                }
                mu.safepoint();
            })
            .unwrap()
    };
    while !started.load(Ordering::SeqCst) {
        thread::yield_now();
    }
    let collector = thread::spawn(|| gc_runtime::attach().collect());
    thread::sleep(Duration::from_millis(400)); // several warning periods
    go.store(true, Ordering::SeqCst);
    spinner.join().unwrap();
    collector.join().unwrap();
    println!("cycle completed after the slow mutator reached its safepoint");
}

#[test]
fn a_mutator_slow_to_reach_a_safepoint_is_named_in_a_warning() {
    let out = child("child_slow_safepoint", &[("GC_SAFEPOINT_WARN_MS", "50")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("waiting") && stderr.contains("slow-mutator") && stderr.contains("still waiting"),
        "{stderr}"
    );
    assert!(stderr.contains("inside a collection's user code"), "the warning names that cause too: {stderr}");
    assert!(stdout.contains("cycle completed"), "{stdout}");
}

struct Probe(Arc<AtomicU8>);
impl Drop for Probe {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Trace)]
struct Node {
    id: usize,
    next: [Member<Node>; 2],
    #[trace(skip)]
    _probe: Probe,
}

thread_local! {
    static MUTATOR: std::cell::RefCell<Option<gc_runtime::Mutator>> = const { std::cell::RefCell::new(None) };
}

#[test]
fn a_thread_that_exits_without_detaching_is_detached() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before = gc_runtime::stats().mutators;
    let drops = Arc::new(AtomicU8::new(0));
    let d = drops.clone();
    thread::spawn(move || {
        // The mutator lives in a thread-local and is never dropped by hand.
        MUTATOR.with(|m| {
            let mu = gc_runtime::attach();
            mu.alloc(Node { id: 0, next: [Member::new(), Member::new()], _probe: Probe(d) });
            *m.borrow_mut() = Some(mu);
        });
    })
    .join()
    .unwrap();
    assert_eq!(gc_runtime::stats().mutators, before, "detached when the thread's locals were destroyed");
    let mut mu = gc_runtime::attach();
    mu.collect();
    assert_eq!(drops.load(Ordering::SeqCst), 1, "its garbage is collected");
}

/// A seeded single-threaded workload; after each collection, which node ids have been freed.
fn workload(mode: Mode) -> Vec<Vec<bool>> {
    gc_runtime::reconfigure(Config::default().with_mode(mode).with_gc_percent(None).with_checkmark(true)).unwrap();
    const NODES: usize = if cfg!(miri) { 200 } else { 20_000 };
    let ledger: Vec<Arc<AtomicU8>> = (0..NODES).map(|_| Arc::new(AtomicU8::new(0))).collect();
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut mu = gc_runtime::attach();
    let mut roots: Vec<Option<Root<Node>>> = (0..16).map(|_| None).collect();
    let mut snapshots = Vec::new();
    let mut id = 0;
    for _round in 0..10 {
        {
            let mut live = Vec::new();
            for _ in 0..NODES / 10 {
                let n = mu.alloc(Node { id, next: [Member::new(), Member::new()], _probe: Probe(ledger[id].clone()) });
                id += 1;
                if !live.is_empty() {
                    let k = (next() % live.len() as u64) as usize;
                    let other: gc_runtime::Gc<'_, Node> = live[k];
                    other.next[(next() % 2) as usize].set(Some(n));
                    if next() % 3 == 0 {
                        n.next[0].set(Some(other));
                    }
                }
                live.push(n);
                if next() % 50 == 0 {
                    roots[(next() % 16) as usize] = Some(n.root(&mu));
                }
            }
        }
        mu.collect();
        snapshots.push(ledger.iter().map(|d| d.load(Ordering::SeqCst) == 1).collect());
        assert!(ledger.iter().all(|d| d.load(Ordering::SeqCst) <= 1), "{mode:?}: a node dropped twice");
    }
    drop(roots);
    mu.collect();
    snapshots
}

#[test]
fn concurrent_and_stop_the_world_free_the_same_objects() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let concurrent = workload(Mode::Concurrent);
    let stw = workload(Mode::StopTheWorld);
    for (round, (c, s)) in concurrent.iter().zip(&stw).enumerate() {
        let differ = c.iter().zip(s).filter(|(a, b)| a != b).count();
        assert_eq!(differ, 0, "round {round}: {differ} nodes freed in one mode and not the other");
    }
    assert!(concurrent.last().unwrap().iter().any(|&f| f), "the workload produced garbage");
    gc_runtime::reconfigure(Config::default()).unwrap();
}

struct FailsToArm;

// SAFETY: holds no GC pointer; its `trace` always panics.
unsafe impl Trace for FailsToArm {
    fn trace(&self, _: &mut Tracer<'_>) {
        panic!("trace impl fails while the object is being allocated");
    }
}

#[test]
fn a_trace_panicking_during_allocation_reaches_the_caller_and_the_heap_goes_on() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut mu = gc_runtime::attach();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        mu.alloc(FailsToArm);
    }));
    assert!(r.is_err(), "the panic propagates out of alloc");
    // The half-made object is unreachable: the next cycle frees it without scanning it.
    let keep = mu.alloc(Node { id: 1, next: [Member::new(), Member::new()], _probe: Probe(Arc::default()) }).root(&mu);
    mu.collect();
    assert_eq!(keep.get(&mu).id, 1);
}
