//! The one place that names the synchronisation types the collector's protocols are built on:
//! atomics, the lock and condition variable of the handshake, and the shade queue's lock-free
//! queue.
//!
//! Every other module imports them from here, never from `std::sync`, `parking_lot` or
//! `crossbeam_queue` directly (crossbeam's `primitive` pattern). Under `cfg(gc_loom)` the same
//! names are loom's model-checked twins; the `gc-loom-models` crate compiles the protocol modules
//! (`handshake.rs`, `clock.rs`, `config/`, `named.rs`, `grey_queue.rs`, `object/mark_word.rs`,
//! `slot.rs`) from their real source files with that cfg set, and explores their
//! interleavings. The twins keep the
//! production API (`parking_lot`'s guard-by-reference condition variable, infallible locking),
//! so the protocol source is identical under both.
//!
//! One substitution is a model, not a twin: under loom the lock-free `SegQueue` becomes a locked
//! `VecDeque` with the same methods. The models check *our* protocol around the queue (the busy
//! count, recycling, quiescence); the queue's own lock-freedom is crossbeam's, model-checked
//! upstream.

#[cfg(not(gc_loom))]
pub(crate) mod sync {
    pub(crate) mod atomic {
        pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering};
    }
    pub(crate) use crossbeam_queue::SegQueue;
    pub(crate) use parking_lot::{Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

    /// Let other threads run for about `d` while polling for a condition.
    ///
    /// Under Miri, for [`MIRI_POLL_SCALE`] times as long: Miri's clock advances by a fixed
    /// step for each basic block it interprets (5 µs), so a 500 µs sleep lasts only about a
    /// hundred blocks of the other threads' work, fewer than one poll costs — the poller then
    /// took a quarter of all the interpreted work of a test whose collector waited on mutators
    /// (`ragged_flush`). The slower polls cost nothing there: when every thread waits, Miri
    /// moves its clock to the first deadline.
    pub(crate) fn pause(d: std::time::Duration) {
        std::thread::sleep(if cfg!(miri) { d * MIRI_POLL_SCALE } else { d });
    }

    /// How many times longer [`pause`] sleeps under Miri.
    const MIRI_POLL_SCALE: u32 = 40;
}

#[cfg(gc_loom)]
pub(crate) mod sync {
    pub(crate) mod atomic {
        // The same names as the production arm; the protocol modules use only some of them.
        #[allow(unused_imports)]
        pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering};
    }

    use std::{
        collections::VecDeque,
        ops::{Deref, DerefMut},
        time::Duration,
    };

    /// `parking_lot::Mutex`'s API over loom's mutex: locking cannot fail.
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    impl<T: Default> Default for Mutex<T> {
        fn default() -> Self {
            Mutex::new(T::default())
        }
    }

    /// The guard of [`Mutex`]; its inner guard is `None` only while a [`Condvar`] waits with it
    /// or [`MutexGuard::unlocked`] runs.
    pub(crate) struct MutexGuard<'a, T>(Option<loom::sync::MutexGuard<'a, T>>, &'a loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        /// A new mutex holding `value`.
        pub(crate) fn new(value: T) -> Self {
            Mutex(loom::sync::Mutex::new(value))
        }

        /// Lock; a poisoned lock is taken over (as `parking_lot` does).
        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            MutexGuard(Some(self.0.lock().unwrap_or_else(|e| e.into_inner())), &self.0)
        }
    }

    impl<T> MutexGuard<'_, T> {
        /// Run `f` with the lock released, then take it again (`parking_lot`'s `unlocked`).
        pub(crate) fn unlocked<U>(s: &mut Self, f: impl FnOnce() -> U) -> U {
            drop(s.0.take());
            let r = f();
            s.0 = Some(s.1.lock().unwrap_or_else(|e| e.into_inner()));
            r
        }
    }

    impl<T> Deref for MutexGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            self.0.as_deref().unwrap_or_else(|| unreachable!("guard is held"))
        }
    }

    impl<T> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            self.0.as_deref_mut().unwrap_or_else(|| unreachable!("guard is held"))
        }
    }

    /// `parking_lot::Condvar`'s API over loom's condition variable.
    pub(crate) struct Condvar(loom::sync::Condvar);

    impl Default for Condvar {
        fn default() -> Self {
            Condvar(loom::sync::Condvar::new())
        }
    }

    impl Condvar {
        /// Wait for a notification, releasing the lock meanwhile.
        pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
            let inner = guard.0.take().unwrap_or_else(|| unreachable!("guard is held"));
            guard.0 = Some(self.0.wait(inner).unwrap_or_else(|e| e.into_inner()));
        }

        /// Loom has no clock: a timed wait is an untimed one. Every caller re-checks its
        /// condition in a loop and every state change notifies, so no wake-up is lost.
        pub(crate) fn wait_for<T>(&self, guard: &mut MutexGuard<'_, T>, _timeout: Duration) {
            self.wait(guard);
        }

        /// Wake every waiter.
        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }
    }

    /// Loom has no clock: a pause while polling is a yield to the other threads.
    pub(crate) fn pause(_d: Duration) {
        loom::thread::yield_now();
    }

    /// `crossbeam_queue::SegQueue`'s API as a locked queue (see the module header).
    pub(crate) struct SegQueue<T>(loom::sync::Mutex<VecDeque<T>>);

    impl<T> Default for SegQueue<T> {
        fn default() -> Self {
            SegQueue(loom::sync::Mutex::new(VecDeque::new()))
        }
    }

    impl<T> SegQueue<T> {
        fn locked(&self) -> loom::sync::MutexGuard<'_, VecDeque<T>> {
            self.0.lock().unwrap_or_else(|e| e.into_inner())
        }

        /// Append at the back.
        pub(crate) fn push(&self, value: T) {
            self.locked().push_back(value);
        }

        /// Take from the front.
        pub(crate) fn pop(&self) -> Option<T> {
            self.locked().pop_front()
        }

        /// Whether the queue is empty.
        pub(crate) fn is_empty(&self) -> bool {
            self.locked().is_empty()
        }

        /// The number of queued values.
        pub(crate) fn len(&self) -> usize {
            self.locked().len()
        }
    }
}
