//! Model (c): mark termination racing a mutator that shades into its private buffer.
//!
//! The collector terminates marking as `collector/mod.rs` does: a ragged flush (every running
//! mutator publishes its buffer at its next safepoint), drain the queue, stop the world, and
//! accept only if the queue is then quiescent — otherwise restart the world and try again, and
//! after two failed confirmations drain inside the pause. Meanwhile the mutator keeps shading
//! between safepoints. When termination is accepted (world stopped), every object the mutator
//! shaded must have reached the marker. The control: a mutator that does not publish its
//! buffer when it parks must make the model fail.

use std::time::Duration;

use loom::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    thread,
};
use rusty_fork::rusty_fork_test;

use super::explore;
use crate::{
    grey_queue::GreyQueue,
    grey_queue::ShadeBuffer,
    handshake::{AnswerAt, Handshake},
};

const WARN_AFTER: Duration = Duration::from_secs(3600);

struct Shared {
    hs: Handshake,
    queue: GreyQueue<usize>,
    shaded: AtomicUsize,
}

/// Pop every queued buffer and count its entries (`MarkWorker::drain_until_quiescent`).
fn drain(shared: &Shared, popped: &mut usize) {
    while let Some(buf) = shared.queue.pop_busy() {
        *popped += buf.len();
        shared.queue.recycle(buf);
        shared.queue.leave_busy();
    }
}

/// One execution; returns (shaded, reached the marker) as seen at accepted termination.
fn run(flush_when_parking: bool) -> (usize, usize) {
    let shared =
        Arc::new(Shared { hs: Handshake::default(), queue: GreyQueue::default(), shaded: AtomicUsize::new(0) });
    let collector = {
        let shared = shared.clone();
        thread::spawn(move || {
            let mut popped = 0;
            let mut attempts = 0;
            loop {
                shared.hs.ragged_flush(WARN_AFTER, AnswerAt::Safepoints);
                drain(&shared, &mut popped);
                shared.hs.stop_the_world(WARN_AFTER);
                if shared.queue.is_quiescent() {
                    break;
                }
                attempts += 1;
                if attempts == 2 {
                    drain(&shared, &mut popped);
                    break;
                }
                shared.hs.start_the_world();
            }
            let seen = (shared.shaded.load(Ordering::SeqCst), popped);
            shared.hs.start_the_world();
            seen
        })
    };

    // The mutator: shade, safepoint, shade, safepoint, shade, leave.
    let id = shared.hs.register("mutator".into());
    let ack = shared.hs.ack_cell(id);
    let mut buf = ShadeBuffer::default();
    let mut next = 0;
    let mut shade = |buf: &mut ShadeBuffer<usize>| {
        buf.push(next, &shared.queue);
        next += 1;
        shared.shaded.fetch_add(1, Ordering::SeqCst);
    };
    let safepoint = |buf: &mut ShadeBuffer<usize>| {
        if shared.hs.poll_requested() {
            shared.hs.safepoint_slow(id, &ack, &mut || {
                if flush_when_parking {
                    buf.flush(&shared.queue);
                }
            });
        }
    };
    shade(&mut buf);
    safepoint(&mut buf);
    shade(&mut buf);
    safepoint(&mut buf);
    shade(&mut buf);
    shared.hs.unregister(id, || buf.flush(&shared.queue));
    collector.join().unwrap()
}

rusty_fork_test! {
    #[test]
    fn accepted_termination_has_seen_every_shaded_object() {
        explore("termination", 6, || {
            let (shaded, reached) = run(true);
            assert_eq!(shaded, reached, "termination accepted with grey objects still private");
        });
    }

    /// The control: a mutator that skips its flush while the collector waits for it is caught.
    #[test]
    fn a_mutator_that_keeps_its_buffer_when_asked_is_caught() {
        let caught = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = caught.clone();
        explore("termination: no flush at safepoints (control)", 6, move || {
            let (shaded, reached) = run(false);
            if shaded != reached {
                seen.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        });
        assert!(caught.load(std::sync::atomic::Ordering::Relaxed), "loom found no schedule that loses a grey object");
    }
}
