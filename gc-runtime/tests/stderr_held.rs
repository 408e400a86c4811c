//! The collector's threads report on stderr without `std`'s stderr lock, which user code may
//! hold — a logger that keeps `std::io::stderr().lock()` across a safepoint or a `collect` —
//! while it waits for them. Each test holds that lock where the collector reports: with the
//! trace line on, when a destructor panics (the finalizer's report, which `collect` waits
//! for), and when a slow thread makes a stop of the world warn while the lock's holder is
//! parked. Each deadlocked before (the collector's thread waited for the lock, its holder for
//! the collector); the watchdog turns a deadlock into a failure.

mod common;

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Barrier, Mutex,
    },
    thread,
    time::{Duration, Instant},
};

use common::hostile::watchdog;
use gc_runtime::{Config, Member, Mode, Trace};

/// The tests reconfigure the one runtime of this process: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn collect_returns_while_the_caller_holds_the_stderr_lock_and_the_trace_line_is_on() {
    let _s = serial();
    let _w = watchdog("collect_returns_while_the_caller_holds_the_stderr_lock_and_the_trace_line_is_on");
    gc_runtime::reconfigure(Config::default().with_trace(true)).unwrap();
    let mut mu = gc_runtime::attach();
    let cycles = gc_runtime::stats().cycles;
    {
        let _logger = std::io::stderr().lock();
        for _ in 0..3 {
            mu.collect();
        }
    }
    assert!(gc_runtime::stats().cycles >= cycles + 3);
    gc_runtime::reconfigure(Config::default()).unwrap();
}

/// A field whose destructor panics.
struct Boom;

impl Drop for Boom {
    fn drop(&mut self) {
        panic!("a destructor panics while another thread holds the stderr lock");
    }
}

#[derive(Trace)]
struct Doomed {
    #[trace(skip)]
    _boom: Boom,
}

#[test]
fn collect_returns_while_the_caller_holds_the_stderr_lock_and_a_destructor_panics() {
    let _s = serial();
    let _w = watchdog("collect_returns_while_the_caller_holds_the_stderr_lock_and_a_destructor_panics");
    gc_runtime::reconfigure(Config::default()).unwrap();
    let mut mu = gc_runtime::attach();
    let panics = gc_runtime::stats().drop_panics;
    {
        let _logger = std::io::stderr().lock();
        for _ in 0..20 {
            let _ = mu.alloc(Doomed { _boom: Boom });
        }
        mu.collect();
    }
    assert_eq!(gc_runtime::stats().drop_panics, panics + 20, "every destructor ran before collect returned");
}

#[derive(Trace)]
struct Node {
    value: u64,
    next: Member<Node>,
}

/// Stop-the-world mode with a 5 ms safepoint warning: a thread that spins 50 ms between
/// safepoints makes every stop warn, while a logger holding the stderr lock is parked at its
/// safepoints.
#[test]
fn a_stopped_world_warns_while_a_parked_thread_holds_the_stderr_lock() {
    let _s = serial();
    let _w = watchdog("a_stopped_world_warns_while_a_parked_thread_holds_the_stderr_lock");
    gc_runtime::reconfigure(
        Config::default().with_mode(Mode::StopTheWorld).with_safepoint_warn(Duration::from_millis(5)),
    )
    .unwrap();
    let stop = AtomicBool::new(false);
    let started = Barrier::new(3);
    let cycles = gc_runtime::stats().cycles;
    thread::scope(|s| {
        s.spawn(|| {
            let mut mu = gc_runtime::attach();
            let _logger = std::io::stderr().lock();
            started.wait();
            while !stop.load(Ordering::Relaxed) {
                mu.safepoint();
                thread::yield_now();
            }
        });
        s.spawn(|| {
            let mut mu = gc_runtime::attach();
            started.wait();
            while !stop.load(Ordering::Relaxed) {
                let spin = Instant::now();
                while spin.elapsed() < Duration::from_millis(50) {
                    std::hint::spin_loop();
                }
                mu.safepoint();
            }
        });
        let mut mu = gc_runtime::attach();
        mu.blocking(|| started.wait());
        let n = mu.alloc(Node { value: 7, next: Member::new() });
        n.next.set(Some(n));
        let root = n.root(&mu);
        for _ in 0..3 {
            mu.collect();
        }
        assert_eq!(root.get(&mu).value, 7);
        stop.store(true, Ordering::Relaxed);
    });
    assert!(gc_runtime::stats().cycles >= cycles + 3);
    gc_runtime::reconfigure(Config::default()).unwrap();
}
