//! A snapshot of the live heap as bitmaps: every object alive at one moment.
//!
//! When a thread ends with its mutator leaked, every object alive at that moment is pinned for
//! the rest of the process (see `thread_state/mod.rs`, "Threads that exit"). The set is taken
//! with the world stopped, so taking it must be cheap: it copies each page's bitmap of live
//! slots — allocated, not doomed and, on a page not yet swept for the current sweep epoch,
//! marked — 64 slots to a word, instead of listing the objects one by one. A pause then costs a
//! few words per page, not a pointer per object (a list of a million objects kept the world
//! stopped for about 6 ms). Large objects, which are few, are listed. The marker visits the set
//! with the roots at every mark start, with the world running; a marking in progress when the
//! set is taken shades only the objects whose mark bit is still clear
//! ([`LiveSnapshot::for_each_on_clear_bits`]), found a word at a time as well.
//!
//! # Invariants
//!
//! - Each page entry's bit `i` names the slot `i` of its page, at the entry's slot size, and
//!   every set bit was an allocated object when the snapshot was taken (world stopped).
//! - Once the snapshot is the pinned set (`root_table.rs`), its objects are roots, marked by
//!   every marking, so never freed: their pages never empty, so they are never reformatted to
//!   another slot size, and every set bit keeps naming the same object.

use std::ptr::NonNull;

use super::page::Page;
use crate::object::{Header, ObjPtr};

/// One page's share of a snapshot.
struct PageEntry {
    page: &'static Page,
    slot_size: usize,
    /// Where its bit words sit in [`LiveSnapshot::words`].
    words: std::ops::Range<usize>,
}

/// Every object alive at one moment: per-page bitmaps of live slots, and a list of large
/// objects (see the module header).
#[derive(Default)]
pub(crate) struct LiveSnapshot {
    pages: Vec<PageEntry>,
    words: Vec<u64>,
    large: Vec<ObjPtr>,
    len: usize,
}

impl LiveSnapshot {
    /// Add a page's live slots (`bits`, one per slot of `slot_size`, 64 to a word); a page with
    /// none adds nothing.
    ///
    /// # Safety
    /// Every set bit is an allocated object's slot of `page` at `slot_size`, and stays one for
    /// as long as the snapshot is used (the module's invariants).
    pub(super) unsafe fn push_page(&mut self, page: &'static Page, slot_size: usize, bits: &[u64]) {
        let used = bits.iter().rposition(|&w| w != 0).map_or(0, |last| last + 1);
        if used == 0 {
            return;
        }
        let start = self.words.len();
        self.words.extend_from_slice(&bits[..used]);
        self.len += bits[..used].iter().map(|w| w.count_ones() as usize).sum::<usize>();
        self.pages.push(PageEntry { page, slot_size, words: start..start + used });
    }

    /// Add a large object.
    ///
    /// # Safety
    /// `obj` is an allocated large object, and stays allocated for as long as the snapshot is
    /// used.
    pub(super) unsafe fn push_large(&mut self, obj: NonNull<Header>) {
        self.large.push(ObjPtr(obj));
        self.len += 1;
    }

    /// How many objects the snapshot holds.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Call `f` with every object of the snapshot.
    pub(crate) fn for_each(&self, mut f: impl FnMut(NonNull<Header>)) {
        for entry in &self.pages {
            entry.for_each_set(&self.words[entry.words.clone()], |_| !0, &mut f);
        }
        self.large.iter().for_each(|o| f(o.0));
    }

    /// Call `f` with every object of the snapshot whose page's mark bit for it is clear now,
    /// and with every large object (whose mark word is read by the shade `f` makes): what a
    /// marking in progress may not have marked yet. A word of a page's marks is read once for
    /// 64 slots, so a snapshot most of whose objects are marked is visited at a few words per
    /// page.
    pub(crate) fn for_each_on_clear_bits(&self, mut f: impl FnMut(NonNull<Header>)) {
        for entry in &self.pages {
            let marks = entry.page.marks().slot_bits(entry.slot_size);
            entry.for_each_set(&self.words[entry.words.clone()], |w| !marks[w], &mut f);
        }
        self.large.iter().for_each(|o| f(o.0));
    }

    /// Whether every object of `self` is in `other`.
    #[cfg(debug_assertions)]
    pub(crate) fn is_subset_of(&self, other: &LiveSnapshot) -> bool {
        let mut theirs = Vec::with_capacity(other.len());
        other.for_each(|o| theirs.push(o));
        theirs.sort_unstable();
        let mut all = true;
        self.for_each(|o| all &= theirs.binary_search(&o).is_ok());
        all
    }
}

impl PageEntry {
    /// Call `f` with the object of each bit set in `words[w] & mask(w)`.
    fn for_each_set(&self, words: &[u64], mask: impl Fn(usize) -> u64, f: &mut impl FnMut(NonNull<Header>)) {
        let base = self.page.base();
        for (w, &word) in words.iter().enumerate() {
            let mut bits = word & mask(w);
            while bits != 0 {
                let i = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                // SAFETY: a set bit names a slot of the page (the module's invariants), so
                // `i * slot_size` is inside the page's memory; the address is not null.
                f(unsafe { NonNull::new_unchecked(base.add(i * self.slot_size).cast::<Header>()) });
            }
        }
    }
}
