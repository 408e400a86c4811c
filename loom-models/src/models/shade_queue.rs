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
//! state. Then with object 0 deferred (its collection locked when first traced): one marker
//! may take it up after the other found the queues quiescent, and its trace forwards work to
//! that other marker, which must not have stopped. The control stops on "quiescent", then
//! "nothing deferred", two separate reads, instead of one consistent reading (`is_done`).

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

/// How the forwarding markers behave: the protocol, or the mistake one of its controls makes.
#[derive(Clone, Copy)]
struct Variant {
    /// Publish forwarded objects before leaving the busy state (the protocol), or after.
    publish_before_leaving: bool,
    /// Leave on one consistent reading of "quiescent and nothing deferred" (`is_done`, the
    /// protocol), or on "quiescent", then "nothing deferred" (two reads).
    consistent_exit: bool,
    /// Object 0 starts deferred (its collection was locked when first traced) instead of
    /// queued.
    deferred_root: bool,
}

/// The preemption bound of the forwarding models: their markers take more steps than the plain
/// ones, and at 4 each model explores 340 000–540 000 executions (27–41 s apiece, on two cores
/// shared with a build); at 3, 25 000–34 000 (about 2 s), and the controls are still caught.
const FORWARDING_BOUND: usize = 3;

const PROTOCOL: Variant = Variant { publish_before_leaving: true, consistent_exit: true, deferred_root: false };

/// Marker `me` of an exclusive job, shaped like `MarkWorker::drain_until_done`; returns false
/// if it stopped before every object was scanned, or found work left for the other marker after
/// that one stopped (nobody would ever take it: the broken variants would spin forever).
fn forwarding_marker(shared: &Shared, done: &[AtomicBool; 2], me: usize, v: Variant) -> bool {
    let complete = forwarding_marker_loop(shared, done, me, v);
    done[me].store(true, Ordering::SeqCst);
    complete
}

fn forwarding_marker_loop(shared: &Shared, done: &[AtomicBool; 2], me: usize, v: Variant) -> bool {
    let mut own = ShadeBuffer::default();
    let mut forward = Vec::new();
    // Scan `objs` (the caller is busy), then publish and leave the busy state.
    let mut scan_and_leave = |objs: &[usize]| {
        for &i in objs {
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
        let publish = |own: &mut ShadeBuffer<usize>, forward: &mut Vec<usize>| {
            own.flush(&shared.queue);
            if !forward.is_empty() {
                shared.queue.push_forwarded(1 - me, std::mem::take(forward));
            }
        };
        if v.publish_before_leaving {
            publish(&mut own, &mut forward);
            shared.queue.leave_busy();
        } else {
            shared.queue.leave_busy();
            publish(&mut own, &mut forward);
        }
    };
    let complete = || shared.scanned.load(Ordering::SeqCst) == (1 << CHAIN) - 1;
    loop {
        if let Some(buf) = shared.queue.pop_forwarded_busy(me).or_else(|| shared.queue.pop_busy()) {
            scan_and_leave(&buf);
            shared.queue.recycle(buf);
            continue;
        }
        // The other's state first: once it has stopped, marking was done, and in a correct
        // protocol nothing can be queued after that.
        let other_stopped = done[1 - me].load(Ordering::SeqCst);
        if shared.queue.is_quiescent() {
            if shared.queue.has_deferred() {
                if let Some(objs) = shared.queue.take_deferred_busy() {
                    scan_and_leave(&objs);
                }
                continue;
            }
            if !v.consistent_exit || shared.queue.is_done() {
                return complete();
            }
        } else if other_stopped {
            return false;
        }
        thread::yield_now();
    }
}

/// One execution of two forwarding markers, 0 here and 1 on another thread; returns whether
/// both saw a complete marking when they stopped.
fn run_forwarding(v: Variant) -> bool {
    let shared = Arc::new(Shared { queue: GreyQueue::default(), scanned: AtomicUsize::new(0) });
    if v.deferred_root {
        shared.queue.defer(0);
    } else {
        let mut root = ShadeBuffer::default();
        root.push(0, &shared.queue);
        root.flush(&shared.queue);
    }
    let done = Arc::new([AtomicBool::new(false), AtomicBool::new(false)]);
    let other = {
        let (shared, done) = (shared.clone(), done.clone());
        thread::spawn(move || forwarding_marker(&shared, &done, 1, v))
    };
    let here = forwarding_marker(&shared, &done, 0, v);
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

/// Whether loom finds a schedule in which `broken` — a model with one of the protocol's
/// mistakes — loses work or stops early.
fn control_is_caught(name: &'static str, bound: usize, broken: impl Fn() -> bool + Sync + Send + 'static) -> bool {
    let caught = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = caught.clone();
    explore(name, bound, move || {
        if !broken() {
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
            control_is_caught("shade queue: leave busy before publishing (control)", 4, || run(false)),
            "loom found no schedule that loses work in transit"
        );
    }

    #[test]
    fn with_forwarding_quiescence_is_seen_only_after_all_work_is_done() {
        explore("shade queue: forwarding between owners", FORWARDING_BOUND, || {
            assert!(run_forwarding(PROTOCOL), "a marker stopped while forwarded work was in transit");
        });
    }

    /// The control: forwarding after leaving the busy state is caught.
    #[test]
    fn forwarding_after_leaving_busy_is_caught() {
        let broken = Variant { publish_before_leaving: false, ..PROTOCOL };
        assert!(
            control_is_caught("shade queue: forward after leaving busy (control)", FORWARDING_BOUND, move || {
                run_forwarding(broken)
            }),
            "loom found no schedule that loses forwarded work"
        );
    }

    /// A deferred object taken up by one marker after the other found the queues quiescent:
    /// its trace forwards work to the other, which must still be there to take it.
    #[test]
    fn with_forwarding_a_deferred_object_taken_late_is_marked_before_anyone_stops() {
        let v = Variant { deferred_root: true, ..PROTOCOL };
        explore("shade queue: forwarding, deferred root", FORWARDING_BOUND, move || {
            assert!(run_forwarding(v), "a marker stopped while a deferred object's work was still to come");
        });
    }

    /// The control: leaving on "quiescent", then "nothing deferred" — two reads between which
    /// the other marker takes the deferred object — is caught.
    #[test]
    fn leaving_on_two_separate_reads_is_caught() {
        let broken = Variant { deferred_root: true, consistent_exit: false, ..PROTOCOL };
        assert!(
            control_is_caught("shade queue: forwarding, leave on two reads (control)", FORWARDING_BOUND, move || {
                run_forwarding(broken)
            }),
            "loom found no schedule in which a marker leaves before the deferred work is done"
        );
    }
}
