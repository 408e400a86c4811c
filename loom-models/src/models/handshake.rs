//! Model (a): the stop-the-world handshake against two mutators that race it by registering,
//! polling at safepoints, detaching, re-attaching and leaving.
//!
//! Each mutator counts itself in `in_user_code` while it runs user code (between a safepoint
//! and the next), and "shades" into a private counter that its flush publishes. While the
//! world is stopped the collector checks that no mutator is in user code and that every
//! mutator's private buffer has been published; after it restarts the world, a ragged flush must
//! come back without deadlock. loom also reports any deadlock or lost wake-up as a failure.

use std::time::Duration;

use loom::{
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    thread,
};
use rusty_fork::rusty_fork_test;

use super::explore;
use crate::handshake::{AnswerAt, Handshake};

const WARN_AFTER: Duration = Duration::from_secs(3600);

/// One mutator's view: the handshake, its private buffer and the shared counters.
struct Mutator {
    hs: Arc<Handshake>,
    id: usize,
    ack: std::sync::Arc<crate::primitive::sync::atomic::AtomicU64>,
    private: Arc<AtomicUsize>,
    published: Arc<AtomicUsize>,
    in_user_code: Arc<AtomicUsize>,
}

impl Mutator {
    fn register(shared: &Shared, private: Arc<AtomicUsize>) -> Mutator {
        let id = shared.hs.register("mutator".into());
        shared.in_user_code.fetch_add(1, Ordering::SeqCst);
        Mutator {
            hs: shared.hs.clone(),
            id,
            ack: shared.hs.ack_cell(id),
            private,
            published: shared.published.clone(),
            in_user_code: shared.in_user_code.clone(),
        }
    }

    fn flush(private: &AtomicUsize, published: &AtomicUsize) {
        let n = private.swap(0, Ordering::SeqCst);
        published.fetch_add(n, Ordering::SeqCst);
    }

    /// User code: shade one object into the private buffer.
    fn shade(&self) {
        self.private.fetch_add(1, Ordering::SeqCst);
    }

    /// `Mutator::safepoint`: the fast-path poll, then the slow path.
    fn safepoint(&self) {
        if self.hs.poll_requested() {
            self.in_user_code.fetch_sub(1, Ordering::SeqCst);
            let (private, published) = (&self.private, &self.published);
            self.hs.safepoint_slow(self.id, &self.ack, &mut || Self::flush(private, published));
            self.in_user_code.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// An allocation that refills its cache: answer a round that allows it. Only the first
    /// round of the model does.
    fn allocate(&self) {
        if let Some(seq) = self.hs.allocation_answer_due(&self.ack) {
            assert_eq!(seq, 1, "a round meant for safepoints was answered at an allocation");
            Self::flush(&self.private, &self.published);
            self.hs.acknowledge(&self.ack, seq);
        }
    }

    fn detach(&self) {
        self.in_user_code.fetch_sub(1, Ordering::SeqCst);
        self.hs.detach(self.id, || Self::flush(&self.private, &self.published));
    }

    fn attach(&self) {
        self.hs.attach(self.id);
        self.in_user_code.fetch_add(1, Ordering::SeqCst);
    }

    fn leave(self) {
        self.in_user_code.fetch_sub(1, Ordering::SeqCst);
        self.hs.unregister(self.id, || Self::flush(&self.private, &self.published));
    }
}

#[derive(Clone)]
struct Shared {
    hs: Arc<Handshake>,
    published: Arc<AtomicUsize>,
    in_user_code: Arc<AtomicUsize>,
}

impl Shared {
    /// A fresh handshake, nothing published, nobody in user code.
    fn new() -> Shared {
        Shared {
            hs: Arc::new(Handshake::default()),
            published: Arc::new(AtomicUsize::new(0)),
            in_user_code: Arc::new(AtomicUsize::new(0)),
        }
    }
}

rusty_fork_test! {
    /// A round the collector marks answerable at allocations completes while a mutator only
    /// allocates (no safepoint), and publishes what that mutator shaded before; the
    /// safepoint-only round requested right after it is never answered by an allocation, even
    /// one that looks while it is being requested.
    #[test]
    fn allocations_answer_only_the_rounds_that_allow_it() {
        explore("handshake: rounds answered at an allocation", 3, || {
            let shared = Shared::new();
            let first_round_over = Arc::new(AtomicBool::new(false));
            // Registered, with a grey object, before the first round: it must answer it.
            let m = Mutator::register(&shared, Arc::new(AtomicUsize::new(0)));
            m.shade();
            let mutator = {
                let over = first_round_over.clone();
                thread::spawn(move || {
                    // Allocations only, until the collector has its first round's answers.
                    while !over.load(Ordering::SeqCst) {
                        m.allocate();
                        thread::yield_now();
                    }
                    // The second round may be requested meanwhile: an allocation must leave it.
                    m.allocate();
                    m.safepoint();
                    m.leave();
                })
            };
            shared.hs.ragged_flush(WARN_AFTER, AnswerAt::SafepointsAndAllocations);
            assert_eq!(shared.published.load(Ordering::SeqCst), 1, "the answer did not publish the buffer");
            first_round_over.store(true, Ordering::SeqCst);
            shared.hs.ragged_flush(WARN_AFTER, AnswerAt::Safepoints);
            mutator.join().unwrap();
        });
    }

    #[test]
    fn stop_the_world_excludes_user_code_and_sees_every_private_buffer() {
        explore("handshake", 3, || {
            let shared = Shared::new();
            let buffers = [Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0))];
            // Mutator 1 detaches and re-attaches between two safepoints.
            let m1 = {
                let (shared, private) = (shared.clone(), buffers[0].clone());
                thread::spawn(move || {
                    let m = Mutator::register(&shared, private);
                    m.shade();
                    m.safepoint();
                    m.detach();
                    m.attach();
                    m.shade();
                    m.safepoint();
                    m.leave();
                })
            };
            // Mutator 2 shades and leaves.
            let m2 = {
                let (shared, private) = (shared.clone(), buffers[1].clone());
                thread::spawn(move || {
                    let m = Mutator::register(&shared, private);
                    m.shade();
                    m.safepoint();
                    m.leave();
                })
            };

            shared.hs.stop_the_world(WARN_AFTER);
            assert_eq!(
                shared.in_user_code.load(Ordering::SeqCst),
                0,
                "a mutator runs user code while the world is stopped"
            );
            for b in &buffers {
                assert_eq!(b.load(Ordering::SeqCst), 0, "a stopped mutator kept grey objects private");
            }
            shared.hs.start_the_world();
            shared.hs.ragged_flush(WARN_AFTER, AnswerAt::Safepoints);

            m1.join().unwrap();
            m2.join().unwrap();
            assert_eq!(shared.published.load(Ordering::SeqCst), 3, "every shade was published exactly once");
            assert_eq!(shared.hs.counts(), crate::handshake::MutatorCounts::default());
        });
    }
}
