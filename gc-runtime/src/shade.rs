//! The shade queue: grey objects waiting to be scanned.
//!
//! # Structure
//!
//! Shading an object (white → grey) marks it and records its address in the shading
//! thread's own [`ShadeBuffer`] — a mutator's barrier slow path, an allocation while marking,
//! a mark assist — with no synchronisation beyond the mark word's atomic swap. A full buffer
//! (256 entries) is pushed whole onto the global [`GreyQueue`]; markers pop whole buffers and
//! hand back the empty ones for reuse, so the steady state allocates nothing (Go's `gcWork`
//! and `workbuf`s on an lfstack).
//!
//! # Why a lock-free segmented queue and not a hand-written Treiber stack
//!
//! The global list of full buffers is `crossbeam_queue::SegQueue`: lock-free, with memory
//! reclamation solved and model-checked upstream. Go uses a LIFO stack for cache locality; here
//! a buffer is the unit of work and the marker keeps its own LIFO stack inside a buffer, so
//! FIFO order between buffers costs nothing measurable and we avoid hand-writing an ABA-safe
//! stack.
//!
//! # Termination
//!
//! The queue alone cannot tell that marking is over: a mutator may hold grey objects in its
//! private buffer. The collector asks every mutator to flush (a ragged handshake) and then
//! re-checks with the world stopped; see `collector/mod.rs`. `busy` counts workers holding
//! grey objects outside the queue (a marker between pop and finishing a buffer, an assist);
//! a worker increments it *before* it pops, so "queue empty and nobody busy", read in that
//! order, cannot miss work in transit.

use crossbeam_queue::SegQueue;

use crate::{
    header::{Header, ObjPtr},
    primitive::sync::atomic::{AtomicUsize, Ordering},
};

/// Entries per buffer.
pub(crate) const BUFFER_CAP: usize = 256;

/// A private buffer of grey objects.
#[derive(Default)]
pub(crate) struct ShadeBuffer {
    items: Vec<ObjPtr>,
}

/// The global queue of full buffers, the pool of empty ones, and the busy count.
#[derive(Default)]
pub(crate) struct GreyQueue {
    full: SegQueue<Vec<ObjPtr>>,
    empty: SegQueue<Vec<ObjPtr>>,
    busy: AtomicUsize,
}

impl GreyQueue {
    /// A fresh or recycled empty buffer.
    pub(crate) fn empty_buffer(&self) -> Vec<ObjPtr> {
        self.empty.pop().unwrap_or_else(|| Vec::with_capacity(BUFFER_CAP))
    }

    /// Publish a non-empty buffer of grey objects.
    pub(crate) fn push_full(&self, buf: Vec<ObjPtr>) {
        debug_assert!(!buf.is_empty());
        self.full.push(buf);
    }

    /// Return an emptied buffer for reuse.
    pub(crate) fn recycle(&self, mut buf: Vec<ObjPtr>) {
        buf.clear();
        if buf.capacity() >= BUFFER_CAP && self.empty.len() < 1024 {
            self.empty.push(buf);
        }
    }

    /// Become busy and take a buffer; on `None` the caller is not busy.
    pub(crate) fn pop_busy(&self) -> Option<Vec<ObjPtr>> {
        // SeqCst, with `is_quiescent`: see "Termination" in the module header.
        self.busy.fetch_add(1, Ordering::SeqCst);
        let b = self.full.pop();
        if b.is_none() {
            self.busy.fetch_sub(1, Ordering::SeqCst);
        }
        b
    }

    /// Enter the busy state without taking a buffer (a worker about to scan its own work).
    pub(crate) fn enter_busy(&self) {
        self.busy.fetch_add(1, Ordering::SeqCst);
    }

    /// Leave the busy state (after everything taken has been scanned or pushed back).
    pub(crate) fn leave_busy(&self) {
        self.busy.fetch_sub(1, Ordering::SeqCst);
    }

    /// No buffer in the queue and no worker holding grey objects outside it.
    pub(crate) fn is_quiescent(&self) -> bool {
        self.full.is_empty() && self.busy.load(Ordering::SeqCst) == 0
    }

    /// Whether there are buffers to take.
    pub(crate) fn has_work(&self) -> bool {
        !self.full.is_empty()
    }

    /// Drop every queued buffer (only between cycles, when every entry is already black).
    pub(crate) fn clear(&self) -> usize {
        let mut n = 0;
        while let Some(b) = self.full.pop() {
            n += b.len();
            self.recycle(b);
        }
        n
    }
}

impl ShadeBuffer {
    /// Record a grey object, publishing the buffer when it fills.
    #[inline]
    pub(crate) fn push(&mut self, obj: ObjPtr, queue: &GreyQueue) {
        if self.items.capacity() == 0 {
            self.items = queue.empty_buffer();
        }
        self.items.push(obj);
        if self.items.len() >= BUFFER_CAP {
            self.flush(queue);
        }
    }

    /// Publish whatever the buffer holds.
    pub(crate) fn flush(&mut self, queue: &GreyQueue) {
        if !self.items.is_empty() {
            let full = std::mem::replace(&mut self.items, queue.empty_buffer());
            queue.push_full(full);
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(i: usize) -> ObjPtr {
        // Addresses only: the queue never dereferences them.
        ObjPtr(std::ptr::NonNull::new(std::ptr::without_provenance_mut::<Header>(16 * (i + 1))).unwrap())
    }

    #[test]
    fn full_buffers_reach_the_queue_and_quiescence_counts_busy_workers() {
        let q = GreyQueue::default();
        let mut buf = ShadeBuffer::default();
        assert!(q.is_quiescent());
        for i in 0..BUFFER_CAP + 3 {
            buf.push(fake(i), &q);
        }
        assert!(q.has_work(), "a full buffer was published");
        assert!(!q.is_quiescent());
        buf.flush(&q);
        let first = q.pop_busy().unwrap();
        assert_eq!(first.len(), BUFFER_CAP);
        let second = q.pop_busy().unwrap();
        assert_eq!(second.len(), 3);
        assert!(!q.has_work());
        assert!(!q.is_quiescent(), "two workers hold grey objects");
        q.recycle(first);
        q.leave_busy();
        q.recycle(second);
        assert!(!q.is_quiescent());
        q.leave_busy();
        assert!(q.is_quiescent());
        assert!(q.pop_busy().is_none());
        assert!(q.is_quiescent(), "a failed pop leaves nobody busy");
        assert_eq!(q.empty_buffer().capacity(), BUFFER_CAP, "recycled buffers are reused");
    }

    #[test]
    fn clear_discards_queued_entries() {
        let q = GreyQueue::default();
        let mut buf = ShadeBuffer::default();
        for i in 0..10 {
            buf.push(fake(i), &q);
        }
        buf.flush(&q);
        assert_eq!(q.clear(), 10);
        assert!(q.is_quiescent());
    }
}
