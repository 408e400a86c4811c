//! The root table: every registered root cell, the objects pinned for the rest of the process,
//! and the orphan shade buffer — the one home of the *orphan-shade protocol*.
//!
//! # Structure
//!
//! Roots are pointer cells (see `cells.rs`); a `Root` owns one. Registering a root takes a
//! free cell under the table's lock; the marker scans a snapshot of the chunk list without the
//! lock, loading each cell atomically. Roots registered after the snapshot are shaded by their
//! creator, like any barriered store.
//!
//! # The orphan-shade protocol
//!
//! A store can happen on a thread with no running mutator: a `Root` dropped on any thread, a
//! `Member` emptied by a destructor on the finalizer thread or by a thread holding a `'static`
//! borrow of a leaked mutator's object. Such a thread has no shade buffer and does not hold up
//! a pause, so nothing orders its phase test before its store against the collector. So it
//! makes the whole store under the table's lock ([`RootTable::store_orphaned`]): test the
//! barrier, store, and shade what the barrier asks into the table's own buffer. The collector
//! holds the same lock when it turns the barrier on (mark start) and when it terminates
//! marking, and drains that buffer then ([`RootInner::flush_orphans`]). So the barrier cannot
//! come on between the test and the store (a deletion that misses the Yuasa snapshot), and
//! marking cannot terminate between the store and the shade (an overwritten object freed
//! while another thread just copied it).
//!
//! # During an exclusive job
//!
//! In an exclusive job — a drain inside a pause, or by default any drain of a concurrent
//! cycle — the mark workers set the bits of the memory they own with plain stores
//! (`object/exclusive.rs`); a locked mark set beside them could be overwritten. So while an
//! exclusive job runs — the collector starts and ends it holding this lock — an orphan shade
//! does not mark: it records the object in the table ([`RootInner::mark_held_shades`] marks
//! them when the job has ended, before the collector decides that marking is over).
//!
//! # Pinned objects
//!
//! When a thread ends with its mutator leaked, every object alive then is pinned: kept, and
//! scanned as a root, for the rest of the process (see `thread_state/mod.rs`, "Threads that
//! exit").

use std::{ptr::NonNull, sync::Arc};

use crate::{
    cells::{CellPool, PtrCell},
    clock,
    config::BarrierKind,
    heap::live_snapshot::LiveSnapshot,
    object::{exclusive, Header, ObjPtr},
    primitive::sync::{
        atomic::{AtomicPtr, Ordering},
        Mutex, MutexGuard,
    },
    shade::{self, GreyQueue, ShadeBuffer},
    slot::{self, Greys, Unarmed},
};

/// Root table state behind the lock.
pub(crate) struct RootInner {
    cells: CellPool<PtrCell>,
    /// Grey objects shaded by stores on threads without a shade buffer.
    orphan_shades: ShadeBuffer,
    /// Objects such stores shaded while an exclusive job ran: not marked yet (see "During an
    /// exclusive job").
    held_shades: Vec<ObjPtr>,
    /// Objects kept alive for the rest of the process: roots without a handle. Shared, so that
    /// the root scan takes it without copying it under the lock.
    pinned: Arc<LiveSnapshot>,
}

/// The locked root table.
pub(crate) type RootGuard<'a> = MutexGuard<'a, RootInner>;

/// All roots.
pub(crate) struct RootTable {
    inner: Mutex<RootInner>,
}

impl Default for RootTable {
    fn default() -> Self {
        RootTable {
            inner: Mutex::new(RootInner {
                cells: CellPool::default(),
                orphan_shades: ShadeBuffer::default(),
                held_shades: Vec::new(),
                pinned: Arc::default(),
            }),
        }
    }
}

impl RootTable {
    /// Lock the table: the collector holds this while it turns the barrier on and while it
    /// terminates marking (see "The orphan-shade protocol").
    pub(crate) fn lock(&self) -> RootGuard<'_> {
        self.inner.lock()
    }

    /// A cell for a new root, holding `obj` (published with `Release`: root scanners load
    /// cells with `Acquire`). The caller shades `obj` if the barrier is on.
    pub(crate) fn register(&self, obj: *mut Header) -> &'static PtrCell {
        let cell = self.inner.lock().cells.acquire();
        cell.ptr.store(obj, Ordering::Release);
        cell
    }

    /// Empty a root's cell (under the orphan-shade protocol: the dropping thread may have no
    /// mutator) and give the cell back.
    pub(crate) fn unregister(&self, cell: &'static PtrCell, grey: &GreyQueue) {
        // Root cells are always armed: the store cannot fail.
        let (mut table, _) = self.store_orphaned(&cell.ptr, std::ptr::null_mut(), false, grey);
        table.cells.release(cell);
    }

    /// Store `new` into `slot` on a thread without a running mutator: the phase test, the
    /// store and the shades all under the table lock, shades into the orphan buffer (see "The
    /// orphan-shade protocol"). Returns the table, still locked, and whether the slot was armed
    /// (`check_armed`: false for root cells, which always are); an unarmed slot is left as it
    /// was.
    pub(crate) fn store_orphaned(
        &self,
        slot: &AtomicPtr<Header>,
        new: *mut Header,
        check_armed: bool,
        grey: &GreyQueue,
    ) -> (RootGuard<'_>, Result<(), Unarmed>) {
        self.write_orphaned(grey, |kind| match kind {
            None => slot::store_idle(slot, new, check_armed).map(|()| ((), [None, None])),
            Some(kind) => {
                slot::store_marking(slot, new, kind.shades_old(), kind.shades_new(), check_armed).map(|g| ((), g))
            }
        })
    }

    /// [`store_orphaned`](Self::store_orphaned) for a swap or compare-exchange (see
    /// [`slot::exchange`]): returns the old value and whether `new` was stored.
    pub(crate) fn exchange_orphaned(
        &self,
        slot: &AtomicPtr<Header>,
        new: *mut Header,
        current: Option<*mut Header>,
        grey: &GreyQueue,
    ) -> (RootGuard<'_>, Result<(*mut Header, bool), Unarmed>) {
        self.write_orphaned(grey, |kind| {
            let (old, stored) = slot::exchange(slot, new, current, true)?;
            let greys =
                kind.map_or([None, None], |k| slot::exchange_greys(old, new, stored, k.shades_old(), k.shades_new()));
            Ok(((old, stored), greys))
        })
    }

    /// A write on a thread without a running mutator, under the table lock: `write` gets the
    /// barrier in force (if on) and returns its result and what it must shade, which is shaded
    /// into the orphan buffer before the lock is released.
    fn write_orphaned<R>(
        &self,
        grey: &GreyQueue,
        write: impl FnOnce(Option<BarrierKind>) -> Result<(R, Greys<Header>), Unarmed>,
    ) -> (RootGuard<'_>, Result<R, Unarmed>) {
        let mut table = self.inner.lock();
        let (result, greys) = match write(clock::barrier()) {
            Ok(done) => done,
            Err(unarmed) => return (table, Err(unarmed)),
        };
        for o in greys.iter().flatten() {
            // SAFETY: an overwritten pointer was in a slot of a reachable object until the store,
            // and a stored one is reachable by the caller; the lock keeps marking from
            // terminating (and the sweep from freeing either) meanwhile.
            unsafe { table.shade_orphan(o.as_ptr(), grey) };
        }
        (table, Ok(result))
    }

    /// Shade `obj` into the orphan buffer, if marking still runs: for a barrier on a running
    /// mutator whose own buffer is out of reach (its state is borrowed by the runtime).
    ///
    /// # Safety
    /// `obj` is allocated.
    pub(crate) unsafe fn shade_orphaned(&self, obj: *const Header, grey: &GreyQueue) {
        let mut table = self.inner.lock();
        if clock::barrier_on() {
            // SAFETY: allocated (the caller); the lock keeps marking from terminating
            // meanwhile.
            unsafe { table.shade_orphan(obj, grey) };
        }
    }

    /// Call `f` with every non-null root pointer (pinned objects included).
    pub(crate) fn for_each(&self, mut f: impl FnMut(*const Header)) {
        let (chunks, pinned) = {
            let inner = self.inner.lock();
            (inner.cells.chunks(), Arc::clone(&inner.pinned))
        };
        CellPool::<PtrCell>::for_each_in(&chunks, |_, p| f(p));
        pinned.for_each(|p| f(p.as_ptr()));
    }

    /// Number of live roots.
    pub(crate) fn len(&self) -> usize {
        self.inner.lock().cells.live()
    }

    /// Number of pinned objects.
    pub(crate) fn pinned(&self) -> usize {
        self.inner.lock().pinned.len()
    }

    /// The pinned objects.
    pub(crate) fn pinned_set(&self) -> Arc<LiveSnapshot> {
        Arc::clone(&self.inner.lock().pinned)
    }
}

impl RootInner {
    /// Shade `obj` for a store on a thread without a shade buffer (the table is locked): into
    /// the orphan buffer, or — while an exclusive job runs — held unmarked until it ends (see
    /// "During an exclusive job").
    ///
    /// # Safety
    /// `obj` is allocated.
    unsafe fn shade_orphan(&mut self, obj: *const Header, grey: &GreyQueue) {
        if exclusive::current().is_some() {
            if let Some(nn) = NonNull::new(obj.cast_mut()) {
                self.held_shades.push(ObjPtr(nn));
            }
            return;
        }
        // SAFETY: guaranteed by the caller.
        unsafe { shade::shade(obj, clock::mark_epoch(), &mut self.orphan_shades, grey) };
    }

    /// Shade the objects orphan stores shaded while an exclusive job ran, now that it has
    /// ended (the table is locked, so none is added meanwhile).
    pub(crate) fn mark_held_shades(&mut self, grey: &GreyQueue) {
        debug_assert!(exclusive::current().is_none(), "the exclusive job has ended");
        let epoch = clock::mark_epoch();
        for obj in std::mem::take(&mut self.held_shades) {
            // SAFETY: held by an orphan shade of this marking, which the lock kept from
            // terminating since: allocated.
            unsafe { shade::shade(obj.as_ptr(), epoch, &mut self.orphan_shades, grey) };
        }
    }

    /// Publish the grey objects orphan stores shaded into the table: with the table locked,
    /// none can be added until it is released.
    pub(crate) fn flush_orphans(&mut self, grey: &GreyQueue) {
        self.orphan_shades.flush(grey);
    }

    /// Every non-null root pointer (pinned objects included), read under the lock.
    pub(crate) fn pointers(&self) -> Vec<*const Header> {
        let mut v = Vec::new();
        CellPool::<PtrCell>::for_each_in(&self.cells.chunks(), |_, p| v.push(p.cast_const()));
        self.pinned.for_each(|p| v.push(p.as_ptr().cast_const()));
        v
    }

    /// Pin `live`, every object alive now, for the rest of the process (world stopped),
    /// in place of the objects pinned before. At every later mark start they are scanned with
    /// the roots, with the world running; a marking in progress shades those it has not marked
    /// before it may end (the collector's `shade_pinned`).
    ///
    /// The objects pinned before are among `live`: a pinned object is a root, marked by every
    /// cycle since it was pinned (or shaded in the marking that pinned it), so it is never
    /// dead. Replacing them, not adding to them, keeps one entry per object however many
    /// threads end with leaked mutators.
    ///
    /// # Safety
    /// `live` is every object not dead for the current sweep epoch
    /// (`PageHeap::live_snapshot`), and the world is stopped.
    pub(crate) unsafe fn pin(&mut self, live: LiveSnapshot) {
        #[cfg(debug_assertions)]
        assert!(self.pinned.is_subset_of(&live), "a pinned object is alive");
        self.pinned = Arc::new(live);
    }
}
