//! Central page lists: where pages of one size class wait between owners.
//!
//! Each class has one lock protecting three lists: `partial` (swept, with free slots), `full`
//! (swept, no free slot) and `unswept` (may hold dead objects). When the sweep epoch advances
//! (`clock::publish_sweep`, after marking has ended and the weak references are cleared) every
//! swept page becomes unswept; instead of the collector moving the lists then, the first
//! thread to take a class's lock afterwards rolls them over (`partial` and `full` are appended
//! to `unswept`) — Go's sweepgen trick done lazily.
//!
//! The epoch is read *inside* the lock, so the lists only ever move forward, and a thread that
//! files a page compares the page's epoch with the lists' under the same lock: a page swept
//! for an epoch that has since been superseded is filed as unswept, never as swept. A thread that took the lock after the collector published a
//! new epoch (and the collector always takes every class's lock afterwards, in its sweep) sees
//! that epoch.
//!
//! # Pages handed back without the lock
//!
//! A mutator hands its cached pages back while it answers a handshake (after a marking ended,
//! so the sweep can reach them). Taking the class's lock there made the answer wait for
//! whoever held it: with more threads than cores, a thread preempted while holding the lock of
//! the busiest class (a refill, a sweeper filing a page) held every answering thread for a
//! scheduler tick — 1 to 8 ms, measured with a thread that works 50 ms between safepoints.
//! So a returned page goes onto a lock-free queue ([`Central::hand_back`]), and the next
//! holder of the lock files it ([`Central::lock`]) before looking at the lists: the sweep,
//! which locks every class before it declares itself finished, always sees it.

use super::page::Page;
use crate::{
    clock,
    primitive::sync::{Mutex, MutexGuard, SegQueue},
};

/// The lists of one size class.
#[derive(Default)]
pub(crate) struct ClassLists {
    epoch: u64,
    pub(crate) partial: Vec<&'static Page>,
    pub(crate) full: Vec<&'static Page>,
    pub(crate) unswept: Vec<&'static Page>,
}

/// A class's lists behind their lock, and the pages handed back since the lock was last taken.
#[derive(Default)]
pub(crate) struct Central {
    lists: Mutex<ClassLists>,
    /// Pages given up by caches, with whether each has a free slot, not filed yet.
    returned: SegQueue<(&'static Page, bool)>,
}

impl Central {
    /// Lock the lists, rolling them over to the current sweep epoch first and filing the pages
    /// handed back since.
    pub(crate) fn lock(&self) -> MutexGuard<'_, ClassLists> {
        let mut l = self.lists.lock();
        let sweep_epoch = clock::sweep_epoch();
        if l.epoch < sweep_epoch {
            let ClassLists { partial, full, unswept, .. } = &mut *l;
            unswept.append(partial);
            unswept.append(full);
            l.epoch = sweep_epoch;
        }
        while let Some((page, has_free)) = self.returned.pop() {
            l.file(page, has_free);
        }
        l
    }

    /// Give up a page without taking the lock: the next [`Central::lock`] files it.
    /// `has_free`: whether it has a free slot (the page's owner computed it; nobody changes
    /// the page's slots while it waits here).
    pub(crate) fn hand_back(&self, page: &'static Page, has_free: bool) {
        self.returned.push((page, has_free));
    }
}

impl ClassLists {
    /// The sweep epoch the lists are at: pages under `partial` and `full` are swept for it.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Whether `page` is swept for the lists' epoch (it may be filed under `partial`/`full`).
    pub(crate) fn is_current(&self, page: &Page) -> bool {
        page.swept_epoch() >= self.epoch
    }

    /// File a page: under `partial` or `full` if it is swept for the lists' epoch, else under
    /// `unswept`.
    pub(crate) fn file(&mut self, page: &'static Page, has_free: bool) {
        if !self.is_current(page) {
            self.unswept.push(page);
        } else if has_free {
            self.partial.push(page);
        } else {
            self.full.push(page);
        }
    }
}
