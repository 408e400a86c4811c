//! Pointer cells: the registered, never-freed `AtomicPtr` slots behind roots and weak
//! references.
//!
//! Cells come in chunks of 256 that live as long as the process (the heap is process-wide), so
//! a handle can hold a `&'static` cell and scanners can walk a snapshot of the chunk list
//! without holding the owner's lock. A [`CellPool`] hands out free cells and takes them back;
//! its owner (the root table, the weak table) keeps it behind a lock. A root owns a
//! [`PtrCell`]; weak references share a [`WeakCell`], which counts its holders (a clone of a
//! `Weak` is one more holder of the same cell, so every clone sees the same clearing).

use crate::{
    object::Header,
    primitive::sync::atomic::{AtomicPtr, AtomicUsize, Ordering},
};

const CHUNK: usize = 256;

/// A cell of a [`CellPool`]: a pointer word, and whatever else its kind keeps beside it.
pub(crate) trait Cell: Sync + 'static {
    /// A free cell (null).
    fn empty() -> Self;
    /// The cell's pointer word.
    fn ptr(&self) -> &AtomicPtr<Header>;
}

/// One registered pointer: a root's.
pub(crate) struct PtrCell {
    pub(crate) ptr: AtomicPtr<Header>,
}

impl Cell for PtrCell {
    fn empty() -> Self {
        PtrCell { ptr: AtomicPtr::new(std::ptr::null_mut()) }
    }

    #[inline]
    fn ptr(&self) -> &AtomicPtr<Header> {
        &self.ptr
    }
}

/// One weak reference's pointer, shared by its clones.
pub(crate) struct WeakCell {
    pub(crate) ptr: AtomicPtr<Header>,
    /// The `Weak`s that hold the cell: set to 1 when it is handed out; the last holder to drop
    /// gives the cell back (`weak.rs`).
    pub(crate) holders: AtomicUsize,
}

impl Cell for WeakCell {
    fn empty() -> Self {
        WeakCell { ptr: AtomicPtr::new(std::ptr::null_mut()), holders: AtomicUsize::new(0) }
    }

    #[inline]
    fn ptr(&self) -> &AtomicPtr<Header> {
        &self.ptr
    }
}

/// Chunks of cells and the free list.
pub(crate) struct CellPool<C: Cell> {
    chunks: Vec<&'static [C; CHUNK]>,
    free: Vec<&'static C>,
    live: usize,
}

impl<C: Cell> Default for CellPool<C> {
    fn default() -> Self {
        CellPool { chunks: Vec::new(), free: Vec::new(), live: 0 }
    }
}

impl<C: Cell> CellPool<C> {
    /// A free cell (null).
    pub(crate) fn acquire(&mut self) -> &'static C {
        self.live += 1;
        if let Some(cell) = self.free.pop() {
            return cell;
        }
        let chunk: &'static [C; CHUNK] = Box::leak(Box::new(std::array::from_fn(|_| C::empty())));
        self.chunks.push(chunk);
        self.free.extend(chunk[1..].iter().rev());
        &chunk[0]
    }

    /// Return a cell (the caller has nulled it).
    pub(crate) fn release(&mut self, cell: &'static C) {
        debug_assert!(cell.ptr().load(Ordering::Relaxed).is_null());
        self.live -= 1;
        self.free.push(cell);
    }

    /// Cells handed out and not yet released.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// The chunks, to scan without the owner's lock (cells are never freed).
    pub(crate) fn chunks(&self) -> Vec<&'static [C]> {
        self.chunks.iter().map(|c| &c[..]).collect()
    }

    /// Call `f` with every cell that holds a pointer.
    pub(crate) fn for_each_in(chunks: &[&'static [C]], mut f: impl FnMut(&'static C, *mut Header)) {
        for chunk in chunks {
            for cell in chunk.iter() {
                // Acquire: pairs with the Release store that filled the cell, so the
                // referent's header is visible to the caller.
                let p = cell.ptr().load(Ordering::Acquire);
                if !p.is_null() {
                    f(cell, p);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_reused_and_scanned() {
        let mut pool = CellPool::<PtrCell>::default();
        let cells: Vec<_> = (0..300).map(|_| pool.acquire()).collect();
        assert_eq!(pool.live(), 300);
        assert_eq!(pool.chunks().len(), 2);
        let fake = std::ptr::without_provenance_mut::<Header>(64);
        cells[7].ptr.store(fake, Ordering::Relaxed);
        let mut seen = Vec::new();
        CellPool::for_each_in(&pool.chunks(), |_, p| seen.push(p));
        assert_eq!(seen, [fake]);
        cells[7].ptr.store(std::ptr::null_mut(), Ordering::Relaxed);
        pool.release(cells[7]);
        assert_eq!(pool.live(), 299);
        assert!(std::ptr::eq(pool.acquire(), cells[7]), "a released cell is handed out again");
    }
}
