//! When and where destructors of dead objects' fields run (see the crate docs, "Destructors").

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

#[test]
fn concurrent_mode_drops_on_the_collector_thread_during_sweep() {
    for s in run(Mode::Concurrent) {
        // `collect` released this thread's cached pages, so the background sweep got them all.
        assert_eq!(s.thread, "gc-collector", "{s:?}");
        assert_eq!(s.phase, Phase::Sweep, "{s:?}");
        assert_eq!(s.attach, Err(AttachError::CollectorThread), "{s:?}");
    }
}

#[test]
fn stop_the_world_mode_drops_inside_the_pause() {
    for s in run(Mode::StopTheWorld) {
        assert_eq!(s.thread, "gc-collector", "{s:?}");
        assert_eq!(s.phase, Phase::Sweep, "{s:?}");
        assert_eq!(s.attach, Err(AttachError::CollectorThread), "{s:?}");
    }
}

/// Enough garbage for many pages (a few under Miri).
const GARBAGE: usize = if cfg!(miri) { 600 } else { 20_000 };

#[test]
fn destructors_run_only_on_the_collector_or_an_allocating_mutator() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    gc_runtime::reconfigure(Config::default().with_gc_percent(None)).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut mu = gc_runtime::attach();
    // Garbage spread over many pages; while the cycle runs this thread keeps allocating, so
    // some pages may be swept lazily by it rather than by the background sweep.
    for _ in 0..GARBAGE {
        let o = mu.alloc(Obj { next: Member::new(), _rec: Recorder(seen.clone()) });
        o.next.set(None);
    }
    mu.collect();
    let n = seen.lock().unwrap().len();
    assert_eq!(n, GARBAGE, "all garbage swept by the end of collect");
    let me = std::thread::current().name().unwrap_or("?").to_owned();
    let by_mutator = seen.lock().unwrap().iter().filter(|s| s.thread == me).count();
    let by_collector = seen.lock().unwrap().iter().filter(|s| s.thread == "gc-collector").count();
    assert_eq!(by_mutator + by_collector, n, "only the collector or the allocating mutator drops");
    // A destructor run by a mutator's lazy sweep cannot attach a second mutator there.
    assert!(seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.thread == me)
        .all(|s| s.attach == Err(AttachError::AlreadyAttached)));
}
