//! The one audited funnel to the system's memory.
//!
//! Every block of memory the collector takes from the system outside `Box` and `Vec` comes from
//! here — runs of pages, large objects' blocks, the blocks of shared slices (`shared_slice.rs`),
//! and blocks mapped for buffers that must give their memory back (`mapped_vec.rs`) — so every
//! raw allocation, mapping and release in the crate can be found in one file. (It sits below
//! the heap, which is its main user, so that the lower layers can use it too.) Clippy enforces it for the allocator: `clippy.toml` at the workspace root disallows the
//! `std::alloc` functions, and this module alone is allowed to call them.
//!
//! # Page memory
//!
//! Pages come from anonymous memory mappings ([`PageRun`]: [`RUN_PAGES`] pages each, 2 MiB,
//! aligned to their size, so that a page's base address is a multiple of `PAGE_BYTES`; the
//! first two pages of each hold the run's tables — the mark bits of the others, see
//! `mark_bits.rs`, and their other bitmaps, see `page.rs`), taken from the system by `memmap2`
//! and never unmapped: page descriptors are never freed either.
//! (In interleaved runs on a busy 2-core machine, aligning runs to 2 MiB rather than to the page
//! size raised the mark rate of 4M objects from 75–77M to 85–91M objects/s; why is not
//! established — no transparent huge pages were in use. Asking for them, `MADV_HUGEPAGE`, added
//! nothing to marking and cost binary-trees 10 % of its time, so it is not done.) A page that
//! has been empty for a while is *released* — `madvise(MADV_DONTNEED)`, through `memmap2` — so
//! the OS takes its physical memory back while the address range stays ours; the next write
//! faults in fresh zeroed memory; a run's tables go the same way once all its pages have
//! ([`PageRun::release_tables`], see `pool.rs`). On platforms without `madvise`, and under Miri
//! (which has no such call), [`PageRun::release`] does nothing and says so.
//!
//! # The arena
//!
//! On Linux, runs are not mapped one by one: the first run reserves an *arena*, one mapping of
//! [`ARENA_BYTES`](mark_bits::ARENA_BYTES) (256 GiB) of address space with no access at all
//! (`PROT_NONE`, through rustix), and every run after it is the next 2 MiB of that range,
//! opened for reading and writing (`mprotect`) when it is carved. A reservation without access
//! costs nothing: the system neither backs it with memory nor counts it against a commit limit,
//! and `mlockall` does not populate it; an opened run is backed page by page as it is written
//! and counted as a run mapped alone was. What the arena buys is a test: an object's address
//! lies in a run exactly when it lies in the arena, a subtraction and a comparison
//! ([`mark_bits::Runs`]), where looking a run up in the registry of runs made one worker mark
//! 7–11 % slower. Where the arena cannot be had — another system, a process whose address
//! space is limited (`ulimit -v`), a heap that has used all of it, Miri — runs are mapped alone
//! as before (memmap2), and the registry answers for them.

#![allow(clippy::disallowed_methods)]

use std::{alloc::Layout, ptr::NonNull};

use crate::primitive::sync::atomic::{AtomicUsize, Ordering};

/// Allocate a zero-initialised block for `layout`, or abort on exhaustion as `Box` does.
///
/// # Panics
/// If `layout` has size zero (the system allocator's precondition; every caller allocates a
/// page or an object with a header, so this is a bug in the collector).
pub(crate) fn alloc_zeroed(layout: Layout) -> NonNull<u8> {
    assert!(layout.size() > 0, "raw::alloc_zeroed of a zero-sized layout");
    // SAFETY: `layout` has a non-zero size (asserted above).
    let p = unsafe { std::alloc::alloc_zeroed(layout) };
    let p = NonNull::new(p).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
    below_immediates(p, layout.size());
    p
}

/// Refuse memory that reaches [`IMMEDIATE_MIN`](crate::slot::IMMEDIATE_MIN): a slot value
/// from there on is an immediate (a `TaggedMember`'s number or integer, see `tagged.rs`), so
/// an object there would be taken for one and never marked. Current 64-bit systems hand
/// programs addresses below 2^47 (x86-64) or 2^48 (AArch64) unless asked for more; this
/// test, made once per page run or large object, turns any other system into a clear panic
/// rather than an object freed while reachable.
fn below_immediates(start: NonNull<u8>, len: usize) {
    let end = start.addr().get().checked_add(len);
    assert!(
        end.is_some_and(|end| end <= crate::slot::IMMEDIATE_MIN),
        "the system gave the collector memory at {start:p} ({len} bytes), at or above 2^48: \
         the collector needs its heap below 2^48, where no slot value is an immediate"
    );
}

/// Return a block of the global allocator: one from [`alloc_zeroed`], or a `Box`'s.
///
/// # Safety
/// `ptr` was allocated by the global allocator with this same `layout` (by `alloc_zeroed`, or
/// as a `Box` of a type of this layout) and is not used again.
pub(crate) unsafe fn dealloc(ptr: NonNull<u8>, layout: Layout) {
    // SAFETY: guaranteed by the caller.
    unsafe { std::alloc::dealloc(ptr.as_ptr(), layout) }
}

/// Ask the system allocator to give the free memory it keeps back to the OS; returns whether
/// it released any.
///
/// Large objects' blocks come from the global allocator (`heap/large.rs`). With glibc's, a
/// freed block below its mapping threshold (128 KiB at first, rising to the size of any mapped
/// block freed since, up to 32 MiB) stays in the allocator's heap, resident, unless it borders
/// the top of the heap: 4000 dead objects of 72 KiB left 275 MiB resident. `malloc_trim(0)`
/// walks every arena's free blocks and returns their whole pages with `madvise`, keeping the
/// blocks themselves for reuse (they fault back in, zeroed, when next written). Elsewhere —
/// other C libraries, whose allocators return large free blocks themselves, and Miri — this
/// does nothing and says so. A program whose global allocator is not the system's (jemalloc,
/// mimalloc) has its own purging; the call then trims only what glibc itself holds.
pub(crate) fn trim_system_allocator() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu", not(miri)))]
    {
        // SAFETY: `malloc_trim` takes no pointer and is thread-safe (it takes each arena's
        // lock while it walks that arena); it frees nothing a caller holds, it only tells the
        // OS that the contents of free blocks' whole pages are no longer needed.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu", not(miri))))]
    {
        false
    }
}

/// A block of zeroed memory of its own, mapped from the system, for a buffer that can grow to
/// megabytes for a while (`mapped_vec.rs`): unmapped when dropped, so its memory goes back to
/// the OS at once.
///
/// Why not the global allocator: with glibc's, a block of that size is mapped too, but freeing
/// one raises the size from which the allocator maps blocks to the freed block's (and the free
/// memory it keeps at the top of its heap to twice that), so that afterwards buffers of up to
/// that size come from its heap, whose free memory it keeps. A marking whose record of
/// mutators' marks grew to 25 MB left a process that had dropped a 1 GiB heap with 10–30 MB of
/// free, resident malloc memory.
pub(crate) struct MappedBlock {
    start: NonNull<u8>,
    len: usize,
    #[cfg(not(miri))]
    _map: memmap2::MmapMut,
}

// SAFETY: the block is memory owned by its holder alone, like a `Box<[u8]>`.
unsafe impl Send for MappedBlock {}
// SAFETY: as for `Send`; shared access only reads through `start`.
unsafe impl Sync for MappedBlock {}

impl MappedBlock {
    /// A block of `len` zeroed bytes (a multiple of 4096), aligned to 4096; or abort as an
    /// allocation failure would.
    pub(crate) fn new(len: usize) -> MappedBlock {
        assert!(len > 0 && len % 4096 == 0, "a mapped block is whole pages");
        Self::map(len)
    }

    #[cfg(not(miri))]
    fn map(len: usize) -> MappedBlock {
        let mut map = match memmap2::MmapOptions::new().len(len).map_anon() {
            Ok(map) => map,
            Err(_) => std::alloc::handle_alloc_error(Self::layout(len)),
        };
        let start = NonNull::new(map.as_mut_ptr()).unwrap_or_else(|| std::alloc::handle_alloc_error(Self::layout(len)));
        MappedBlock { start, len, _map: map }
    }

    /// Miri has no anonymous mappings: the block comes from the allocator.
    #[cfg(miri)]
    fn map(len: usize) -> MappedBlock {
        MappedBlock { start: alloc_zeroed(Self::layout(len)), len }
    }

    fn layout(len: usize) -> Layout {
        Layout::from_size_align(len, 4096).expect("a mapped block's layout")
    }

    /// The block's first byte; the block is [`MappedBlock::len`] bytes, writable through this
    /// pointer by the block's holder.
    pub(crate) fn start(&self) -> NonNull<u8> {
        self.start
    }

    /// The block's size in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

#[cfg(miri)]
impl Drop for MappedBlock {
    fn drop(&mut self) {
        // SAFETY: allocated by `map` with this layout; the holder is done with it.
        unsafe { dealloc(self.start, Self::layout(self.len)) }
    }
}

use crate::mark_bits::{self, RunMarks};
pub(crate) use crate::mark_bits::{FIRST_OBJECT_PAGE, RUN_PAGES};

/// [`RUN_PAGES`] pages of `page_bytes` each, aligned to their size: the next run of the arena,
/// or a mapping of its own (module docs). Leaked: it lives as long as the process.
pub(crate) struct PageRun {
    /// The aligned start of the first page.
    start: NonNull<u8>,
    page_bytes: usize,
    /// The marks of the run's pages, in its first page (see `mark_bits.rs`).
    marks: &'static RunMarks,
    /// Pages of the run made and holding their memory (not released): kept by the page pool,
    /// under its lock, which gives the run's tables back when none is left (`pool.rs`).
    resident_pages: AtomicUsize,
    /// Where the run's memory comes from, for `madvise`.
    #[cfg(not(miri))]
    #[cfg_attr(not(unix), allow(dead_code))]
    mapping: Mapping,
}

/// Where a run's memory comes from.
#[cfg(not(miri))]
enum Mapping {
    /// The arena: the run lies in its reserved range, opened for reading and writing.
    #[cfg(target_os = "linux")]
    Arena,
    /// A mapping of its own (leaked: unmapping it would take the pages away), with the offset of
    /// the run's start in it.
    Alone(&'static memmap2::MmapRaw, usize),
}

// SAFETY: a `PageRun` is an address range owned by the heap for the life of the process; the
// memory in it is handed out page by page under the heap's ownership rules (`page.rs`).
unsafe impl Send for PageRun {}
// SAFETY: as for `Send`; `release` takes `&self` but is only called by a page's owner.
unsafe impl Sync for PageRun {}

impl PageRun {
    /// Map a new run of pages of `page_bytes` (a power of two, at least the OS page size),
    /// aligned to its size; or abort as an allocation failure would.
    pub(crate) fn map(page_bytes: usize) -> &'static PageRun {
        let layout = Self::layout(page_bytes);
        #[cfg(all(target_os = "linux", not(miri)))]
        if let Some(start) = ARENA.lock().carve() {
            return Box::leak(Box::new(Self::at(start, page_bytes, Mapping::Arena)));
        }
        Box::leak(Box::new(Self::map_aligned(layout, page_bytes)))
    }

    /// A run mapped on its own even while the arena has room: what the heap gets once the
    /// arena is used up or where it cannot be had.
    #[cfg(test)]
    pub(crate) fn map_alone(page_bytes: usize) -> &'static PageRun {
        Box::leak(Box::new(Self::map_aligned(Self::layout(page_bytes), page_bytes)))
    }

    /// The layout of a run of pages of `page_bytes`: its size, aligned to its size.
    fn layout(page_bytes: usize) -> Layout {
        let bytes = RUN_PAGES * page_bytes;
        assert_eq!(bytes, mark_bits::RUN_BYTES, "runs have the size the mark bits' lookup expects");
        Layout::from_size_align(bytes, bytes).expect("page run layout")
    }

    /// The marks of the run's pages (in its first page, which holds no objects).
    pub(crate) fn marks(&self) -> &'static RunMarks {
        self.marks
    }

    /// Count one more page of the run holding its memory: one made, or taken back out of the
    /// released ones. Only the page pool counts, under its lock (`pool.rs`).
    pub(crate) fn count_resident_page(&self) {
        self.resident_pages.fetch_add(1, Ordering::Relaxed);
    }

    /// Pages of the run made and holding their memory. Read under the page pool's lock.
    pub(crate) fn resident_pages(&self) -> usize {
        self.resident_pages.load(Ordering::Relaxed)
    }

    /// Count one page of the run fewer holding its memory (it was released); returns how many
    /// are left. Only the page pool counts, under its lock (`pool.rs`).
    pub(crate) fn count_released_page(&self) -> usize {
        let before = self.resident_pages.fetch_sub(1, Ordering::Relaxed);
        debug_assert!(before > 0, "a run released more pages than it made");
        before - 1
    }

    /// A run mapped on its own.
    #[cfg(not(miri))]
    fn map_aligned(layout: Layout, page_bytes: usize) -> PageRun {
        // One extra alignment's worth, to find an aligned start inside: the OS aligns mappings to
        // its own page size only. The slack is address space, never touched, never resident.
        let len = layout.size() + layout.align();
        let map: memmap2::MmapRaw = match memmap2::MmapOptions::new().len(len).map_anon() {
            Ok(map) => map.into(),
            Err(_) => std::alloc::handle_alloc_error(layout),
        };
        let offset = map.as_mut_ptr().align_offset(layout.align());
        // SAFETY: `offset < align`, and the mapping is `size + align` bytes long, so the
        // aligned start and the `size` bytes after it are inside it.
        let start = unsafe { map.as_mut_ptr().add(offset) };
        let start = NonNull::new(start).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        let map: &'static memmap2::MmapRaw = Box::leak(Box::new(map));
        Self::at(start, page_bytes, Mapping::Alone(map, offset))
    }

    /// The run at `start`: [`mark_bits::RUN_BYTES`] fresh, zeroed, writable bytes there, aligned
    /// to their size, that nothing else uses.
    #[cfg(not(miri))]
    fn at(start: NonNull<u8>, page_bytes: usize, mapping: Mapping) -> PageRun {
        below_immediates(start, mark_bits::RUN_BYTES);
        // SAFETY: `start` begins a run's worth of fresh, writable, aligned bytes that no other
        // run uses (the caller's promise).
        let marks = unsafe { mark_bits::register_run(start.as_ptr()) };
        PageRun { start, page_bytes, marks, resident_pages: AtomicUsize::new(0), mapping }
    }

    /// Miri has no `mmap` of this kind: take the run from the allocator (and never release it).
    #[cfg(miri)]
    fn map_aligned(layout: Layout, page_bytes: usize) -> PageRun {
        let start = alloc_zeroed(layout);
        // SAFETY: a fresh, zeroed, aligned block of the run's size.
        let marks = unsafe { mark_bits::register_run(start.as_ptr()) };
        PageRun { start, page_bytes, marks, resident_pages: AtomicUsize::new(0) }
    }

    /// The base address of page `i` of the run (`i < RUN_PAGES`).
    pub(crate) fn page(&self, i: usize) -> NonNull<u8> {
        assert!(i < RUN_PAGES);
        // SAFETY: page `i` starts inside the run (`i < RUN_PAGES`).
        unsafe { self.start.add(i * self.page_bytes) }
    }

    /// Give the memory of the page at `base` back to the OS: its contents are lost, its address
    /// stays valid, and the next access finds zeroes. Returns `false` where the platform cannot
    /// release memory (the page then keeps its memory and its contents).
    ///
    /// # Safety
    /// `base` is a page of this run, and nothing reads or writes the page's memory while this
    /// runs, nor relies on its contents afterwards (the page is empty and owned by the caller).
    pub(crate) unsafe fn release(&self, base: NonNull<u8>) -> bool {
        let index = (base.as_ptr() as usize - self.start.as_ptr() as usize) / self.page_bytes;
        debug_assert!(index < RUN_PAGES && self.page(index) == base);
        // SAFETY: one page of this run; the rest is the caller's promise.
        unsafe { self.release_pages(index, 1) }
    }

    /// Give the memory of the run's tables — its pages before [`FIRST_OBJECT_PAGE`]: the
    /// marks, the claims and the pages' bitmaps — back to the OS, as [`PageRun::release`]
    /// does for a page. They come back as zeroes, the state of a run no page of which is in use
    /// (see `mark_bits::register_run` and `page.rs`, `PageBitmaps`).
    ///
    /// # Safety
    /// No page of the run is in use — each is empty and in the page pool, or not made yet —
    /// and nothing reads or writes the tables until a page of the run is taken out again.
    pub(crate) unsafe fn release_tables(&self) -> bool {
        // SAFETY: the tables are the run's first pages; the rest is the caller's promise.
        unsafe { self.release_pages(0, FIRST_OBJECT_PAGE) }
    }

    /// Release `count` pages of the run from page `first` on (see [`PageRun::release`]).
    ///
    /// # Safety
    /// The pages lie in the run, and nothing reads or writes them while this runs, nor relies
    /// on their contents afterwards.
    unsafe fn release_pages(&self, first: usize, count: usize) -> bool {
        debug_assert!(first + count <= RUN_PAGES);
        let bytes = count * self.page_bytes;
        #[cfg(all(unix, not(miri)))]
        match self.mapping {
            #[cfg(target_os = "linux")]
            Mapping::Arena => {
                // SAFETY: the range is pages of this run, in the arena's readable and writable
                // part (the caller's promise); nothing holds a reference into it that is used
                // while the kernel replaces its contents with zero-fill-on-demand memory, nor
                // relies on those contents afterwards (the caller's promise).
                let done = unsafe {
                    rustix::mm::madvise(self.page(first).as_ptr().cast(), bytes, rustix::mm::Advice::LinuxDontNeed)
                };
                done.is_ok()
            }
            Mapping::Alone(map, offset) => {
                let offset = offset + first * self.page_bytes;
                // SAFETY: as above, for pages of this run's own mapping.
                let done = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, offset, bytes) };
                done.is_ok()
            }
        }
        #[cfg(not(all(unix, not(miri))))]
        {
            let _ = bytes;
            false
        }
    }
}

/// The arena's state (module docs, "The arena"): not reserved yet, reserved with runs carved
/// from it, or not to be had.
#[cfg(all(target_os = "linux", not(miri)))]
enum Arena {
    Unreserved,
    Reserved {
        /// The arena's first run: its reservation's start aligned to a run's size.
        start: NonNull<u8>,
        /// Runs carved so far.
        carved: usize,
    },
    Unavailable,
}

// SAFETY: the arena is an address range reserved for the life of the process; its runs are
// handed out one by one under the arena's lock.
#[cfg(all(target_os = "linux", not(miri)))]
unsafe impl Send for Arena {}

/// The process's arena. Runs are mapped under the page pool's lock; this one is taken only then.
#[cfg(all(target_os = "linux", not(miri)))]
static ARENA: crate::primitive::sync::Mutex<Arena> = crate::primitive::sync::Mutex::new(Arena::Unreserved);

#[cfg(all(target_os = "linux", not(miri)))]
impl Arena {
    /// Runs the arena holds.
    const RUNS: usize = mark_bits::ARENA_BYTES / mark_bits::RUN_BYTES;

    /// The start of the arena's next run, opened for reading and writing, reserving the arena
    /// on the first call; `None` once it is used up, if it could not be reserved, or if the
    /// system refuses to open the run (its memory is counted then: under
    /// `vm.overcommit_memory = 2`, past the commit limit; a run mapped alone would be refused
    /// too, and the caller aborts as an allocation failure would).
    fn carve(&mut self) -> Option<NonNull<u8>> {
        if let Arena::Unreserved = self {
            *self = Self::reserve();
        }
        let Arena::Reserved { start, carved } = self else { return None };
        if *carved == Self::RUNS {
            return None;
        }
        // SAFETY: run `carved` (below `RUNS`) lies inside the reservation.
        let run = unsafe { start.add(*carved * mark_bits::RUN_BYTES) };
        let rw = rustix::mm::MprotectFlags::READ | rustix::mm::MprotectFlags::WRITE;
        // SAFETY: the run is part of the arena's reservation, which nothing has used yet
        // (runs are carved once, in order, under this lock): no reference into it exists.
        unsafe { rustix::mm::mprotect(run.as_ptr().cast(), mark_bits::RUN_BYTES, rw) }.ok()?;
        *carved += 1;
        Some(run)
    }

    /// Reserve the arena's address space — without access, so that the system neither backs
    /// nor counts any of it (nor populates it under `mlockall`) until a run is opened — aligned
    /// to a run's size, and announce its start to the mark bits' lookup; `Unavailable` if the
    /// system refuses the mapping or places it where the heap cannot be (then it is unmapped).
    fn reserve() -> Arena {
        let len = mark_bits::ARENA_BYTES + mark_bits::RUN_BYTES;
        // SAFETY: a new anonymous mapping at an address of the system's choosing: it replaces
        // nothing.
        let reserved = unsafe {
            rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                len,
                rustix::mm::ProtFlags::empty(),
                rustix::mm::MapFlags::PRIVATE,
            )
        };
        let Ok(base) = reserved else { return Arena::Unavailable };
        let first = base.align_offset(mark_bits::RUN_BYTES);
        let start = base as usize + first;
        let Some(start_ptr) = NonNull::new(base.cast::<u8>().wrapping_add(first)) else {
            return Arena::Unavailable;
        };
        if !mark_bits::is_below_address_limit(start + mark_bits::ARENA_BYTES) {
            // SAFETY: the mapping made above, which nothing uses.
            let _ = unsafe { rustix::mm::munmap(base, len) };
            return Arena::Unavailable;
        }
        mark_bits::set_arena(start);
        Arena::Reserved { start: start_ptr, carved: 0 }
    }
}

#[cfg(all(test, not(gc_loom)))]
mod tests {
    use super::*;
    use crate::mark_bits::{is_registered_run, is_run, mark_word, ARENA_BYTES, PAGE_BYTES, RUN_BYTES};

    /// Addresses an object can have in `run`: the first and last words of each page that holds
    /// objects (every page after the run's tables).
    fn object_places(run: &PageRun) -> impl Iterator<Item = usize> + '_ {
        (FIRST_OBJECT_PAGE..RUN_PAGES).flat_map(|i| {
            let page = run.page(i).as_ptr() as usize;
            [page, page + PAGE_BYTES - 8]
        })
    }

    /// Whether this system is expected to grant the arena: Linux, unless the process's address
    /// space is limited (`ulimit -v`).
    fn arena_expected() -> bool {
        cfg!(all(target_os = "linux", not(miri)))
            && std::fs::read_to_string("/proc/self/limits")
                .unwrap_or_default()
                .lines()
                .find(|line| line.starts_with("Max address space"))
                .is_some_and(|line| line.split_whitespace().nth(3) == Some("unlimited"))
    }

    /// The permissions `/proc/self/maps` gives the mapping holding `addr` (`rw-p`, `---p` …).
    #[cfg(target_os = "linux")]
    fn permissions_at(addr: usize) -> Option<String> {
        let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
        maps.lines().find_map(|line| {
            let mut fields = line.split_whitespace();
            let (from, to) = fields.next()?.split_once('-')?;
            let range = usize::from_str_radix(from, 16).ok()?..usize::from_str_radix(to, 16).ok()?;
            range.contains(&addr).then(|| fields.next().map(str::to_owned)).flatten()
        })
    }

    /// The arena is address space without access until a run is carved from it: the system
    /// neither backs nor counts it, and `mlockall` does not populate it.
    #[test]
    #[cfg(all(target_os = "linux", not(miri)))]
    fn the_arena_beyond_its_runs_has_no_access_and_its_runs_are_readable_and_writable() {
        let run = PageRun::map(PAGE_BYTES);
        let Some(start) = mark_bits::arena_start() else {
            assert!(!arena_expected(), "the arena is reserved where the system grants it");
            return;
        };
        assert_eq!(permissions_at(run.page(1).as_ptr() as usize).as_deref(), Some("rw-p"));
        let end = start + ARENA_BYTES - 1;
        assert_eq!(permissions_at(end).as_deref(), Some("---p"), "the arena's last byte is not opened");
    }

    #[test]
    fn runs_are_carved_from_the_arena_and_their_objects_are_runs_by_address() {
        let runs: Vec<&PageRun> = (0..3).map(|_| PageRun::map(PAGE_BYTES)).collect();
        let arena = mark_bits::arena_start();
        assert_eq!(arena.is_some(), arena_expected(), "the arena is reserved where the system grants it");
        if let Some(start) = arena {
            for run in &runs {
                let first = run.page(0).as_ptr() as usize;
                assert!((start..start + ARENA_BYTES).contains(&first), "run at {first:#x} outside the arena");
                assert_eq!(first % RUN_BYTES, 0);
            }
        }
        for run in &runs {
            for addr in object_places(run) {
                assert!(is_run(addr), "{addr:#x} is in a run");
                assert!(is_registered_run(addr), "the registry agrees for {addr:#x}");
            }
        }
    }

    #[test]
    fn a_run_mapped_alone_is_a_run_by_the_registry_and_has_its_marks() {
        let run = PageRun::map_alone(PAGE_BYTES);
        let first = run.page(0).as_ptr() as usize;
        if let Some(start) = mark_bits::arena_start() {
            assert!(!(start..start + ARENA_BYTES).contains(&first), "a run of its own is outside the arena");
        }
        for addr in object_places(run) {
            assert!(is_run(addr) && is_registered_run(addr), "{addr:#x} is in a run");
            // SAFETY: `addr` is in a page of this registered run; the pointer is derived from
            // the run's start.
            let (word, _) = unsafe { mark_word(run.page(0).as_ptr().add(addr - first)) }.expect("an address in a run");
            let word = std::ptr::from_ref(word) as usize;
            assert!((first..first + PAGE_BYTES).contains(&word), "its mark word is in the run's first page");
        }
    }

    /// A run's tables, released, read as zeroes — in the arena and in a run mapped alone — and
    /// its object pages keep what they hold.
    #[test]
    fn a_run_s_tables_come_back_as_zeroes_once_released_and_its_pages_are_untouched() {
        for run in [PageRun::map(PAGE_BYTES), PageRun::map_alone(PAGE_BYTES)] {
            let tables = run.page(0).as_ptr();
            let objects = run.page(FIRST_OBJECT_PAGE).as_ptr();
            // SAFETY: bytes of the run's first, second and third pages, which this test's run,
            // used by nothing else, holds; no reference to them is used meanwhile.
            unsafe {
                tables.add(8).write(7);
                tables.add(PAGE_BYTES + 8).write(9);
                objects.write(5);
            }
            // SAFETY: no page of the run is in use (nothing but this test knows the run).
            let released = unsafe { run.release_tables() };
            // SAFETY: as above.
            let read = unsafe { (tables.add(8).read(), tables.add(PAGE_BYTES + 8).read(), objects.read()) };
            if cfg!(all(unix, not(miri))) {
                assert!(released, "the system releases memory");
                assert_eq!(read, (0, 0, 5), "the tables come back as zeroes, the object page keeps its byte");
            } else {
                assert!(!released);
                assert_eq!(read, (7, 9, 5), "nothing released, nothing lost");
            }
        }
    }

    #[test]
    fn a_large_block_is_not_a_run() {
        let layout = Layout::from_size_align(64 << 10, 16).expect("a layout");
        let block = alloc_zeroed(layout);
        let addr = block.as_ptr() as usize;
        assert!(!is_run(addr + 8) && !is_run(addr + (32 << 10)));
        // SAFETY: allocated just above with this layout, not used again.
        unsafe { dealloc(block, layout) };
    }
}
