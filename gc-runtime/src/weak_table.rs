//! The weak table: every weak reference's cell, and how marking's verdict reaches them.
//!
//! The marker never looks at this table, so a weakly referenced object that nothing else
//! reaches stays white. Why an upgrade (in `weak.rs`) is sound while marking runs is explained
//! there; this module is the other half: clearing.
//!
//! # Clearing, without a pause that grows with the number of weak references
//!
//! Marking's verdict must reach every cell before any dead referent is freed. Scanning all
//! cells inside the termination pause would make that pause proportional to the number of
//! weak references, so the collector splits it:
//!
//! 1. When marking ends it records the finished marking's epoch as *pending*: by default after
//!    the handshake round that decided it, with the world running and the weak gate held; in
//!    the termination pause when the termination stops the world. From then on an upgrade
//!    treats a referent whose mark is older as dead and returns `None`, even if its cell was
//!    not cleared yet. The sweep epoch is **not** advanced: nothing that died in this cycle can
//!    be freed yet, so reading the referent's header stays valid.
//! 2. With the world running, the collector clears every cell whose referent is unmarked.
//! 3. A ragged handshake: every running mutator passes a safepoint, or refills its allocation
//!    cache (no upgrade allocates; see `collector/mod.rs`, "Rounds answered at an
//!    allocation"), so no upgrade that read a cell before it was cleared is still in progress.
//! 4. Only then does it publish the sweep epoch and let the sweep free dead objects.
//!
//! The pending verdict of step 1 is the clock's *weak verdict* epoch (see `clock.rs`), set by
//! `clock::end_marking` — or before it, after a deciding handshake round, by
//! `clock::set_weak_verdict` — and cleared by `clock::publish_sweep`, which also publishes the
//! sweep epoch of step 4.

use crate::{
    cells::{CellPool, WeakCell},
    clock,
    object::{mark, Header},
    primitive::sync::{
        atomic::{fence, AtomicU64, Ordering},
        Mutex,
    },
};

/// A weak cell's value while the object of [`Mutator::alloc_cyclic`](crate::Mutator) is being
/// built: the weak reference exists, its object does not yet (upgrades fail).
const PENDING_ADDR: usize = 1;

/// A weak cell's value once its pending weak reference was dropped before the object was
/// built: no `Weak` owns the cell any more, and `alloc_cyclic` gives it back.
const ABANDONED_ADDR: usize = 2;

fn sentinel(addr: usize) -> *mut Header {
    std::ptr::without_provenance_mut(addr)
}

/// Whether a weak cell's value names an object: not null (cleared) and neither sentinel.
#[inline(always)]
pub(crate) fn is_referent(p: *mut Header) -> bool {
    p.addr() > ABANDONED_ADDR
}

/// All weak cells.
#[derive(Default)]
pub(crate) struct WeakTable {
    cells: Mutex<CellPool<WeakCell>>,
    /// Upgrades of unmarked referents while marking (see `weak.rs`, "Termination without a
    /// pause").
    unmarked_upgrades: AtomicU64,
}

impl WeakTable {
    /// A cell for a new weak reference to `obj` (published with `Release`, for upgraders and
    /// the clearing scan).
    pub(crate) fn register(&self, obj: *mut Header) -> &'static WeakCell {
        let cell = self.acquire();
        cell.ptr.store(obj, Ordering::Release);
        cell
    }

    /// A free cell with one holder. (The holder count is written before the cell is handed
    /// out: the pool's lock ordered its last holder's release before it; the new `Weak`
    /// reaches other threads only by a send, which orders the count before their clones.)
    fn acquire(&self) -> &'static WeakCell {
        let cell = self.cells.lock().acquire();
        cell.holders.store(1, Ordering::Relaxed);
        cell
    }

    /// Give a weak reference's cell back.
    pub(crate) fn unregister(&self, cell: &'static WeakCell) {
        let mut cells = self.cells.lock();
        cell.ptr.store(std::ptr::null_mut(), Ordering::Relaxed);
        cells.release(cell);
    }

    /// A cell for the weak reference `alloc_cyclic` hands out before its object exists
    /// ("Weak references to an object being built" in `weak.rs`).
    pub(crate) fn register_pending(&self) -> &'static WeakCell {
        let cell = self.acquire();
        cell.ptr.store(sentinel(PENDING_ADDR), Ordering::Relaxed);
        cell
    }

    /// The object of a pending cell is built: point the cell at it (`Release`, for upgraders),
    /// or — if the weak reference was dropped meanwhile — give the cell back.
    pub(crate) fn publish_pending(&self, cell: &'static WeakCell, obj: *mut Header) {
        if cell.ptr.compare_exchange(sentinel(PENDING_ADDR), obj, Ordering::AcqRel, Ordering::Acquire).is_err() {
            self.unregister(cell);
        }
    }

    /// Building the object of a pending cell failed (a panic): the weak reference and its clones,
    /// if any still exist, read as cleared from now on and the last of them gives the cell back
    /// when dropped; if all were dropped already, the cell is given back here.
    pub(crate) fn abandon_pending(&self, cell: &'static WeakCell) {
        let cleared = std::ptr::null_mut();
        if cell.ptr.compare_exchange(sentinel(PENDING_ADDR), cleared, Ordering::AcqRel, Ordering::Acquire).is_err() {
            self.unregister(cell);
        }
    }

    /// The last holder of a weak cell (a `Weak` and its clones) is dropped: give the cell back —
    /// unless its object is still being built, in which case the cell is marked abandoned and
    /// `alloc_cyclic` gives it back.
    pub(crate) fn drop_weak(&self, cell: &'static WeakCell) {
        let abandoned = sentinel(ABANDONED_ADDR);
        if cell.ptr.compare_exchange(sentinel(PENDING_ADDR), abandoned, Ordering::AcqRel, Ordering::Acquire).is_err() {
            self.unregister(cell);
        }
    }

    /// Step 2 (world running, verdict pending): clear every cell whose referent marking did not
    /// reach. Returns how many were cleared.
    pub(crate) fn clear_dead(&self) -> usize {
        let epoch = clock::weak_verdict();
        let chunks = self.cells.lock().chunks();
        let mut cleared = 0;
        CellPool::<WeakCell>::for_each_in(&chunks, |cell, p| {
            if !is_referent(p) {
                return; // a weak reference to an object still being built
            }
            // SAFETY: the sweep epoch has not advanced past objects that died in this cycle,
            // and referents of older cycles were cleared in their own cycle: `p` is allocated
            // (and its mark is still the finished marking's: its page is not swept yet).
            if !unsafe { mark::is_marked(p, epoch) }
                && cell.ptr.compare_exchange(p, std::ptr::null_mut(), Ordering::AcqRel, Ordering::Relaxed).is_ok()
            {
                cleared += 1;
            }
        });
        cleared
    }

    /// An upgrade while marking (under the weak gate's shared side); `marked`: whether its
    /// referent was marked already.
    pub(crate) fn note_upgrade_while_marking(&self, marked: bool) {
        if !marked {
            self.unmarked_upgrades.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Upgrades of unmarked referents while marking, so far (read under the weak gate).
    pub(crate) fn unmarked_upgrades(&self) -> u64 {
        self.unmarked_upgrades.load(Ordering::SeqCst)
    }

    /// Number of live weak references.
    pub(crate) fn len(&self) -> usize {
        self.cells.lock().live()
    }
}

/// Whether a pending verdict (step 1) found `referent` dead: its cell may not be cleared yet,
/// but an upgrade must fail.
///
/// The verdict read may be over by the time the mark is: step 4 publishes the sweep epoch, and
/// a sweep clears a page's marks as it reads them, so a live object's mark can be gone. Then
/// the object *is* live: a reader that overlaps step 4 read its cell after step 2 cleared the
/// cells of every dead referent (step 3 waited for the readers that might have read one
/// before). So an unmarked referent is condemned only if the sweep for the verdict is not
/// published. (Without this test an upgrade of a rooted object returned `None` now and then
/// while cycles ran back to back: a reviewer saw 1-6 in 6-8 s under every barrier.)
///
/// # Safety
/// `referent` was read from a weak cell that is not cleared: an allocated object.
#[inline]
pub(crate) unsafe fn condemned(referent: *const Header) -> bool {
    let verdict = clock::weak_verdict();
    // SAFETY: guaranteed by the caller.
    if verdict == 0 || unsafe { mark::is_marked(referent, verdict) } {
        return false;
    }
    // Acquire: if the mark read above saw a sweep's clearing, that sweep's Release fence (see
    // `Page::sweep`) orders the sweep epoch it swept for, published before it, before the load
    // below.
    fence(Ordering::Acquire);
    clock::sweep_epoch() < verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support;

    /// An unmarked referent is condemned while its marking's verdict is pending, and not once
    /// the sweep for that marking is published: a read that took the verdict just before the
    /// publication may find a live object's mark cleared by a sweep (`condemned`'s docs).
    #[test]
    fn only_a_verdict_whose_sweep_is_not_published_condemns() {
        let _serial = test_support::serial();
        let mut mu = crate::attach();
        mu.collect();
        let o = mu.alloc(5u64).header_ptr();
        let last = clock::mark_epoch();
        assert!(clock::sweep_epoch() >= last, "idle after a cycle: its sweep is published");
        // SAFETY: a live local's object is allocated.
        assert!(!unsafe { mark::is_marked(o, last) }, "allocated while no marking ran: unmarked");
        clock::force_weak_verdict(last);
        // SAFETY: as above.
        let after_publication = unsafe { condemned(o) };
        clock::force_weak_verdict(last + 1);
        // SAFETY: as above.
        let pending = unsafe { condemned(o) };
        clock::force_weak_verdict(0);
        assert!(!after_publication, "a verdict whose sweep is published condemned a live object");
        assert!(pending, "a pending verdict condemns an unmarked object");
    }
}
