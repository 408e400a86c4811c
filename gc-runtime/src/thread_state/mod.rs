//! The current thread's part of the collector: its mutator state (allocation cache, shade
//! buffer, assist debt, handshake entry) and its role (a mutator, a collector thread, or
//! neither), reached through thread-locals.
//!
//! The public [`Mutator`](crate::Mutator) is a handle on a [`ThreadState`]; everything the
//! engine needs of "this thread" is here, so the barrier, the marker and the collector never
//! reach up into the public API.
//!
//! # Private state
//!
//! Each mutator owns an allocation cache (a page per size class) and a shade buffer. Both
//! are touched only by its thread; the write barrier finds the buffer through the thread-local
//! [`CURRENT`] ([`with_running_mutator`]), so `Member::set` needs no mutator argument.
//!
//! # Threads that exit
//!
//! A thread that ends with its mutator still attached — leaked with `Box::leak` or
//! `mem::forget`, so never dropped — is noticed on its way out (see `thread_state/exit.rs`) and
//! removed, so later cycles do not wait for it ([`leaked_thread_exited`]). But a leaked mutator
//! can lend `'static` references (`Gc::into_ref` of a `Gc<'static, T>`), and those may live on
//! in other threads after its own ended. So every object alive at that moment is *pinned*:
//! kept, and traced as a root, for the rest of the process (with the world stopped, at the
//! next mark start or undecided termination; a warning says how many) — garbage not collected
//! yet included, so repeated leaks grow the heap for good. Objects made afterwards are
//! collected as usual. Dropping the mutator
//! before its thread ends — or keeping it in a `thread_local!`, which is dropped then — avoids
//! the leak.
//!
//! # Invariants
//!
//! - [`CURRENT`] is null, or points to the state of the mutator attached on this thread; it is
//!   set by [`ThreadState::attach`] and cleared by [`ThreadState::detach_for_good`] before the
//!   state is freed. A state `with_mutator` keeps between its calls (`kept.rs`) is detached and
//!   not `CURRENT` meanwhile: [`ThreadState::park`] clears it, [`ThreadState::resume`] sets it;
//!   it stays watched for the thread's end, marked `kept`, which frees it.
//! - Only shared references to a `ThreadState` are ever made (every field is a `Cell` or a
//!   `RefCell`): the public handle and the barrier reach the same state.

use std::{
    alloc::Layout,
    cell::{Cell, OnceCell, RefCell},
    fmt,
    ptr::NonNull,
    sync::Arc,
};

use crate::{
    clock,
    heap::{cache::AllocCache, large, page::PAGE_BYTES, size_class::class_of, PageHeap},
    marker::{self, credit::assist_ratio},
    object::{
        header::TypeDesc,
        layout::{array_desc, array_needs_arming, ArrayBox, STR_DESC},
        GcBox, Header, Trace, Tracer,
    },
    primitive::sync::atomic::AtomicU64,
    runtime::Runtime,
    shade::{self, GreyQueue, ShadeBuffer},
    stack_scan::{self, StackRegistry},
    thread_pauses::ThreadPauseLog,
};

mod exit;
pub(crate) mod kept;
pub(crate) mod user_code;

/// The memory limit was reached: what was asked for, and how full the heap is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitError {
    /// The configured limit, in bytes.
    pub limit: usize,
    /// The heap's live bytes when the request failed.
    pub live: usize,
    /// Bytes the last collection found live (what it marked).
    pub last_marked: usize,
    /// Bytes the request needed (a page, for small objects).
    pub requested: usize,
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gc memory limit reached: the heap holds {} bytes of a {}-byte limit and {} more were needed \
             (the last collection found {} bytes live)",
            self.live, self.limit, self.requested, self.last_marked
        )
    }
}

impl std::error::Error for LimitError {}

/// Bytes of marking owed after which a mutator allocating during marking pays (from the
/// workers' credit, else by marking itself).
const ASSIST_CHUNK: usize = 64 * 1024;
/// Bytes of marking owed per byte allocated when no pacing goal sets the ratio (pacing off:
/// only explicit collections run).
const UNPACED_ASSIST_RATIO: f64 = 2.0;

struct Local {
    cache: AllocCache,
    shade: ShadeBuffer,
    assist_debt: usize,
}

/// A mutator's state: owned by its [`Mutator`](crate::Mutator) handle, reached by the barrier
/// through [`CURRENT`].
pub(crate) struct ThreadState {
    rt: &'static Runtime,
    id: usize,
    running: Cell<bool>,
    seen_sweep_epoch: Cell<u64>,
    /// The mark epoch of the last marking during which this thread upgraded a weak reference
    /// (0: none). Under the Yuasa barrier its stores then shade the stored pointer too, until
    /// that marking ends (see `weak.rs`).
    weak_upgrade_epoch: Cell<u64>,
    local: RefCell<Local>,
    /// Where this thread records the time it spends inside the collector's handshakes.
    pauses: ThreadPauseLog,
    /// This mutator's acknowledgement cell in the handshake table (answers take no lock).
    ack: Arc<AtomicU64>,
    /// This mutator's value stacks, once it made one (see `stack_scan.rs`).
    stacks: OnceCell<Arc<StackRegistry>>,
    /// The mark epoch of the marking during which this thread last scanned its value stacks.
    stacks_scanned: Cell<u64>,
    /// Whether the state is set aside, detached, between two `with_mutator` calls (`kept.rs`):
    /// the thread's end then frees it rather than reporting a leaked mutator.
    kept: Cell<bool>,
}

thread_local! {
    /// The state of the mutator attached on this thread, or null.
    static CURRENT: Cell<*const ThreadState> = const { Cell::new(std::ptr::null()) };
    /// Whether this thread is one of the collector's (collector, mark worker, finalizer).
    static IN_COLLECTOR: Cell<bool> = const { Cell::new(false) };
}

/// Why this thread cannot attach a mutator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// It already has one.
    AlreadyAttached,
    /// It is one of the collector's threads.
    CollectorThread,
}

/// Whether the calling thread may attach a mutator.
pub(crate) fn may_attach() -> Result<(), Refusal> {
    if !CURRENT.with(Cell::get).is_null() {
        return Err(Refusal::AlreadyAttached);
    }
    if IN_COLLECTOR.with(Cell::get) {
        return Err(Refusal::CollectorThread);
    }
    Ok(())
}

impl ThreadState {
    /// Register the calling thread as a mutator of `rt` (it may attach: see [`may_attach`]).
    /// The state lives until [`ThreadState::detach_for_good`], or for the rest of the process
    /// if its handle is leaked.
    pub(crate) fn attach(rt: &'static Runtime) -> NonNull<ThreadState> {
        // Checked: a second state would overwrite `CURRENT` while the first is still in use.
        assert_eq!(may_attach(), Ok(()), "ThreadState::attach on a thread that may not attach");
        let name =
            std::thread::current().name().map_or_else(|| format!("{:?}", std::thread::current().id()), str::to_owned);
        let asked = rt.started.elapsed();
        let (id, waited) = rt.handshake.register_after_any_stop(name);
        let registered = rt.started.elapsed();
        // The id may be a reused one, whose registry was a leaked mutator's: this one has no
        // stacks yet (and, running, is not scanned by the collector meanwhile).
        rt.stacks.set(id, None);
        let state = NonNull::from(Box::leak(Box::new(ThreadState {
            rt,
            id,
            running: Cell::new(true),
            seen_sweep_epoch: Cell::new(clock::sweep_epoch()),
            weak_upgrade_epoch: Cell::new(0),
            local: RefCell::new(Local {
                cache: AllocCache::default(),
                shade: ShadeBuffer::of_candidates(),
                assist_debt: 0,
            }),
            pauses: rt.thread_pauses.register(asked),
            ack: rt.handshake.ack_cell(id),
            stacks: OnceCell::new(),
            stacks_scanned: Cell::new(0),
            kept: Cell::new(false),
        })));
        if waited {
            // The attach waited out a stopped world: a pause of this thread, as the same wait
            // in `attach_again` is (a program that attaches per request sees this one).
            // SAFETY: just made, and not freed before this function returns.
            let pauses = &unsafe { state.as_ref() }.pauses;
            rt.thread_pauses.record(pauses, asked, registered.saturating_sub(asked));
        }
        CURRENT.with(|c| c.set(state.as_ptr()));
        exit::watch(state.as_ptr().cast_const().cast());
        state
    }

    /// Detach for good: hand back the private state, leave the handshake, clear [`CURRENT`]
    /// and free the state.
    ///
    /// # Safety
    /// `state` came from [`ThreadState::attach`] on this thread, and no reference to it is
    /// used after this call.
    pub(crate) unsafe fn detach_for_good(state: NonNull<ThreadState>) {
        {
            // SAFETY: valid until freed below (the caller).
            let this = unsafe { state.as_ref() };
            let (rt, id) = (this.rt, this.id);
            let mut local = this.local.borrow_mut();
            local.cache.release_all(&rt.pages);
            // The stacks die with the mutator (a `ValueStack` left behind cannot be opened).
            rt.stacks.set(id, None);
            rt.handshake.unregister(id, || local.shade.flush(&rt.grey));
            rt.thread_pauses.ended(&this.pauses, rt.started.elapsed());
        }
        CURRENT.with(|c| c.set(std::ptr::null()));
        // The thread's watch goes back to the state `with_mutator` keeps, if there is one: a
        // mutator of its own that a collection call attached and now frees took the watch over.
        kept::watch_again();
        // SAFETY: `state` came from `Box::leak` in `attach`; the thread-local pointer was cleared
        // above and the exit watch points elsewhere (the kept state is never the one freed here:
        // `kept::free_at_exit` takes it out first), and no reference to the state outlives this
        // call.
        drop(unsafe { Box::from_raw(state.as_ptr()) });
    }

    /// Detach a running state and set it aside, kept for the thread's next attach (see
    /// `kept.rs`): it is no longer [`CURRENT`], and the thread's end frees it (it stays watched,
    /// marked kept).
    ///
    /// # Safety
    /// `state` came from [`ThreadState::attach`] on this thread, is running and `CURRENT`, and
    /// its owner does not use it until [`ThreadState::resume`].
    pub(crate) unsafe fn park(state: NonNull<ThreadState>) {
        // SAFETY: valid (the caller); only shared references to a state are made.
        let this = unsafe { state.as_ref() };
        this.detach();
        this.kept.set(true);
        CURRENT.with(|c| c.set(std::ptr::null()));
    }

    /// Take back a state set aside by [`ThreadState::park`]: make it [`CURRENT`] again and
    /// re-attach it (waiting out a stopped world, as a return from `blocking` does). It is
    /// still watched (`park` leaves the watch on), now as a running mutator.
    ///
    /// # Safety
    /// `state` was parked on this thread and nothing else refers to it; the thread has no
    /// mutator ([`may_attach`]).
    pub(crate) unsafe fn resume(state: NonNull<ThreadState>) {
        debug_assert!(CURRENT.with(Cell::get).is_null(), "a kept state resumed on a thread with a mutator");
        // SAFETY: valid (the caller).
        let this = unsafe { state.as_ref() };
        this.kept.set(false);
        CURRENT.with(|c| c.set(state.as_ptr()));
        this.attach_again();
    }

    /// The runtime this mutator belongs to.
    pub(crate) fn runtime(&self) -> &'static Runtime {
        self.rt
    }

    /// This mutator's handshake id.
    pub(crate) fn id(&self) -> usize {
        self.id
    }

    /// Allocate an object holding `value`, or give `value` back with the limit's state.
    ///
    /// The object is written (marked if allocated while marking runs or before its page's due
    /// sweep, see `heap/cache.rs`) and its slots armed before anything can see it; a large
    /// object is published to the sweepers last. Not a safepoint.
    #[inline(always)]
    pub(crate) fn alloc<T: Trace + Send + Sync + 'static>(
        &self,
        value: T,
    ) -> Result<NonNull<GcBox<T>>, (T, LimitError)> {
        let block = match const { small_class::<T>() } {
            Some(class) => {
                let mut local = self.local.borrow_mut();
                match local.cache.alloc_fast(class, std::mem::needs_drop::<T>()) {
                    Some(p) => Ok(p),
                    None => self.alloc_slow(&mut local, class, std::mem::needs_drop::<T>()),
                }
            }
            None => self.alloc_large(Layout::new::<GcBox<T>>()),
        };
        let block = match block {
            Ok(block) => block,
            Err(refused) => return Err((value, refused)),
        };
        let obj = block.cast::<GcBox<T>>();
        // SAFETY: `block` is a free slot (or block) of at least `size_of::<GcBox<T>>()` bytes,
        // suitably aligned (`small_class` picks a class whose slots are aligned for `T`, and
        // sends over-aligned types to the large-object path), owned by nobody else until
        // published: a slot sits in this mutator's own cached page, a large block is not
        // listed yet.
        unsafe { obj.as_ptr().write(GcBox { header: Header::new::<T>(), value }) };
        if const { small_class::<T>().is_none() } {
            // Publication comes last: only now may a sweeper see the block (see `large.rs`).
            // SAFETY: the block came from `alloc_large` with this layout and holds the object
            // just written.
            unsafe { self.rt.pages.publish_large(block, Layout::new::<GcBox<T>>()) };
        }
        if T::NEEDS_TRACE {
            // SAFETY: just initialised.
            let value = unsafe { &(*obj.as_ptr()).value };
            value.trace(&mut Tracer::arming());
        }
        Ok(obj)
    }

    /// Allocate an array object (`[E]`) holding `elements` — moved in, the vector's buffer
    /// freed — or give them back with the limit's state. As [`alloc`](Self::alloc): written
    /// and armed before anything can see it.
    pub(crate) fn alloc_array<E: Trace + Send + Sync + 'static>(
        &self,
        mut elements: Vec<E>,
    ) -> Result<NonNull<Header>, (Vec<E>, LimitError)> {
        let len = elements.len();
        // SAFETY: `fill` copies the `len` elements bitwise into the object and says so; it
        // cannot panic. `set_len(0)` below makes the vector forget them (the object owns them).
        let result = unsafe {
            self.alloc_array_with(array_desc::<E>(), len, |start, written| {
                std::ptr::copy_nonoverlapping(elements.as_ptr(), start, len);
                *written = len;
            })
        };
        match result {
            Ok(obj) => {
                // SAFETY: the elements were moved into the object above.
                unsafe { elements.set_len(0) };
                Ok(obj)
            }
            Err(state) => Err((elements, state)),
        }
    }

    /// Allocate an array object of `len` elements, element `i` being `make(i)`, made in order
    /// and written straight into the object. `make` may allocate, and may panic: the object
    /// then holds the elements made so far (a garbage object, dropped and freed by a later
    /// sweep), and the panic goes on.
    pub(crate) fn alloc_array_from_fn<E: Trace + Send + Sync + 'static>(
        &self,
        len: usize,
        mut make: impl FnMut(usize) -> E,
    ) -> Result<NonNull<Header>, LimitError> {
        // SAFETY: `fill` writes elements `0..len` in order and counts each one right after
        // writing it, so the count is right whenever `make` panics.
        unsafe {
            self.alloc_array_with(array_desc::<E>(), len, |start: *mut E, written| {
                for i in 0..len {
                    start.add(i).write(make(i));
                    *written = i + 1;
                }
            })
        }
    }

    /// Allocate a `str` object holding a copy of `text`.
    pub(crate) fn alloc_str(&self, text: &str) -> Result<NonNull<Header>, LimitError> {
        let bytes = text.as_bytes();
        // SAFETY: `fill` copies the `len` bytes, says so, and cannot panic; they are UTF-8, as
        // a `str` object's bytes must be (`layout.rs`).
        unsafe {
            self.alloc_array_with(&STR_DESC, bytes.len(), |start, written| {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), start, bytes.len());
                *written = bytes.len();
            })
        }
    }

    /// Allocate an array object of `len` elements that `fill` writes, described by `desc`.
    ///
    /// `fill` gets where the elements start and a count of those written so far; it may run
    /// user code (which may allocate: no borrow of this thread's state is held meanwhile) and
    /// may panic. Whether it returns or unwinds, the object's length word is then set to the
    /// count, and a large object is published to the sweepers, so a half-filled object is a
    /// well-formed garbage object, never a leak or uninitialised memory behind a header.
    ///
    /// # Safety
    /// `desc` describes `[E]` (or `str`, with `E = u8`); `fill` initialises elements `0..n` in
    /// order, with `n` in the count whenever it returns or panics, and `n == len` when it
    /// returns (UTF-8 bytes for `str`).
    ///
    /// # Panics
    /// If the object's size overflows `isize` (before anything is allocated), or if `fill`
    /// panics.
    unsafe fn alloc_array_with<E: Trace>(
        &self,
        desc: &'static TypeDesc,
        len: usize,
        fill: impl FnOnce(*mut E, &mut usize),
    ) -> Result<NonNull<Header>, LimitError> {
        /// Sets the length word to the count of written elements, and publishes a large
        /// object, on every exit from `fill`.
        struct Finish<'a, E> {
            array: NonNull<ArrayBox<E>>,
            written: usize,
            large: Option<(&'a PageHeap, Layout)>,
        }
        impl<E> Drop for Finish<'_, E> {
            fn drop(&mut self) {
                // SAFETY: the header was written and `written` elements initialised (the
                // contract of `fill`); the block is still this thread's alone.
                unsafe { (&raw mut (*self.array.as_ptr()).len).write(self.written) };
                if let Some((heap, layout)) = self.large {
                    // SAFETY: as in `alloc`: the block came from `alloc_large` with this
                    // layout and holds a well-formed object now; publication comes last.
                    unsafe { heap.publish_large(self.array.cast(), layout) };
                }
            }
        }
        // Too large: the layout overflows `isize`, or the large-object block around it would.
        let layout = ArrayBox::<E>::layout(len)
            .filter(|&layout| large::fits_in_a_block(layout))
            .unwrap_or_else(|| panic!("an array of {len} `{}` is too large to allocate", std::any::type_name::<E>()));
        let class = class_of(layout.size(), layout.align());
        let block = match class {
            Some(class) => {
                let mut local = self.local.borrow_mut();
                let needs_drop = desc.drop.is_some();
                match local.cache.alloc_fast(class, needs_drop) {
                    Some(p) => Ok(p),
                    None => self.alloc_slow(&mut local, class, needs_drop),
                }
            }
            None => self.alloc_large(layout),
        };
        let block = block?;
        let array = block.cast::<ArrayBox<E>>();
        {
            let mut finish = Finish { array, written: 0, large: class.is_none().then_some((&self.rt.pages, layout)) };
            // SAFETY: `block` is a free slot (or block) of at least `layout.size()` bytes,
            // aligned for `ArrayBox<E>` (`class_of` picks a class whose slots have the layout's
            // alignment, or none, and then the large-object path honours it), owned by nobody
            // else until published (as in `alloc`); `fill` initialises the elements it counts
            // (the caller), and `finish` records them on every exit.
            unsafe {
                (&raw mut (*array.as_ptr()).header).write(Header::with_desc(desc));
                fill((&raw mut (*array.as_ptr()).elements).cast::<E>(), &mut finish.written);
            }
            debug_assert_eq!(finish.written, len, "`fill` returned with elements missing");
        }
        if const { array_needs_arming::<E>() } {
            // SAFETY: just initialised, with `len` elements.
            for element in unsafe { ArrayBox::<E>::elements(array.as_ptr().cast()) } {
                element.trace(&mut Tracer::arming());
            }
        }
        Ok(array.cast())
    }

    /// A safepoint that has work to do: acknowledge the collector's request (publishing grey
    /// objects and, if a marking terminated since the last time, handing cached pages back —
    /// both before the acknowledgement, so the collector can sweep them once everyone
    /// answered), or park for a stop-the-world pause.
    pub(crate) fn safepoint_slow(&self) {
        if !self.rt.handshake.has_request_for(&self.ack) {
            // Answered this round already (the round waits for another thread): not a visit.
            return;
        }
        self.timed(|| {
            let mut local = self.local.borrow_mut();
            self.rt.handshake.safepoint_slow(self.id, &self.ack, &mut || self.publish_private_state(&mut local));
        });
    }

    /// Run a visit to the collector's handshake and record its length as a pause of this
    /// thread (see `thread_pauses.rs`).
    fn timed<R>(&self, visit: impl FnOnce() -> R) -> R {
        let start = self.rt.started.elapsed();
        let r = visit();
        self.record_pause_since(start);
        r
    }

    /// Record a pause of this thread from `start` (since the runtime started) to now.
    fn record_pause_since(&self, start: std::time::Duration) {
        let length = self.rt.started.elapsed().saturating_sub(start);
        self.rt.thread_pauses.record(&self.pauses, start, length);
    }

    /// This mutator's value-stack registry, made (and announced to the collector) on first use.
    pub(crate) fn stack_registry(&self) -> Arc<StackRegistry> {
        self.stacks
            .get_or_init(|| {
                let registry = Arc::new(StackRegistry::default());
                self.rt.stacks.set(self.id, Some(registry.clone()));
                registry
            })
            .clone()
    }

    /// Whether `registry` is this mutator's.
    pub(crate) fn owns_stack_registry(&self, registry: &Arc<StackRegistry>) -> bool {
        self.stacks.get().is_some_and(|mine| Arc::ptr_eq(mine, registry))
    }

    /// Shade what this thread's value stacks hold into its buffer, if a scan is due (see
    /// `stack_scan.rs`, rule 1). Returns whether it scanned. Called only where no view of a
    /// stack can be open: at a safepoint's answer or park, and when detaching or re-attaching.
    fn scan_stacks(&self, local: &mut Local) -> bool {
        let Some(registry) = self.stacks.get() else { return false };
        let Some(epoch) = stack_scan::scan_due(self.stacks_scanned.get()) else { return false };
        let queue = &self.rt.grey;
        let shade = &mut local.shade;
        // SAFETY: this is the owning thread, inside a safepoint, a detach or an attach — all
        // of which take the mutator mutably, so no view is open.
        unsafe {
            registry.scan(&mut |obj| {
                // SAFETY: a stack holds locals of this mutator, which are allocated objects.
                shade::shade_candidate(obj, epoch, shade, queue)
            })
        };
        self.stacks_scanned.set(epoch);
        true
    }

    /// Record that this thread holds a local from a weak upgrade made while marking: its
    /// stores shade what they store from now on (Yuasa), and its value stacks are due for a
    /// scan again at its next answer or park. The local may be white and outside the snapshot,
    /// and a push onto a value stack is a plain store that survives the safepoint, so a stack
    /// scanned once in this marking (all a Yuasa or hybrid marking otherwise asks: see
    /// `stack_scan.rs`, rule 1) could hide it. The upgrade is counted, so the termination
    /// round it crosses is not quiet and the next one comes after that scan.
    pub(crate) fn note_weak_upgrade(&self) {
        self.weak_upgrade_epoch.set(clock::mark_epoch());
        // No marking has epoch 0 (`clock::FIRST_EPOCH` is the one before the first), so the
        // next `scan_due` finds the stacks unscanned in this marking.
        self.stacks_scanned.set(0);
    }

    /// Shade an object into this mutator's buffer (barrier helper for roots).
    ///
    /// # Safety
    /// `obj` is allocated: reachable through a local of this mutator.
    pub(crate) unsafe fn shade(&self, obj: *mut Header) {
        let mut local = self.local.borrow_mut();
        // SAFETY: the caller.
        unsafe { shade::shade_candidate(obj, clock::mark_epoch(), &mut local.shade, &self.rt.grey) };
    }

    #[cold]
    #[inline(never)]
    fn alloc_slow(&self, local: &mut Local, class: usize, needs_drop: bool) -> Result<NonNull<u8>, LimitError> {
        self.answer_at_allocation(local);
        self.release_stale_pages(local);
        self.room_for(PAGE_BYTES)?;
        local.cache.refill(&self.rt.pages, class);
        let bytes = std::mem::take(&mut local.cache.allocated_since_refill);
        self.after_allocation(local, bytes);
        Ok(local.cache.alloc_fast(class, needs_drop).unwrap_or_else(|| unreachable!("a refilled page has a free slot")))
    }

    #[cold]
    #[inline(never)]
    fn alloc_large(&self, layout: Layout) -> Result<NonNull<u8>, LimitError> {
        assert!(large::fits_in_a_block(layout), "an object of {} bytes is too large to allocate", layout.size());
        // Answer first, as a refill does: a request the memory limit refuses still answers the
        // rounds after marking, which publish the sweep that makes room.
        self.answer_at_allocation(&mut self.local.borrow_mut());
        // Under a limit the object is charged with the check, in one step (racing threads
        // cannot all be granted the last room).
        let charged = self.under_limit(layout.size(), |limit| self.rt.pages.charge_large_under(layout, limit))?;
        let mut local = self.local.borrow_mut();
        let block = self.rt.pages.alloc_large(layout, local.cache.mark_epoch_view(), charged);
        self.after_allocation(&mut local, layout.size());
        Ok(block)
    }

    /// Whether `bytes` more fit under the memory limit; if not, the refusal, with the figures
    /// the decision was made on.
    pub(crate) fn room_for(&self, bytes: usize) -> Result<(), LimitError> {
        self.under_limit(bytes, |limit| self.rt.pages.room_under(bytes, limit)).map(drop)
    }

    /// Check a request of `requested` bytes against the memory limit with `check` (which
    /// returns the bytes in use it saw if they do not fit). If they do not fit, ask for a
    /// collection and finish any sweep in progress (this thread sweeps), then check again.
    /// `Ok(false)` without a limit (nothing was checked), `Ok(true)` if the check passed. The
    /// limit is read once, so a refusal reports the limit and the heap it was decided on, even
    /// while another thread reconfigures.
    fn under_limit(&self, requested: usize, check: impl Fn(usize) -> Result<(), usize>) -> Result<bool, LimitError> {
        let Some(limit) = self.rt.pacer.limit() else { return Ok(false) };
        if check(limit).is_ok() {
            return Ok(true);
        }
        self.rt.control.request_background();
        self.rt.pages.finish_sweep();
        match check(limit) {
            Ok(()) => Ok(true),
            Err(live) => Err(LimitError { limit, live, last_marked: self.rt.pacer.last_live(), requested }),
        }
    }

    fn after_allocation(&self, local: &mut Local, bytes: usize) {
        self.rt.note_allocation(bytes, local.cache.allocates_black());
        // Not in the mark-start window of a handshake start: nothing may be scanned until
        // every mutator has the barrier on.
        if clock::scanning_allowed() {
            let (rt, credit) = (self.rt, &self.rt.assist_credit);
            let ratio = match rt.pacer.paced_goal() {
                Some(goal) => assist_ratio(rt.pacer.last_live(), credit.marked(), rt.paced_bytes(), goal),
                None => UNPACED_ASSIST_RATIO,
            };
            local.assist_debt += (bytes as f64 * ratio) as usize;
            if local.assist_debt >= ASSIST_CHUNK {
                let owed = local.assist_debt - credit.steal(local.assist_debt);
                local.assist_debt = 0;
                if owed > 0 {
                    // Marking done for the collector: a pause of this thread, as its visits are
                    // (one that found no work to take is none).
                    let start = rt.started.elapsed();
                    if marker::assist(rt, owed) {
                        self.record_pause_since(start);
                    }
                }
            }
        } else {
            local.assist_debt = 0;
        }
    }

    fn release_stale_cache(&self) {
        self.release_stale_pages(&mut self.local.borrow_mut());
    }

    /// What a mutator does when it acknowledges a handshake: publish its grey objects, and hand
    /// back its cached pages if a marking terminated since it last did.
    fn publish_private_state(&self, local: &mut Local) {
        self.scan_stacks(local);
        local.shade.flush(&self.rt.grey);
        local.cache.see_mark_epoch();
        self.release_stale_pages(local);
    }

    /// Where an allocation refills its cache (or allocates a large object): answer a round
    /// that may be answered there (see `handshake.rs` and `collector/mod.rs`, "Rounds answered
    /// at an allocation") — as at a safepoint, but without scanning the value stacks, whose
    /// views may be open. Not while user code runs under a collection's lock, whose caller may
    /// be in the middle of something a round asks about.
    fn answer_at_allocation(&self, local: &mut Local) {
        let handshake = &self.rt.handshake;
        let Some(seq) = handshake.allocation_answer_due(&self.ack) else { return };
        if user_code::active() {
            return;
        }
        self.timed(|| {
            local.shade.flush(&self.rt.grey);
            local.cache.see_mark_epoch();
            self.release_stale_pages(local);
            handshake.acknowledge(&self.ack, seq);
        });
    }

    /// After a mark termination, hand the cached pages back so the sweeper can reach them.
    fn release_stale_pages(&self, local: &mut Local) {
        let epoch = clock::sweep_epoch();
        if self.seen_sweep_epoch.get() != epoch {
            local.cache.release_all(&self.rt.pages);
            self.seen_sweep_epoch.set(epoch);
        }
    }

    /// Running → detached. The cached pages go back to the central lists first: a cycle may
    /// run while this thread is away, and its sweep must reach the garbage in them (otherwise
    /// their dead objects' destructors would wait until the thread allocates again).
    pub(crate) fn detach(&self) {
        let (rt, id) = (self.rt, self.id);
        let mut local = self.local.borrow_mut();
        local.cache.release_all(&rt.pages);
        // Before detaching: while detached, nobody scans this thread's stacks until the next
        // mark start (see `stack_scan.rs`). The scan is work done for the collector, outside a
        // handshake visit: it is recorded as a pause of this thread, as a scan at a safepoint
        // is inside the visit's.
        if self.stacks.get().is_some() && stack_scan::scan_due(self.stacks_scanned.get()).is_some() {
            self.timed(|| self.scan_stacks(&mut local));
        }
        rt.handshake.detach(id, || local.shade.flush(&rt.grey));
        drop(local);
        self.running.set(false);
    }

    pub(crate) fn attach_again(&self) {
        // Waiting out a stopped world, or scanning this thread's stacks for the collector, is a
        // pause this thread sees on its way back; a return that found the world running and
        // nothing to scan is no visit to the collector, and is not recorded (every return was:
        // a program that blocks per request saw its pause figures filled with tens of
        // nanoseconds of bookkeeping, and its percentiles with them).
        let start = self.rt.started.elapsed();
        let waited = self.rt.handshake.attach(self.id);
        // The collector may have scanned the stopped mutators' stacks before this attach, or
        // not yet (see `stack_scan.rs`, the last paragraph).
        let scanned = {
            let mut local = self.local.borrow_mut();
            let scanned = self.scan_stacks(&mut local);
            if scanned {
                local.shade.flush(&self.rt.grey);
            }
            scanned
        };
        if waited || scanned {
            self.record_pause_since(start);
        }
        self.local.borrow_mut().cache.see_mark_epoch();
        self.running.set(true);
        self.release_stale_cache();
    }
}

/// A thread ended with a mutator state still watched (called by `exit.rs`, after every Rust
/// thread-local of the thread was destroyed): the one `with_mutator` kept, which is freed, or a
/// leaked mutator's.
///
/// # Safety
/// `state` is the `ThreadState` of a mutator attached on the calling, exiting thread and never
/// dropped (so never freed), kept by `kept.rs` or never used again.
pub(crate) unsafe fn thread_exited(state: *const ThreadState) {
    // SAFETY: guaranteed by the caller; only shared references to the state exist.
    if unsafe { &*state }.kept.get() {
        // SAFETY: a kept state of this thread (the caller), taken out of `kept.rs` here, so
        // nothing else refers to it; it is resumed and freed as a dropped mutator is.
        unsafe { kept::free_at_exit(NonNull::new_unchecked(state.cast_mut())) };
    } else {
        // SAFETY: guaranteed by the caller.
        unsafe { leaked_thread_exited(state) };
    }
}

/// The thread of a leaked mutator ended: hand its private state back, remove it from the
/// handshake, and have the collector pin every live object (see "Threads that exit").
///
/// # Safety
/// `state` is the `ThreadState` of a mutator attached on the calling, exiting thread and never
/// dropped (so never freed, and never used again).
unsafe fn leaked_thread_exited(state: *const ThreadState) {
    // SAFETY: guaranteed by the caller; only shared references to the state exist.
    let inner = unsafe { &*state };
    let rt = inner.rt;
    let name = match inner.local.try_borrow_mut() {
        Ok(mut local) => {
            local.cache.release_all(&rt.pages);
            rt.handshake.exit_leaked(inner.id, || local.shade.flush(&rt.grey))
        }
        // The thread cannot end inside an allocation; if it somehow did, leak the cache.
        Err(_) => rt.handshake.exit_leaked(inner.id, || {}),
    };
    // Its pause log ends here, and joins the ended threads' (bounded) instead of staying with
    // the attached ones for good.
    rt.thread_pauses.ended(&inner.pauses, rt.started.elapsed());
    // Without `std`'s stderr lock or thread-locals, which may be gone on an exiting thread.
    crate::report::write_stderr(
        format!(
            "gc: thread `{name}` ended with its Mutator still attached (it was leaked: Box::leak or \
         mem::forget); references borrowed from it may outlive the thread, so every object alive \
         now is kept for the rest of the process. Drop the Mutator before the thread ends, or keep \
         it in a thread_local!.\n"
        )
        .as_bytes(),
    );
}

/// Mark the current thread as a collector thread: it may not attach. Every thread started
/// from a [`collector_thread`] builder calls this first.
pub(crate) fn enter_collector_thread() {
    IN_COLLECTOR.with(|c| c.set(true));
}

/// The stack of every thread the collector starts (collector, finalizer, mark workers): 64 MiB,
/// or `RUST_MIN_STACK` if that is larger. Dropping one object's fields recurses natively (a
/// deep plain list in a field), and so may a hand-written `Trace` impl; the std impls through
/// which a value nests (`Box`, the containers) grow the stack themselves when it runs low
/// (`trace_impls.rs`, `deeper`), so deep values are traced on any thread. The memory is
/// reserved, not committed, until used.
pub(crate) fn collector_stack_size() -> usize {
    const DEFAULT: usize = 64 << 20;
    let min = std::env::var("RUST_MIN_STACK").ok().and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
    DEFAULT.max(min)
}

/// A builder for one of the collector's threads (named, with the collector's stack size).
pub(crate) fn collector_thread(name: &str) -> std::thread::Builder {
    std::thread::Builder::new().name(name.into()).stack_size(collector_stack_size())
}

/// What the write barrier's slow path needs of the current thread's running mutator.
pub(crate) struct RunningMutator<'a> {
    /// Its buffer of candidates (see `shade.rs`).
    pub(crate) shade: &'a mut ShadeBuffer,
    /// The global grey queue the buffer flushes into.
    pub(crate) grey: &'a GreyQueue,
}

/// The most bytes in front of a value in its object, for values aligned to at most 16 bytes:
/// the header, and a slice's length or a trait object's view, padded.
const OBJECT_OVERHEAD_MAX: usize = 32;

/// The most an allocation of a value of `bytes` is charged against the memory limit
/// (`Mutator::try_reserve`): a small object is charged when its thread's cache takes a page,
/// so at least a page; a large object its whole block.
pub(crate) fn charge_for(bytes: usize) -> usize {
    bytes.saturating_add(OBJECT_OVERHEAD_MAX).max(PAGE_BYTES)
}

/// Run `f` with the current thread's running mutator (attached, not inside `blocking` or
/// `collect`, state not borrowed); `None` otherwise. The collector waits for a running mutator
/// at every pause, so nothing `f` does can straddle one.
#[inline]
pub(crate) fn with_running_mutator<R>(f: impl FnOnce(RunningMutator<'_>) -> R) -> Option<R> {
    let p = CURRENT.with(Cell::get);
    if p.is_null() {
        return None;
    }
    // SAFETY: `CURRENT` points to the state while its `Mutator` exists on this thread and is
    // cleared in `ThreadState::detach_for_good` before the state is freed; only shared
    // references to it are ever made.
    let inner = unsafe { &*p };
    if !inner.running.get() {
        return None;
    }
    let mut local = inner.local.try_borrow_mut().ok()?;
    Some(f(RunningMutator { shade: &mut local.shade, grey: &inner.rt.grey }))
}

/// The current thread's `weak_upgrade_epoch` if it has a running mutator, attached and not
/// inside `blocking` or `collect` (its state may be borrowed: this takes no borrow); `None`
/// otherwise. The barrier's test for a thread it may trust to stay out of pauses.
#[inline]
pub(crate) fn running_weak_upgrade_epoch() -> Option<u64> {
    let p = CURRENT.with(Cell::get);
    if p.is_null() {
        return None;
    }
    // SAFETY: as in `with_running_mutator`.
    let inner = unsafe { &*p };
    inner.running.get().then(|| inner.weak_upgrade_epoch.get())
}

/// For one call of a GC collection, inside its outermost user-code guard: attach this thread's
/// mutator again if it is detached (the thread is inside `Mutator::blocking`), and detach it
/// again when that guard ends (`user_code.rs`, "Values under construction"). `false` if the
/// thread has no mutator.
pub(crate) fn attach_again_for_the_call() -> bool {
    debug_assert!(user_code::outermost(), "attached again inside another collection's call");
    let p = CURRENT.with(Cell::get);
    if p.is_null() {
        return false;
    }
    // SAFETY: as in `with_running_mutator`.
    let inner = unsafe { &*p };
    if !inner.running.get() {
        // No collection's lock is held (the outermost guard): waiting out a stopped world here
        // cannot be waiting for a writer blocked on one.
        inner.attach_again();
        // SAFETY: the state is this thread's, and its `Mutator` is borrowed by `blocking`
        // further up this thread's stack, which outlives the guard.
        unsafe { user_code::detach_again_when_done(NonNull::from(inner)) };
    }
    true
}

/// Whether the current thread has a running mutator (see [`with_running_mutator`]).
#[inline]
pub(crate) fn running_here() -> bool {
    let p = CURRENT.with(Cell::get);
    // SAFETY: as in `with_running_mutator`.
    !p.is_null() && unsafe { &*p }.running.get()
}

const fn small_class<T>() -> Option<usize> {
    class_of(std::mem::size_of::<GcBox<T>>(), std::mem::align_of::<GcBox<T>>())
}

#[cfg(test)]
mod tests {
    /// A return from `blocking` that finds the world running and no stack scan due is no
    /// visit to the collector: not a pause in the thread's figures (every return was one, 40 ns
    /// of bookkeeping each, which filled a blocking-per-request program's percentiles).
    #[test]
    fn a_return_from_blocking_that_waited_for_nothing_is_no_pause() {
        let _serial = crate::test_support::serial();
        let mut mu = crate::attach();
        let before = crate::stats().thread_pauses;
        for _ in 0..100 {
            mu.blocking(|| ());
        }
        let after = crate::stats().thread_pauses;
        assert_eq!(after.count, before.count, "no cycle ran, so no return waited");
    }
}
