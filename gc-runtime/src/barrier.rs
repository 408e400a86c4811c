//! The write barrier: every store of a GC pointer into a slot or a root.
//!
//! # Pseudocode
//!
//! ```text
//! write(slot, ptr):
//!     if phase & BARRIER_BIT == 0:          // collector idle or sweeping: one relaxed load
//!         *slot = ptr                        // (Release: publishes the object's contents)
//!         return
//!     match barrier kind of this cycle:
//!         Dijkstra:  *slot = ptr;               shade(ptr)
//!         Yuasa:     old = *slot; *slot = ptr;  shade(old)
//!         Hybrid:    old = *slot; *slot = ptr;  shade(old); shade(ptr)
//!
//! swap / compare_exchange(slot, ...):         // Member::swap, take, compare_exchange
//!     the same shades as a store, if one happened, with the exact old value of the atomic
//!     read-modify-write; a failed compare-exchange is a load and shades nothing
//!
//! shade(obj):
//!     if obj is marked: return               // most shades: a load of its mark-bit word
//!     push it on this thread's buffer of candidates
//! ```
//!
//! `shade` records the white object, unmarked, in the current thread's buffer of candidates,
//! which a mark worker marks when it takes the published buffer (Go's `wbBuf`, with the marking
//! at the worker's end; see [`crate::shade`]): no locked instruction, and no mark bit written on
//! a mutator's thread, so a drain can mark with plain stores beside running mutators (see
//! `object/exclusive.rs`). The test of the mark bit comes first and needs no thread state, so a
//! store of (or over) an object already marked — most stores, once a marking is under way —
//! costs the store, a load of the slot and a load of a bitmap word.
//!
//! # Why each shade is needed
//!
//! 1. **Dijkstra (insertion; the barrier of Go's first write-barrier change,
//!    golang.org/cl/172190043).** Marking must never leave a black object pointing to a white
//!    one. Shading every stored pointer keeps that invariant, so a pointer
//!    the mutator moves from an unscanned object into a scanned one is not lost. Because
//!    locals cannot exist at safepoints and every root store is barriered, no stack or root
//!    rescan is needed at termination — the re-scan Go 1.5 had to do is gone by construction.
//! 2. **Yuasa (deletion, snapshot-at-the-beginning).** Every object reachable when marking
//!    started gets marked: to hide one, the mutator must overwrite the last pointer to it,
//!    and the barrier shades the overwritten pointer. New objects are black.
//! 3. **Hybrid (Go 1.8).** Both shades; robust if either argument fails for some store.
//!
//! # Memory ordering
//!
//! Go's first write-barrier change (golang.org/cl/172190043, 2014) shaded only when the
//! *slot's* object was already shaded (`shaded(slot)`). That test is a race: on real hardware
//! the mutator's store to the slot and its load of the container's colour can be reordered
//! against the marker's mark-then-scan, and both miss the pointer:
//!
//! | mutator | marker |
//! |---|---|
//! | `*slot = ptr` (sits in store buffer) | mark container black |
//! | load container colour → white: skip shade | scan container: reads old `*slot` |
//!
//! Go dropped the condition within weeks and V8 did the same in 2018. We shade
//! unconditionally while the barrier is on, so no fence is needed between the store and the
//! shade: whichever value the marker reads, the stored pointer is grey.
//!
//! # Reading the overwritten pointer
//!
//! The deletion barrier (Yuasa, hybrid) loads the old pointer and then stores the new one: two
//! plain atomic accesses, not an atomic swap. A locked exchange cost more than all the rest of
//! the slow path, and the snapshot argument does not need one. With two threads storing into
//! one slot at once, a load-then-store can miss an old value: both load `A`, one stores `B`,
//! the other stores `C` over it, and nobody shades `B`. But the missed value is always one that
//! another thread stored *during this marking*; the value the slot held when marking started
//! is never missed. The first store over it comes after its writer's load in program order,
//! and by read-write coherence that load reads the start value (nothing was stored before it
//! since mark start, and the mark-start pause — or, with per-thread handshakes, each mutator's
//! answer to the mark-start rounds — orders everything stored earlier before it). So
//! every pointer of the snapshot is shaded when it is overwritten, which is all Yuasa's
//! argument asks for: an object stored during marking, like `B`, was either reachable at mark
//! start (the snapshot marks it, or its last snapshot pointer's deletion shades it), allocated
//! black, or obtained from a weak upgrade, after which the thread shades what it stores (see
//! `weak.rs`). The hybrid barrier shades `B` when it is stored anyway.
//!
//! # Publication ordering
//!
//! A new object's header and value are written before its address is stored anywhere; the
//! store is `Release` and every slot read (`Member::get`, the marker) is `Acquire`, so whoever
//! finds the address sees an initialised object. On x86 both are plain moves.
//!
//! # Turning the barrier on
//!
//! The marker trusts that it sees every store only once every mutator has seen the barrier
//! on: the bit flips with the world stopped, or — with per-thread handshakes, the default — in
//! the mark-start window, before a handshake round that every mutator answers before anything
//! is scanned (see `collector/mod.rs`, "Mark start without a pause"). A thread *without* a
//! running mutator is not stopped; it can only empty slots (storing a pointer needs a local),
//! and it does so under the root-table lock, which the collector holds when it flips the bit
//! either way ([`clear_member`]).
//!
//! # Armed slots
//!
//! Before storing into a `Member`, the fast path checks that the slot is armed — inside an
//! allocated object (see [`crate::member`]). The check reads the cache line the store is
//! about to write; it is what makes `Member::new` and `Member::set` safe. It costs no branch of
//! its own: the unarmed sentinel is the only odd value a `Member` slot holds, and the barrier's
//! bit is bit 0 of the phase word, so one test of `phase word | slot value` sends both a marking
//! and an unarmed slot off the fast path ([`write_member`]). (A `TaggedMember`'s immediates can
//! be odd: its stores test the two apart, [`write_slot`].)

use crate::{
    clock::{self, BarrierState},
    config::BarrierKind,
    object::{mark, Header},
    primitive::sync::atomic::{AtomicPtr, Ordering},
    runtime::Runtime,
    shade, slot, thread_state,
};

// `write_member`'s single test: of a `Member` slot's values, bit 0 is set in the unarmed
// sentinel only (null is 0, an object's address is aligned); the phase word's barrier bit is its
// bit 0 too (asserted in `clock.rs`).
const _: () = assert!(slot::UNARMED_ADDR == 1 && std::mem::align_of::<Header>() >= 2);

/// Store into a `Member` slot — one that holds only null, an object's address or the unarmed
/// sentinel, never a `TaggedMember`'s immediate (those go through [`write_slot`]).
///
/// The fast path is one branch: the phase word's barrier bit and the slot's unarmed sentinel
/// are both bit 0 ([`clock::barrier_on_or_odd`]), so a single test sends both a marking and an
/// unarmed slot off it, to the marking path, which refuses an unarmed slot before it writes
/// anything (with the barrier off, that is all it does). The marking path stays inlined: a
/// call there costs a third of a marking store.
#[inline(always)]
pub(crate) fn write_member(slot: &AtomicPtr<Header>, new: *mut Header) {
    if clock::barrier_on_or_odd(slot.load(Ordering::Relaxed).addr()) {
        return write_marking(slot, new, true);
    }
    // Release: publication ordering.
    slot.store(new, Ordering::Release);
}

/// Store into any slot of the barrier's kinds, a `TaggedMember`'s too (whose immediates can
/// have bit 0 set, so [`write_member`]'s single test does not apply).
#[inline(always)]
pub(crate) fn write_slot(slot: &AtomicPtr<Header>, new: *mut Header) {
    if clock::barrier_on() {
        return write_marking(slot, new, true);
    }
    if slot::store_idle(slot, new, true).is_err() {
        unarmed_store();
    }
}

/// Empty a `Member` slot: a store of null. A thread without a running mutator can do this — it
/// needs no local, only a reference to an object: the finalizer running a destructor, a thread
/// holding a `'static` borrow of a leaked mutator's object (see `thread_state/mod.rs`,
/// "Threads that exit") — and for such a thread nothing orders the phase test before the store against a
/// pause, so it takes the locked path ([`store_unattached`]). Every other store carries a
/// local, which only a running mutator can have.
#[inline(always)]
pub(crate) fn clear_member(slot: &AtomicPtr<Header>) {
    write_non_object(slot, std::ptr::null_mut());
}

/// Store a value that names no object — null, or an immediate of a `TaggedMember` (see
/// `tagged.rs`) — into a `Member` slot. Like emptying it ([`clear_member`]), this needs no
/// local, so a thread without a running mutator may do it, and takes the locked path: under a
/// deletion barrier the pointer it overwrites must still be shaded.
#[inline(always)]
pub(crate) fn write_non_object(slot: &AtomicPtr<Header>, new: *mut Header) {
    debug_assert!(!slot::is_object(new), "write_non_object of an object's address");
    if thread_state::running_here() {
        write_slot(slot, new);
    } else {
        store_unattached(slot, new, true);
    }
}

/// A swap (`current` is `None`) or compare-exchange against `current` on a `Member` slot, by a
/// thread with a running mutator (the caller holds a `&Mutator`): returns the old value and
/// whether `new` was stored. While marking, a store shades as [`write_member`] does, with the
/// overwritten value known exactly; a failed compare-exchange stores nothing and shades
/// nothing (it is a load).
#[inline]
pub(crate) fn exchange_member(
    slot: &AtomicPtr<Header>,
    new: *mut Header,
    current: Option<*mut Header>,
) -> (*mut Header, bool) {
    let done = if clock::barrier_on() {
        exchange_marking(slot, new, current)
    } else {
        slot::exchange(slot, new, current, true)
    };
    done.unwrap_or_else(|_| unarmed_store())
}

#[inline(never)]
fn exchange_marking(
    slot: &AtomicPtr<Header>,
    new: *mut Header,
    current: Option<*mut Header>,
) -> Result<(*mut Header, bool), slot::Unarmed> {
    let Some(weak_upgrade_epoch) = thread_state::running_weak_upgrade_epoch() else {
        // The mutator is not running (user code the runtime runs, holding a leaked mutator):
        // the locked path, as for any thread without one.
        let rt = Runtime::get();
        return rt.roots.exchange_orphaned(slot, new, current, &rt.grey).1;
    };
    let (state, shades_new) = marking_shades(weak_upgrade_epoch);
    let (old, stored) = slot::exchange(slot, new, current, true)?;
    // SAFETY: the overwritten pointer was in a slot of a reachable object until the exchange,
    // the stored one is a local of this mutator, which has not passed a safepoint since; the
    // thread has a running mutator.
    unsafe { shade_all(slot::exchange_greys(old, new, stored, state.shades_old(), shades_new), state.epoch) };
    Ok((old, stored))
}

/// Store into a root cell (always armed).
#[inline(always)]
pub(crate) fn write_root(slot: &AtomicPtr<Header>, new: *mut Header) {
    if clock::barrier_on() {
        return write_marking(slot, new, false);
    }
    // Root cells are always armed: the store cannot fail.
    let _ = slot::store_idle(slot, new, false);
}

#[cold]
#[inline(never)]
fn unarmed_store() -> ! {
    panic!(
        "store into a Member slot that is not inside an allocated object (set, swap, take or \
         compare_exchange); put the Member in the object, allocate it, then store into the slot"
    )
}

/// The barrier while marking. The store and the tests of the mark bits need no thread state
/// beyond the running flag; the thread's shade buffer is reached only for an object still
/// white ([`shade_white`]), which is rare after the first moments of a marking: most stores
/// store, or overwrite, objects already marked.
///
/// Inlined into every store: out of line, the call's prologue and epilogue (five registers
/// saved and restored) were a third of the store's cost while marking.
#[inline(always)]
fn write_marking(slot: &AtomicPtr<Header>, new: *mut Header, check_armed: bool) {
    let Some(weak_upgrade_epoch) = thread_state::running_weak_upgrade_epoch() else {
        return store_unattached(slot, new, check_armed);
    };
    let (state, shades_new) = marking_shades(weak_upgrade_epoch);
    let Ok(greys) = slot::store_marking(slot, new, state.shades_old(), shades_new, check_armed) else {
        unarmed_store()
    };
    // SAFETY: an overwritten pointer was in a slot of a reachable object until the store, a
    // stored one is a local of this mutator, and it has not passed a safepoint since: both are
    // allocated; the thread has a running mutator.
    unsafe { shade_all(greys, state.epoch) };
}

/// The barrier in force for a running mutator's store, and whether it shades the stored
/// pointer.
#[inline]
fn marking_shades(weak_upgrade_epoch: u64) -> (BarrierState, bool) {
    // A running mutator saw the barrier on and cannot pass a pause before this store, so the
    // barrier is still on; were it not, shading both pointers is always safe. (`write_member`
    // also comes here for a slot with bit 0 set and the barrier off: only the unarmed sentinel,
    // which `store_marking` refuses before anything is written or shaded.)
    let state = clock::barrier_state().unwrap_or_else(|| BarrierState {
        kind: BarrierKind::Hybrid,
        epoch: clock::mark_epoch(),
        window: false,
    });
    // Under Yuasa, a thread that upgraded a weak reference during this marking may store an
    // object outside the snapshot: it shades what it stores as well (see `weak.rs`).
    let shades_new = state.shades_new(clock::allocation_views()) || weak_upgrade_epoch == state.epoch;
    (state, shades_new)
}

/// Shade every white object of `greys` for the marking `epoch`.
///
/// # Safety
/// The objects are allocated, and the current thread has a running mutator (it cannot pass a
/// pause meanwhile).
#[inline]
unsafe fn shade_all(greys: slot::Greys<Header>, epoch: u64) {
    for o in greys.into_iter().flatten() {
        // SAFETY: allocated (the caller). A set bit means marked in this marking (bits are all
        // clear at mark start and only a sweep, after the marking, clears them).
        if !unsafe { mark::is_marked(o.as_ptr(), epoch) } {
            // SAFETY: as above.
            unsafe { shade_white(o.as_ptr(), epoch) };
        }
    }
}

/// Shade an object the barrier found white: record it as a candidate in this mutator's buffer.
///
/// # Safety
/// `obj` is allocated, and the current thread has a running mutator (it cannot pass a pause
/// meanwhile).
#[cold]
#[inline(never)]
unsafe fn shade_white(obj: *const Header, epoch: u64) {
    // SAFETY: `obj` is allocated (the caller).
    let shaded =
        thread_state::with_running_mutator(|mu| unsafe { shade::shade_candidate(obj, epoch, mu.shade, mu.grey) });
    if shaded.is_none() {
        // The thread's state is borrowed: the store came from inside the runtime's own paths
        // (user code the runtime runs). Shade into the root table's orphan buffer instead.
        let rt = Runtime::get();
        // SAFETY: as above.
        unsafe { rt.roots.shade_orphaned(obj, &rt.grey) };
    }
}

/// A store on a thread without a running mutator: under the root table's orphan-shade
/// protocol (see `root_table.rs`).
#[cold]
#[inline(never)]
fn store_unattached(slot: &AtomicPtr<Header>, new: *mut Header, check_armed: bool) {
    let rt = Runtime::get();
    let (table, stored) = rt.roots.store_orphaned(slot, new, check_armed, &rt.grey);
    drop(table);
    if stored.is_err() {
        unarmed_store();
    }
}

#[cfg(all(test, not(gc_loom)))]
mod tests {
    use super::*;
    use crate::{clock::Phase, test_support, Gc, Member, Trace};

    #[derive(Trace)]
    struct Obj {
        next: Member<Obj>,
    }

    fn shaded(g: Gc<'_, Obj>) -> bool {
        // SAFETY: `g` is a live local.
        unsafe { test_support::shaded(g.header_ptr()) }
    }

    #[test]
    fn each_kind_shades_what_it_promises_and_idle_stores_shade_nothing() {
        let _s = test_support::serial();
        let mu = crate::attach();
        for kind in [BarrierKind::Dijkstra, BarrierKind::Yuasa, BarrierKind::Hybrid] {
            let a = mu.alloc(Obj { next: Member::new() });
            let b = mu.alloc(Obj { next: Member::new() });
            let c = mu.alloc(Obj { next: Member::new() });
            // Idle: a plain store.
            a.next.set(Some(b));
            let _clear = test_support::ClearMarks;
            assert!(!shaded(a) && !shaded(b) && !shaded(c), "objects are white outside a marking");
            // Pretend a cycle started: barrier on.
            clock::force(Phase::Mark, kind);
            a.next.set(Some(c)); // overwrites b with c
            clock::force(Phase::Off, kind);
            assert_eq!(shaded(b), kind.shades_old(), "{kind:?}: overwritten pointer");
            assert_eq!(shaded(c), kind.shades_new(), "{kind:?}: stored pointer");
            assert!(!shaded(a), "{kind:?}: the container is not shaded");
            // Shaded objects went to this mutator's buffer; drop them so no cycle sees them.
            with_running_shade_buffer_for_test();
            Runtime::get().grey.clear();
        }
    }

    #[test]
    fn swaps_and_compare_exchanges_shade_like_stores_and_a_failed_one_shades_nothing() {
        let _s = test_support::serial();
        let mu = crate::attach();
        for kind in [BarrierKind::Dijkstra, BarrierKind::Yuasa, BarrierKind::Hybrid] {
            let [a, b, c, d] = [(); 4].map(|()| mu.alloc(Obj { next: Member::new() }));
            a.next.set(Some(b));
            let clear = test_support::ClearMarks;
            clock::force(Phase::Mark, kind);
            let old = a.next.swap(Some(c), &mu); // b out, c in
            let missed = a.next.compare_exchange(Some(b), Some(d), &mu); // fails: c is there
            clock::force(Phase::Off, kind);
            assert!(old.is_some_and(|o| Gc::ptr_eq(o, b)) && a.next.points_to(c));
            assert!(missed.is_err_and(|found| found.is_some_and(|f| Gc::ptr_eq(f, c))));
            assert_eq!(shaded(b), kind.shades_old(), "{kind:?}: swapped-out pointer");
            assert_eq!(shaded(c), kind.shades_new(), "{kind:?}: swapped-in pointer");
            assert!(!shaded(d), "{kind:?}: a failed compare-exchange stores and shades nothing");
            with_running_shade_buffer_for_test();
            Runtime::get().grey.clear();
            drop(clear);
            // A successful one shades like a store of `d` over `c`.
            let _clear = test_support::ClearMarks;
            clock::force(Phase::Mark, kind);
            let replaced = a.next.compare_exchange(Some(c), Some(d), &mu);
            let taken = b.next.take(&mu);
            clock::force(Phase::Off, kind);
            assert!(replaced.is_ok_and(|was| was.is_some_and(|w| Gc::ptr_eq(w, c))) && a.next.points_to(d));
            assert!(taken.is_none() && b.next.is_none());
            assert_eq!(shaded(c), kind.shades_old(), "{kind:?}: replaced pointer");
            assert_eq!(shaded(d), kind.shades_new(), "{kind:?}: stored pointer");
            with_running_shade_buffer_for_test();
            Runtime::get().grey.clear();
        }
    }

    /// A store made while the runtime itself holds the thread's state (user code run from
    /// inside an allocation's mark assist: a hand-written `Trace` that breaks its contract and
    /// clears a slot) cannot reach the thread's shade buffer; the overwritten object goes to
    /// the root table's orphan buffer instead, and is still shaded.
    #[test]
    fn a_deletion_while_the_thread_state_is_borrowed_shades_into_the_orphan_buffer() {
        let _s = test_support::serial();
        let mu = crate::attach();
        for kind in [BarrierKind::Yuasa, BarrierKind::Hybrid] {
            let a = mu.alloc(Obj { next: Member::new() });
            let b = mu.alloc(Obj { next: Member::new() });
            a.next.set(Some(b));
            let _clear = test_support::ClearMarks;
            clock::force(Phase::Mark, kind);
            let inside = thread_state::with_running_mutator(|_borrowed| a.next.set(None));
            clock::force(Phase::Off, kind);
            assert!(inside.is_some(), "the closure ran with the thread's state borrowed");
            assert!(a.next.is_none());
            assert!(shaded(b), "{kind:?}: the overwritten object was shaded through the orphan buffer");
            let rt = Runtime::get();
            rt.roots.lock().flush_orphans(&rt.grey);
            assert_eq!(rt.grey.clear(), (1, 0), "{kind:?}: the orphan buffer held the one shaded object");
        }
    }

    fn with_running_shade_buffer_for_test() {
        thread_state::with_running_mutator(|mu| mu.shade.flush(mu.grey)).expect("a running mutator");
    }

    /// `write_member`'s one test covers both exits: an unarmed slot is refused with the
    /// barrier off and under every kind while marking, is left unarmed, and an armed slot
    /// beside it takes the same stores.
    #[test]
    fn one_test_refuses_an_unarmed_slot_idle_and_under_every_kind_and_leaves_it_unarmed() {
        let _s = test_support::serial();
        let mu = crate::attach();
        let target = mu.alloc(Obj { next: Member::new() });
        let armed = mu.alloc(Obj { next: Member::new() });
        let loose: Member<Obj> = Member::new();
        let _clear = test_support::ClearMarks;
        let mut refused = Vec::new();
        for (phase, kind) in [
            (Phase::Off, BarrierKind::Dijkstra),
            (Phase::Mark, BarrierKind::Dijkstra),
            (Phase::Mark, BarrierKind::Yuasa),
            (Phase::Mark, BarrierKind::Hybrid),
        ] {
            clock::force(phase, kind);
            let store = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| loose.set(Some(target))));
            armed.next.set(Some(target));
            let armed_took_it = armed.next.points_to(target);
            armed.next.set(None);
            clock::force(Phase::Off, BarrierKind::Dijkstra);
            refused.push((phase, kind, store.is_err(), loose.raw().addr() == slot::UNARMED_ADDR, armed_took_it));
        }
        with_running_shade_buffer_for_test();
        Runtime::get().grey.clear();
        for (phase, kind, panicked, still_unarmed, armed_took_it) in refused {
            assert!(panicked, "{phase:?}/{kind:?}: a store into an unarmed slot panics");
            assert!(still_unarmed, "{phase:?}/{kind:?}: the refused store wrote nothing");
            assert!(armed_took_it, "{phase:?}/{kind:?}: an armed slot takes the store");
        }
    }

    #[test]
    #[should_panic(expected = "not inside an allocated object")]
    fn an_unarmed_slot_refuses_stores_while_marking_too() {
        let _s = test_support::serial();
        let mu = crate::attach();
        let target = mu.alloc(Obj { next: Member::new() });
        let loose = Member::new();
        clock::force(Phase::Mark, BarrierKind::Yuasa);
        struct Off;
        impl Drop for Off {
            fn drop(&mut self) {
                clock::force(Phase::Off, BarrierKind::Yuasa);
            }
        }
        let _off = Off;
        loose.set(Some(target));
    }
}
