//! Marking one object: the one place that knows where an object's mark is.
//!
//! An object in a page is marked by its bit in the page's bitmap (see `mark_bits.rs`); a
//! large object, which has a block of its own, by a [`MarkWord`] holding the epoch of the last
//! marking that reached it, in the 8 bytes in front of its header (see `heap/large.rs`). Which
//! of the two an object is, is decided by its address alone, so marking never reads the object.
//!
//! Both kinds give the same answers while they are asked: during a marking and until its sweep
//! (a page's bits are cleared by the sweep, a large object's epoch simply becomes old). Every
//! caller — the marker, barrier slow paths, assists, checkmark, the weak-reference verdict —
//! asks in that window.

use super::{header::Header, mark_word::MarkWord};
use crate::{
    mark_bits::{self, Runs},
    primitive::sync::atomic::Ordering,
};

/// Bytes in front of a large object's header that hold its [`MarkWord`].
pub(crate) const LARGE_MARK_BYTES: usize = std::mem::size_of::<MarkWord>();

/// Mark `obj` for the marking `epoch`. Returns `true` for exactly one caller per object and
/// marking: the one that turned it from white to grey and must queue it.
///
/// # Safety
/// `obj` is an allocated object, with the provenance of the memory it lives in.
#[inline(always)]
pub(crate) unsafe fn try_mark(obj: *const Header, epoch: u64) -> bool {
    // SAFETY: guaranteed by the caller.
    unsafe { try_mark_in(obj, epoch, Runs::now()) }
}

/// [`try_mark`], with the runs as the caller read them (a mark worker's copy).
///
/// # Safety
/// As [`try_mark`].
#[inline(always)]
pub(crate) unsafe fn try_mark_in(obj: *const Header, epoch: u64, runs: Runs) -> bool {
    // SAFETY: guaranteed by the caller.
    match unsafe { mark_bits::mark_word_in(obj.cast(), runs) } {
        Some((word, bit)) => mark_bits::try_mark_bit(word, bit),
        // SAFETY: not in a page: a large object (the caller guarantees it is allocated).
        None => unsafe { large_mark(obj) }.try_mark(epoch),
    }
}

/// Whether the marking `epoch` (the current or last one, not yet swept) reached `obj`.
///
/// # Safety
/// As [`try_mark`].
#[inline]
pub(crate) unsafe fn is_marked(obj: *const Header, epoch: u64) -> bool {
    // SAFETY: guaranteed by the caller.
    match unsafe { mark_bits::mark_word(obj.cast()) } {
        Some((word, bit)) => word.load(Ordering::Relaxed) & bit != 0,
        // SAFETY: not in a page: a large object (the caller guarantees it is allocated).
        None => unsafe { large_mark(obj) }.epoch() >= epoch,
    }
}

/// The mark word of a large object.
///
/// # Safety
/// `obj` is an allocated large object, with the provenance of its block.
#[inline]
pub(crate) unsafe fn large_mark<'a>(obj: *const Header) -> &'a MarkWord {
    // SAFETY: a large object's block has its mark word right in front of the header (see
    // `heap/large.rs`), inside the block the pointer's provenance covers.
    unsafe { &*obj.cast::<u8>().sub(LARGE_MARK_BYTES).cast::<MarkWord>() }
}
