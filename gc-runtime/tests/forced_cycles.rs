//! Cycles on a timer (`Config::force_cycle_after`): a program that stops allocating — a server
//! idle after a burst — still has its dead objects found, without a `collect()` and without the
//! pacer. The tests run one at a time: they reconfigure the process-wide heap.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use gc_runtime::{Config, Member, Trace, Weak};

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
