//! A growable sequence of plain records whose memory goes back to the OS when it is dropped.
//!
//! Some of the collector's buffers are small nearly always and large now and then: the record
//! of mutators' marks (`mutator_marks.rs`) holds a few records in most markings and tens of
//! megabytes in a marking whose mark assists find much of a large heap. In a `Vec` such a
//! buffer grows by doubling in the global allocator, and with glibc's, freeing it leaves the
//! allocator keeping buffers of up to that size, later, in memory it does not give back (see
//! `raw.rs`, `MappedBlock`). A [`MappedVec`] keeps its records in blocks mapped from the
//! system on their own, in order, never moved once written: a push is a bounds test and a
//! store, and a full block costs at most one mapping (and no copy of the records before it).
//!
//! # Keeping what the last two fills used
//!
//! [`MappedVec::clear`] forgets the records and keeps every block, so it makes no system call
//! (the log is cleared inside pauses). [`MappedVec::trim`], called where a system call costs
//! nobody a pause, unmaps the blocks beyond what the larger of the last two finished fills and
//! the current one used. So a buffer filled to about the same sizes again and again maps
//! nothing and faults nothing in after its first fills — the log, which fills by megabytes
//! during a marking and by a few records between markings (black allocation into pages still
//! to be swept), and is cleared after each — and a buffer that grew large once gives that
//! memory back once two smaller fills have followed. (Unmapping every block
//! but the first at each clear doubled the page faults of a run of binary-trees and made it
//! 10–15 % slower; keeping what the last fill alone used still remapped the marking's blocks
//! after every small fill between markings.)
//!
//! Records are `Copy`: the sequence never runs a destructor, and reads them out by value.

use std::{marker::PhantomData, ptr::NonNull};

use crate::raw::MappedBlock;

/// Bytes of the first block (Miri gets smaller blocks: it tracks every byte of an allocation).
#[cfg(not(miri))]
const FIRST_BLOCK_BYTES: usize = 64 << 10;
#[cfg(miri)]
const FIRST_BLOCK_BYTES: usize = 4 << 10;
/// Bytes of every other block.
#[cfg(not(miri))]
const BLOCK_BYTES: usize = 1 << 20;
#[cfg(miri)]
const BLOCK_BYTES: usize = 8 << 10;

/// An append-only sequence of `T`s in mapped blocks (module header).
pub(crate) struct MappedVec<T: Copy> {
    /// The blocks mapped, in order: those up to `current` hold this fill's records, the ones
    /// after it are kept from an earlier fill, empty.
    blocks: Vec<MappedBlock>,
    /// The block the next record goes to (if it has room; `blocks.len()` before any block).
    current: usize,
    /// Records in block `current`.
    in_current: usize,
    len: usize,
    /// Blocks the last finished fill used.
    used_before: usize,
    /// Blocks the larger of the last two finished fills used: what [`MappedVec::trim`] keeps.
    keep: usize,
    _records: PhantomData<T>,
}

impl<T: Copy> MappedVec<T> {
    /// Records in the first block.
    const IN_FIRST: usize = {
        assert!(size_of::<T>() > 0 && size_of::<T>() <= FIRST_BLOCK_BYTES, "records fit in a block");
        assert!(align_of::<T>() <= 4096, "blocks are aligned to 4096 bytes");
        FIRST_BLOCK_BYTES / size_of::<T>()
    };
    /// Records in every other block.
    const IN_OTHERS: usize = BLOCK_BYTES / size_of::<T>();

    /// Records block `b` holds when full.
    fn capacity(b: usize) -> usize {
        if b == 0 {
            Self::IN_FIRST
        } else {
            Self::IN_OTHERS
        }
    }

    /// An empty sequence: no block is mapped until the first push.
    pub(crate) const fn new() -> Self {
        MappedVec {
            blocks: Vec::new(),
            current: 0,
            in_current: 0,
            len: 0,
            used_before: 0,
            keep: 0,
            _records: PhantomData,
        }
    }

    /// How many records the sequence holds.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Append `record`.
    pub(crate) fn push(&mut self, record: T) {
        let slot = self.next_slot();
        // SAFETY: `next_slot` is the first free slot of the current block: inside it, aligned
        // for `T` (blocks are page-aligned and slots are `size_of::<T>()` apart), written by no
        // one else (the block is this sequence's alone).
        unsafe { slot.write(record) };
        self.in_current += 1;
        self.len += 1;
    }

    /// Append every record of `records`, in order: copied a block's room at a time.
    pub(crate) fn extend_from_slice(&mut self, mut records: &[T]) {
        while !records.is_empty() {
            let slot = self.next_slot();
            let n = records.len().min(Self::capacity(self.current) - self.in_current);
            // SAFETY: `next_slot` is the first free slot of the current block, which has room
            // for `n` more records from there (`n` is at most its capacity less its count);
            // the block is this sequence's alone, so it does not overlap `records`.
            unsafe { std::ptr::copy_nonoverlapping(records.as_ptr(), slot.as_ptr(), n) };
            self.in_current += n;
            self.len += n;
            records = &records[n..];
        }
    }

    /// The records, in the order they were pushed.
    pub(crate) fn iter(&self) -> impl Iterator<Item = T> + '_ {
        self.blocks[..self.used()].iter().enumerate().flat_map(move |(b, block)| {
            let n = if b == self.current { self.in_current } else { Self::capacity(b) };
            let first = block.start().cast::<T>();
            (0..n).map(move |i| {
                // SAFETY: slot `i` of the block was written by `push` (`i` is below the block's
                // count), and nothing writes it again while `self` is borrowed.
                unsafe { first.add(i).read() }
            })
        })
    }

    /// Blocks holding this fill's records.
    fn used(&self) -> usize {
        if self.len == 0 {
            0
        } else {
            self.current + 1
        }
    }

    /// Forget every record, keeping every block (no system call; see "Keeping what the last two
    /// fills used").
    pub(crate) fn clear(&mut self) {
        let used = self.used();
        self.keep = used.max(self.used_before);
        self.used_before = used;
        self.current = 0;
        self.in_current = 0;
        self.len = 0;
    }

    /// Unmap the blocks that neither of the last two finished fills nor the current one used
    /// (the first block stays).
    pub(crate) fn trim(&mut self) {
        self.blocks.truncate(self.keep.max(self.used()).max(1));
    }

    /// Where the next record goes: the first free slot of the current block, moving to the next
    /// block — a kept one, or one mapped now — if the current one is full (or there is none).
    fn next_slot(&mut self) -> NonNull<T> {
        if self.current == self.blocks.len() || self.in_current == Self::capacity(self.current) {
            if self.current < self.blocks.len() {
                self.current += 1;
            }
            self.in_current = 0;
            if self.current == self.blocks.len() {
                let bytes = if self.current == 0 { FIRST_BLOCK_BYTES } else { BLOCK_BYTES };
                self.blocks.push(MappedBlock::new(bytes));
            }
        }
        let block = &self.blocks[self.current];
        debug_assert!(block.len() >= Self::capacity(self.current) * size_of::<T>());
        // SAFETY: `in_current` is below the block's capacity (a full block moved on to the next
        // above), so the slot lies inside the block.
        unsafe { block.start().cast::<T>().add(self.in_current) }
    }
}

impl<T: Copy> Default for MappedVec<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(all(test, not(gc_loom)))]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_in_order_across_blocks() {
        type V = MappedVec<(u64, u32)>;
        let mut v = V::new();
        assert_eq!(v.len(), 0);
        assert_eq!(v.iter().count(), 0);
        let n = V::IN_FIRST + V::IN_OTHERS + 3;
        for i in 0..n / 2 {
            v.push((i as u64, i as u32 ^ 0x5a5a));
        }
        let rest: Vec<(u64, u32)> = (n / 2..n).map(|i| (i as u64, i as u32 ^ 0x5a5a)).collect();
        v.extend_from_slice(&rest);
        assert_eq!(v.len(), n);
        assert_eq!(v.blocks.len(), 3, "the first block, a full second one, and three records");
        let back: Vec<(u64, u32)> = v.iter().collect();
        assert_eq!(back.len(), n);
        assert!(back.iter().enumerate().all(|(i, &(a, b))| a == i as u64 && b == i as u32 ^ 0x5a5a));
    }

    #[test]
    fn a_full_block_is_read_whole_and_the_next_push_maps_another() {
        type V = MappedVec<u64>;
        let mut v = V::new();
        for i in 0..V::IN_FIRST {
            v.push(i as u64);
        }
        assert_eq!(v.blocks.len(), 1);
        assert_eq!(v.iter().last(), Some(V::IN_FIRST as u64 - 1));
        v.push(7);
        assert_eq!(v.blocks.len(), 2);
        assert_eq!(v.iter().skip(V::IN_FIRST).collect::<Vec<_>>(), [7]);
    }

    #[test]
    fn trimming_keeps_the_blocks_the_last_two_fills_used_and_unmaps_the_others() {
        type V = MappedVec<u64>;
        let fill = |v: &mut V, n: usize| {
            for i in 0..n {
                v.push(i as u64);
            }
        };
        let three_blocks = V::IN_FIRST + V::IN_OTHERS + 1;
        let mut v = V::new();
        v.clear();
        v.trim();
        assert_eq!(v.blocks.len(), 0, "an empty sequence maps nothing");
        fill(&mut v, three_blocks);
        assert_eq!(v.blocks.len(), 3);
        let starts: Vec<_> = v.blocks.iter().map(MappedBlock::start).collect();

        // Cleared after a fill of three blocks: all three are kept, and the next fill of the
        // same size reuses them, in order, mapping nothing.
        v.clear();
        v.trim();
        assert_eq!((v.len(), v.iter().count(), v.blocks.len()), (0, 0, 3));
        fill(&mut v, three_blocks);
        assert_eq!(v.blocks.iter().map(MappedBlock::start).collect::<Vec<_>>(), starts, "the same blocks");
        assert!(v.iter().eq((0..three_blocks).map(|i| i as u64)));

        // A small fill between two large ones: the blocks stay for the next large one.
        v.clear();
        v.extend_from_slice(&[10, 11]);
        assert_eq!(v.iter().collect::<Vec<_>>(), [10, 11]);
        v.clear();
        v.trim();
        assert_eq!(v.blocks.len(), 3, "the fill before this one used three blocks");
        fill(&mut v, three_blocks);
        assert_eq!(v.blocks.iter().map(MappedBlock::start).collect::<Vec<_>>(), starts, "the same blocks");

        // Two small fills in a row: clearing unmaps nothing, trimming then unmaps the blocks
        // neither needed; the first one stays.
        v.clear();
        v.push(1);
        v.clear();
        v.trim();
        assert_eq!(v.blocks.len(), 3);
        v.push(2);
        v.clear();
        assert_eq!(v.blocks.len(), 3, "a clear makes no system call");
        v.trim();
        assert_eq!(v.blocks.len(), 1);
        assert_eq!(v.blocks[0].start(), starts[0], "the first block is kept");
        // Empty fills keep the first block too.
        v.clear();
        v.clear();
        v.trim();
        assert_eq!(v.blocks.len(), 1);

        // A trim keeps the blocks of the fill in progress.
        fill(&mut v, V::IN_FIRST + 2);
        v.trim();
        assert_eq!(v.blocks.len(), 2);
        assert!(v.iter().eq((0..V::IN_FIRST + 2).map(|i| i as u64)));
    }
}
