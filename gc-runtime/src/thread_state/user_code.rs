//! User code that a collection runs inside one of its calls, and what it may not do there.
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
//!   saying why — waiting for a cycle there could never end;
//! - attaching a mutator (`attach`, `try_attach`) is refused
//!   ([`AttachError::InCollectionCode`](crate::AttachError::InCollectionCode)), and
//!   `Mutator::blocking` runs its closure *without* detaching: both would otherwise wait out
//!   a stopped world on the way in (or back), while holding the lock — the same deadlock. (A
//!   hostile review found it: a key's `Eq` that attached, or went through `blocking`, stopped
//!   the collector for good in stop-the-world mode and under global stops.)
//! - dropping the thread's `Mutator` does not detach the thread until the last guard ends
//!   ([`detach_when_done`]): the thread stays running, and the collector keeps waiting for it,
//!   until the collection's call is over (see "Values under construction" for why).
//!
//! # Values under construction
//!
//! A `GcValueVec` or `GcValueMap` writes a new element with `HeapValue::store` before the
//! element joins the collection (`collections/heap_value.rs`). The pointers `store` writes may
//! come from a mutator that `store` itself reaches (a thread-local one: the caller of `push`
//! need not hold one), so nothing the borrow checker sees keeps them alive; they are locals of
//! this thread in all but name, in a place no collector scans, until the element joins. So the
//! collection holds a guard from before `store` until the element is in place: the thread passes
//! no safepoint, cannot `collect`, and stays running — the same promise a `Gc` local's borrow of
//! its mutator gives. (A hostile review found the hole: a `store` that collected, or dropped the
//! thread's mutator and waited for another thread's cycle, left the element pointing at a freed
//! object.) A running thread that passes no safepoint holds up every cycle, so this also covers
//! pointers that *other* threads write into the element while `store` runs (it may lend them the
//! element: values are `Sync`). A thread without a running mutator holds up nothing, so for a
//! value type with slots it is attached for the call, before the slots are armed, and detached
//! when the call's guard ends (`collections/heap_value.rs`, `new_element`; two more reviews found
//! that `store` could lend the element to a scoped thread that wrote an object into it,
//! collected, and read the freed object back). That attach is the one allowed inside a guard:
//! it happens only in the outermost one, before the collection takes its lock.

use std::{cell::Cell, ptr::NonNull};

use super::ThreadState;

/// The thread's user-code state: one thread-local, so a guard's entry and exit each find it
/// once.
struct UserCode {
    /// Guards alive on the thread.
    depth: Cell<u32>,
    /// The thread's state, if its `Mutator` was dropped while a guard was alive: detached for
    /// good when the last guard ends.
    detach_pending: Cell<Option<NonNull<ThreadState>>>,
    /// The thread's state, if it was attached again for a call inside `Mutator::blocking`:
    /// detached again when the last guard ends.
    detach_again: Cell<Option<NonNull<ThreadState>>>,
}

thread_local! {
    static USER_CODE: UserCode = const {
        UserCode { depth: Cell::new(0), detach_pending: Cell::new(None), detach_again: Cell::new(None) }
    };
}

/// Marks the current thread as running user code inside a collection's call while it lives
/// (under its lock, or writing a value not yet in it).
pub(crate) struct Guard(());

impl Guard {
    /// Enter user code inside a collection's call (nestable).
    #[inline]
    pub(crate) fn enter() -> Guard {
        USER_CODE.with(|u| u.depth.set(u.depth.get() + 1));
        Guard(())
    }
}

impl Drop for Guard {
    #[inline]
    fn drop(&mut self) {
        let (again, pending) = USER_CODE.with(|u| {
            let depth = u.depth.get() - 1;
            u.depth.set(depth);
            if depth == 0 {
                (u.detach_again.take(), u.detach_pending.take())
            } else {
                (None, None)
            }
        });
        if let Some(state) = again {
            // SAFETY: handed over by `detach_again_when_done`: the state is alive while the
            // `blocking` that detached it first runs, further up this thread's stack.
            unsafe { state.as_ref() }.detach();
        }
        if let Some(state) = pending {
            // SAFETY: `state` was handed over by the `Mutator` that owned it, on this thread, as
            // it was dropped (`detach_when_done`); nothing else refers to it since.
            unsafe { ThreadState::detach_for_good(state) };
        }
    }
}

/// Detach the thread whose `Mutator` is being dropped, `state`, when the last guard on the thread
/// ends, not now (see "Values under construction"); the thread stays running until then.
///
/// # Safety
/// A guard is alive on this thread ([`active`]); `state` came from `ThreadState::attach` on this
/// thread, and its `Mutator`, the only owner, is being dropped: no reference to it is used after
/// this call.
pub(crate) unsafe fn detach_when_done(state: NonNull<ThreadState>) {
    debug_assert!(active(), "a detach put off with no guard alive");
    let earlier = USER_CODE.with(|u| u.detach_pending.replace(Some(state)));
    // One mutator per thread, and none attaches while a guard is alive.
    debug_assert!(earlier.is_none(), "two detaches put off on one thread");
}

/// Detach `state` again when the last guard on the thread ends: it was attached again for a
/// collection's call inside `Mutator::blocking` (`attach_again_for_the_call`).
///
/// # Safety
/// `state` is this thread's, and the `Mutator::blocking` that detached it is running further up
/// this thread's stack (so the state outlives the guard).
pub(crate) unsafe fn detach_again_when_done(state: NonNull<ThreadState>) {
    let earlier = USER_CODE.with(|u| u.detach_again.replace(Some(state)));
    debug_assert!(earlier.is_none(), "attached again twice for one call");
}

/// Whether exactly one guard is alive on the current thread: a collection's call that is not
/// inside another's.
pub(crate) fn outermost() -> bool {
    USER_CODE.try_with(|u| u.depth.get()).is_ok_and(|d| d == 1)
}

/// Whether the current thread is running user code inside a collection's call.
pub(crate) fn active() -> bool {
    USER_CODE.try_with(|u| u.depth.get()).is_ok_and(|d| d > 0)
}
