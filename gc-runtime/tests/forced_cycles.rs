//! Cycles on a timer (`Config::force_cycle_after`): a program that stops allocating — a server
//! idle after a burst — still has its dead objects found, without a `collect()` and without the
//! pacer. The tests run one at a time: they reconfigure the process-wide heap.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use gc_runtime::{Config, Member, Trace, Weak};

mod common;
use common::child::{child, in_child, DEADLINE};

/// Serialises the tests of this file: they reconfigure the process-wide heap.
static SERIAL: Mutex<()> = Mutex::new(());

#[derive(Trace)]
struct Node {
    label: String,
    next: Member<Node>,
}

/// A dead chain of `n` nodes (its root dropped) and a weak reference to its head.
fn dead_chain(mu: &gc_runtime::Mutator, n: usize) -> Weak<Node> {
    let head = mu.alloc(Node { label: "head".into(), next: Member::new() });
    let mut tail = head;
    for i in 0..n {
        let node = mu.alloc(Node { label: i.to_string(), next: Member::new() });
        tail.next.set(Some(node));
        tail = node;
    }
    Weak::new(mu, head)
}

/// With the pacer off, an idle heap gets a cycle once none has run for the period: the dead
/// chain is found and its weak reference cleared, though the program never allocates again
/// nor calls `collect`.
#[test]
fn an_idle_heap_is_collected_once_no_cycle_ran_for_the_period() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let config = Config::default().with_gc_percent(None).with_force_cycle_after(Some(Duration::from_millis(200)));
    gc_runtime::reconfigure(config).unwrap();
    let mut mu = gc_runtime::attach();
    let weak = dead_chain(&mu, 10_000);
    let before = gc_runtime::stats().cycles;
    let started = Instant::now();
    // Detached: the idle program. (A thread that stays attached must reach safepoints for the
    // cycle to finish; this one waits in `blocking`.)
    mu.blocking(|| {
        while !weak.is_cleared() {
            assert!(started.elapsed() < Duration::from_secs(30), "no cycle on the timer: {}", gc_runtime::stats());
            std::thread::sleep(Duration::from_millis(10));
        }
        // The weak reference is cleared during the cycle's sweep, before the cycle is counted
        // as completed: wait for the count too.
        while gc_runtime::stats().cycles == before {
            assert!(started.elapsed() < Duration::from_secs(30), "the cycle never ended: {}", gc_runtime::stats());
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let after = gc_runtime::stats();
    assert!(after.cycles > before, "{after}");
    assert!(weak.upgrade(&mu).is_none());
    drop(mu);
    gc_runtime::reconfigure(Config::default()).unwrap();
}

/// Off (`None`), and with the pacer off, an idle heap gets no cycle: the dead chain stays
/// unfound through many periods of the test above.
#[test]
fn off_an_idle_heap_keeps_its_dead_objects() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    gc_runtime::reconfigure(Config::default().with_gc_percent(None).with_force_cycle_after(None)).unwrap();
    let mut mu = gc_runtime::attach();
    let weak = dead_chain(&mu, 1_000);
    let before = gc_runtime::stats().cycles;
    mu.blocking(|| std::thread::sleep(Duration::from_millis(1000)));
    assert_eq!(gc_runtime::stats().cycles, before, "no cycle while off");
    assert!(!weak.is_cleared(), "nothing found the dead chain");
    mu.collect();
    assert!(weak.is_cleared(), "the next cycle does");
    drop(mu);
    gc_runtime::reconfigure(Config::default()).unwrap();
}

/// A period too long for the clock (`Duration::MAX`, or the largest number of milliseconds the
/// variable takes) is accepted and never comes due: the collector thread, which adds it to the
/// time of the last cycle, keeps working. In a child process: a collector thread that panicked
/// there would leave `collect` waiting forever.
#[test]
fn child_a_period_past_the_clocks_end() {
    if !in_child() {
        return;
    }
    for period in [Duration::MAX, Duration::from_millis(u64::MAX)] {
        gc_runtime::reconfigure(Config::default().with_force_cycle_after(Some(period))).unwrap();
        let mut mu = gc_runtime::attach();
        let weak = dead_chain(&mu, 10);
        // The collector thread reads the setting while idle, between these collections.
        mu.blocking(|| std::thread::sleep(Duration::from_millis(50)));
        mu.collect();
        assert!(weak.is_cleared(), "the collector still collects");
    }
    println!("done");
}

#[test]
fn a_period_past_the_clocks_end_never_comes_due() {
    child("child_a_period_past_the_clocks_end", &[], Duration::from_secs(30)).assert_completed();
}

/// The scenario of the two tests below, in a child process: a thread stays attached without a
/// safepoint for 1.5 s (a program idle in a read while attached, as a REPL at its prompt would be
/// without `blocking`), while a cycle on the timer starts (period 100 ms, slow-mutator warning
/// after 200 ms). With `WAITER` set, another thread calls `collect` meanwhile: a thread waits for
/// the collector.
#[test]
fn child_a_timer_cycle_waits_for_a_thread_idle_while_attached() {
    if !in_child() {
        return;
    }
    let mut mu = gc_runtime::attach();
    let _garbage = dead_chain(&mu, 100);
    let before = gc_runtime::stats().cycles;
    let waiter = std::env::var_os("WAITER").is_some().then(|| {
        std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(300));
            gc_runtime::with_mutator(|mu| mu.collect());
        })
    });
    // Attached and running, no safepoint: the timer's cycle waits for this thread.
    std::thread::sleep(Duration::from_millis(1500));
    mu.safepoint();
    mu.blocking(|| {
        if let Some(waiter) = waiter {
            waiter.join().unwrap();
        }
    });
    while gc_runtime::stats().cycles == before {
        mu.safepoint();
        std::thread::sleep(Duration::from_millis(1));
    }
    println!("done");
}

/// A cycle started by the timer, which nobody waits for, waits silently for a thread idle
/// while attached, and finishes once that thread reaches a safepoint.
#[test]
fn a_timer_cycle_does_not_warn_of_a_thread_nobody_waits_for() {
    let out = child(
        "child_a_timer_cycle_waits_for_a_thread_idle_while_attached",
        &[("GC_FORCE_CYCLE_AFTER_MS", "100"), ("GC_SAFEPOINT_WARN_MS", "200"), ("GC_PERCENT", "off")],
        DEADLINE,
    );
    out.assert_completed();
    assert!(!out.stderr.contains("waiting"), "no warning: {}", out.describe());
}

/// Once a thread waits for the collector (in `collect`), the same cycle warns of the slow
/// thread as any cycle does: a thread that waited on another while attached would be a
/// deadlock, and the warning is how the program finds out.
#[test]
fn a_timer_cycle_warns_once_a_thread_waits_for_it() {
    let out = child(
        "child_a_timer_cycle_waits_for_a_thread_idle_while_attached",
        &[("GC_FORCE_CYCLE_AFTER_MS", "100"), ("GC_SAFEPOINT_WARN_MS", "200"), ("GC_PERCENT", "off"), ("WAITER", "1")],
        DEADLINE,
    );
    out.assert_completed();
    assert!(out.stderr.contains("waiting"), "a warning: {}", out.describe());
}
