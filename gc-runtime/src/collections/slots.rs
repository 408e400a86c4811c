//! Helpers shared by the collections: the armed flag, and reading a slot's address without a
//! mutator (for `Debug`).

use std::fmt;

use crate::{
    member::Member,
    object::{Header, Trace, TraceSink, Tracer},
    primitive::sync::{
        atomic::{AtomicBool, AtomicPtr, Ordering},
        RwLock, RwLockReadGuard,
    },
};

/// Whether a collection is inside an allocated object (see the module docs, "Armed and
/// unarmed collections"). Set once, by allocation, before the object is published.
pub(crate) struct Armed(AtomicBool);

impl Armed {
    /// Unarmed.
    pub(crate) fn new() -> Armed {
        Armed(AtomicBool::new(false))
    }

    /// Whether allocation armed it.
    #[inline]
    pub(crate) fn get(&self) -> bool {
        // Relaxed: the flag is set before the object is published (a Release store of its
        // address into a slot or root, read with Acquire), or on this very thread.
        self.0.load(Ordering::Relaxed)
    }

    /// Panic unless armed: `what` is the storing method, e.g. `"GcVec::push"`.
    #[inline]
    pub(crate) fn check(&self, what: &'static str, collection: &'static str) {
        if !self.get() {
            unarmed_store(what, collection);
        }
    }

    /// Report the flag to `tracer` (the allocation sink sets it; every other sink ignores it).
    #[inline]
    pub(crate) fn trace(&self, tracer: &mut Tracer<'_>) {
        tracer.report_armed_flag(&self.0);
    }
}

#[cold]
#[inline(never)]
fn unarmed_store(what: &'static str, collection: &'static str) -> ! {
    panic!(
        "{what} on a {collection} that is not inside an allocated object; \
         put the {collection} in an object and allocate it with `mu.alloc` (or allocate the \
         {collection} itself), then store into it"
    )
}

/// Reads the one slot a `Member` reports.
struct ReadAddr(usize);

impl TraceSink for ReadAddr {
    fn visit_slot(&mut self, slot: &AtomicPtr<Header>) {
        // Relaxed: only the address is used (printed), never dereferenced.
        self.0 = slot.load(Ordering::Relaxed).addr();
    }

    fn visit_locked(&mut self) {
        // A `Member` takes no lock.
    }
}

/// Take a collection's read lock for its `trace`, or — if a writer holds it — report the
/// object as locked and return `None`, so the collector traces it again later instead of
/// waiting (see "Locks, safepoints and pauses" in `collections/mod.rs`). Recursive, so a
/// thread that already reads the collection further up its stack (and then allocates and
/// assists) gets through even if a writer is queued.
pub(crate) fn read_for_trace<'a, T>(lock: &'a RwLock<T>, tracer: &mut Tracer<'_>) -> Option<RwLockReadGuard<'a, T>> {
    let guard = lock.try_read_recursive();
    if guard.is_none() {
        tracer.report_locked();
    }
    guard
}

/// The address a slot holds (0 if empty), as [`Gc::addr`](crate::Gc::addr) gives it: for
/// `Debug`, which must not follow pointers (a cycle would recurse forever) and has no mutator.
pub(crate) fn slot_addr<T>(slot: &Member<T>) -> usize {
    let mut sink = ReadAddr(0);
    slot.trace(&mut Tracer::new(&mut sink));
    if sink.0 == crate::slot::UNARMED_ADDR {
        0
    } else {
        sink.0
    }
}

/// An object address, printed as `0x…` (or `null`).
#[derive(Clone, Copy)]
pub(crate) struct AddrFmt(pub(crate) usize);

impl fmt::Debug for AddrFmt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            f.write_str("null")
        } else {
            write!(f, "{:#x}", self.0)
        }
    }
}
