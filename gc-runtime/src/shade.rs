//! Shading: turning a white object grey and queueing it for the marker.
//!
//! A mark worker, or the collector between drains, shades an object by marking it for the
//! current epoch (one winner per object, see [`crate::object::mark`]) and recording it in its
//! own buffer ([`shade`]); full buffers go to the global queue ([`crate::grey_queue`]). So does
//! a store on a thread without a mutator, under the root table's lock (see `root_table.rs`).
//!
//! A mutator's shades do not mark. Its barrier slow path, a weak read while marking, a root
//! store and the scan of its value stacks record the white objects they find, unmarked, as
//! *candidates* in the thread's buffer ([`shade_candidate`]), published on the candidates
//! queue; a mark worker marks them when it takes the buffer (see `grey_queue.rs`,
//! "Candidates"). That keeps the barrier away from the mark bits, which a mark worker of an
//! exclusive job writes with plain stores (see `object/exclusive.rs`), and takes the locked
//! instruction off it. (A mutator's mark assist does mark, as a worker outside a job does, and
//! logs its marks: see `mutator_marks.rs`.)
//!
//! Neither reads the object: its mark bit is beside it, so an object without pointer fields is
//! queued like any other, and the marker, which reads its header to scan it, finds nothing to
//! scan.

use crate::object::{mark, Header, ObjPtr};

/// A private buffer of grey objects or of candidates.
pub(crate) type ShadeBuffer = crate::grey_queue::ShadeBuffer<ObjPtr>;

/// The global queue of full buffers of grey objects.
pub(crate) type GreyQueue = crate::grey_queue::GreyQueue<ObjPtr>;

/// Shade `obj` for `epoch`: if this call turns it from white to grey, record it in `buf`.
/// Never on a mutator's thread with the mutator running (see [`shade_candidate`]).
///
/// # Safety
/// `obj` is allocated (reachable by the caller through a slot, root or local).
#[inline]
pub(crate) unsafe fn shade(obj: *const Header, epoch: u64, buf: &mut ShadeBuffer, queue: &GreyQueue) {
    let Some(nn) = std::ptr::NonNull::new(obj.cast_mut()) else { return };
    // SAFETY: the caller guarantees the object is allocated.
    if unsafe { mark::try_mark(obj, epoch) } {
        buf.push(ObjPtr(nn), queue);
    }
}

/// A mutator's shade: if `obj` is not marked for `epoch`, record it in the mutator's buffer of
/// candidates `buf` (unless it is the entry recorded last: a loop that stores one white object
/// again and again records it once).
///
/// # Safety
/// `obj` is allocated (reachable by the caller through a slot, root or local).
#[inline]
pub(crate) unsafe fn shade_candidate(obj: *const Header, epoch: u64, buf: &mut ShadeBuffer, queue: &GreyQueue) {
    let Some(nn) = std::ptr::NonNull::new(obj.cast_mut()) else { return };
    // SAFETY: the caller guarantees the object is allocated.
    if unsafe { mark::is_marked(obj, epoch) } || buf.last() == Some(&ObjPtr(nn)) {
        return;
    }
    buf.push(ObjPtr(nn), queue);
}
