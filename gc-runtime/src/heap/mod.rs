//! The collector's object memory.
//!
//! # Structure
//!
//! - [`size_class`]: the 32 slot sizes (16 B to 8 KiB, header included).
//! - [`page`]: 64 KiB pages carved into slots of one class, with an allocation bitmap.
//! - [`central`]: per-class lists of pages that no mutator holds (partial, full, unswept).
//! - [`cache`]: each mutator's private page per class — the allocation fast path.
//! - [`large`]: objects too big (or too aligned) for a page, allocated one by one.
//! - [`raw`]: the only code that calls the system allocator.
//!
//! # Accounting
//!
//! `live_bytes` approximates the bytes in use the way Go's `heapLive` does: when a page moves
//! into a mutator's cache, all its free space counts as allocated (the mutator will fill it
//! without telling anyone); when the page leaves the cache, what is still free is taken off
//! again; sweeping takes off what it frees. The pacer compares this figure to its goal.
//!
//! # Sweeping
//!
//! Sweeping is spread over three kinds of thread: the collector's background sweep
//! ([`PageHeap::sweep_class`]), allocators that find only unswept pages when they refill
//! (lazy sweeping, in [`PageHeap::acquire`]), and mutators that give back cached pages. A
//! counter of sweeps in flight lets [`PageHeap::finish_sweep`] know when every page taken out
//! of a list has been swept and filed again.

pub(crate) mod cache;
pub(crate) mod central;
pub(crate) mod large;
pub(crate) mod page;
pub(crate) mod raw;
pub(crate) mod size_class;

use std::ptr::NonNull;

use crate::primitive::sync::Mutex;

use self::{
    central::Central,
    large::LargeObjects,
    page::{Page, SweepResult, PAGE_BYTES},
    size_class::NUM_CLASSES,
};
use crate::{
    phase,
    primitive::sync::atomic::{AtomicU64, AtomicUsize, Ordering},
};

/// Run the destructor of a dead object's value, if its type has one. A panicking destructor
/// is reported on stderr and counted; the object is freed all the same (its remaining fields
/// leak). Returns `false` if it panicked.
///
/// # Safety
/// `obj` points to a dead object (initialised, unreachable, never used again), with
/// provenance over the whole object (derived from its page or block, not from a `&Header`).
pub(crate) unsafe fn run_destructor(obj: *mut crate::header::Header) -> bool {
    // SAFETY: the caller guarantees an initialised header.
    let desc = unsafe { &*obj }.desc();
    let Some(drop_fn) = desc.drop else { return true };
    // SAFETY: guaranteed by the caller: the value is dropped once and never touched again.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe { drop_fn(obj) }));
    if r.is_err() {
        eprintln!("gc: a destructor of a `{}` panicked during sweep; the object was freed", desc.name());
    }
    r.is_ok()
}

/// Cumulative sweep counters (the collector reads differences per cycle).
#[derive(Default)]
pub(crate) struct SweepCounters {
    pub(crate) freed_objects: AtomicU64,
    pub(crate) freed_bytes: AtomicU64,
    pub(crate) drop_panics: AtomicU64,
}

impl SweepCounters {
    fn add(&self, r: SweepResult) {
        if r.freed_objects > 0 {
            self.freed_objects.fetch_add(r.freed_objects as u64, Ordering::Relaxed);
            self.freed_bytes.fetch_add(r.freed_bytes as u64, Ordering::Relaxed);
        }
        if r.drop_panics > 0 {
            self.drop_panics.fetch_add(r.drop_panics as u64, Ordering::Relaxed);
        }
    }
}

/// All object memory: pages by class, empty pages, large objects.
pub(crate) struct PageHeap {
    central: [Central; NUM_CLASSES],
    empty: Mutex<Vec<&'static Page>>,
    pub(crate) large: LargeObjects,
    live_bytes: AtomicUsize,
    pages_total: AtomicUsize,
    sweeps_in_flight: AtomicUsize,
    pub(crate) swept: SweepCounters,
}

impl Default for PageHeap {
    fn default() -> Self {
        PageHeap {
            central: std::array::from_fn(|_| Central::default()),
            empty: Mutex::new(Vec::new()),
            large: LargeObjects::default(),
            live_bytes: AtomicUsize::new(0),
            pages_total: AtomicUsize::new(0),
            sweeps_in_flight: AtomicUsize::new(0),
            swept: SweepCounters::default(),
        }
    }
}

impl PageHeap {
    /// Bytes considered in use (see "Accounting").
    pub(crate) fn live_bytes(&self) -> usize {
        self.live_bytes.load(Ordering::Relaxed)
    }

    /// Bytes of page memory taken from the system, plus large objects.
    pub(crate) fn committed_bytes(&self) -> usize {
        self.pages_total.load(Ordering::Relaxed) * PAGE_BYTES + self.large.usage().1
    }

    /// Take ownership of a page of `class` that is swept and has a free slot.
    pub(crate) fn acquire(&self, class: usize) -> &'static Page {
        loop {
            let epoch = phase::sweep_epoch();
            let mut lists = self.central[class].lock(epoch);
            if let Some(page) = lists.partial.pop() {
                drop(lists);
                self.charge(page);
                return page;
            }
            let Some(page) = lists.unswept.pop() else { break };
            self.sweeps_in_flight.fetch_add(1, Ordering::SeqCst);
            drop(lists);
            // SAFETY: popped from the list: this thread owns the page.
            let r = unsafe { page.sweep(epoch) };
            self.account_sweep(r);
            // SAFETY: still owned.
            let has_free = unsafe { page.slots_mut() }.free() > 0;
            if has_free {
                self.sweeps_in_flight.fetch_sub(1, Ordering::SeqCst);
                self.charge(page);
                return page;
            }
            self.central[class].lock(epoch).full.push(page);
            self.sweeps_in_flight.fetch_sub(1, Ordering::SeqCst);
        }
        let epoch = phase::sweep_epoch();
        let page = match self.empty.lock().pop() {
            Some(page) => {
                // SAFETY: pages in the empty pool are owned by the pool, now by us, and empty.
                unsafe { page.reformat(class, epoch) };
                page
            }
            None => {
                self.pages_total.fetch_add(1, Ordering::Relaxed);
                Page::new_leaked(class, epoch)
            }
        };
        self.charge(page);
        page
    }

    fn charge(&self, page: &'static Page) {
        // SAFETY: the caller owns `page` (it is about to hand it to a cache).
        let slots = unsafe { page.slots_mut() };
        self.live_bytes.fetch_add(slots.free() * slots.slot_size, Ordering::Relaxed);
    }

    /// Take back a page from a cache.
    pub(crate) fn release(&self, page: &'static Page) {
        // SAFETY: the cache owned the page and gives it up here.
        let slots = unsafe { page.slots_mut() };
        let (class, free, size) = (slots.class, slots.free(), slots.slot_size);
        self.live_bytes.fetch_sub(free * size, Ordering::Relaxed);
        let epoch = phase::sweep_epoch();
        let mut lists = self.central[class].lock(epoch);
        if page.swept_epoch() < epoch {
            lists.unswept.push(page);
        } else {
            lists.file_swept(page, free > 0);
        }
    }

    fn account_sweep(&self, r: SweepResult) {
        if r.freed_bytes > 0 {
            self.live_bytes.fetch_sub(r.freed_bytes, Ordering::Relaxed);
        }
        self.swept.add(r);
    }

    /// Sweep one unswept page of `class`; `false` when there was none.
    pub(crate) fn sweep_class(&self, class: usize) -> bool {
        let epoch = phase::sweep_epoch();
        let page = {
            let mut lists = self.central[class].lock(epoch);
            let Some(page) = lists.unswept.pop() else { return false };
            self.sweeps_in_flight.fetch_add(1, Ordering::SeqCst);
            page
        };
        // SAFETY: popped from the list: this thread owns the page.
        let r = unsafe { page.sweep(epoch) };
        self.account_sweep(r);
        if r.live_objects == 0 {
            self.empty.lock().push(page);
        } else {
            // SAFETY: still owned.
            let has_free = unsafe { page.slots_mut() }.free() > 0;
            self.central[class].lock(epoch).file_swept(page, has_free);
        }
        self.sweeps_in_flight.fetch_sub(1, Ordering::SeqCst);
        true
    }

    /// Sweep the large objects against the current sweep epoch.
    pub(crate) fn sweep_large(&self) {
        let r = self.large.sweep(phase::sweep_epoch());
        self.account_sweep(r);
    }

    /// Sweep until no page in any central list is unswept and no sweep is in flight.
    pub(crate) fn finish_sweep(&self) {
        for class in 0..NUM_CLASSES {
            while self.sweep_class(class) {}
        }
        self.sweep_large();
        while self.sweeps_in_flight.load(Ordering::SeqCst) != 0 {
            std::thread::yield_now();
        }
    }

    /// Allocate a block for a large object of `layout` and charge it.
    pub(crate) fn alloc_large(&self, layout: std::alloc::Layout) -> NonNull<u8> {
        self.live_bytes.fetch_add(layout.size(), Ordering::Relaxed);
        self.large.alloc(layout)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        atomic::{AtomicUsize, Ordering as O},
        Arc,
    };

    use super::{cache::AllocCache, size_class::class_of, *};
    use crate::{
        header::{GcBox, Header},
        trace::{Trace, Tracer},
    };

    struct Probe(Arc<AtomicUsize>);
    impl Drop for Probe {
        fn drop(&mut self) {
            self.0.fetch_add(1, O::SeqCst);
        }
    }
    // SAFETY: holds no GC pointer.
    unsafe impl Trace for Probe {
        const NEEDS_TRACE: bool = false;
        fn trace(&self, _: &mut Tracer<'_>) {}
    }

    #[test]
    fn pages_fill_sweep_and_account() {
        let heap = PageHeap::default();
        let drops = Arc::new(AtomicUsize::new(0));
        let class = class_of(std::mem::size_of::<GcBox<Probe>>()).unwrap();
        let mut cache = AllocCache::default();
        let epoch = phase::sweep_epoch();
        // Fill more than one page; mark every other object with an old epoch (dead).
        let mut n = 0;
        while n < 10_000 {
            let block = match cache.alloc_fast(class) {
                Some(b) => b,
                None => {
                    cache.refill(&heap, class);
                    continue;
                }
            };
            let mark = if n % 2 == 0 { epoch } else { epoch - 1 };
            // SAFETY: a free slot of the right class, exclusively ours.
            unsafe {
                block
                    .cast::<GcBox<Probe>>()
                    .write(GcBox { header: Header::new::<Probe>(mark), value: Probe(drops.clone()) })
            };
            n += 1;
        }
        assert!(heap.live_bytes() >= 10_000 * std::mem::size_of::<GcBox<Probe>>());
        cache.release_all(&heap);
        // Released pages were swept for `epoch` already (fresh pages): nothing freed yet.
        heap.finish_sweep();
        assert_eq!(drops.load(O::SeqCst), 0);
        // Advance the sweep epoch past the odd objects' marks: pretend a marking ended.
        // Pages hold objects marked `epoch` (live) and `epoch - 1` (dead): sweep against
        // `epoch` directly, as a lazy sweep after termination would.
        for class_lists in &heap.central {
            let pages: Vec<_> = {
                let mut l = class_lists.lock(epoch);
                let mut pages = std::mem::take(&mut l.partial);
                pages.append(&mut l.full);
                pages
            };
            for p in pages {
                p.swept_epoch_for_test(epoch - 1);
                // SAFETY: owned.
                let r = unsafe { p.sweep(epoch) };
                assert_eq!(r.freed_objects, r.live_objects, "every other object is dead");
                heap.account_sweep(r);
            }
        }
        assert_eq!(drops.load(O::SeqCst), 5_000, "each dead object dropped once");
        assert_eq!(heap.swept.freed_objects.load(O::Relaxed), 5_000);
    }
}
