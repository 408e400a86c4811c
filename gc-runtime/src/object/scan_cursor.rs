//! Scanning a large collection a chunk at a time (V8's "oblets"), so that a writer never waits
//! for the marker to scan a whole collection.
//!
//! # Why
//!
//! A GC collection (`GcVec`, `GcMap`, `GcIdMap`) is traced under its read lock, and a writer
//! that grows, shifts or removes takes the write lock. Scanned in one go, a collection of a
//! million slots holds its lock for milliseconds, and every writer of it waits that long. So
//! the marker scans at most [`SCAN_CHUNK`] slots (or hash buckets) per visit, under the lock,
//! then lets go, puts the collection back on its grey stack and comes back for the next chunk.
//! A writer waits for at most one chunk — more, up to [`PATIENT_CHUNKS`], if it had kept the
//! marker out of the lock a long while.
//!
//! # The cursor
//!
//! Each collection has a [`ScanCursor`]: the epoch of the marking that last scanned it (0 for
//! none) and how far that scan got — an index where it resumes, or [`DONE`]. Every index below
//! the resume point was scanned in that marking. Only the marker moves it forward (under the
//! read lock; one marker at a time, because a grey object is in one place — a worker's stack,
//! the queue or the deferred list — until it is scanned); writers that shift elements move it
//! with them (below). A finished scan stays finished for
//! the rest of its marking: an object holding two large collections is visited once per chunk
//! of either, and each visit must skip the one already scanned, or the two would restart each
//! other forever. The next marking has another epoch and starts from the beginning. A marking
//! never terminates with a scan part way through: the object is still grey.
//!
//! # What a writer must do while a scan is part way through
//!
//! A chunked scan is sound only if no pointer can move from the unscanned part (at or after
//! the cursor) into the scanned part without being shaded; a pointer that stays put is found,
//! and one added or removed runs the write barrier like any store. Moves happen under the
//! write lock, when the cursor is stable, so the writer adjusts for them there:
//!
//! - **Removing from a vector** shifts the later elements down by one, which would carry the
//!   element at the cursor into the scanned part: the cursor moves down with them
//!   ([`ScanCursor::removed`]).
//! - **Inserting into a vector** shifts the later elements up: nothing enters the scanned part.
//!   The cursor moves up with them ([`ScanCursor::inserted`]) so no element is scanned twice.
//! - **Growing a vector** moves the buffer but keeps every index: nothing to do.
//! - **Rehashing a hash table** moves entries between buckets in no useful order. An insertion
//!   that must rehash while the table's scan is part way through ([`ScanCursor::mid_scan`])
//!   rehashes first and then shades every entry (the collections' `insert`), which costs the
//!   writer what the rehash itself costs: one pass over the entries. Removing from a hash table
//!   moves no other entry.

use std::{ops::Range, time::Duration};

use crate::{
    clock,
    primitive::sync::atomic::{AtomicU64, AtomicUsize, Ordering},
};

/// The most slots (or hash buckets) one visit of the marker scans in a collection. 1024 slots
/// take a few microseconds to mark; the cost of coming back — a lock and a stack entry per
/// chunk — is lost in that. (Under Miri, 16: the same code paths with collections small enough
/// to interpret.)
pub(crate) const SCAN_CHUNK: usize = if cfg!(miri) { 16 } else { 1024 };

/// The most chunks one visit scans: when the marker had to wait for the lock — it had found
/// the collection locked for so long that it queued for the lock (see `marker/mod.rs`, "Locked
/// collections") — it claims a chunk for every [`CHUNK_WAIT`] it waited, up to this many. A
/// writer that holds the lock nearly all the time would otherwise get in between every two
/// chunks, and a collection of a million slots would take a thousand of its writes to scan; a
/// writer holding the lock 3 ms a write lets it through in sixty. The writer then waits for the
/// chunks, about half as long as it kept the marker waiting. (Sixteen chunks after *any* wait
/// made a writer that writes without pause wait for them too: the 99.9th percentile of its
/// writes while marking went from 100–130 µs to 500–640 µs, `collection_writer --collection
/// map`.)
pub(crate) const PATIENT_CHUNKS: usize = 16;

/// How long the marker must have waited for a collection's lock to claim one more chunk in
/// the visit that follows: about twice what scanning a chunk takes.
pub(crate) const CHUNK_WAIT: Duration = Duration::from_micros(64);

/// How many chunks the visit after a wait of `waited` for the lock claims.
pub(crate) fn chunks_after_waiting(waited: Duration) -> usize {
    let earned = waited.as_nanos() / CHUNK_WAIT.as_nanos();
    earned.clamp(1, PATIENT_CHUNKS as u128) as usize
}

/// The resume point of a finished scan.
const DONE: usize = usize::MAX;

/// How far the marking of one epoch got with one collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScanState {
    /// Not scanned yet: start at the beginning.
    Fresh,
    /// Scanned in part: resume (taking the lock fairly, so a waiting writer goes first).
    Partway,
    /// Scanned: nothing to do.
    Done,
}

/// Where the current marking's scan of one collection resumes (module docs).
///
/// The fields are atomics only so that `&self` can move them: every access happens under the
/// collection's lock (the marker under its read lock, writers under its write lock), which
/// orders them, so `Relaxed` suffices.
#[derive(Debug, Default)]
pub(crate) struct ScanCursor {
    /// The epoch of the marking that last scanned the collection; 0 for none (markings start
    /// at epoch 2).
    epoch: AtomicU64,
    /// Every index below this was scanned by that marking; [`DONE`] once all were.
    next: AtomicUsize,
}

impl ScanCursor {
    /// Never scanned.
    pub(crate) fn new() -> ScanCursor {
        ScanCursor::default()
    }

    /// How far the marking of `epoch` got with this collection.
    #[inline]
    pub(crate) fn state(&self, epoch: u64) -> ScanState {
        if self.epoch.load(Ordering::Relaxed) != epoch {
            ScanState::Fresh
        } else if self.next.load(Ordering::Relaxed) == DONE {
            ScanState::Done
        } else {
            ScanState::Partway
        }
    }

    /// The marker's next `chunks` chunks of a collection of `len` slots or buckets, for the
    /// marking of `epoch`, and whether more remains after them. Called under the collection's
    /// read lock.
    #[inline]
    pub(crate) fn claim(&self, epoch: u64, len: usize, chunks: usize) -> (Range<usize>, bool) {
        let start = match self.state(epoch) {
            ScanState::Fresh => 0,
            ScanState::Partway => self.next.load(Ordering::Relaxed).min(len),
            ScanState::Done => return (len..len, false),
        };
        let end = start.saturating_add(SCAN_CHUNK * chunks).min(len);
        let more = end < len;
        self.epoch.store(epoch, Ordering::Relaxed);
        self.next.store(if more { end } else { DONE }, Ordering::Relaxed);
        (start..end, more)
    }

    /// Whether the current marking's scan of this collection is part way through. Called under
    /// the write lock.
    #[inline]
    pub(crate) fn mid_scan(&self) -> bool {
        self.state(clock::mark_epoch()) == ScanState::Partway
    }

    /// The element at `index` was removed and the later ones moved down by one. Called under
    /// the write lock.
    #[inline]
    pub(crate) fn removed(&self, index: usize) {
        if self.mid_scan() && index < self.next.load(Ordering::Relaxed) {
            self.next.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// An element was inserted at `index` and the later ones moved up by one. Called under the
    /// write lock.
    #[inline]
    pub(crate) fn inserted(&self, index: usize) {
        if self.mid_scan() && index < self.next.load(Ordering::Relaxed) {
            self.next.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(all(test, not(gc_loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_small_collection_is_scanned_whole_once_per_marking() {
        let c = ScanCursor::new();
        assert_eq!(c.state(5), ScanState::Fresh);
        assert_eq!(c.claim(5, SCAN_CHUNK, 1), (0..SCAN_CHUNK, false));
        assert_eq!(c.state(5), ScanState::Done);
        assert_eq!(c.claim(5, SCAN_CHUNK, 1), (SCAN_CHUNK..SCAN_CHUNK, false), "nothing twice");
        assert_eq!(c.state(6), ScanState::Fresh, "the next marking starts over");
    }

    #[test]
    fn a_large_collection_is_scanned_in_chunks() {
        let c = ScanCursor::new();
        let len = 2 * SCAN_CHUNK + 10;
        assert_eq!(c.claim(5, len, 1), (0..SCAN_CHUNK, true));
        assert_eq!(c.state(5), ScanState::Partway);
        assert_eq!(c.state(6), ScanState::Fresh, "another marking starts from the beginning");
        assert_eq!(c.claim(5, len, 1), (SCAN_CHUNK..2 * SCAN_CHUNK, true));
        assert_eq!(c.claim(5, len, 1), (2 * SCAN_CHUNK..len, false));
        assert_eq!(c.state(5), ScanState::Done);
        assert_eq!(c.claim(6, len, 1), (0..SCAN_CHUNK, true), "a new marking starts over");
    }

    #[test]
    fn a_patient_visit_claims_several_chunks_and_stops_at_the_end() {
        let c = ScanCursor::new();
        let len = (PATIENT_CHUNKS + 3) * SCAN_CHUNK;
        assert_eq!(c.claim(5, len, 1), (0..SCAN_CHUNK, true));
        let patient_end = (PATIENT_CHUNKS + 1) * SCAN_CHUNK;
        assert_eq!(c.claim(5, len, PATIENT_CHUNKS), (SCAN_CHUNK..patient_end, true));
        assert_eq!(c.claim(5, len, PATIENT_CHUNKS), (patient_end..len, false));
        assert_eq!(c.state(5), ScanState::Done);
    }

    #[test]
    fn a_wait_earns_a_chunk_per_chunk_wait_up_to_the_most() {
        assert_eq!(chunks_after_waiting(Duration::ZERO), 1);
        assert_eq!(chunks_after_waiting(CHUNK_WAIT * 3 + CHUNK_WAIT / 2), 3);
        assert_eq!(chunks_after_waiting(Duration::from_secs(1)), PATIENT_CHUNKS);
    }

    #[test]
    fn a_collection_that_shrank_under_the_cursor_finishes() {
        let c = ScanCursor::new();
        assert_eq!(c.claim(5, 3 * SCAN_CHUNK, 1), (0..SCAN_CHUNK, true));
        assert_eq!(c.claim(5, 10, 1), (10..10, false));
        assert_eq!(c.state(5), ScanState::Done);
    }
}
