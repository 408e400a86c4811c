//! When and where destructors of dead objects' fields run (see the crate docs, "Destructors"):
//! always on the finalizer thread, never inside an allocation or a pause, and all of a cycle's
//! garbage before `collect` returns.

use std::sync::{Arc, Mutex};

use gc_runtime::{AttachError, Config, Member, Mode, Phase, Trace};

static SERIAL: Mutex<()> = Mutex::new(());

/// What a destructor saw when it ran.
#[derive(Debug, Clone)]
struct Seen {
    thread: String,
    phase: Phase,
    attach: Result<(), AttachError>,
}

struct Recorder(Arc<Mutex<Vec<Seen>>>);

impl Drop for Recorder {
    fn drop(&mut self) {
        let thread = std::thread::current().name().unwrap_or("?").to_owned();
        // Try to use the heap from a destructor: refused on collector threads.
        let attach = gc_runtime::try_attach().map(drop);
        self.0.lock().unwrap().push(Seen { thread, phase: gc_runtime::phase(), attach });
    }
}

#[derive(Trace)]
struct Obj {
    next: Member<Obj>,
    #[trace(skip)]
    _rec: Recorder,
}

fn run(mode: Mode) -> Vec<Seen> {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    gc_runtime::reconfigure(Config::default().with_mode(mode).with_gc_percent(None)).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut mu = gc_runtime::attach();
    for _ in 0..100 {
        let o = mu.alloc(Obj { next: Member::new(), _rec: Recorder(seen.clone()) });
        o.next.set(Some(o)); // a cycle: still garbage
    }
    let kept = mu.alloc(Obj { next: Member::new(), _rec: Recorder(seen.clone()) }).root(&mu);
    mu.collect();
    let after_collect = seen.lock().unwrap().clone();
    assert_eq!(after_collect.len(), 100, "{mode:?}: every dead object's fields dropped once, the live one not");
    drop(kept);
    mu.collect();
    assert_eq!(seen.lock().unwrap().len(), 101);
    after_collect
}

/// What every destructor must have seen: the finalizer thread, which cannot attach.
fn assert_ran_on_the_finalizer(seen: &[Seen]) {
    for s in seen {
        assert_eq!(s.thread, "gc-finalizer", "{s:?}");
        assert_eq!(s.attach, Err(AttachError::CollectorThread), "{s:?}");
    }
}

#[test]
fn concurrent_mode_drops_on_the_finalizer_thread() {
    assert_ran_on_the_finalizer(&run(Mode::Concurrent));
}

#[test]
fn stop_the_world_mode_drops_on_the_finalizer_thread_not_inside_the_pause() {
    let seen = run(Mode::StopTheWorld);
    assert_ran_on_the_finalizer(&seen);
    // The pause ends with the phase `Off`; no destructor ran while the world was stopped.
    assert!(seen.iter().all(|s| s.phase != Phase::Mark && s.phase != Phase::MarkTermination), "{seen:?}");
}

/// Enough garbage for many pages (a few under Miri).
const GARBAGE: usize = if cfg!(miri) { 600 } else { 20_000 };

#[test]
fn destructors_never_run_on_a_mutator_not_even_in_a_lazy_sweep() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    gc_runtime::reconfigure(Config::default().with_gc_percent(Some(1)).with_min_heap(64 * 1024)).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut mu = gc_runtime::attach();
    // Garbage spread over many pages while the pacer runs cycle after cycle: this thread
    // refills its cache from unswept pages (lazy sweeping) all along.
    for round in 0..4 {
        for _ in 0..GARBAGE {
            let o = mu.alloc(Obj { next: Member::new(), _rec: Recorder(seen.clone()) });
            o.next.set(None);
        }
        if round % 2 == 1 {
            mu.safepoint();
        }
    }
    mu.collect();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4 * GARBAGE, "all garbage finalized by the end of collect");
    assert_ran_on_the_finalizer(&seen);
    gc_runtime::reconfigure(Config::default()).unwrap();
}
