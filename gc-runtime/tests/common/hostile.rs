//! What the hostile tests of marking share: a watchdog that turns a deadlock into an abort,
//! the collector settings they attack (checkmark on, frequent cycles), the modes they cycle
//! through, and a loop that runs work beside a thread collecting back to back.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use gc_runtime::{BarrierKind, Config, Mode};

use super::child::spawn_collector;

/// A scenario that has not finished by then is taken for a deadlock.
pub const DEADLOCK_BOUND: Duration = Duration::from_secs(60);

/// Aborts the process (a deadlock: nothing else would end the test) unless dropped within
/// [`DEADLOCK_BOUND`].
pub struct Watchdog(Arc<AtomicBool>);

/// A watchdog for the scenario `what`.
pub fn watchdog(what: &'static str) -> Watchdog {
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    thread::spawn(move || {
        let start = Instant::now();
        while !flag.load(Ordering::Relaxed) {
            if start.elapsed() > DEADLOCK_BOUND {
                report_deadlock(what);
                std::process::abort();
            }
            thread::sleep(Duration::from_millis(20));
        }
    });
    Watchdog(done)
}

/// Say which scenario hung, and what the collector's statistics said, on stderr itself: the
/// test harness captures `eprintln!` (of this thread too, spawned from a test) and loses it when
/// the process aborts. The statistics are read on a thread of their own, given 2 s: a deadlock
/// may hold a lock they need.
fn report_deadlock(what: &str) {
    use std::io::Write;
    let say = |line: String| {
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    };
    say(format!("{what}: not finished after {DEADLOCK_BOUND:?}: deadlock; aborting\n"));
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(gc_runtime::stats().to_string());
    });
    match rx.recv_timeout(Duration::from_secs(2)) {
        Ok(stats) => say(format!("{what}: the collector's statistics then: {stats}\n")),
        Err(_) => say(format!("{what}: the statistics did not come within 2 s either\n")),
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Checkmark on, frequent paced cycles, `workers` mark workers.
pub fn hostile_config(mode: Mode, barrier: BarrierKind, workers: usize) -> Config {
    Config::default()
        .with_mode(mode)
        .with_barrier(barrier)
        .with_mark_workers(workers)
        .with_checkmark(true)
        .with_gc_percent(Some(50))
        .with_min_heap(256 << 10)
}

/// Stop-the-world, and each barrier in concurrent mode (the hybrid with global stops), with
/// whether handshakes are on.
pub fn modes() -> [(Mode, BarrierKind, bool); 4] {
    [
        (Mode::StopTheWorld, BarrierKind::Dijkstra, true),
        (Mode::Concurrent, BarrierKind::Dijkstra, true),
        (Mode::Concurrent, BarrierKind::Yuasa, true),
        (Mode::Concurrent, BarrierKind::Hybrid, false),
    ]
}

/// Run `work(index, stop)` on `threads` threads beside a thread collecting back to back, for
/// `millis` (and until two cycles ran, within a minute); returns the cycles run meanwhile.
pub fn with_collector(threads: usize, millis: u64, work: impl Fn(usize, &AtomicBool) + Sync) -> u64 {
    let before = gc_runtime::stats().cycles;
    let stop = Arc::new(AtomicBool::new(false));
    let collector = spawn_collector(&stop);
    let start = Instant::now();
    let result = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (work, stop) = (&work, &stop);
                s.spawn(move || work(t, stop))
            })
            .collect();
        let cycles = || gc_runtime::stats().cycles - before;
        // Until `millis` have passed (or the workers finished: their ledgers fill up) and two
        // cycles have ended; the collector thread goes on collecting after the workers are
        // done, so a fast machine that fills the ledgers first still sees its two cycles.
        let running = || start.elapsed() < Duration::from_millis(millis) && !handles.iter().all(|h| h.is_finished());
        while (running() || cycles() < 2) && start.elapsed() < Duration::from_secs(60) {
            thread::sleep(Duration::from_millis(5));
        }
        stop.store(true, Ordering::Relaxed);
        handles.into_iter().map(|h| h.join()).collect::<Vec<_>>()
    });
    collector.join().unwrap();
    for r in result {
        if let Err(e) = r {
            std::panic::resume_unwind(e);
        }
    }
    gc_runtime::stats().cycles - before
}

/// Every cycle recorded since `before` was verified by checkmark.
pub fn assert_checkmarked_since(before: u64) {
    let stats = gc_runtime::stats();
    for c in stats.recent.iter().filter(|c| c.cycle > before) {
        assert!(c.checkmarked_objects.is_some(), "cycle {} ran without checkmark", c.cycle);
    }
}
