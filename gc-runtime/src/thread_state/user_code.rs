//! User code that runs under a collection's lock, and what it may not do there.
//!
//! A `GcMap` compares keys (`Eq`), clones them (`keys`, `entries`) and formats them (`Debug`)
//! while it holds its lock. That code may allocate and use other collections, but it must not
//! **park** this thread at a safepoint: a writer of the same map may be blocked on the lock —
//! a running mutator, blocked inside the library, where it cannot wrap the wait in
//! `Mutator::blocking` — so a pause would wait for the writer, the writer for this thread, and
//! this thread for the pause. So the map marks such code with a [`Guard`], and while one is
//! alive on the thread:
//!
//! - a safepoint does nothing: parking is put off to the next safepoint after the lock is
//!   released (sound: a safepoint is an opportunity for the collector, never an obligation);
//! - `Mutator::collect` (and `try_reserve` when it would collect) panics with a message
//!   saying why — waiting for a cycle there could never end.
//!
//! - attaching a mutator (`attach`, `try_attach`) is refused
//!   ([`AttachError::InCollectionCode`](crate::AttachError::InCollectionCode)), and
//!   `Mutator::blocking` runs its closure *without* detaching: both would otherwise wait out
//!   a stopped world on the way in (or back), while holding the lock — the same deadlock. (A
//!   hostile review found it: a key's `Eq` that attached, or went through `blocking`, stopped
//!   the collector for good in stop-the-world mode and under global stops.)

use std::cell::Cell;

thread_local! {
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Marks the current thread as running user code under a collection's lock while it lives.
pub(crate) struct Guard(());

impl Guard {
    /// Enter user code under a lock (nestable).
    #[inline]
    pub(crate) fn enter() -> Guard {
        DEPTH.with(|d| d.set(d.get() + 1));
        Guard(())
    }
}

impl Drop for Guard {
    #[inline]
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get() - 1));
    }
}

/// Whether the current thread is running user code under a collection's lock.
pub(crate) fn active() -> bool {
    DEPTH.try_with(Cell::get).is_ok_and(|d| d > 0)
}
