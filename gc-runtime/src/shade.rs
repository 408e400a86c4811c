//! Shading: turning a white object grey and queueing it for the marker.
//!
//! Shading marks the object for the current epoch (one winner per object, see
//! [`crate::object::mark_word`]) and records it in the shading thread's own buffer — a mutator's
//! barrier slow path, an allocation while marking, a mark assist. Full buffers go to the global
//! queue ([`crate::grey_queue`]). Objects without pointer fields have nothing to scan: they
//! become black at once and never enter a buffer.

use crate::object::{Header, ObjPtr};

/// A private buffer of grey objects.
pub(crate) type ShadeBuffer = crate::grey_queue::ShadeBuffer<ObjPtr>;

/// The global queue of full buffers of grey objects.
pub(crate) type GreyQueue = crate::grey_queue::GreyQueue<ObjPtr>;

/// Shade `obj` for `epoch`: if this call turns it from white to grey and it has fields to
/// scan, record it in `buf`. Objects without pointers become black at once.
///
/// # Safety
/// `obj` is allocated (reachable by the caller through a slot, root or local).
#[inline]
pub(crate) unsafe fn shade(obj: *const Header, epoch: u64, buf: &mut ShadeBuffer, queue: &GreyQueue) {
    let Some(nn) = std::ptr::NonNull::new(obj.cast_mut()) else { return };
    let obj = ObjPtr(nn);
    // SAFETY: the caller guarantees the object is allocated.
    let header = unsafe { obj.header() };
    if header.try_mark(epoch) && header.desc().trace.is_some() {
        buf.push(obj, queue);
    }
}
