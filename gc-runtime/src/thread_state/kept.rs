//! A thread's mutator state kept, detached, between calls of
//! [`with_mutator`](crate::with_mutator).
//!
//! A thread that attaches for each stretch of heap work — an async runtime's worker, a pool's
//! thread, a server that attaches per request — paid for a whole mutator each time: a state
//! made and registered with the handshake, a pause log opened and closed, then all of it taken
//! down. Most of that is the same every time. So `with_mutator` does not free its state when
//! its closure returns: it detaches it, as [`Mutator::blocking`](crate::Mutator::blocking)
//! does (the cached pages go back, the collector no longer waits for the thread), and keeps it
//! here; the thread's next `with_mutator` — or [`attach`](crate::attach) — takes it back and
//! re-attaches it, as a return from `blocking` does. A kept state is, to the collector, a
//! mutator blocked between two stretches of work.
//!
//! While kept, the state is not [`CURRENT`](super::CURRENT): the thread has no mutator
//! (stores without one take the locked path, `attach` may be called), and the exit watch is
//! off (a kept state is not leaked). When the thread ends, its thread-local here is destroyed
//! and takes the state back and drops it as a [`Mutator`](crate::Mutator) would be dropped:
//! re-attached (which waits out a stopped world, and scans its value stacks if a marking asks),
//! then detached for good. A thread-local destroyed before another one whose destructor
//! calls `with_mutator` leaves nothing to take: that call attaches afresh and detaches for good.
//!
//! # Invariants
//!
//! - The cell holds null, or a state that [`ThreadState::attach`] made on this thread, that is
//!   detached, not `CURRENT` and not watched, and that nothing else refers to.

use std::{cell::Cell, ptr::NonNull};

use super::ThreadState;

/// The kept state, freed when the thread ends.
struct Kept(Cell<Option<NonNull<ThreadState>>>);

impl Drop for Kept {
    fn drop(&mut self) {
        if let Some(state) = self.0.take() {
            // SAFETY: a kept state (module invariants): made on this thread, detached, and
            // referred to by nothing else; it is resumed and freed here, once.
            unsafe {
                ThreadState::resume(state);
                ThreadState::detach_for_good(state);
            }
        }
    }
}

thread_local! {
    static KEPT: Kept = const { Kept(Cell::new(None)) };
}

/// Take this thread's kept state, if it has one (none once the thread-local was destroyed).
pub(crate) fn take() -> Option<NonNull<ThreadState>> {
    KEPT.try_with(|k| k.0.take()).ok().flatten()
}

/// Keep `state` — running on this thread, `CURRENT` and its only owner — for the next
/// `with_mutator`: detach it and store it. If the thread-local is gone (the thread is ending),
/// or a state is kept already, detach `state` for good instead.
///
/// # Safety
/// `state` came from [`ThreadState::attach`] (or [`take`] and [`ThreadState::resume`]) on this
/// thread, and its owner does not use it after this call.
pub(crate) unsafe fn keep(state: NonNull<ThreadState>) {
    let kept = KEPT.try_with(|k| {
        if k.0.get().is_some() {
            return false;
        }
        // SAFETY: guaranteed by the caller.
        unsafe { ThreadState::park(state) };
        k.0.set(Some(state));
        true
    });
    if kept != Ok(true) {
        // SAFETY: guaranteed by the caller (not parked: the closure returned before parking, or
        // never ran).
        unsafe { ThreadState::detach_for_good(state) };
    }
}
