//! Weak references: [`Weak<T>`] points to an object without keeping it alive.
//!
//! # Life of a weak reference
//!
//! A weak reference owns a pointer cell in the weak table (see `cells.rs`). The marker never
//! looks at that table, so a weakly referenced object that nothing else reaches stays white.
//! [`Weak::upgrade`] turns it back into a local — without shading it, so that a weak cache
//! polled in a loop still expires. Why that is sound while marking runs:
//!
//! - **Dijkstra and hybrid barriers.** A local cannot outlive its thread's next safepoint,
//!   and marking terminates only when every mutator is at one. So the upgraded object survives
//!   the cycle only if, before that safepoint, the thread stores it somewhere the collector
//!   sees: into a slot or collection (the insertion barrier shades the stored pointer) or a
//!   new root (always shaded). If it does neither, the object is unreachable at termination
//!   and dies, as it should.
//! - **Yuasa barrier.** Its stores shade only the overwritten pointer; its argument is that
//!   every object reachable when marking started gets marked (snapshot at the beginning),
//!   and a weakly reachable object is not in that snapshot. So an upgrade during marking
//!   marks its *thread* instead: until the marking ends, that thread's stores shade the stored
//!   pointer too, as under the hybrid barrier (Go's "shade the pointer if the stack is grey").
//!   The object is still not shaded by the upgrade itself.
//!
//! The bound: an object that is only weakly reachable when a cycle starts is cleared by that
//! cycle, under every barrier, however often other threads upgrade it — unless one of them
//! stores it into the heap or a root, which makes it strongly reachable again.
//!
//! # Clearing, without a pause that grows with the number of weak references
//!
//! Marking's verdict must reach every cell before any dead referent is freed. Scanning all
//! cells inside the termination pause would make that pause proportional to the number of
//! weak references, so the collector splits it:
//!
//! 1. In the termination pause it records the finished marking's epoch as *pending*. From then
//!    on an upgrade treats a referent whose mark is older as dead and returns `None`, even
//!    if its cell was not cleared yet. The sweep epoch is **not** advanced: nothing that
//!    died in this cycle can be freed yet, so reading the referent's header stays valid.
//! 2. With the world running, the collector clears every cell whose referent is unmarked.
//! 3. A ragged handshake: every running mutator passes a safepoint, so no upgrade that read a
//!    cell before it was cleared is still in progress.
//! 4. Only then does it publish the sweep epoch and let the sweep free dead objects.
//!
//! # Ephemerons
//!
//! Weak maps whose values stay alive only through their keys (ephemerons) are not provided:
//! they need the marker to revisit entries when a key turns black, and a concurrent version of
//! that fixpoint which stays sound under all three barriers is future work.

use std::{fmt, marker::PhantomData, ptr::NonNull};

use crate::primitive::sync::Mutex;

use crate::{
    cells::{CellPool, PtrCell},
    clock,
    gc::Gc,
    header::{GcBox, Header},
    mutator::Mutator,
    primitive::sync::atomic::Ordering,
    runtime::Runtime,
    trace::{Trace, Tracer},
    variance::Invariant,
};

/// All weak cells.
#[derive(Default)]
pub(crate) struct WeakTable {
    cells: Mutex<CellPool>,
}

impl WeakTable {
    /// Step 2 (world running): clear every cell whose referent marking did not reach.
    /// Returns how many were cleared.
    pub(crate) fn clear_dead(&self) -> usize {
        let epoch = clock::weak_verdict();
        let chunks = self.cells.lock().chunks();
        let mut cleared = 0;
        CellPool::for_each_in(&chunks, |cell, p| {
            // SAFETY: the sweep epoch has not advanced past objects that died in this cycle,
            // and referents of older cycles were cleared in their own cycle: `p` is allocated.
            if unsafe { &*p }.mark_epoch() < epoch
                && cell.ptr.compare_exchange(p, std::ptr::null_mut(), Ordering::AcqRel, Ordering::Relaxed).is_ok()
            {
                cleared += 1;
            }
        });
        cleared
    }

    /// Number of live weak references.
    pub(crate) fn len(&self) -> usize {
        self.cells.lock().live()
    }
}

/// A pointer that does not keep its object alive.
///
/// ```
/// use gc_runtime::Weak;
///
/// let mut mu = gc_runtime::attach();
/// let kept = mu.alloc(String::from("kept")).root(&mu);
/// let weak_kept = Weak::new(&mu, kept.get(&mu));
/// let weak_lost = Weak::new(&mu, mu.alloc(String::from("lost")));
/// mu.collect();
/// assert_eq!(*weak_kept.upgrade(&mu).unwrap(), "kept");
/// assert!(weak_lost.upgrade(&mu).is_none(), "nothing kept it alive");
/// ```
pub struct Weak<T: 'static> {
    cell: &'static PtrCell,
    /// Invariant in `T` (see `variance.rs`).
    _t: Invariant<T>,
}

impl<T: Trace + Send + Sync + 'static> Weak<T> {
    /// A weak reference to `gc`'s object.
    pub fn new(mu: &Mutator, gc: Gc<'_, T>) -> Weak<T> {
        let cell = mu.runtime().weaks.cells.lock().acquire();
        // Release: publishes the object to upgraders and to the clearing scan.
        cell.ptr.store(gc.header_ptr(), Ordering::Release);
        Weak { cell, _t: PhantomData }
    }

    /// The object as a local, or `None` if it was collected.
    pub fn upgrade<'m>(&self, mu: &'m Mutator) -> Option<Gc<'m, T>> {
        // Acquire: pairs with the Release store in `new`.
        let p = NonNull::new(self.cell.ptr.load(Ordering::Acquire))?;
        // SAFETY: a non-null cell names an allocated object (module docs: cells of dead
        // objects are cleared, and running mutators passed a safepoint, before the sweep may
        // free them).
        let header = unsafe { p.as_ref() };
        let pending = clock::weak_verdict();
        if pending != 0 && header.mark_epoch() < pending {
            return None; // dead by the marking that just finished; its cell is being cleared
        }
        if clock::barrier_on() {
            // Marking: the object may be white and outside the snapshot; under Yuasa this
            // thread's stores now shade what they store (module docs).
            mu.note_weak_upgrade();
        }
        // SAFETY: allocated (above), of type `T` (cells are filled from `Gc<T>`), and alive
        // until `mu`'s next safepoint: no termination (hence no sweep of it) can come before
        // that safepoint, and a pending verdict that found it dead was checked above.
        Some(unsafe { Gc::from_raw(p.cast::<GcBox<T>>(), mu) })
    }

    /// Whether the object is known to be collected (an upgrade would return `None`). A
    /// `false` can turn `true` at any later collection.
    pub fn is_cleared(&self) -> bool {
        self.cell.ptr.load(Ordering::Relaxed).is_null()
    }
}

impl<T: 'static> Drop for Weak<T> {
    fn drop(&mut self) {
        let rt = Runtime::get();
        let mut cells = rt.weaks.cells.lock();
        self.cell.ptr.store(std::ptr::null_mut(), Ordering::Relaxed);
        cells.release(self.cell);
    }
}

// SAFETY: a weak reference reports nothing: it must not keep its referent alive.
unsafe impl<T: 'static> Trace for Weak<T> {
    const NEEDS_TRACE: bool = false;
    fn trace(&self, _tracer: &mut Tracer<'_>) {}
}

impl<T: 'static> fmt::Debug for Weak<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p: *mut Header = self.cell.ptr.load(Ordering::Relaxed);
        if p.is_null() {
            write!(f, "Weak<{}>(cleared)", std::any::type_name::<T>())
        } else {
            write!(f, "Weak<{}>({p:p})", std::any::type_name::<T>())
        }
    }
}

impl<T: Trace + Send + Sync + 'static> Gc<'_, T> {
    /// A [`Weak`] reference to this object.
    pub fn downgrade(self, mu: &Mutator) -> Weak<T> {
        Weak::new(mu, self)
    }
}
