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

use loom::{
    sync::{
        atomic::{AtomicUsize, Ordering},
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
        let caught = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = caught.clone();
        explore("shade queue: leave busy before publishing (control)", 4, move || {
            if !run(false) {
                seen.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        });
        assert!(caught.load(std::sync::atomic::Ordering::Relaxed), "loom found no schedule that loses work in transit");
    }
}
