//! The mark word: the epoch of the last marking that reached a large object.
//!
//! Every large object has one in front of its header (see [`super::mark`]; objects in pages
//! use bits beside them instead). An object is marked for the marking whose epoch its word
//! holds; a new one is written with the current epoch (allocated black). Shading is a race
//! between the marker, mark assists and barrier slow paths on several threads;
//! [`MarkWord::try_mark`] picks exactly one winner per object and epoch, and only the winner
//! queues the object, so nothing is scanned twice.

use crate::primitive::sync::atomic::{AtomicU64, Ordering};

/// The epoch of the last marking that reached an object.
pub(crate) struct MarkWord(AtomicU64);

impl MarkWord {
    /// A word marked for `epoch` (new objects are allocated black for the current epoch).
    #[inline]
    pub(crate) fn new(epoch: u64) -> Self {
        MarkWord(AtomicU64::new(epoch))
    }

    /// The epoch of the last marking that reached the object.
    #[inline]
    pub(crate) fn epoch(&self) -> u64 {
        // Relaxed: read by the sweeper after the epoch it sweeps against was published
        // (Acquire, see `phase::sweep_epoch`), by checkmark with the world stopped, and by
        // shaders that re-check with `try_mark`.
        self.0.load(Ordering::Relaxed)
    }

    /// Mark for `epoch`. Returns `true` for exactly one caller per object and epoch: the one
    /// that turned it from white to grey and must queue it.
    #[inline]
    pub(crate) fn try_mark(&self, epoch: u64) -> bool {
        // Relaxed: the mark word guards no other memory. Whoever wins hands the object to a
        // shade queue, and the queue's push/pop carry the happens-before edge to the scanner.
        // All racers store the same value, so `swap` decides the winner without a CAS loop.
        self.0.load(Ordering::Relaxed) != epoch && self.0.swap(epoch, Ordering::Relaxed) != epoch
    }
}
