//! The marker's step per slot: what a mark worker does with each pointer a traced object
//! reports.
//!
//! The worker's private state — its stack of grey objects and its prefetch ring — lives in a
//! [`MarkVisitor`], which [`Tracer`](super::Tracer) knows by its concrete type: when a type's
//! `trace` (monomorphised in its descriptor's trace function) reports a slot to the marker, the
//! call is a direct, inlined one, not a call through a vtable per slot. The loops around it
//! (taking work from the queue, sharing it, budgets) are `marker.rs`'s.
//!
//! # Prefetching
//!
//! Marking is bound by memory latency: the first read of a newly found object's header misses
//! the cache. So a found pointer is not marked at once: its header is prefetched and the
//! pointer enters a small FIFO ring; it is marked (and pushed if it turned grey) when it leaves
//! the ring, [`PREFETCH_DISTANCE`] finds later, by which time the header has usually arrived
//! (the FIFO prefetch buffer of Cher, Hosking and Vijaykumar, 2004). The stack and the ring are
//! private to one worker; the worker empties the ring ([`MarkVisitor::settle_ring`]) before it
//! stops or leaves the busy state, so nothing found is lost.

use super::header::{Header, ObjPtr};
use crate::{
    primitive::sync::atomic::{AtomicPtr, Ordering},
    slot::is_object,
};

/// Objects found but not yet marked, whose headers are being prefetched.
const PREFETCH_DISTANCE: usize = 16;

/// A FIFO of found objects: each is prefetched when it enters and marked when it leaves,
/// `PREFETCH_DISTANCE` finds later.
struct PrefetchRing {
    slots: [Option<ObjPtr>; PREFETCH_DISTANCE],
    next: usize,
}

impl PrefetchRing {
    fn new() -> Self {
        PrefetchRing { slots: [None; PREFETCH_DISTANCE], next: 0 }
    }

    /// Put `obj` in (prefetching its header) and return the object it displaces, if any.
    #[inline(always)]
    fn exchange(&mut self, obj: ObjPtr) -> Option<ObjPtr> {
        crate::prefetch::prefetch_read(obj.as_ptr());
        let out = self.slots[self.next].replace(obj);
        self.next = (self.next + 1) % PREFETCH_DISTANCE;
        out
    }

    /// Take the oldest object out, if any.
    fn take_oldest(&mut self) -> Option<ObjPtr> {
        (0..PREFETCH_DISTANCE).find_map(|i| self.slots[(self.next + i) % PREFETCH_DISTANCE].take())
    }
}

/// A mark worker's private state: its grey stack and prefetch ring, and what it marked.
pub(crate) struct MarkVisitor {
    epoch: u64,
    /// Grey objects to scan, newest last.
    pub(crate) stack: Vec<ObjPtr>,
    ring: PrefetchRing,
    /// Bytes of objects this worker marked that have nothing to scan (black at once).
    pub(crate) leaf_bytes: usize,
    /// Set when part of the object being traced was skipped because a lock was taken (see
    /// `marker.rs`, "Locked collections").
    pub(crate) locked: bool,
}

impl MarkVisitor {
    /// A visitor that marks for `epoch`.
    pub(crate) fn new(epoch: u64) -> Self {
        MarkVisitor { epoch, stack: Vec::new(), ring: PrefetchRing::new(), leaf_bytes: 0, locked: false }
    }

    /// A slot of the object being traced: if it holds an object, prefetch that object's header
    /// and queue it in the ring; mark the object the ring hands back.
    #[inline(always)]
    pub(crate) fn visit_slot(&mut self, slot: &AtomicPtr<Header>) {
        // Acquire: pairs with the barrier's Release store (publication ordering).
        let p = slot.load(Ordering::Acquire);
        if is_object(p) {
            let obj = ObjPtr(std::ptr::NonNull::new(p).unwrap_or_else(|| unreachable!()));
            if let Some(due) = self.ring.exchange(obj) {
                // SAFETY: `due` was loaded from a slot of an object scanned in this cycle
                // (hence allocated), and objects are not freed while marking runs.
                unsafe { self.mark_grey(due) };
            }
        }
    }

    /// Mark `obj`; if this call turned it grey, push it when it has fields to scan, or count
    /// its bytes in `leaf_bytes` when it is black at once.
    ///
    /// # Safety
    /// `obj` is allocated.
    #[inline(always)]
    pub(crate) unsafe fn mark_grey(&mut self, obj: ObjPtr) {
        // SAFETY: guaranteed by the caller.
        let h = unsafe { obj.header() };
        if h.try_mark(self.epoch) {
            let desc = h.desc();
            if desc.trace.is_some() {
                self.stack.push(obj);
            } else {
                self.leaf_bytes += desc.size;
            }
        }
    }

    /// The next object to scan: from the stack, or — when it is empty — the oldest found
    /// object still in the prefetch ring, once marking it makes it grey.
    #[inline]
    pub(crate) fn next_grey(&mut self) -> Option<ObjPtr> {
        loop {
            if let Some(obj) = self.stack.pop() {
                return Some(obj);
            }
            let due = self.ring.take_oldest()?;
            // SAFETY: as in `visit_slot`: found in a slot of a scanned object.
            unsafe { self.mark_grey(due) };
        }
    }

    /// Mark every found object still in the prefetch ring (pushing the grey ones).
    pub(crate) fn settle_ring(&mut self) {
        while let Some(due) = self.ring.take_oldest() {
            // SAFETY: as in `visit_slot`: found in a slot of a scanned object.
            unsafe { self.mark_grey(due) };
        }
    }
}
