//! Mutators: the threads that use the heap.
//!
//! # Attaching and detaching
//!
//! A thread calls [`attach`] to get its [`Mutator`], the handle through which it allocates
//! and reads slots. The handle is `!Send`; dropping it detaches the thread for good (also
//! during a panic's unwinding, so a panicking thread never holds up the collector). A thread
//! about to block — I/O, a lock, a sleep, joining another thread — wraps that in
//! [`Mutator::blocking`], which detaches it for the duration: stop-the-world pauses never wait
//! for a detached thread.
//!
//! # Safepoints
//!
//! The collector stops the world, flushes shade buffers and ends marking only at safepoints:
//! [`Mutator::safepoint`], [`Mutator::blocking`], [`Mutator::collect`], or while detached. All
//! of them take `&mut Mutator`, so no local ([`Gc`]) can be alive there — the borrow checker
//! proves it. Code that loops for long without allocating should call `safepoint` now and
//! then; the fast path is one relaxed load and a branch. Allocation is *not* a safepoint, so
//! locals survive allocating.
//!
//! # Threads that exit
//!
//! A thread that ends with its mutator still attached — leaked with `Box::leak` or
//! `mem::forget`, so never dropped — is noticed on its way out (see `thread_exit.rs`) and
//! removed, so later cycles do not wait for it. But a leaked mutator can lend `'static`
//! references (`Gc::into_ref` of a `Gc<'static, T>`), and those may live on in other threads
//! after its own ended. So every object alive at that moment is *pinned*: kept, and traced as
//! a root, for the rest of the process (at the collector's next pause; a warning says how many).
//! Objects made afterwards are collected as usual. Dropping the mutator before its thread ends —
//! or keeping it in a `thread_local!`, which is dropped then — avoids the leak.
//!
//! # Private state
//!
//! Each mutator owns an allocation cache (a page per size class) and a shade buffer. Both
//! are touched only by its thread; the write barrier finds the buffer through a thread-local
//! pointer, so `Member::set` needs no mutator argument.

use std::{
    alloc::Layout,
    cell::{Cell, RefCell},
    fmt,
    marker::PhantomData,
    ptr::NonNull,
};

use crate::{
    clock,
    collections::user_code,
    config::ConfigError,
    gc::{Addr, Gc},
    handshake::MutatorState,
    header::{GcBox, Header},
    heap::{cache::AllocCache, page::PAGE_BYTES, size_class::class_of},
    marker,
    primitive::sync::atomic::{AtomicBool, AtomicPtr, Ordering},
    runtime::Runtime,
    shade::{self, GreyQueue, ShadeBuffer},
    slot, thread_exit,
    trace::{Trace, TraceSink, Tracer},
};

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

/// An allocation refused by the memory limit; it gives the value back.
pub struct AllocError<T> {
    value: T,
    state: LimitError,
}

impl<T> AllocError<T> {
    /// The value that was not allocated.
    pub fn into_value(self) -> T {
        self.value
    }

    /// The limit and how full the heap was.
    pub fn state(&self) -> LimitError {
        self.state
    }

    #[cold]
    #[inline(never)]
    fn fail(self) -> ! {
        panic!("{}; use Mutator::try_alloc and Mutator::try_reserve to handle this", self.state)
    }
}

impl<T> fmt::Debug for AllocError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AllocError").field("type", &std::any::type_name::<T>()).field("state", &self.state).finish()
    }
}

impl<T> fmt::Display for AllocError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot allocate a `{}`: {}", std::any::type_name::<T>(), self.state)
    }
}

impl<T> std::error::Error for AllocError<T> {}

/// Allocation bytes after which a mutator allocating during marking helps mark.
const ASSIST_CHUNK: usize = 64 * 1024;
/// Bytes of objects an assist scans per byte its mutator allocated.
const ASSIST_RATIO: usize = 2;

struct Local {
    cache: AllocCache,
    shade: ShadeBuffer,
    assist_debt: usize,
}

pub(crate) struct MutatorInner {
    rt: &'static Runtime,
    id: usize,
    running: Cell<bool>,
    seen_sweep_epoch: Cell<u64>,
    /// The mark epoch of the last marking during which this thread upgraded a weak reference
    /// (0: none). Under the Yuasa barrier its stores then shade the stored pointer too, until
    /// that marking ends (see `weak.rs`).
    weak_upgrade_epoch: Cell<u64>,
    local: RefCell<Local>,
}

thread_local! {
    static CURRENT: Cell<*const MutatorInner> = const { Cell::new(std::ptr::null()) };
    static IN_COLLECTOR: Cell<bool> = const { Cell::new(false) };
}

/// A thread's handle on the heap: it allocates, reads slots and roots, and marks the points
/// where the collector may stop the thread.
///
/// Get one with [`attach`]; it is `!Send` and detaches when dropped (also while unwinding from
/// a panic). Safepoints ([`Mutator::safepoint`], [`Mutator::blocking`],
/// [`Mutator::collect`]) take `&mut self`, so no local ([`Gc`]) is alive at one. Allocation is
/// not a safepoint. Loops that run long without a safepoint hold up every pause: call
/// `safepoint` regularly, and wrap blocking calls in `blocking`.
///
/// ```
/// let mut mu = gc_runtime::attach();
/// let s = mu.alloc(String::from("hello"));
/// assert_eq!(s.len(), 5);
/// mu.safepoint(); // `s` cannot be used after this line: the borrow checker says so
/// ```
pub struct Mutator {
    /// Owned (from `Box::into_raw`, freed in `drop`), never borrowed mutably: the barrier
    /// reaches the same state through the thread-local `CURRENT`, so a `Box` (which asserts
    /// uniqueness when moved) or a `&mut` would invalidate that pointer. Every field is a
    /// `Cell` or `RefCell`.
    inner: Addr<MutatorInner>,
    /// What makes a mutator `!Send` and `!Sync`, named for the compiler's error.
    _thread: PhantomData<*mut EachThreadAttachesItsOwnMutator>,
}

/// Appears in compiler errors when a [`Mutator`] is sent to or shared with another thread:
/// each thread calls [`attach`] for its own mutator.
#[doc(hidden)]
pub enum EachThreadAttachesItsOwnMutator {}

/// Why [`try_attach`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachError {
    /// This thread already has a mutator; use that one.
    AlreadyAttached,
    /// The collector's own threads (marker, sweeper, destructors run by them) cannot attach.
    CollectorThread,
    /// The runtime was started from environment variables and one is invalid.
    Config(ConfigError),
}

impl fmt::Display for AttachError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttachError::AlreadyAttached => {
                write!(f, "this thread is already attached to the GC heap; pass its Mutator around instead of attaching again")
            }
            AttachError::CollectorThread => {
                write!(f, "a collector thread cannot attach (a destructor or Trace impl tried to use the heap)")
            }
            AttachError::Config(e) => write!(f, "gc configuration: {e}"),
        }
    }
}

impl std::error::Error for AttachError {}

/// Attach the calling thread to the heap.
///
/// # Panics
/// If [`try_attach`] fails: the thread is already attached, it is a collector thread, or the
/// `GC_*` environment variables are invalid.
pub fn attach() -> Mutator {
    try_attach().unwrap_or_else(|e| panic!("{e}"))
}

/// Attach the calling thread to the heap, or say why not.
///
/// # Errors
/// See [`AttachError`].
pub fn try_attach() -> Result<Mutator, AttachError> {
    if !CURRENT.with(Cell::get).is_null() {
        return Err(AttachError::AlreadyAttached);
    }
    if IN_COLLECTOR.with(Cell::get) {
        return Err(AttachError::CollectorThread);
    }
    let rt = Runtime::get_or_init().map_err(AttachError::Config)?;
    let name =
        std::thread::current().name().map_or_else(|| format!("{:?}", std::thread::current().id()), str::to_owned);
    let id = rt.handshake.register(name);
    let inner = Addr(NonNull::from(Box::leak(Box::new(MutatorInner {
        rt,
        id,
        running: Cell::new(true),
        seen_sweep_epoch: Cell::new(clock::sweep_epoch()),
        weak_upgrade_epoch: Cell::new(0),
        local: RefCell::new(Local { cache: AllocCache::default(), shade: ShadeBuffer::default(), assist_debt: 0 }),
    }))));
    CURRENT.with(|c| c.set(inner.0.as_ptr()));
    thread_exit::watch(inner.0.as_ptr().cast_const().cast());
    Ok(Mutator { inner, _thread: PhantomData })
}

/// The thread of a leaked mutator ended (called by `thread_exit.rs`): hand its private state
/// back, remove it from the handshake, and have the collector pin every live object (see
/// "Threads that exit").
///
/// # Safety
/// `state` is the `MutatorInner` of a mutator attached on the calling, exiting thread and never
/// dropped (so never freed, and never used again).
pub(crate) unsafe fn leaked_thread_exited(state: *const MutatorInner) {
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
    thread_exit::write_stderr(&format!(
        "gc: thread `{name}` ended with its Mutator still attached (it was leaked: Box::leak or \
         mem::forget); references borrowed from it may outlive the thread, so every object alive \
         now is kept for the rest of the process. Drop the Mutator before the thread ends, or keep \
         it in a thread_local!.\n"
    ));
}

/// Run `f` with a mutator attached for its duration (detached afterwards, also on panic).
pub fn with_mutator<R>(f: impl FnOnce(&mut Mutator) -> R) -> R {
    let mut mu = attach();
    f(&mut mu)
}

/// Mark the current thread as a collector thread: it may not attach.
pub(crate) fn enter_collector_thread() {
    IN_COLLECTOR.with(|c| c.set(true));
}

/// What the write barrier's slow path needs of the current thread's running mutator.
pub(crate) struct RunningMutator<'a> {
    /// Its shade buffer.
    pub(crate) shade: &'a mut ShadeBuffer,
    /// The global grey queue the buffer flushes into.
    pub(crate) grey: &'a GreyQueue,
    /// The mark epoch of the last marking during which it upgraded a weak reference (0: none).
    pub(crate) weak_upgrade_epoch: u64,
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
    // SAFETY: `CURRENT` points to the inner state while its `Mutator` exists on this thread
    // and is cleared in `Mutator::drop` before the state is freed; only shared references to
    // it are ever made.
    let inner = unsafe { &*p };
    if !inner.running.get() {
        return None;
    }
    let mut local = inner.local.try_borrow_mut().ok()?;
    Some(f(RunningMutator {
        shade: &mut local.shade,
        grey: &inner.rt.grey,
        weak_upgrade_epoch: inner.weak_upgrade_epoch.get(),
    }))
}

/// Whether the current thread has a running mutator (see [`with_running_mutator`]).
#[inline]
pub(crate) fn running_here() -> bool {
    let p = CURRENT.with(Cell::get);
    // SAFETY: as in `with_running_mutator`.
    !p.is_null() && unsafe { &*p }.running.get()
}

#[cold]
#[inline(never)]
fn refuse_collect_under_collection_lock() -> ! {
    panic!(
        "Mutator::collect called from a GC collection's key code (Eq, Clone or Debug of a GcMap \
         key) while the collection is locked: a writer waiting for that lock would keep the \
         cycle from ever finishing; collect after the collection call returns"
    )
}

/// Sets a new object's slots from unarmed to empty (see `member.rs`).
struct ArmSlots;

impl TraceSink for ArmSlots {
    fn visit_armed_flag(&mut self, flag: &AtomicBool) {
        // Relaxed: as for slots, the object is not published yet.
        flag.store(true, Ordering::Relaxed);
    }

    fn visit_slot(&mut self, slot: &AtomicPtr<Header>) {
        // Every slot of a value being allocated is unarmed: armed slots only exist inside the
        // heap and cannot be moved out. So a blind store arms it; no load (the first touch of
        // a fresh object would stall on it).
        debug_assert_eq!(slot.load(Ordering::Relaxed).addr(), slot::UNARMED_ADDR, "a new object's slot was armed");
        // Relaxed: the object is not published yet; its publication is a Release store.
        slot.store(std::ptr::null_mut(), Ordering::Relaxed);
    }

    fn visit_locked(&mut self) {
        // A collection in a value being allocated is known to no other thread, so its lock is
        // free; and arming needs only its flag, reported before the lock is tried.
        debug_assert!(false, "a lock inside an object being allocated was taken");
    }
}

const fn small_class<T>() -> Option<usize> {
    if std::mem::align_of::<GcBox<T>>() > 16 {
        None
    } else {
        class_of(std::mem::size_of::<GcBox<T>>())
    }
}

impl Mutator {
    #[inline(always)]
    fn inner(&self) -> &MutatorInner {
        // SAFETY: `inner` is valid from `try_attach` until `drop`, and only shared
        // references to it exist (see the field's docs).
        unsafe { self.inner.0.as_ref() }
    }

    pub(crate) fn runtime(&self) -> &'static Runtime {
        self.inner().rt
    }

    /// Allocate `value` in the heap and return a local pointing to it.
    ///
    /// Not a safepoint: locals stay valid. The object's `Member` slots start empty.
    ///
    /// # Panics
    /// If the heap is over the configured memory limit even after a sweep in progress is
    /// finished (see [`Mutator::try_alloc`] to handle that instead).
    #[inline]
    pub fn alloc<T: Trace + Send + Sync + 'static>(&self, value: T) -> Gc<'_, T> {
        match self.try_alloc(value) {
            Ok(gc) => gc,
            Err(e) => e.fail(),
        }
    }

    /// Allocate `value`, or give it back in an error if the heap is over the memory limit.
    ///
    /// Over the limit, the allocation asks for a collection and helps finish a sweep already
    /// in progress; if the heap is still over, it returns [`AllocError`]. It cannot wait for a
    /// whole new cycle — allocation is not a safepoint, and a cycle needs this thread at one —
    /// so to free memory and retry, pass a safepoint: [`Mutator::try_reserve`] or
    /// [`Mutator::collect`].
    ///
    /// ```
    /// # let mut mu = gc_runtime::attach();
    /// let s = match mu.try_alloc(String::from("data")) {
    ///     Ok(s) => s.len(),
    ///     Err(e) => {
    ///         let value = e.into_value(); // nothing is lost
    ///         mu.try_reserve(std::mem::size_of::<String>()).expect("the heap is full of live data");
    ///         mu.alloc(value).len()
    ///     }
    /// };
    /// assert_eq!(s, 4);
    /// ```
    ///
    /// # Errors
    /// [`AllocError`] when the memory limit is reached; it carries `value` back.
    #[inline]
    pub fn try_alloc<T: Trace + Send + Sync + 'static>(&self, value: T) -> Result<Gc<'_, T>, AllocError<T>> {
        let inner = self.inner();
        let block = match const { small_class::<T>() } {
            Some(class) => {
                let mut local = inner.local.borrow_mut();
                match local.cache.alloc_fast(class) {
                    Some(p) => Some(p),
                    None => inner.alloc_slow(&mut local, class),
                }
            }
            None => inner.alloc_large(Layout::new::<GcBox<T>>()),
        };
        let Some(block) = block else {
            let needed = if small_class::<T>().is_some() { PAGE_BYTES } else { std::mem::size_of::<GcBox<T>>() };
            return Err(inner.limit_error(value, needed));
        };
        let obj = block.cast::<GcBox<T>>();
        // SAFETY: `block` is a free slot (or block) of at least `size_of::<GcBox<T>>()` bytes,
        // suitably aligned (slots are 16-aligned and `small_class` sends over-aligned types to
        // the large-object path), owned by nobody else until published: a slot sits in this
        // mutator's own cached page, a large block is not listed yet.
        unsafe { obj.as_ptr().write(GcBox { header: Header::new::<T>(clock::mark_epoch()), value }) };
        if const { small_class::<T>().is_none() } {
            // Publication comes last: only now may a sweeper see the block (see `large.rs`).
            // SAFETY: the block came from `alloc_large` with this layout and holds the object
            // just written, marked with the current epoch.
            unsafe { inner.rt.pages.publish_large(block, Layout::new::<GcBox<T>>()) };
        }
        if T::NEEDS_TRACE {
            // SAFETY: just initialised.
            let value = unsafe { &(*obj.as_ptr()).value };
            value.trace(&mut Tracer::new(&mut ArmSlots));
        }
        // SAFETY: initialised above; marked with the current epoch (black while marking, and
        // it survives the sweep in progress), so it stays allocated until a safepoint.
        Ok(unsafe { Gc::from_raw(obj, self) })
    }

    /// Make sure `bytes` more can be allocated under the memory limit, running a full
    /// collection if needed. A safepoint (like [`Mutator::collect`]). Always `Ok` without a
    /// limit.
    ///
    /// # Errors
    /// [`LimitError`] if the heap is still too full after the collection.
    pub fn try_reserve(&mut self, bytes: usize) -> Result<(), LimitError> {
        let inner = self.inner();
        if inner.room_for(bytes) {
            return Ok(());
        }
        self.collect();
        let inner = self.inner();
        if inner.room_for(bytes) {
            Ok(())
        } else {
            Err(inner.limit_state(bytes))
        }
    }

    /// A safepoint: if the collector is waiting for this thread, do what it needs (publish
    /// grey objects, or park for a stop-the-world pause).
    ///
    /// Called from a `GcMap` key's `Eq`, `Clone` or `Debug` while the map holds its lock, it
    /// does nothing: parking there could deadlock with a thread waiting for that lock.
    #[inline]
    pub fn safepoint(&mut self) {
        if self.safepoint_requested() {
            self.safepoint_slow();
        }
    }

    /// Whether the collector is waiting for this thread, so that the next
    /// [`safepoint`](Self::safepoint) will do work (publish grey objects, or park).
    ///
    /// For code that must prepare before a safepoint — an interpreter that keeps values in
    /// Rust variables and writes them back into the heap first — so it prepares only when a
    /// safepoint is due. One relaxed load; a `false` may be stale by the time it is used, which
    /// only delays the collector until the next check.
    #[inline]
    pub fn safepoint_requested(&self) -> bool {
        self.inner().rt.handshake.poll_requested()
    }

    #[cold]
    #[inline(never)]
    fn safepoint_slow(&mut self) {
        if user_code::active() {
            // Under a collection's lock: parking here could deadlock with a writer of that
            // collection; the next safepoint after the lock is released parks instead (see
            // `collections/user_code.rs`).
            return;
        }
        let inner = self.inner();
        let (rt, id) = (inner.rt, inner.id);
        let mut local = inner.local.borrow_mut();
        // Acknowledging a request means: grey objects published, and — if a marking has
        // terminated since the last time — cached pages handed back for sweeping. Both happen
        // before the acknowledgement, so the collector can sweep them once everyone answered.
        rt.handshake.safepoint_slow(id, &mut || inner.publish_private_state(&mut local));
    }

    /// Run `f` detached: the collector does not wait for this thread while `f` runs. Use it
    /// around anything that may block. `f` cannot use the heap (it has no mutator). The
    /// thread's cached allocation pages are handed back first, so a collection that runs
    /// meanwhile frees the garbage in them too.
    pub fn blocking<R>(&mut self, f: impl FnOnce() -> R) -> R {
        self.inner().detach();
        let _guard = Reattach(self.inner());
        f()
    }

    /// Run a full collection cycle and return when every object that was unreachable when
    /// `collect` was called is freed — in any thread's cached pages too — and its fields'
    /// destructors have run. A safepoint; the thread is detached while it waits.
    ///
    /// The destructors run on the finalizer thread (see the crate docs): a destructor that
    /// waits for a lock this thread holds while calling `collect` deadlocks it.
    ///
    /// # Panics
    /// If called from a `GcMap` key's `Eq`, `Clone` or `Debug` while the map holds its lock (a
    /// writer waiting for that lock would keep the cycle from finishing).
    pub fn collect(&mut self) {
        if user_code::active() {
            refuse_collect_under_collection_lock();
        }
        let inner = self.inner();
        inner.detach();
        let _guard = Reattach(inner);
        inner.rt.handshake.waiting_for_cycle(inner.id);
        let finalized_by = inner.rt.control.collect_and_wait();
        inner.rt.pages.finalizer.wait_done(finalized_by);
    }

    /// This mutator's state as the collector sees it (always `Running` from its own thread,
    /// except inside [`Mutator::blocking`]).
    pub fn state(&self) -> MutatorState {
        self.inner().rt.handshake.state_of(self.inner().id)
    }

    /// Record that this thread holds a local from a weak upgrade made while marking.
    pub(crate) fn note_weak_upgrade(&self) {
        self.inner().weak_upgrade_epoch.set(clock::mark_epoch());
    }

    /// Shade an object into this mutator's buffer (barrier helper for roots).
    pub(crate) fn shade(&self, obj: *mut Header) {
        let inner = self.inner();
        let mut local = inner.local.borrow_mut();
        // SAFETY: callers pass an object reachable through a local of this mutator.
        unsafe { shade::shade(obj, clock::mark_epoch(), &mut local.shade, &inner.rt.grey) };
    }
}

impl MutatorInner {
    #[cold]
    #[inline(never)]
    fn alloc_slow(&self, local: &mut Local, class: usize) -> Option<NonNull<u8>> {
        self.release_stale_pages(local);
        if !self.room_for(PAGE_BYTES) {
            return None;
        }
        local.cache.refill(&self.rt.pages, class);
        let bytes = std::mem::take(&mut local.cache.allocated_since_refill);
        self.after_allocation(local, bytes);
        Some(local.cache.alloc_fast(class).unwrap_or_else(|| unreachable!("a refilled page has a free slot")))
    }

    #[cold]
    #[inline(never)]
    fn alloc_large(&self, layout: Layout) -> Option<NonNull<u8>> {
        if !self.room_for(layout.size()) {
            return None;
        }
        let block = self.rt.pages.alloc_large(layout);
        let mut local = self.local.borrow_mut();
        self.after_allocation(&mut local, layout.size());
        Some(block)
    }

    /// Whether `bytes` more fit under the memory limit. If not, ask for a collection and finish
    /// any sweep in progress (this thread sweeps), then look again.
    fn room_for(&self, bytes: usize) -> bool {
        let Some(limit) = self.rt.pacer.limit() else { return true };
        let fits = || self.rt.pages.live_bytes().saturating_add(bytes) <= limit;
        if fits() {
            return true;
        }
        self.rt.control.request_background();
        self.rt.pages.finish_sweep();
        fits()
    }

    fn limit_state(&self, requested: usize) -> LimitError {
        LimitError {
            limit: self.rt.pacer.limit().unwrap_or(usize::MAX),
            live: self.rt.pages.live_bytes(),
            last_marked: self.rt.pacer.last_live(),
            requested,
        }
    }

    #[cold]
    fn limit_error<T>(&self, value: T, requested: usize) -> AllocError<T> {
        AllocError { value, state: self.limit_state(requested) }
    }

    fn after_allocation(&self, local: &mut Local, bytes: usize) {
        self.rt.note_allocation(bytes);
        if clock::barrier_on() {
            local.assist_debt += bytes;
            if local.assist_debt >= ASSIST_CHUNK {
                let budget = local.assist_debt * ASSIST_RATIO;
                local.assist_debt = 0;
                marker::assist(self.rt, budget);
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
        local.shade.flush(&self.rt.grey);
        self.release_stale_pages(local);
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
    fn detach(&self) {
        let (rt, id) = (self.rt, self.id);
        let mut local = self.local.borrow_mut();
        local.cache.release_all(&rt.pages);
        rt.handshake.detach(id, || local.shade.flush(&rt.grey));
        drop(local);
        self.running.set(false);
    }

    fn attach_again(&self) {
        self.rt.handshake.attach(self.id);
        self.running.set(true);
        self.release_stale_cache();
    }
}

/// Re-attaches a detached mutator when dropped — also when unwinding from a panic in the
/// detached section.
struct Reattach<'a>(&'a MutatorInner);

impl Drop for Reattach<'_> {
    fn drop(&mut self) {
        self.0.attach_again();
    }
}

impl Drop for Mutator {
    fn drop(&mut self) {
        let inner = self.inner();
        let (rt, id) = (inner.rt, inner.id);
        {
            let mut local = inner.local.borrow_mut();
            local.cache.release_all(&rt.pages);
            rt.handshake.unregister(id, || local.shade.flush(&rt.grey));
        }
        CURRENT.with(|c| c.set(std::ptr::null()));
        thread_exit::unwatch();
        // SAFETY: `inner` came from `Box::leak` in `try_attach`; the thread-local pointer and
        // the exit watch were cleared above and no reference to the state outlives this call.
        drop(unsafe { Box::from_raw(self.inner.0.as_ptr()) });
    }
}

impl fmt::Debug for Mutator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mutator").field("id", &self.inner().id).finish_non_exhaustive()
    }
}
