//! Slots: the atomic pointer words inside objects, root cells and collections, and the store
//! half of the write barrier — the store itself, the armed-slot check, and which pointers the
//! store obliges the caller to shade.
//!
//! A slot holds null, an object's address, [`UNARMED_ADDR`] (a `Member` outside an
//! allocated object, see `member.rs`), or — in a `TaggedMember` only — an immediate at or
//! above [`IMMEDIATE_MIN`] (see `tagged.rs`). [`store_idle`] is the store with the barrier off;
//! [`store_marking`] the store with it on; [`exchange`] a swap or compare-exchange, with
//! [`exchange_greys`] what it must shade. Both are generic over the pointee and touch nothing
//! but the slot, so the loom models (`gc-loom-models`) race this very code against a marker;
//! `barrier.rs` adds the phase test and the shading, `root_table.rs` the locked variant for
//! threads without a mutator. The orderings are explained in `barrier.rs` ("Publication
//! ordering", "Why each shade is needed").

use std::ptr::NonNull;

use crate::primitive::sync::atomic::{AtomicPtr, Ordering};

/// The address an unarmed slot holds (never a valid object address: objects are 8-aligned).
pub(crate) const UNARMED_ADDR: usize = 1;

/// The least slot value that is an *immediate* — a number or small integer that a
/// [`TaggedMember`](crate::TaggedMember) holds in place of a pointer (see `tagged.rs`) — and
/// never an address: the heap's memory lies below it (`raw.rs` refuses any other).
#[cfg(target_pointer_width = "64")]
pub(crate) const IMMEDIATE_MIN: usize = 1 << 48;
/// (No immediates on targets with narrower pointers: every value but null and the unarmed
/// sentinel is an address.)
#[cfg(not(target_pointer_width = "64"))]
pub(crate) const IMMEDIATE_MIN: usize = usize::MAX;

/// Whether a slot value names an object: neither null, nor the unarmed sentinel, nor an
/// immediate. Every reader of slots — the marker, checkmark, the barrier's shades, the
/// ephemeron pass — asks this of the value it loaded, so an immediate is never followed.
#[inline(always)]
pub(crate) fn is_object<T>(p: *mut T) -> bool {
    // One subtraction and one comparison: `UNARMED_ADDR < addr < IMMEDIATE_MIN`.
    p.addr().wrapping_sub(UNARMED_ADDR + 1) < IMMEDIATE_MIN - (UNARMED_ADDR + 1)
}

/// A store into a slot that is not inside an allocated object; the slot is left unchanged.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Unarmed;

/// The objects a barriered store must shade: the overwritten one, the stored one, or both.
pub(crate) type Greys<T> = [Option<NonNull<T>>; 2];

/// Store with the barrier off. `check_armed` is false for root cells, which are always armed.
#[inline(always)]
pub(crate) fn store_idle<T>(slot: &AtomicPtr<T>, new: *mut T, check_armed: bool) -> Result<(), Unarmed> {
    if check_armed && slot.load(Ordering::Relaxed).addr() == UNARMED_ADDR {
        return Err(Unarmed);
    }
    // Release: publication ordering.
    slot.store(new, Ordering::Release);
    Ok(())
}

/// A read-modify-write of a slot, as one atomic step: a swap (`current` is `None`) or a
/// compare-exchange against `current`. Returns the value the slot held and whether `new` was
/// stored. An unarmed slot is refused (and left as it was) before anything is written.
///
/// `AcqRel` on success: Acquire for the old value, which the caller gets as a local (its
/// referent's initialisation must be visible, as for a load), Release to publish `new`
/// (publication ordering); `Acquire` on failure, a load.
#[inline]
pub(crate) fn exchange<T>(
    slot: &AtomicPtr<T>,
    new: *mut T,
    current: Option<*mut T>,
    check_armed: bool,
) -> Result<(*mut T, bool), Unarmed> {
    if check_armed && slot.load(Ordering::Relaxed).addr() == UNARMED_ADDR {
        // Armed slots never become unarmed, nor unarmed ones armed once their object is
        // published: the test cannot be overtaken by another thread's write.
        return Err(Unarmed);
    }
    Ok(match current {
        None => (slot.swap(new, Ordering::AcqRel), true),
        Some(current) => match slot.compare_exchange(current, new, Ordering::AcqRel, Ordering::Acquire) {
            Ok(old) => (old, true),
            Err(actual) => (actual, false),
        },
    })
}

/// What an exchange that stored `new` over `old` obliges the caller to shade (nothing if it
/// stored nothing): as [`store_marking`], with the old value known exactly.
#[inline]
pub(crate) fn exchange_greys<T>(
    old: *mut T,
    new: *mut T,
    stored: bool,
    shades_old: bool,
    shades_new: bool,
) -> Greys<T> {
    let mut greys = [None, None];
    if stored && shades_old && is_object(old) {
        greys[0] = NonNull::new(old);
    }
    if stored && shades_new && is_object(new) {
        greys[1] = NonNull::new(new);
    }
    greys
}

/// Store with the barrier on; returns what the caller must shade: the overwritten pointer if
/// `shades_old` (Yuasa, hybrid), the stored one if `shades_new` (Dijkstra, hybrid).
#[inline]
pub(crate) fn store_marking<T>(
    slot: &AtomicPtr<T>,
    new: *mut T,
    shades_old: bool,
    shades_new: bool,
    check_armed: bool,
) -> Result<Greys<T>, Unarmed> {
    let old = if shades_old {
        // A load and a store, not a swap: a locked exchange cost more than the rest of the
        // barrier's slow path together, and the deletion barrier does not need one (see
        // `barrier.rs`, "Reading the overwritten pointer"). Acquire orders the old referent's
        // initialisation (and its page's format) before this thread shades it and hands it to
        // a scanner; Release publishes `new`.
        let old = slot.load(Ordering::Acquire);
        if check_armed && old.addr() == UNARMED_ADDR {
            return Err(Unarmed);
        }
        slot.store(new, Ordering::Release);
        old
    } else {
        store_idle(slot, new, check_armed)?;
        std::ptr::null_mut()
    };
    Ok(exchange_greys(old, new, true, shades_old, shades_new))
}
