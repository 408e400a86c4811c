//! Phase scripts: every transition of a cycle, in order, with whether the world was stopped,
//! in both modes (gc-arena's `test_phases` style, read from the cycle records).

use std::sync::Mutex;

use gc_runtime::{BarrierKind, Config, CycleStats, HandshakeKind, Member, Mode, PauseKind, Phase, PhaseChange, Trace};

static SERIAL: Mutex<()> = Mutex::new(());

#[derive(Trace)]
struct Cell {
    next: Member<Cell>,
}

fn change(phase: Phase, world_stopped: bool) -> PhaseChange {
    PhaseChange { phase, world_stopped }
}

/// Run one collection with some live data and return its record.
fn one_cycle(mode: Mode) -> CycleStats {
    one_cycle_with(Config::default().with_mode(mode))
}

/// Run one collection under `config` (pacing off) and return its record.
fn one_cycle_with(config: Config) -> CycleStats {
    gc_runtime::reconfigure(config.with_gc_percent(None)).unwrap();
    let mut mu = gc_runtime::attach();
    let head = mu.alloc(Cell { next: Member::new() });
    let mut tail = head;
    for _ in 0..1000 {
        let c = mu.alloc(Cell { next: Member::new() });
        tail.next.set(Some(c));
        tail = c;
    }
    let root = head.root(&mu);
    assert_eq!(gc_runtime::phase(), Phase::Off, "idle between cycles");
    let before = gc_runtime::stats().cycles;
    mu.collect();
    assert_eq!(gc_runtime::phase(), Phase::Off, "collect returns after the sweep");
    let stats = gc_runtime::stats();
    assert_eq!(stats.cycles, before + 1, "exactly one cycle ran");
    drop(root);
    stats.recent.last().cloned().unwrap()
}

#[test]
fn concurrent_cycle_with_handshakes_never_stops_the_world() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for barrier in [BarrierKind::Dijkstra, BarrierKind::Yuasa, BarrierKind::Hybrid] {
        let c = one_cycle_with(Config::default().with_mode(Mode::Concurrent).with_barrier(barrier));
        assert_eq!((c.mode, c.barrier), (Mode::Concurrent, barrier));
        assert_eq!(
            c.phases,
            [
                change(Phase::Mark, false),            // barrier on, by handshake rounds
                change(Phase::MarkTermination, false), // decided by a handshake round
                change(Phase::Sweep, false),           // barrier off
                change(Phase::Off, false),             // after the concurrent sweep
            ]
        );
        assert_eq!(c.pauses, [], "{barrier:?}: no pause");
        assert!(c.objects_marked >= 1001, "the rooted chain was scanned: {}", c.objects_marked);
        // The handshakes, in order: the mark start's rounds (one for Dijkstra, two for the
        // deletion barriers), termination rounds (the last one quiet), then the sweep's two.
        let start_rounds = if barrier == BarrierKind::Dijkstra { 1 } else { 2 };
        let kinds = handshake_kinds(&c);
        assert!(kinds.len() >= start_rounds + 3, "{barrier:?}: {kinds:?}");
        assert!(kinds[..start_rounds].iter().all(|&k| k == HandshakeKind::MarkStart), "{barrier:?}: {kinds:?}");
        let termination = &kinds[start_rounds..kinds.len() - 2];
        assert!(!termination.is_empty() && termination.iter().all(|&k| k == HandshakeKind::Termination), "{kinds:?}");
        assert_eq!(termination.len(), c.termination_retries as usize + 1, "every busy round is counted as a retry");
        assert_eq!(kinds[kinds.len() - 2..], [HandshakeKind::PublishSweep, HandshakeKind::HandBackPages]);
        assert_handshakes_in_order(&c);
        // This thread is the only mutator, and it waits in `collect`, detached: nobody to wait for.
        assert!(c.handshakes.iter().all(|h| h.waited_for == 0), "{:?}", c.handshakes);
    }
}

fn handshake_kinds(c: &CycleStats) -> Vec<HandshakeKind> {
    c.handshakes.iter().map(|h| h.kind).collect()
}

/// Handshakes are on the cycle's clock, in order, and do not overlap each other or a pause.
fn assert_handshakes_in_order(c: &CycleStats) {
    assert!(c.handshakes[0].started_at >= c.started_at);
    for w in c.handshakes.windows(2) {
        assert!(w[0].started_at + w[0].latency <= w[1].started_at, "{:?} overlaps {:?}", w[0], w[1]);
    }
    for h in &c.handshakes {
        for p in &c.pauses {
            let (h_end, p_end) = (h.started_at + h.latency, p.started_at + p.duration);
            assert!(h_end <= p.started_at || p_end <= h.started_at, "{h:?} overlaps {p:?}");
        }
    }
}

#[test]
fn concurrent_cycle_with_stops_stops_the_world_only_to_flip_the_barrier() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let c = one_cycle_with(Config::default().with_mode(Mode::Concurrent).with_handshakes(false));
    assert_eq!(c.mode, Mode::Concurrent);
    assert_eq!(
        c.phases,
        [
            change(Phase::Mark, true),            // pause 1: barrier on
            change(Phase::MarkTermination, true), // pause 2
            change(Phase::Sweep, true),           // still pause 2: barrier off
            change(Phase::Off, false),            // after the concurrent sweep
        ]
    );
    let kinds: Vec<PauseKind> = c.pauses.iter().map(|p| p.kind).collect();
    assert_eq!(kinds.first(), Some(&PauseKind::MarkStart));
    assert_eq!(kinds.last(), Some(&PauseKind::MarkTermination));
    assert!(kinds[1..kinds.len() - 1].iter().all(|&k| k == PauseKind::MarkTerminationRetry));
    assert_eq!(c.termination_retries as usize, kinds.len() - 2);
    assert!(c.objects_marked >= 1001, "the rooted chain was scanned: {}", c.objects_marked);
    // Pause start times are on the cycle's clock, in order, and do not overlap.
    assert!(c.pauses[0].started_at >= c.started_at);
    for w in c.pauses.windows(2) {
        assert!(w[0].started_at + w[0].duration <= w[1].started_at, "{:?} overlaps {:?}", w[0], w[1]);
    }
    // The handshakes left: a flush before each termination stop, then the sweep's two.
    let kinds = handshake_kinds(&c);
    assert_eq!(kinds.iter().filter(|&&k| k == HandshakeKind::Flush).count(), c.pauses.len() - 1, "{kinds:?}");
    assert_eq!(kinds[kinds.len() - 2..], [HandshakeKind::PublishSweep, HandshakeKind::HandBackPages]);
    assert!(!kinds.contains(&HandshakeKind::MarkStart) && !kinds.contains(&HandshakeKind::Termination));
    assert_handshakes_in_order(&c);
}

#[test]
fn stop_the_world_cycle_runs_in_one_pause() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let c = one_cycle(Mode::StopTheWorld);
    assert_eq!(c.mode, Mode::StopTheWorld);
    assert_eq!(
        c.phases,
        [
            change(Phase::Mark, true),
            change(Phase::MarkTermination, true),
            change(Phase::Sweep, true),
            change(Phase::Off, true),
        ]
    );
    assert_eq!(c.pauses.len(), 1);
    assert_eq!(c.pauses[0].kind, PauseKind::FullCycle);
    // After the pause: mutators hand back the pages they kept cached through it.
    assert_eq!(handshake_kinds(&c), [HandshakeKind::HandBackPages]);
    assert_handshakes_in_order(&c);
    assert!(c.objects_marked >= 1001);
}

#[test]
fn garbage_is_freed_in_both_modes() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for mode in [Mode::Concurrent, Mode::StopTheWorld] {
        gc_runtime::reconfigure(Config::default().with_mode(mode).with_gc_percent(None)).unwrap();
        let mut mu = gc_runtime::attach();
        for _ in 0..5000 {
            mu.alloc(Cell { next: Member::new() });
        }
        mu.collect();
        let c = gc_runtime::stats().recent.last().cloned().unwrap();
        assert!(c.objects_freed >= 5000, "{mode:?}: freed {}", c.objects_freed);
        assert!(c.heap_after < c.heap_before, "{mode:?}: {} -> {}", c.heap_before, c.heap_after);
    }
}

#[derive(Trace)]
struct Holder {
    items: Vec<Member<Cell>>,
}

/// Every reachable object is counted as marked, whether a mark worker or a mutator assist
/// scanned it.
#[test]
fn objects_marked_counts_assists_too() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    gc_runtime::reconfigure(Config::default().with_mode(Mode::Concurrent).with_gc_percent(None)).unwrap();
    let mut mu = gc_runtime::attach();
    const N: usize = if cfg!(miri) { 2_000 } else { 200_000 };
    let holder = mu.alloc(Holder { items: (0..N).map(|_| Member::new()).collect() });
    for slot in &holder.items {
        slot.set(Some(mu.alloc(Cell { next: Member::new() })));
    }
    let root = holder.root(&mu);
    let before = gc_runtime::stats().cycles;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let collector = {
        let done = done.clone();
        std::thread::spawn(move || {
            gc_runtime::attach().collect();
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        })
    };
    // Allocate while the cycle marks, so this mutator assists.
    while !done.load(std::sync::atomic::Ordering::SeqCst) {
        for _ in 0..if cfg!(miri) { 100 } else { 10_000 } {
            mu.alloc([0u64; 8]);
        }
        mu.safepoint();
    }
    collector.join().unwrap();
    let stats = gc_runtime::stats();
    let cycle = stats.recent.iter().find(|c| c.cycle == before + 1).unwrap();
    assert!(cycle.objects_marked > N, "marked {} of {} reachable objects", cycle.objects_marked, N + 1);
    drop(root);
}
