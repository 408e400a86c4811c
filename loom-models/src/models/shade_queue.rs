//! Model (d): the shade queue's push, pop and recycle, and the busy count that makes
//! "quiescent" trustworthy.
//!
//! Two markers work the queue like `MarkWorker::drain_until_quiescent`: take a buffer (becoming
//! busy first), scan it — scanning object `i` shades object `i + 1` into the marker's own
//! buffer, up to a chain of three — hand the empty buffer back, publish the private buffer,
//! and leave the busy state. A marker that finds nothing asks whether the queue is quiescent
//! and stops if so. Whenever a marker sees quiescence, all three objects must have been
//! scanned; at the end each exactly once. The control: a marker that leaves the busy state
//! before publishing what it shaded must make the model fail.
//!
//! The same with forwarding, as in an exclusive marking inside a pause (`object/exclusive.rs`):
//! object `i` belongs to marker `i % 2`; a marker that finds an object of the other's forwards it
//! to that marker's own queue (`push_forwarded`), which only the owner takes from
//! (`pop_forwarded_busy`), before the global queue. Quiescence must still be seen only when
//! everything is scanned; the control publishes the forwarded objects after leaving the busy
//! state.

use loom::{
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    thread,
};
use rusty_fork::rusty_fork_test;

use super::explore;
use crate::grey_queue::{GreyQueue, ShadeBuffer};

/// Objects 0, 1, 2: scanning `i` shades `i + 1`.
const CHAIN: usize = 3;

struct Shared {
    queue: GreyQueue<usize>,
    /// Bit `i` is set when object `i` is scanned; scanning twice is an error.
    scanned: AtomicUsize,
}

/// One marker; returns false if it saw quiescence before every object was scanned.
fn marker(shared: &Shared, publish_before_leaving: bool) -> bool {
    let mut own = ShadeBuffer::default();
    loop {
        match shared.queue.pop_busy() {
            Some(buf) => {
                for &i in &buf {
                    let before = shared.scanned.fetch_or(1 << i, Ordering::SeqCst);
                    assert_eq!(before & (1 << i), 0, "object {i} scanned twice");
                    if i + 1 < CHAIN {
                        own.push(i + 1, &shared.queue);
                    }
                }
                shared.queue.recycle(buf);
                if publish_before_leaving {
                    own.flush(&shared.queue);
                    shared.queue.leave_busy();
                } else {
                    shared.queue.leave_busy();
                    own.flush(&shared.queue);
                }
            }
            None if shared.queue.is_quiescent() => {
                return shared.scanned.load(Ordering::SeqCst) == (1 << CHAIN) - 1;
            }
            None => thread::yield_now(),
        }
    }
}

/// Marker `me` of an exclusive job; returns false if it saw quiescence before every object was
/// scanned, or found work left for the other marker after that one stopped (nobody would ever
/// take it: the broken variant would spin forever).
fn forwarding_marker(shared: &Shared, done: &[AtomicBool; 2], me: usize, publish_before_leaving: bool) -> bool {
    let complete = forwarding_marker_loop(shared, done, me, publish_before_leaving);
    done[me].store(true, Ordering::SeqCst);
    complete
}

fn forwarding_marker_loop(shared: &Shared, done: &[AtomicBool; 2], me: usize, publish_before_leaving: bool) -> bool {
    let mut own = ShadeBuffer::default();
    let mut forward = Vec::new();
    loop {
        match shared.queue.pop_forwarded_busy(me).or_else(|| shared.queue.pop_busy()) {
            Some(buf) => {
                for &i in &buf {
                    let before = shared.scanned.fetch_or(1 << i, Ordering::SeqCst);
                    assert_eq!(before & (1 << i), 0, "object {i} scanned twice");
                    let found = i + 1;
                    if found < CHAIN {
                        if found % 2 == me {
                            own.push(found, &shared.queue);
                        } else {
                            forward.push(found);
                        }
                    }
                }
                shared.queue.recycle(buf);
                let publish = |own: &mut ShadeBuffer<usize>, forward: &mut Vec<usize>| {
                    own.flush(&shared.queue);
                    if !forward.is_empty() {
                        shared.queue.push_forwarded(1 - me, std::mem::take(forward));
                    }
                };
                if publish_before_leaving {
                    publish(&mut own, &mut forward);
                    shared.queue.leave_busy();
                } else {
                    shared.queue.leave_busy();
                    publish(&mut own, &mut forward);
                }
            }
            None => {
                // The other's state first: once it has stopped, it saw quiescence, and in a
                // correct protocol nothing can be queued after that.
                let other_stopped = done[1 - me].load(Ordering::SeqCst);
                if shared.queue.is_quiescent() {
                    return shared.scanned.load(Ordering::SeqCst) == (1 << CHAIN) - 1;
                }
                if other_stopped {
                    return false;
                }
                thread::yield_now();
            }
        }
    }
}

/// One execution of two forwarding markers, 0 here and 1 on another thread; returns whether
/// both saw a complete marking when they stopped.
fn run_forwarding(publish_before_leaving: bool) -> bool {
    let shared = Arc::new(Shared { queue: GreyQueue::default(), scanned: AtomicUsize::new(0) });
    let mut root = ShadeBuffer::default();
    root.push(0, &shared.queue);
    root.flush(&shared.queue);
    let done = Arc::new([AtomicBool::new(false), AtomicBool::new(false)]);
    let other = {
        let (shared, done) = (shared.clone(), done.clone());
        thread::spawn(move || forwarding_marker(&shared, &done, 1, publish_before_leaving))
    };
    let here = forwarding_marker(&shared, &done, 0, publish_before_leaving);
    let there = other.join().unwrap();
    here && there
}

/// One execution; returns whether both markers saw a complete marking when they stopped.
fn run(publish_before_leaving: bool) -> bool {
    let shared = Arc::new(Shared { queue: GreyQueue::default(), scanned: AtomicUsize::new(0) });
    let mut root = ShadeBuffer::default();
    root.push(0, &shared.queue);
    root.flush(&shared.queue);
    let other = {
        let shared = shared.clone();
        thread::spawn(move || marker(&shared, publish_before_leaving))
    };
    let here = marker(&shared, publish_before_leaving);
    let there = other.join().unwrap();
    here && there
}

/// Whether loom finds a schedule in which `run(false)`, a marker that leaves the busy state
/// before it publishes, sees a quiescent queue with work in transit.
fn control_is_caught(name: &'static str, run: fn(bool) -> bool) -> bool {
    let caught = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = caught.clone();
    explore(name, 4, move || {
        if !run(false) {
            seen.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    caught.load(std::sync::atomic::Ordering::Relaxed)
}

rusty_fork_test! {
    #[test]
    fn quiescence_is_seen_only_after_all_work_is_done() {
        explore("shade queue", 4, || {
            assert!(run(true), "a marker saw a quiescent queue while work was in transit");
        });
    }

    /// The control: leaving the busy state before publishing is caught.
    #[test]
    fn leaving_busy_before_publishing_is_caught() {
        assert!(
            control_is_caught("shade queue: leave busy before publishing (control)", run),
            "loom found no schedule that loses work in transit"
        );
    }

    #[test]
    fn with_forwarding_quiescence_is_seen_only_after_all_work_is_done() {
        explore("shade queue: forwarding between owners", 4, || {
            assert!(run_forwarding(true), "a marker saw a quiescent queue while forwarded work was in transit");
        });
    }

    /// The control: forwarding after leaving the busy state is caught.
    #[test]
    fn forwarding_after_leaving_busy_is_caught() {
        assert!(
            control_is_caught("shade queue: forward after leaving busy (control)", run_forwarding),
            "loom found no schedule that loses forwarded work"
        );
    }
}
