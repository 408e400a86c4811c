//! Mutator life cycle: detached threads never delay a pause, running ones always do, a
//! panicking thread detaches cleanly, and attaching twice is refused.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        mpsc, Arc, Mutex,
    },
    thread,
    time::Duration,
};

use gc_runtime::{AttachError, Member, MutatorState, Trace};

static SERIAL: Mutex<()> = Mutex::new(());

/// Generous bound used only to turn a deadlock into a failure, never to judge speed.
const DEADLOCK: Duration = Duration::from_secs(120);

fn collect_in_thread() -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        // Detached before the answer: a test that goes on at the answer, and the next test
        // after it, must not find this thread's mutator still counted (under ThreadSanitizer
        // beside another of its runs, `attaching_twice_is_refused_and_with_mutator_detaches`
        // found it running when it began and gone at its end).
        {
            let mut mu = gc_runtime::attach();
            mu.collect();
        }
        tx.send(()).unwrap();
    });
    rx
}

#[test]
fn a_detached_thread_never_delays_a_stop_the_world() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (detached_tx, detached_rx) = mpsc::channel::<()>();
    let blocked = thread::spawn(move || {
        let mut mu = gc_runtime::attach();
        mu.blocking(|| {
            detached_tx.send(()).unwrap();
            // Blocks until the collection below has finished: if the pause waited for this
            // thread, the test would deadlock.
            release_rx.recv().unwrap();
        });
        assert_eq!(mu.state(), MutatorState::Running, "re-attached after the blocking call");
    });
    detached_rx.recv().unwrap();
    assert!(gc_runtime::stats().mutators.detached >= 1);
    collect_in_thread().recv_timeout(DEADLOCK).expect("a full cycle completed while a thread was detached");
    release_tx.send(()).unwrap();
    blocked.join().unwrap();
}

#[test]
fn a_running_thread_is_waited_for_until_its_safepoint() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let reached_safepoint = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let go = Arc::new(AtomicBool::new(false));
    let spinner = {
        let (reached, started, go) = (reached_safepoint.clone(), started.clone(), go.clone());
        thread::spawn(move || {
            let mut mu = gc_runtime::attach();
            started.store(true, Ordering::SeqCst);
            // Run without a safepoint until told to stop.
            while !go.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
            reached.store(true, Ordering::SeqCst);
            mu.safepoint();
        })
    };
    while !started.load(Ordering::SeqCst) {
        thread::yield_now();
    }
    let done = collect_in_thread();
    // The cycle cannot complete while the spinner runs without a safepoint.
    assert!(done.recv_timeout(Duration::from_millis(300)).is_err(), "a cycle completed without the running mutator");
    go.store(true, Ordering::SeqCst);
    done.recv_timeout(DEADLOCK).expect("the cycle completes once the mutator reaches a safepoint");
    assert!(reached_safepoint.load(Ordering::SeqCst));
    spinner.join().unwrap();
}

struct Probe(Arc<AtomicUsize>);
impl Drop for Probe {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Trace)]
struct Obj {
    next: Member<Obj>,
    #[trace(skip)]
    _probe: Probe,
}

#[test]
fn a_panicking_mutator_detaches_and_the_heap_goes_on() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    gc_runtime::reconfigure(gc_runtime::Config::default().with_checkmark(true)).unwrap();
    let cycles_before = gc_runtime::stats().cycles;
    let drops = Arc::new(AtomicUsize::new(0));
    let before = gc_runtime::stats().mutators;
    let d = drops.clone();
    let r = thread::spawn(move || {
        let mu = gc_runtime::attach();
        let a = mu.alloc(Obj { next: Member::new(), _probe: Probe(d.clone()) });
        let b = mu.alloc(Obj { next: Member::new(), _probe: Probe(d.clone()) });
        a.next.set(Some(b));
        let _root = a.root(&mu);
        panic!("mutator thread fails while holding locals and a root");
    })
    .join();
    assert!(r.is_err());
    assert_eq!(gc_runtime::stats().mutators, before, "the panicking thread detached");
    let done = collect_in_thread();
    done.recv_timeout(DEADLOCK).expect("collection works after the panic");
    assert_eq!(drops.load(Ordering::SeqCst), 2, "the panicking thread's objects were freed once each");
    // The heap still works.
    let mut mu = gc_runtime::attach();
    let x = mu.alloc(Obj { next: Member::new(), _probe: Probe(drops.clone()) });
    let root = x.root(&mu);
    mu.collect();
    assert!(root.get(&mu).next.get(&mu).is_none());
    drop(root);
    mu.collect();
    assert_eq!(drops.load(Ordering::SeqCst), 3);
    let stats = gc_runtime::stats();
    let cycles = (stats.cycles - cycles_before) as usize;
    assert!(cycles >= 3);
    assert!(stats.recent.iter().rev().take(cycles).all(|c| c.checkmarked_objects.is_some()), "checkmark verified them");
    gc_runtime::reconfigure(gc_runtime::Config::default()).unwrap();
}

/// `with_mutator` detaches on return and keeps its mutator, detached, for the thread's next
/// `with_mutator` or `attach` (the same mutator, re-attached); the thread's end frees it.
#[test]
fn attaching_twice_is_refused_and_with_mutator_detaches() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before = gc_runtime::stats().mutators;
    thread::spawn(move || {
        let id = gc_runtime::with_mutator(|mu| {
            assert_eq!(gc_runtime::try_attach().unwrap_err(), AttachError::AlreadyAttached);
            assert_eq!(*mu.alloc(7u32), 7);
            format!("{mu:?}")
        });
        let kept = gc_runtime::stats().mutators;
        assert_eq!((kept.running, kept.detached), (before.running, before.detached + 1), "detached on return, kept");
        let again = gc_runtime::with_mutator(|mu| {
            let now = gc_runtime::stats().mutators;
            assert_eq!((now.running, now.detached), (before.running + 1, before.detached), "the kept one, running");
            format!("{mu:?}")
        });
        assert_eq!(again, id, "the next with_mutator re-attached the kept mutator");
        // Attaching after it works, and takes the kept mutator; dropping that one frees it.
        let mu = gc_runtime::attach();
        assert_eq!(format!("{mu:?}"), id);
        drop(mu);
        assert_eq!(gc_runtime::stats().mutators, before, "a dropped mutator is not kept");
        gc_runtime::with_mutator(|mu| assert_eq!(*mu.alloc(1u8), 1));
    })
    .join()
    .unwrap();
    assert_eq!(gc_runtime::stats().mutators, before, "the thread's end freed the kept mutator");
}

#[test]
fn roots_cross_threads_and_drop_anywhere() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let drops = Arc::new(AtomicUsize::new(0));
    let root = {
        let mu = gc_runtime::attach();
        mu.alloc(Obj { next: Member::new(), _probe: Probe(drops.clone()) }).root(&mu)
    };
    // Used on another attached thread...
    let root = thread::spawn(move || {
        let mut mu = gc_runtime::attach();
        mu.collect();
        assert!(root.get(&mu).next.is_none());
        root
    })
    .join()
    .unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 0, "kept alive by the root");
    // ...and dropped on a thread that never attached.
    thread::spawn(move || drop(root)).join().unwrap();
    collect_in_thread().recv_timeout(DEADLOCK).unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
#[should_panic(expected = "not inside an allocated object")]
fn a_member_outside_the_heap_cannot_be_set() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mu = gc_runtime::attach();
    let target = mu.alloc(Obj { next: Member::new(), _probe: Probe(Arc::default()) });
    let loose: Member<Obj> = Member::new();
    assert!(loose.get(&mu).is_none());
    loose.set(Some(target));
}

/// A slot inside an `Arc` is never armed (an `Arc` is traced as holding nothing: a clone could
/// take its contents out of the heap), so it refuses stores like any slot outside the heap.
#[test]
fn a_member_in_an_arc_is_never_armed() {
    #[derive(Trace)]
    struct Holder {
        shared: Arc<Member<Obj>>,
    }
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mu = gc_runtime::attach();
    let target = mu.alloc(Obj { next: Member::new(), _probe: Probe(Arc::default()) });
    let holder = mu.alloc(Holder { shared: Arc::new(Member::new()) });
    let escaped = Arc::clone(&holder.shared);
    assert!(escaped.get(&mu).is_none());
    let store = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| holder.shared.set(Some(target))));
    let message = store.expect_err("a store into a slot in an Arc panics");
    let message =
        message.downcast_ref::<&str>().copied().or_else(|| message.downcast_ref::<String>().map(String::as_str));
    let message = message.unwrap_or_default();
    assert!(message.contains("not inside an allocated object"), "{message}");
    assert!(escaped.get(&mu).is_none() && holder.shared.get(&mu).is_none());
}

#[test]
fn safepoint_requested_says_when_the_collector_waits_for_this_thread() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut mu = gc_runtime::attach();
    let done = collect_in_thread();
    // Without a safepoint the cycle cannot start: the request stays up until this thread comes.
    let start = std::time::Instant::now();
    while !mu.safepoint_requested() {
        assert!(start.elapsed() < DEADLOCK, "the collector never asked for this thread");
        std::hint::spin_loop();
    }
    assert!(done.try_recv().is_err(), "the cycle cannot finish while this thread runs");
    loop {
        mu.safepoint();
        if done.try_recv().is_ok() {
            break;
        }
        assert!(start.elapsed() < DEADLOCK, "the cycle did not finish");
    }
}

/// Two mutators: one runs without a safepoint until `go`, the other calls `safepoint` in a loop
/// and counts its steps until `stop`. Returns their handles once both are attached.
fn slow_and_busy(
    go: &Arc<AtomicBool>,
    stop: &Arc<AtomicBool>,
    steps: &Arc<AtomicUsize>,
) -> (thread::JoinHandle<()>, thread::JoinHandle<()>) {
    let started = Arc::new(AtomicUsize::new(0));
    let slow = {
        let (go, started) = (go.clone(), started.clone());
        thread::spawn(move || {
            let mut mu = gc_runtime::attach();
            started.fetch_add(1, Ordering::SeqCst);
            while !go.load(Ordering::SeqCst) {
                std::hint::spin_loop(); // no safepoint
            }
            mu.safepoint();
        })
    };
    let busy = {
        let (stop, started, steps) = (stop.clone(), started.clone(), steps.clone());
        thread::spawn(move || {
            let mut mu = gc_runtime::attach();
            started.fetch_add(1, Ordering::SeqCst);
            while !stop.load(Ordering::SeqCst) {
                mu.safepoint();
                steps.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    while started.load(Ordering::SeqCst) < 2 {
        thread::yield_now();
    }
    (slow, busy)
}

/// With per-thread handshakes (the default), a thread that runs without a safepoint delays
/// only the cycle: the other thread goes on through its safepoints, never parked, while the
/// collector waits, and the cycle has no pause at all.
#[test]
fn with_handshakes_a_slow_thread_delays_the_cycle_but_no_other_thread() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    gc_runtime::reconfigure(gc_runtime::Config::default().with_gc_percent(None)).unwrap();
    let (go, stop, steps) =
        (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
    let (slow, busy) = slow_and_busy(&go, &stop, &steps);
    let cycles_before = gc_runtime::stats().cycles;
    let done = collect_in_thread();
    // The cycle has begun: its mark start waits for the slow thread's answer (with global
    // stops, the busy thread would be parked instead).
    let deadline = std::time::Instant::now() + DEADLOCK;
    while gc_runtime::phase() == gc_runtime::Phase::Off && gc_runtime::stats().mutators.at_safepoint == 0 {
        assert!(std::time::Instant::now() < deadline, "the cycle did not begin");
        thread::yield_now();
    }
    let seen_at = std::time::Instant::now();
    // While the slow thread holds out, the cycle cannot finish, yet the busy thread keeps
    // passing its safepoints (100 of them; 10 under Miri), and nobody is parked.
    let before = steps.load(Ordering::SeqCst);
    let deadline = std::time::Instant::now() + DEADLOCK;
    let wanted = if cfg!(miri) { 10 } else { 100 };
    while steps.load(Ordering::SeqCst) < before + wanted {
        assert!(std::time::Instant::now() < deadline, "the busy thread made no progress while the collector waited");
        assert!(done.try_recv().is_err(), "a cycle completed without the slow thread");
        thread::yield_now();
    }
    assert_eq!(gc_runtime::stats().mutators.at_safepoint, 0, "a thread was parked");
    assert_ne!(gc_runtime::phase(), gc_runtime::Phase::Off, "the cycle is still waiting");
    let held = seen_at.elapsed();
    go.store(true, Ordering::SeqCst);
    done.recv_timeout(DEADLOCK).expect("the cycle completes once the slow thread reaches a safepoint");
    stop.store(true, Ordering::SeqCst);
    slow.join().unwrap();
    busy.join().unwrap();
    let stats = gc_runtime::stats();
    let cycle = stats.recent.iter().find(|c| c.cycle == cycles_before + 1).expect("the cycle's record");
    assert_eq!(cycle.pauses, [], "no stop of the world");
    // The collector's latency records the wait: the cycle began before this thread saw it, and
    // its mark start's last round could only end after the slow thread was let go.
    let start_rounds: Vec<_> =
        cycle.handshakes.iter().filter(|h| h.kind == gc_runtime::HandshakeKind::MarkStart).collect();
    let last = start_rounds.last().expect("a mark start by handshakes");
    let waited = last.started_at + last.latency - cycle.started_at;
    assert!(
        waited >= held,
        "the mark start's rounds ({start_rounds:?}) cover the time the slow thread held out ({held:?})"
    );
    assert!(cycle.max_handshake_latency() >= last.latency);
    assert!(start_rounds[0].waited_for >= 1, "the slow thread was waited for: {:?}", start_rounds[0]);
    gc_runtime::reconfigure(gc_runtime::Config::default()).unwrap();
}

/// With handshakes off, a thread that runs without a safepoint holds up a stop of the world:
/// the other thread parks at its safepoint for as long, and the time it spent there is
/// recorded as its pause (the pause as the program sees it, `Stats::thread_pauses`).
#[test]
fn with_stops_a_thread_parked_behind_a_slow_one_records_the_wait_as_its_pause() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    gc_runtime::reconfigure(gc_runtime::Config::default().with_handshakes(false)).unwrap();
    let (go, stop) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let steps = Arc::new(AtomicUsize::new(0));
    let (slow, busy) = slow_and_busy(&go, &stop, &steps);
    let pauses_before = gc_runtime::stats().thread_pauses;
    let done = collect_in_thread();
    // Wait until the busy thread is parked at a safepoint (the stop was requested).
    while gc_runtime::stats().mutators.at_safepoint == 0 {
        thread::yield_now();
    }
    let parked_steps = steps.load(Ordering::SeqCst);
    let parked_at = std::time::Instant::now();
    // Under Miri, time advances with the slow thread's interpreted spinning: keep it short.
    thread::sleep(Duration::from_millis(if cfg!(miri) { 2 } else { 200 }));
    assert_eq!(gc_runtime::stats().mutators.at_safepoint, 1, "still parked behind the slow thread");
    assert_eq!(steps.load(Ordering::SeqCst), parked_steps, "the parked thread made no progress");
    let held = parked_at.elapsed();
    go.store(true, Ordering::SeqCst);
    done.recv_timeout(DEADLOCK).expect("the cycle completes once the slow thread reaches a safepoint");
    stop.store(true, Ordering::SeqCst);
    slow.join().unwrap();
    busy.join().unwrap();
    let after = gc_runtime::stats().thread_pauses;
    assert!(after.count > pauses_before.count, "the waits were recorded");
    assert!(after.max >= held, "the busy thread's pause ({:?}) covers the time it was parked ({held:?})", after.max);
    let recent = gc_runtime::stats().recent;
    assert!(
        recent.iter().any(|c| c.thread_pause_max >= held),
        "a cycle record carries the wait: {:?}",
        recent.iter().map(|c| c.thread_pause_max).collect::<Vec<_>>()
    );
    gc_runtime::reconfigure(gc_runtime::Config::default()).unwrap();
}

#[derive(Trace)]
struct Small {
    value: u64,
}

/// Bigger than the largest size class (8 KiB): a large object with a block of its own.
#[derive(Trace)]
struct Large {
    words: [u64; 1100],
}

/// A mutator allocates white until it answers a marking's start (its cycle's handshake): what
/// it allocates and drops before answering is garbage of that very cycle — small objects and
/// large ones alike — and the pacer does not count it as marked. (A large object used to take
/// the collector's mark epoch, which advances before the barrier goes on: allocated black, it
/// could be stored into without the barrier. And every byte allocated while the barrier was on
/// counted as allocated black.)
#[test]
fn objects_allocated_before_answering_the_mark_start_die_in_that_cycle() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    gc_runtime::reconfigure(gc_runtime::Config::default().with_gc_percent(None)).unwrap();
    let mut mu = gc_runtime::attach();
    // Nothing from before: the cycle below starts with this thread's cache empty.
    mu.collect();
    let start = std::time::Instant::now();
    let (cycles_before, done) = loop {
        let cycles_before = gc_runtime::stats().cycles;
        let done = collect_in_thread();
        while !mu.safepoint_requested() {
            assert!(start.elapsed() < DEADLOCK, "the collector never asked for this thread");
            std::hint::spin_loop();
        }
        // The mark-start window: the barrier is on, this thread has not answered.
        if gc_runtime::phase() == gc_runtime::Phase::Mark {
            break (cycles_before, done);
        }
        // A stop of the world instead (the mark start's fallback after a leaked mutator's
        // thread ended, seen under Miri): no window in this cycle. Let it finish; try the next.
        while done.try_recv().is_err() {
            mu.safepoint();
            assert!(start.elapsed() < DEADLOCK, "the cycle did not finish");
        }
    };
    let small = mu.alloc(Small { value: 7 }).downgrade(&mu);
    let large = mu.alloc(Large { words: [7; 1100] }).downgrade(&mu);
    // Over half a MiB more of white garbage (70 KiB under Miri), which must not count as marked.
    const MORE: usize = if cfg!(miri) { 8 } else { 64 };
    for _ in 0..MORE {
        mu.alloc(Large { words: [7; 1100] });
    }
    loop {
        mu.safepoint();
        if done.try_recv().is_ok() {
            break;
        }
        assert!(start.elapsed() < DEADLOCK, "the cycle did not finish");
    }
    assert!(small.upgrade(&mu).is_none(), "a small object allocated before the answer was kept");
    assert!(large.upgrade(&mu).is_none(), "a large object allocated before the answer was kept");
    let stats = gc_runtime::stats();
    let cycle = stats.recent.iter().find(|c| c.cycle == cycles_before + 1).expect("the cycle's record");
    let white = MORE * std::mem::size_of::<Large>();
    assert!(cycle.heap_marked < white, "{white} bytes of white garbage counted as marked: {cycle:?}");
    gc_runtime::reconfigure(gc_runtime::Config::default()).unwrap();
}

/// After marking, the rounds that publish the sweep and take back the cached pages ask nothing
/// about locals, so a thread answers them where an allocation refills its cache: a thread in the
/// middle of a long build — allocating, holding locals, passing no safepoint — no longer holds
/// up the end of the cycle, nor the reuse of the memory it frees. (Termination, and the mark
/// start, still wait for its safepoint: the test before this one.)
#[test]
fn after_marking_a_thread_answers_the_rounds_at_its_allocations() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    gc_runtime::reconfigure(gc_runtime::Config::default().with_gc_percent(None)).unwrap();
    let mut mu = gc_runtime::attach();
    let start = std::time::Instant::now();
    let cycles_before = gc_runtime::stats().cycles;
    let done = collect_in_thread();
    // Answer at safepoints until marking is over: a safepoint answers one round at most, and
    // the phase is `Sweep` from the decision on, before the rounds that follow it.
    while !matches!(gc_runtime::phase(), gc_runtime::Phase::MarkTermination | gc_runtime::Phase::Sweep) {
        assert!(done.try_recv().is_err(), "the cycle ended before this thread saw its sweep");
        assert!(start.elapsed() < DEADLOCK, "marking did not end");
        mu.safepoint();
    }
    // From here on no safepoint: allocate (more than a page of small objects at a time, so
    // the cache refills), holding a local throughout, until the cycle has ended.
    let local = mu.alloc(Small { value: 7 });
    let mut batches = 0;
    while done.try_recv().is_err() {
        assert!(start.elapsed() < DEADLOCK, "the cycle waited for a safepoint after marking ({batches} batches)");
        for _ in 0..5000 {
            mu.alloc(Small { value: 1 });
        }
        batches += 1;
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(local.value, 7);
    let stats = gc_runtime::stats();
    let cycle = stats.recent.iter().find(|c| c.cycle == cycles_before + 1).expect("the cycle's record");
    let hand_back = cycle
        .handshakes
        .iter()
        .find(|h| h.kind == gc_runtime::HandshakeKind::HandBackPages)
        .expect("a round that takes back the cached pages");
    assert!(hand_back.waited_for >= 1, "this thread, running, was waited for and answered: {hand_back:?}");
    gc_runtime::reconfigure(gc_runtime::Config::default()).unwrap();
}
