//! Shading: turning a white object grey and queueing it for the marker.
//!
//! Shading marks the object for the current epoch (one winner per object, see
//! [`crate::object::mark`]) and records it in the shading thread's own buffer — a mutator's
//! barrier slow path, an allocation while marking, a mark assist. Full buffers go to the global
//! queue ([`crate::grey_queue`]). Shading does not read the object: its mark bit is beside it,
//! so an object without pointer fields is queued like any other, and the marker, which reads
//! its header to scan it, finds nothing to scan.

use crate::object::{mark, Header, ObjPtr};

/// A private buffer of grey objects.
pub(crate) type ShadeBuffer = crate::grey_queue::ShadeBuffer<ObjPtr>;

/// The global queue of full buffers of grey objects.
pub(crate) type GreyQueue = crate::grey_queue::GreyQueue<ObjPtr>;

/// Shade `obj` for `epoch`: if this call turns it from white to grey, record it in `buf`.
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
