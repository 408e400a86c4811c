//! Pointer cells: the registered, never-freed `AtomicPtr` slots behind roots and weak
//! references.
//!
//! Cells come in chunks of 256 that live as long as the process (the heap is process-wide), so
//! a handle can hold a `&'static PtrCell` and scanners can walk a snapshot of the chunk list
//! without holding the owner's lock. A [`CellPool`] hands out free cells and takes them back;
//! its owner (the root table, the weak table) keeps it behind a lock.

use crate::{
    object::Header,
    primitive::sync::atomic::{AtomicPtr, Ordering},
};

const CHUNK: usize = 256;

/// One registered pointer.
pub(crate) struct PtrCell {
    pub(crate) ptr: AtomicPtr<Header>,
}

type Chunk = [PtrCell; CHUNK];

/// Chunks of cells and the free list.
#[derive(Default)]
pub(crate) struct CellPool {
    chunks: Vec<&'static Chunk>,
    free: Vec<&'static PtrCell>,
    live: usize,
}

impl CellPool {
    /// A free cell (null).
    pub(crate) fn acquire(&mut self) -> &'static PtrCell {
        self.live += 1;
        if let Some(cell) = self.free.pop() {
            return cell;
        }
        let chunk: &'static Chunk =
            Box::leak(Box::new(std::array::from_fn(|_| PtrCell { ptr: AtomicPtr::new(std::ptr::null_mut()) })));
        self.chunks.push(chunk);
        self.free.extend(chunk[1..].iter().rev());
        &chunk[0]
    }

    /// Return a cell (the caller has nulled it).
    pub(crate) fn release(&mut self, cell: &'static PtrCell) {
        debug_assert!(cell.ptr.load(Ordering::Relaxed).is_null());
        self.live -= 1;
        self.free.push(cell);
    }

    /// Cells handed out and not yet released.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// The chunks, to scan without the owner's lock (cells are never freed).
    pub(crate) fn chunks(&self) -> Vec<&'static [PtrCell]> {
        self.chunks.iter().map(|c| &c[..]).collect()
    }

    /// Call `f` with every cell that holds a pointer.
    pub(crate) fn for_each_in(chunks: &[&'static [PtrCell]], mut f: impl FnMut(&'static PtrCell, *mut Header)) {
        for chunk in chunks {
            for cell in chunk.iter() {
                // Acquire: pairs with the Release store that filled the cell, so the
                // referent's header is visible to the caller.
                let p = cell.ptr.load(Ordering::Acquire);
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
        let mut pool = CellPool::default();
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
