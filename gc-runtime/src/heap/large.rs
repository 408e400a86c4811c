//! Large objects: anything over [`MAX_SMALL`](super::size_class::MAX_SMALL) bytes, or aligned
//! beyond 16, gets its own block from the system allocator.
//!
//! # Layout
//!
//! A block holds the object's mark word (the epoch of the last marking that reached it, see
//! `object/mark.rs`), padded to the object's alignment, then the object: header and value. The
//! object's address is what every pointer to it holds; the block starts
//! [`block_offset`] bytes before it.
//!
//! # Publication
//!
//! Listed objects are seen by every sweeper, on any thread, which reads their headers. So a
//! block is listed only once its object is fully written: [`LargeObjects::alloc`] hands out a
//! bare block, the allocating mutator writes the header and the value, and only then does
//! [`LargeObjects::publish`] put it on the list (the list's lock orders the writes before any
//! sweeper's reads). Until then no other thread knows the block exists.
//!
//! # Sweeping
//!
//! The objects sit on one locked list. A sweep holds the lock while it frees the dead that
//! need no drop and sets aside the dead that do (for the finalizer thread, see `finalize.rs`);
//! it runs no user code, so allocation (which pushes onto the list) waits at most for one pass
//! over the list.
//!
//! # Giving memory back
//!
//! A freed block goes back to the global allocator, which may keep its memory resident: glibc's
//! does, for any block below its mapping threshold that does not border the top of its heap
//! (see `raw::trim_system_allocator`). So the scavenger treats freed large blocks as it treats
//! empty pages: once blocks of at least [`TRIM_MIN_BYTES`] have been freed and the first of them
//! has been free for the scavenger's delay, [`LargeObjects::trim`] asks the allocator to return
//! its free memory (`malloc_trim` with glibc). The delay spares a program that frees and
//! allocates large objects in every cycle page faults in every cycle; the minimum spares the
//! allocator a walk of its free lists for a few blocks. The count of freed bytes says nothing of
//! whether the allocator has handed those blocks out again meanwhile; a trim releases only what
//! is free when it runs.

use std::{
    alloc::Layout,
    ptr::NonNull,
    time::{Duration, Instant},
};

use super::page::SweepResult;
use crate::{
    clock,
    object::{
        mark::{large_mark, LARGE_MARK_BYTES},
        mark_word::MarkWord,
        Header,
    },
    primitive::sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Mutex,
    },
    raw,
};

/// The least of freed large blocks' bytes worth a trim (see "Giving memory back").
pub(crate) const TRIM_MIN_BYTES: usize = 4 << 20;

/// One large object: the object (not the block) and the block's layout.
pub(crate) struct LargeObject {
    ptr: NonNull<Header>,
    layout: Layout,
}

/// Where an object of `layout` starts in its block: after its mark word, at its alignment.
fn block_offset(layout: Layout) -> usize {
    layout.align().max(LARGE_MARK_BYTES)
}

/// The layout of the block for an object of `layout`, or `None` if the block would not fit
/// `isize` (an object within 16 bytes of `isize::MAX`).
fn checked_block_layout(layout: Layout) -> Option<Layout> {
    Layout::from_size_align(block_offset(layout) + layout.size(), layout.align().max(align_of::<MarkWord>())).ok()
}

/// Whether an object of `layout` fits in a large block: what allocation checks first, before
/// it charges anything (see `thread_state`).
pub(crate) fn fits_in_a_block(layout: Layout) -> bool {
    checked_block_layout(layout).is_some()
}

/// The layout of the block for an object of `layout`, which [`fits_in_a_block`].
fn block_layout(layout: Layout) -> Layout {
    checked_block_layout(layout).expect("the allocator checked that the object fits in a large block")
}

// SAFETY: a `LargeObject` owns its block; the object in it is `Send + Sync`.
unsafe impl Send for LargeObject {}

/// The list of large objects.
#[derive(Default)]
pub(crate) struct LargeObjects {
    list: Mutex<Vec<LargeObject>>,
    /// Bytes of every block allocated and not yet freed (listed, being written, or waiting for
    /// the finalizer).
    bytes: AtomicUsize,
    /// Blocks freed since the last trim (see "Giving memory back").
    untrimmed: Mutex<Untrimmed>,
    /// Trims that released memory.
    trims: AtomicU64,
}

/// Bytes of the blocks freed since the last trim, and when the first of them was freed.
#[derive(Default)]
struct Untrimmed {
    bytes: usize,
    since: Option<Instant>,
}

impl LargeObjects {
    /// Allocate a block for one object with `layout`, its mark word written with `epoch`, and
    /// return where the object goes. It is not listed: write the object, then
    /// [`publish`](Self::publish) it.
    ///
    /// `epoch` is the mark epoch as the allocating mutator last acknowledged it (see
    /// `heap/cache.rs`, "Whose mark epoch"): black for a marking that mutator has answered,
    /// white for one whose mark-start handshake it has not answered yet. Before its answer the
    /// mutator has taken no allocation view, so the window's barrier may leave what it stores
    /// unshaded (`clock::BarrierState::shades_new`); an object it allocated black would never
    /// be scanned, and those stores would be lost.
    ///
    /// The block's bytes are counted as committed here, unless [`commit_ahead`](Self::commit_ahead)
    /// counted them already (`committed`).
    pub(crate) fn alloc(&self, layout: Layout, epoch: u64, committed: bool) -> NonNull<u8> {
        let block_layout = block_layout(layout);
        if !committed {
            self.commit_ahead(layout);
        }
        let block = raw::alloc_zeroed(block_layout);
        // SAFETY: the block holds the offset and the object after it.
        let obj = unsafe { block.add(block_offset(layout)) };
        // SAFETY: the mark word's 8 bytes lie in the block, right before the object, aligned
        // (the offset and the block's alignment are multiples of 8).
        unsafe { obj.sub(LARGE_MARK_BYTES).cast::<MarkWord>().write(MarkWord::new(epoch)) };
        obj
    }

    /// List an object from [`alloc`](Self::alloc) for sweeping.
    ///
    /// # Safety
    /// `obj` came from `alloc(layout)`, is not listed yet, and holds an initialised object
    /// (header and value).
    pub(crate) unsafe fn publish(&self, obj: NonNull<u8>, layout: Layout) {
        // The lock (released after the push, acquired by every sweep) orders the object's
        // writes before any sweeper's reads.
        self.list.lock().push(LargeObject { ptr: obj.cast(), layout: block_layout(layout) });
    }

    /// Free every listed object that is dead for the current sweep epoch and needs no drop;
    /// return the dead that need drop, unlisted, for the finalizer. Runs under the list's lock
    /// (it runs no user code), with the epoch read under it: a sweep that starts after the
    /// collector published an epoch sweeps for that epoch, and one that started before has
    /// finished by then (see `central.rs` for the same rule).
    /// Freed objects leave `live` (the heap's live bytes) as they are freed.
    pub(crate) fn sweep(&self, live: &AtomicUsize) -> (SweepResult, Vec<LargeObject>) {
        let mut list = self.list.lock();
        let epoch = clock::sweep_epoch();
        let taken = std::mem::take(&mut *list);
        let mut result = SweepResult::default();
        let mut survivors = Vec::with_capacity(taken.len());
        let mut to_finalize = Vec::new();
        for obj in taken {
            // SAFETY: listed objects are initialised (see "Publication") and not freed (they
            // are still listed).
            let header = unsafe { obj.ptr.as_ref() };
            // SAFETY: as above.
            if unsafe { large_mark(obj.ptr.as_ptr()) }.epoch() >= epoch {
                survivors.push(obj);
            } else if header.desc().drop.is_some() {
                result.deferred += 1;
                to_finalize.push(obj);
            } else {
                // SAFETY: dead, nothing to drop, and unlisted: freed exactly once.
                result.add(unsafe { self.free(obj, false, live) });
            }
        }
        result.live_objects = survivors.len();
        *list = survivors;
        (result, to_finalize)
    }

    /// Run the destructor of a dead large object (if `run_destructor`) and free its block.
    ///
    /// # Safety
    /// `obj` is dead and no longer listed; this is the only call for it.
    pub(crate) unsafe fn free(&self, obj: LargeObject, run_destructor: bool, live: &AtomicUsize) -> SweepResult {
        let mut result = SweepResult::default();
        // SAFETY: the object is dead: nothing can reach it; it is dropped exactly once and its
        // block freed right after.
        if run_destructor && !unsafe { super::run_destructor(obj.ptr.as_ptr()) } {
            result.drop_panics += 1;
        }
        let offset = obj.layout.align().max(LARGE_MARK_BYTES);
        result.freed_objects += 1;
        // The object's bytes, as charged by `PageHeap::alloc_large`: no longer live, and only
        // then no longer committed (see `PageHeap::live_and_committed`).
        result.freed_bytes += obj.layout.size() - offset;
        live.fetch_sub(result.freed_bytes, Ordering::Relaxed);
        self.bytes.fetch_sub(obj.layout.size(), Ordering::Release);
        // SAFETY: the object lies `block_offset` into its block, which came from
        // `raw::alloc_zeroed(obj.layout)`, and is dead.
        unsafe { raw::dealloc(obj.ptr.cast::<u8>().sub(offset), obj.layout) };
        let mut untrimmed = self.untrimmed.lock();
        untrimmed.bytes += obj.layout.size();
        untrimmed.since.get_or_insert_with(Instant::now);
        result
    }

    /// Ask the system allocator to return free memory if blocks of at least
    /// [`TRIM_MIN_BYTES`] have been freed since the last trim and the first of them was freed
    /// `delay` or longer before `now` (see "Giving memory back"). Returns when the freed blocks
    /// come due, if they are not due yet (`None`: nothing to wait for; more frees will tell).
    pub(crate) fn trim(&self, now: Instant, delay: Duration) -> Option<Duration> {
        let mut untrimmed = self.untrimmed.lock();
        let since = untrimmed.since?;
        if untrimmed.bytes < TRIM_MIN_BYTES {
            return None;
        }
        // `checked_add`: a delay of centuries never comes due (as in `pool.rs`).
        let due = since.checked_add(delay)?;
        if due > now {
            return Some(due - now);
        }
        *untrimmed = Untrimmed::default();
        // Not under the lock: a trim walks the allocator's free lists, and sweepers record
        // frees meanwhile.
        drop(untrimmed);
        if raw::trim_system_allocator() {
            self.trims.fetch_add(1, Ordering::Relaxed);
        }
        None
    }

    /// Trims that released memory since the start (see [`trim`](Self::trim)).
    pub(crate) fn trims(&self) -> u64 {
        self.trims.load(Ordering::Relaxed)
    }

    /// Call `f` with every listed object, with the list locked.
    pub(crate) fn for_each(&self, mut f: impl FnMut(NonNull<Header>)) {
        for obj in self.list.lock().iter() {
            f(obj.ptr);
        }
    }

    /// Bytes of large objects allocated and not yet freed (Acquire: see
    /// `PageHeap::live_and_committed`).
    pub(crate) fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Acquire)
    }

    /// Count the block for an object of `layout` as committed before it is allocated (a
    /// committed count is raised before the live count, see `PageHeap::live_and_committed`).
    pub(crate) fn commit_ahead(&self, layout: Layout) {
        self.bytes.fetch_add(block_layout(layout).size(), Ordering::Relaxed);
    }

    /// Take back [`commit_ahead`](Self::commit_ahead) for a block that will not be allocated.
    pub(crate) fn uncommit(&self, layout: Layout) {
        self.bytes.fetch_sub(block_layout(layout).size(), Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Record `bytes` freed at `at`, as `free` does.
    fn freed(large: &LargeObjects, bytes: usize, at: Instant) {
        let mut untrimmed = large.untrimmed.lock();
        untrimmed.bytes += bytes;
        untrimmed.since.get_or_insert(at);
    }

    #[test]
    fn freed_blocks_come_due_a_delay_after_the_first_once_they_are_worth_a_trim() {
        let large = LargeObjects::default();
        let start = Instant::now();
        let delay = Duration::from_secs(1);
        assert_eq!(large.trim(start, delay), None, "nothing freed: nothing to wait for");

        // Under the minimum: nothing comes due, however long it waits.
        freed(&large, TRIM_MIN_BYTES / 2, start);
        assert_eq!(large.trim(start + 10 * delay, delay), None);
        assert_eq!(large.untrimmed.lock().bytes, TRIM_MIN_BYTES / 2, "kept for later frees to add to");

        // Over it: due a delay after the first free, not after the last.
        freed(&large, TRIM_MIN_BYTES / 2, start + delay / 2);
        assert_eq!(large.trim(start + delay / 4, delay), Some(delay * 3 / 4));
        assert_eq!(large.trim(start + delay, delay), None);
        let untrimmed = large.untrimmed.lock();
        assert_eq!((untrimmed.bytes, untrimmed.since), (0, None), "a trim starts the count again");
    }

    #[test]
    fn a_delay_too_long_to_add_to_a_time_never_comes_due() {
        let large = LargeObjects::default();
        let now = Instant::now();
        freed(&large, TRIM_MIN_BYTES, now);
        assert_eq!(large.trim(now, Duration::MAX), None);
        assert_eq!(large.untrimmed.lock().bytes, TRIM_MIN_BYTES, "nothing was trimmed");
    }
}
