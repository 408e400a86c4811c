//! Central page lists: where pages of one size class wait between owners.
//!
//! Each class has one lock protecting three lists: `partial` (swept, with free slots), `full`
//! (swept, no free slot) and `unswept` (may hold dead objects). When marking terminates the
//! sweep epoch advances and every swept page becomes unswept; instead of moving the lists
//! inside the pause, the first thread to take a class's lock afterwards rolls them over
//! (`partial` and `full` are appended to `unswept`) — Go's sweepgen trick done lazily.

use crate::primitive::sync::{Mutex, MutexGuard};

use super::page::Page;

/// The lists of one size class.
#[derive(Default)]
pub(crate) struct ClassLists {
    epoch: u64,
    pub(crate) partial: Vec<&'static Page>,
    pub(crate) full: Vec<&'static Page>,
    pub(crate) unswept: Vec<&'static Page>,
}

/// A class's lists behind their lock.
#[derive(Default)]
pub(crate) struct Central {
    lists: Mutex<ClassLists>,
}

impl Central {
    /// Lock the lists, rolling them over to `sweep_epoch` first.
    pub(crate) fn lock(&self, sweep_epoch: u64) -> MutexGuard<'_, ClassLists> {
        let mut l = self.lists.lock();
        if l.epoch != sweep_epoch {
            let ClassLists { partial, full, unswept, .. } = &mut *l;
            unswept.append(partial);
            unswept.append(full);
            l.epoch = sweep_epoch;
        }
        l
    }
}

impl ClassLists {
    /// File a page swept for the current epoch under `partial` or `full`.
    pub(crate) fn file_swept(&mut self, page: &'static Page, has_free: bool) {
        if has_free {
            self.partial.push(page);
        } else {
            self.full.push(page);
        }
    }
}
