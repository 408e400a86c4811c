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
//! (stores without one take the locked path, `attach` may be called).
//!
//! # The thread's end
//!
//! The kept state must outlive every thread-local whose destructor might still call
//! `with_mutator` and reopen a value stack the state made — whichever order the thread-locals
//! are destroyed in (on Linux, the reverse of their first use). So it is not freed by a
//! thread-local's destructor: it stays watched by the exit hook that notices leaked mutators
//! (`exit.rs`), which runs after every thread-local is destroyed, marked as kept, and the hook
//! frees it ([`free_at_exit`]: re-attached, which waits out a stopped world and scans its value
//! stacks if a marking asks, then detached for good, as a dropped mutator is). The pointer lives
//! in a thread-local without a destructor, readable to the end. Where there is no such hook
//! (outside Unix), a thread-local's destructor frees it instead, with the ordering caveat above.
//!
//! # Invariants
//!
//! - [`KEPT`] holds `None`, or a state that [`ThreadState::attach`] made on this thread, that
//!   is detached, marked kept, not `CURRENT`, and that nothing else refers to.

use std::{cell::Cell, ptr::NonNull};

use super::{exit, ThreadState};

thread_local! {
    /// The kept state. No destructor, so it is readable while the thread's other thread-locals
    /// are destroyed, and from the exit hook.
    static KEPT: Cell<Option<NonNull<ThreadState>>> = const { Cell::new(None) };
    /// Where the thread's end has no hook (`exit::hooked`): frees the kept state when destroyed.
    static FREE_ON_DROP: FreeOnDrop = const { FreeOnDrop };
}

struct FreeOnDrop;

impl Drop for FreeOnDrop {
    fn drop(&mut self) {
        if let Some(state) = KEPT.with(Cell::get) {
            // SAFETY: a kept state (module invariants), freed once: `free_at_exit` takes it out.
            unsafe { free_at_exit(state) };
        }
    }
}

/// Take this thread's kept state, if it has one.
pub(crate) fn take() -> Option<NonNull<ThreadState>> {
    KEPT.with(Cell::take)
}

/// Keep `state` — running on this thread, `CURRENT` and its only owner — for the next
/// `with_mutator`: detach it and store it. If a state is kept already, or nothing would free a
/// kept state at the thread's end (no exit hook, and the fallback thread-local is gone: the
/// thread is ending), detach `state` for good instead.
///
/// # Safety
/// `state` came from [`ThreadState::attach`] (or [`take`] and [`ThreadState::resume`]) on this
/// thread, and its owner does not use it after this call.
pub(crate) unsafe fn keep(state: NonNull<ThreadState>) {
    let freed_at_end = exit::hooked() || FREE_ON_DROP.try_with(|_| ()).is_ok();
    if KEPT.with(Cell::get).is_some() || !freed_at_end {
        // SAFETY: guaranteed by the caller.
        unsafe { ThreadState::detach_for_good(state) };
        return;
    }
    // SAFETY: guaranteed by the caller.
    unsafe { ThreadState::park(state) };
    KEPT.with(|k| k.set(Some(state)));
}

/// Point the thread's exit watch at its kept state, or at nothing: called when a mutator
/// state is freed, which held the watch (a thread has one) — a kept state must stay watched
/// to be freed at the thread's end.
pub(crate) fn watch_again() {
    let kept = KEPT.with(Cell::get).map_or(std::ptr::null(), |s| s.as_ptr().cast_const().cast());
    exit::watch(kept);
}

/// Free a kept state as its thread ends: take it out of [`KEPT`], re-attach it and detach it
/// for good.
///
/// # Safety
/// `state` is this thread's kept state (module invariants), and the thread is ending.
pub(crate) unsafe fn free_at_exit(state: NonNull<ThreadState>) {
    KEPT.with(|k| {
        if k.get() == Some(state) {
            k.set(None);
        }
    });
    // SAFETY: a kept state of this thread, now referred to by nothing else (the caller).
    unsafe {
        ThreadState::resume(state);
        ThreadState::detach_for_good(state);
    }
}
