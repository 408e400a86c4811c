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
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    thread,
};
use rusty_fork::rusty_fork_test;

use super::explore;
use crate::handshake::Handshake;

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

rusty_fork_test! {
    #[test]
    fn stop_the_world_excludes_user_code_and_sees_every_private_buffer() {
        explore("handshake", 3, || {
            let shared = Shared {
                hs: Arc::new(Handshake::default()),
                published: Arc::new(AtomicUsize::new(0)),
                in_user_code: Arc::new(AtomicUsize::new(0)),
            };
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
            shared.hs.ragged_flush(WARN_AFTER);

            m1.join().unwrap();
            m2.join().unwrap();
            assert_eq!(shared.published.load(Ordering::SeqCst), 3, "every shade was published exactly once");
            assert_eq!(shared.hs.counts(), crate::handshake::MutatorCounts::default());
        });
    }
}
