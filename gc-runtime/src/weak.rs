//! Weak references: [`Weak<T>`] points to an object without keeping it alive.
//!
//! # Life of a weak reference
//!
//! A weak reference holds a pointer cell in the weak table (see `cells.rs`), shared with its
//! clones, which count their holders in it; the last one dropped gives it back. The marker never
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
//! - **Value stacks, under every barrier.** A local pushed onto a
//!   [`ValueStack`](crate::ValueStack) does outlive the safepoint, and the push is a plain
//!   store. Under Yuasa and hybrid a stack is otherwise scanned once per marking, so an upgrade
//!   while marking makes the thread's stacks due for a scan again at its next answer or park
//!   (`ThreadState::note_weak_upgrade`); the upgrade is counted (below) or the world is
//!   stopped to decide, so that scan comes before the decision. Under Dijkstra stacks are
//!   rescanned at every round anyway. (`tests/hostile_tagged_word.rs` found this: an object
//!   upgraded and pushed while marking was freed under Yuasa and hybrid.)
//!
//! The bound: an object that is only weakly reachable when a cycle starts is cleared by that
//! cycle, under every barrier, however often other threads upgrade it — unless one of them
//! stores it into the heap or a root, which makes it strongly reachable again.
//!
//! # Termination without a pause
//!
//! With per-thread handshakes (the default) marking ends without the world stopped, so "every
//! mutator is at a safepoint" no longer comes for free: a thread may upgrade a white object
//! after it acknowledged the collector's last handshake round and store it after the barrier
//! went off. So an upgrade of an *unmarked* object while marking is counted, under the shared
//! side of the runtime's weak gate; the collector decides that marking is over only holding
//! the gate exclusively, setting the weak verdict in the same step, and only if that count did
//! not move during its last round (see `collector/mod.rs`). An upgrade either comes first and
//! the collector runs another round — in which the thread passes a safepoint, so its local is
//! dead or stored, and a store shades it — or comes after and sees the verdict. A weak cache
//! polled in a loop could keep every round busy; after 8 rounds busy with upgrades alone
//! (`MAX_UPGRADE_ONLY_ROUNDS`; 64 rounds busy for any reason) the collector stops the world
//! once instead, so the bound above holds. (With the cap at 64 for upgrades too, a thread
//! polling a weak reference without pause kept every cycle at 64 termination rounds: a
//! `collect` of a near-empty heap took 7–9 ms, against 25–119 µs without the poller.)
//!
//! # Clearing
//!
//! How the collector clears the cells of dead referents without a pause that grows with the
//! number of weak references, and why an upgrade never returns a freed object, is in
//! `weak_table.rs`.
//!
//! # Weak references to an object being built
//!
//! [`Mutator::alloc_cyclic`] hands its closure a weak reference to the object the closure is
//! building, for the object to keep (a node that knows itself, a parent pointer in a child
//! built first). Its cell holds a *pending* sentinel until the object is allocated: upgrades
//! fail and the clearing scan skips it. Then one compare-exchange (`Release`) points it at the
//! object. The weak reference may be dropped meanwhile — inside the closure, or on another
//! thread it was sent to — so both sides go through compare-exchanges on the cell, and the
//! cell is given back exactly once: by the weak reference's drop if the object was built (or
//! its building failed and the cell was cleared), else by `alloc_cyclic`, which finds the
//! cell *abandoned*. (`weak_table.rs`: `register_pending`, `publish_pending`,
//! `abandon_pending`, `drop_weak`.)
//!
//! # Weak maps
//!
//! A [`GcWeakMap`](crate::GcWeakMap)'s lookups are weak reads too: they go through the same
//! checks ([`note_weak_read`]); the map itself is in `collections/weak_map.rs`.

use std::{fmt, marker::PhantomData, ptr::NonNull};

use crate::{
    cells::WeakCell,
    clock,
    gc::Gc,
    mutator::Mutator,
    object::{mark, Header, Object, Trace, Tracer},
    primitive::sync::atomic::{fence, Ordering},
    runtime::Runtime,
    variance::Invariant,
    weak_table,
};

/// A pointer that does not keep its object alive.
///
/// Cloning is cheap and needs no mutator: clones share one cell of the weak table (a count of
/// holders, as `Arc` keeps), so they upgrade and clear together, and the cell goes back to the
/// table when the last of them is dropped.
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
pub struct Weak<T: ?Sized + 'static> {
    cell: &'static WeakCell,
    /// Invariant in `T` (see `variance.rs`).
    _t: Invariant<T>,
}

impl<T: ?Sized + Object + 'static> Weak<T> {
    /// A weak reference to `gc`'s object.
    pub fn new(mu: &Mutator, gc: Gc<'_, T>) -> Weak<T> {
        let cell = mu.runtime().weaks.register(gc.header_ptr());
        Weak { cell, _t: PhantomData }
    }

    /// A weak reference owning `cell` (a pending cell of `alloc_cyclic`).
    pub(crate) fn from_cell(cell: &'static WeakCell) -> Weak<T> {
        Weak { cell, _t: PhantomData }
    }

    /// The object as a local, or `None` if it was collected.
    pub fn upgrade<'m>(&self, mu: &'m Mutator) -> Option<Gc<'m, T>> {
        // Acquire: pairs with the Release store in `new` (or `publish_pending`).
        let p = self.cell.ptr.load(Ordering::Acquire);
        if !weak_table::is_referent(p) {
            return None; // cleared, or its object is still being built
        }
        // SAFETY: not null (`is_referent`).
        let p = unsafe { NonNull::new_unchecked(p) };
        // SAFETY: a non-null cell names an allocated object (`weak_table.rs`, "Clearing": cells
        // of dead objects are cleared, and running mutators passed a safepoint, before the sweep
        // may free them).
        if !unsafe { note_weak_read(mu, p.as_ptr()) } {
            return None; // dead by the marking that just finished; its cell is being cleared
        }
        // SAFETY: allocated (above), of type `T` (cells are filled from `Gc<T>`), and alive
        // until `mu`'s next safepoint: no termination (hence no sweep of it) can come before
        // that safepoint, and a pending verdict that found it dead was checked above.
        Some(unsafe { Gc::from_header(p, mu) })
    }

    /// Whether the object is known to be collected (an upgrade would return `None`). A
    /// `false` can turn `true` at any later collection.
    pub fn is_cleared(&self) -> bool {
        !weak_table::is_referent(self.cell.ptr.load(Ordering::Relaxed))
    }
}

impl<T: ?Sized + 'static> Weak<T> {
    /// Whether `a` and `b` refer to the same object: always for a reference and its clones
    /// (they share one cell, cleared or not), and for two references made apart while their
    /// object is alive. A cleared reference equals only its clones: once the object is gone,
    /// nothing tells which object a cleared cell held. Needs no mutator; like
    /// [`is_cleared`](Self::is_cleared), the answer is as of the call.
    ///
    /// ```
    /// use gc_runtime::Weak;
    ///
    /// let mu = gc_runtime::attach();
    /// let a = mu.alloc(1u32);
    /// let (w, also_a, b) = (a.downgrade(&mu), a.downgrade(&mu), mu.alloc(2u32).downgrade(&mu));
    /// assert!(Weak::ptr_eq(&w, &w.clone()) && Weak::ptr_eq(&w, &also_a));
    /// assert!(!Weak::ptr_eq(&w, &b));
    /// ```
    pub fn ptr_eq(a: &Weak<T>, b: &Weak<T>) -> bool {
        if std::ptr::eq(a.cell, b.cell) {
            return true;
        }
        let p = a.cell.ptr.load(Ordering::Relaxed);
        // Acquire: if `b` was filled for a new object at the address of `a`'s freed one, the
        // clearing of `a`'s cell came before that fill, and the load below sees it.
        if !weak_table::is_referent(p) || b.cell.ptr.load(Ordering::Acquire) != p {
            return false;
        }
        // `a` still holds `p` after `b` was read, so its object was not freed before that read
        // (a cell is cleared before its referent is freed): `b`'s `p` is the same object, not a
        // new one at a freed object's address.
        a.cell.ptr.load(Ordering::Relaxed) == p
    }
}

/// The checks of a read through a weak reference (an upgrade, or a weak map's lookup) of the
/// object `p`: returns `false` if a finished marking found `p` dead (the read must fail).
/// While marking runs, a read of an unmarked object is counted under the weak gate and, under
/// Yuasa, turns the thread's stores into shading ones (module docs).
///
/// The order matters: the phase is read first, with `Acquire`, and the verdict after it. Read
/// the other way round, a read that crossed a termination decided without a pause could find
/// no verdict yet and then the barrier already off, and hand out an unmarked object uncounted —
/// which the thread could store, with the barrier off, into an object that lives on, while the
/// sweep frees it.
///
/// # Safety
/// `p` is allocated: read from an uncleared weak cell, or a weak map entry whose key is alive.
#[inline]
pub(crate) unsafe fn note_weak_read(mu: &Mutator, p: *mut Header) -> bool {
    if !clock::barrier_on_acquire() {
        // Off (or after a decision): a verdict stored before the barrier went off is seen.
        // SAFETY: guaranteed by the caller.
        return !unsafe { weak_table::condemned(p) };
    }
    // SAFETY: guaranteed by the caller.
    unsafe { note_weak_read_while_marking(mu, p) }
}

/// [`note_weak_read`] with the barrier on (out of line: the lookups' and upgrades' common case
/// is the collector idle).
///
/// # Safety
/// As for [`note_weak_read`].
#[cold]
#[inline(never)]
unsafe fn note_weak_read_while_marking(mu: &Mutator, p: *mut Header) -> bool {
    // Marking: the object may be white and outside the snapshot; under Yuasa this thread's
    // stores now shade what they store (module docs). Under the weak gate, a read of an
    // unmarked object is counted, and a termination decided without a pause waits for a
    // handshake round without one (see "Termination without a pause" above).
    let rt = mu.runtime();
    let _gate = rt.weak_gate.read();
    // SAFETY: guaranteed by the caller (a decision may have come since the phase was read).
    if unsafe { weak_table::condemned(p) } {
        return false;
    }
    mu.note_weak_upgrade();
    // SAFETY: allocated (the caller).
    rt.weaks.note_upgrade_while_marking(unsafe { mark::is_marked(p, clock::mark_epoch()) });
    true
}

/// A weak map's value that a mutator shades again in place (after a rehash, for the marker's
/// chunked scan) while marking: counted like a weak read if it is unmarked
/// (`collections/weak_map.rs`, point 3). Call it *before* the store that shades it: afterwards
/// the object looks marked, though it may sit grey in this thread's private buffer, where a
/// termination decided now would never scan it.
///
/// # Safety
/// `p` is allocated: a value of a weak map whose entry is still there (the map's write lock is
/// held).
pub(crate) unsafe fn note_weak_shade(p: *mut Header) {
    if !clock::barrier_on() {
        return;
    }
    let rt = Runtime::get();
    let _gate = rt.weak_gate.read();
    // SAFETY: guaranteed by the caller.
    rt.weaks.note_upgrade_while_marking(unsafe { mark::is_marked(p, clock::mark_epoch()) });
}

/// One more holder of the same cell (see `cells.rs`): the clone upgrades to the same object,
/// and is cleared with the original.
impl<T: ?Sized + 'static> Clone for Weak<T> {
    fn clone(&self) -> Self {
        // Relaxed, as `Arc::clone`: a new holder is made from an existing one, which keeps the
        // cell handed out meanwhile; nothing is read through the count.
        let before = self.cell.holders.fetch_add(1, Ordering::Relaxed);
        if before > MAX_HOLDERS {
            // Only `mem::forget` of clones in a loop gets here; wrapping around would give the
            // cell back while holders remain.
            std::process::abort();
        }
        Weak { cell: self.cell, _t: PhantomData }
    }
}

/// The most holders a weak cell may count (as `Arc`'s limit: far from wrapping around).
const MAX_HOLDERS: usize = isize::MAX as usize;

impl<T: ?Sized + 'static> Drop for Weak<T> {
    fn drop(&mut self) {
        // Release, and Acquire for the last holder, as `Arc`'s drop: every holder's reads of the
        // cell come before the last one gives it back, to be filled again for another `Weak`.
        if self.cell.holders.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        fence(Ordering::Acquire);
        Runtime::get().weaks.drop_weak(self.cell);
    }
}

// SAFETY: a weak reference reports nothing: it must not keep its referent alive.
unsafe impl<T: ?Sized + 'static> Trace for Weak<T> {
    const NEEDS_TRACE: bool = false;
    fn trace(&self, _tracer: &mut Tracer<'_>) {}
}

impl<T: ?Sized + 'static> fmt::Debug for Weak<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p: *mut Header = self.cell.ptr.load(Ordering::Relaxed);
        if p.is_null() {
            write!(f, "Weak<{}>(cleared)", std::any::type_name::<T>())
        } else if !weak_table::is_referent(p) {
            write!(f, "Weak<{}>(being built)", std::any::type_name::<T>())
        } else {
            write!(f, "Weak<{}>({p:p})", std::any::type_name::<T>())
        }
    }
}

/// Building an object that holds a weak reference to itself (module docs, "Weak references to
/// an object being built"). Defined here, beside the weak references, so that `mutator.rs`
/// does not depend on this module, which depends on it.
impl Mutator {
    /// Allocate the object `build` returns, handing `build` a [`Weak`] reference to that very
    /// object first, for the object to keep (`Rc::new_cyclic`): a node that knows itself, a
    /// parent that its children, built first, point back to.
    ///
    /// The weak reference upgrades to nothing until `build` has returned and the object is
    /// allocated (`upgrade` gives `None` and `is_cleared` is `true` meanwhile); from then on it
    /// is an ordinary weak reference to the object. If `build` panics, it stays cleared for
    /// good. (Strong cycles need no special constructor: allocate, then set the slots.)
    ///
    /// ```
    /// use gc_runtime::{Trace, Weak};
    ///
    /// #[derive(Trace)]
    /// struct Node {
    ///     name: String,
    ///     me: Weak<Node>,
    /// }
    ///
    /// let mut mu = gc_runtime::attach();
    /// let node = mu.alloc_cyclic(|me: Weak<Node>| {
    ///     assert!(me.is_cleared(), "nothing to upgrade to while building");
    ///     Node { name: "self-aware".into(), me }
    /// });
    /// let root = node.root(&mu);
    /// mu.collect();
    /// let node = root.get(&mu);
    /// assert!(gc_runtime::Gc::ptr_eq(node.me.upgrade(&mu).unwrap(), node));
    /// ```
    ///
    /// # Panics
    /// If `build` panics, or over the memory limit (as [`alloc`](Self::alloc)).
    pub fn alloc_cyclic<T: Trace + Send + Sync + 'static>(&self, build: impl FnOnce(Weak<T>) -> T) -> Gc<'_, T> {
        /// Clears the pending cell if building fails (see `weak.rs`).
        struct Building(&'static WeakCell);
        impl Drop for Building {
            fn drop(&mut self) {
                Runtime::get().weaks.abandon_pending(self.0);
            }
        }
        let weaks = &self.runtime().weaks;
        let building = Building(weaks.register_pending());
        let value = build(Weak::from_cell(building.0));
        let gc = self.alloc(value);
        weaks.publish_pending(building.0, gc.header_ptr());
        std::mem::forget(building);
        gc
    }
}

impl<T: ?Sized + Object + 'static> Gc<'_, T> {
    /// A [`Weak`] reference to this object.
    pub fn downgrade(self, mu: &Mutator) -> Weak<T> {
        Weak::new(mu, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Clones of one weak reference made and dropped on two threads at once, while a cycle
    /// runs: the count of holders never reaches zero while the original is held (a cell given
    /// back early would be nulled, and the original would stop upgrading), and when the last
    /// clone goes the cell is back in the table. Small enough for Miri, whose race detector
    /// checks the count's orderings.
    #[test]
    fn clones_dropped_on_two_threads_keep_the_cell_until_the_last() {
        let _serial = crate::test_support::serial();
        let mut mu = crate::attach();
        let root = mu.alloc(7u64).root(&mu);
        let weak = Weak::new(&mu, root.get(&mu));
        let cells = Runtime::get().weaks.len();
        let rounds = if cfg!(miri) { 20 } else { 2_000 };
        mu.blocking(|| {
            std::thread::scope(|s| {
                for _ in 0..2 {
                    let weak = &weak;
                    s.spawn(move || {
                        let mut held = Vec::new();
                        for i in 0..rounds {
                            held.push(weak.clone());
                            if i % 3 == 0 {
                                held.clear();
                            }
                        }
                    });
                }
                s.spawn(|| crate::attach().collect());
            })
        });
        assert_eq!(*weak.upgrade(&mu).expect("held by the original"), 7);
        let last = weak.clone();
        drop(weak);
        assert_eq!(*last.upgrade(&mu).unwrap(), 7);
        assert_eq!(Runtime::get().weaks.len(), cells, "clones share the cell");
        drop(last);
        assert_eq!(Runtime::get().weaks.len(), cells - 1, "the last holder gave it back");
    }
}
