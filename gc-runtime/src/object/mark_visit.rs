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
//! the cache. Marking it does not read it (its bit is beside it, see `mark_bits.rs`), so a
//! found pointer is marked at once, and only if that made it grey is its header prefetched and
//! the pointer put in a small FIFO ring. When it leaves the ring, [`PREFETCH_DISTANCE`] grey
//! finds later, its header has usually arrived: the worker reads its descriptor and pushes it
//! if it has fields to scan (the FIFO prefetch buffer of Cher, Hosking and Vijaykumar, 2004).
//! The stack and the ring are private to one worker; the worker empties the ring
//! ([`MarkVisitor::settle_ring`]) before it stops or leaves the busy state, so nothing found is
//! lost.

use super::{
    header::{Header, ObjPtr},
    mark,
};
use crate::{
    primitive::sync::atomic::{AtomicPtr, Ordering},
    slot::is_object,
};

/// Grey objects found but not yet pushed, whose headers are being prefetched. (With marks
/// beside the objects, 32 marked 4M tree nodes at 97–101M objects/s against 86–88M with 16;
/// 64 gained nothing more.)
const PREFETCH_DISTANCE: usize = 32;

/// A FIFO of grey objects: each is prefetched when it enters and pushed (or counted as black)
/// when it leaves, `PREFETCH_DISTANCE` grey finds later.
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
        // Slots are 8-aligned, so a small object may straddle two cache lines: fetch the line
        // of its third word too (the same line for most objects; a 24-byte object's last slot).
        crate::prefetch::prefetch_read(obj.as_ptr().cast::<u8>().wrapping_add(16));
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
    /// Set when the object being traced holds an ephemeron entry whose key was unmarked: the
    /// object must be looked at again before marking ends (see `marker::resolve_ephemerons`).
    pub(crate) ephemerons_pending: bool,
    /// Set when a collection in the object being traced was scanned only in part, a chunk of
    /// it (see `object/scan_cursor.rs`): the worker must come back for the rest.
    pub(crate) more: bool,
}

impl MarkVisitor {
    /// A visitor that marks for `epoch`.
    pub(crate) fn new(epoch: u64) -> Self {
        MarkVisitor {
            epoch,
            stack: Vec::new(),
            ring: PrefetchRing::new(),
            leaf_bytes: 0,
            locked: false,
            ephemerons_pending: false,
            more: false,
        }
    }

    /// The epoch of the marking this visitor marks for.
    #[inline]
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// A slot of the object being traced: if it holds an object, mark it; if that made it
    /// grey, prefetch its header and queue it in the ring, and settle the object the ring hands
    /// back.
    #[inline(always)]
    pub(crate) fn visit_slot(&mut self, slot: &AtomicPtr<Header>) {
        // Acquire: pairs with the barrier's Release store (publication ordering).
        let p = slot.load(Ordering::Acquire);
        if is_object(p) {
            let obj = ObjPtr(std::ptr::NonNull::new(p).unwrap_or_else(|| unreachable!()));
            // SAFETY: `p` was loaded from a slot of an object scanned in this cycle (hence
            // allocated), and objects are not freed while marking runs.
            unsafe { self.mark_grey(obj) };
        }
    }

    /// An ephemeron entry of the object being traced: its value is a slot to visit if `key`
    /// is marked; otherwise the object is noted as pending.
    #[inline]
    pub(crate) fn visit_ephemeron(&mut self, key: *const Header, value: &AtomicPtr<Header>) {
        // SAFETY: an entry's key is allocated (`Tracer::report_ephemeron`).
        if unsafe { mark::is_marked(key, self.epoch) } {
            self.visit_slot(value);
        } else {
            self.ephemerons_pending = true;
        }
    }

    /// Mark `obj`; if this call turned it grey, queue it in the prefetch ring.
    ///
    /// # Safety
    /// `obj` is allocated.
    #[inline(always)]
    pub(crate) unsafe fn mark_grey(&mut self, obj: ObjPtr) {
        // SAFETY: guaranteed by the caller.
        if unsafe { mark::try_mark(obj.as_ptr(), self.epoch) } {
            if let Some(due) = self.ring.exchange(obj) {
                self.settle(due);
            }
        }
    }

    /// A grey object leaving the ring: push it if it has fields to scan, else it is black at
    /// once and its bytes count in `leaf_bytes`.
    #[inline(always)]
    fn settle(&mut self, obj: ObjPtr) {
        // SAFETY: a grey object of this marking: allocated (see `visit_slot`).
        let desc = unsafe { obj.header() }.desc();
        if desc.trace.is_some() {
            self.stack.push(obj);
        } else {
            // SAFETY: as above.
            self.leaf_bytes += unsafe { desc.size_of(obj.as_ptr()) };
        }
    }

    /// The next object to scan: from the stack, or — when it is empty — the oldest grey
    /// object still in the prefetch ring that has fields to scan.
    #[inline]
    pub(crate) fn next_grey(&mut self) -> Option<ObjPtr> {
        loop {
            if let Some(obj) = self.stack.pop() {
                return Some(obj);
            }
            let due = self.ring.take_oldest()?;
            self.settle(due);
        }
    }

    /// Settle every grey object still in the prefetch ring (pushing those with fields).
    pub(crate) fn settle_ring(&mut self) {
        while let Some(due) = self.ring.take_oldest() {
            self.settle(due);
        }
    }
}
