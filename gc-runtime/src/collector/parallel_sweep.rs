//! The sweep of a stop-the-world cycle, shared with the mark workers.
//!
//! While the world is stopped every core is the collector's, and the sweep is part of the
//! pause: a million live 32-byte objects take about 0.4 ms to sweep on one thread (512 pages),
//! a tenth of the pause. Sweeping a page needs only its ownership, which a thread takes by
//! popping it from its class's unswept list under the class's lock (see `heap/central.rs`), so
//! several threads can sweep at once without any further protocol — mutators already sweep
//! the pages they need beside the collector's own sweep. So when the pause holds enough pages
//! for the helpers' wake-up to pay, the collector runs a job on the persistent mark workers
//! (`marker/pool.rs`) in which each worker sweeps pages until none is left — the thread
//! waiting in `collect`, which polls for the pause's jobs, first: the job wakes helpers only
//! for the room the polling threads cannot take ([`Wake::BeyondPollers`]; a helper woken onto
//! the collector's core held it up in half the collections, so the sweep of 1M live objects
//! took 0.31 ms on two workers instead of 0.16). The collector then finishes as it always
//! does ([`PageHeap::finish_sweep`](crate::heap::PageHeap::finish_sweep)):
//! the large objects, a last pass over the lists, and a wait for sweeps in flight.
//!
//! Each worker starts at another size class and goes round, so that in a heap of several
//! classes the workers begin apart; in a heap of one class they take its pages in batches of 16
//! per hold of its lock (with one page per hold, two threads passing the lock and the counters
//! between their cores gained almost nothing over one).
//!
//! A concurrent cycle sweeps on the collector thread alone, with the world running: there the
//! other cores belong to the mutators, who sweep what they allocate from themselves.

use crate::{marker::pool::Wake, runtime::Runtime, stats::MarkWork};

/// Unswept pages per worker below which another worker does not pay: waking a parked helper
/// takes tens of microseconds, about what sweeping 64 full pages of small objects takes.
pub(super) const PAGES_PER_SWEEPER: usize = 64;

/// Sweep every unswept page with as many workers as the pages justify ([`workers_for`], at
/// most `max_workers`), then finish the sweep on this thread; returns the workers asked for (a helper that wakes
/// after the pages are swept finds none left).
/// World stopped, sweep epoch published.
pub(super) fn sweep_in_pause(rt: &'static Runtime, max_workers: usize) -> usize {
    let workers = workers_for(rt.pages.unswept_pages(), max_workers);
    if workers > 1 {
        rt.mark_pool.run(rt, workers - 1, Wake::BeyondPollers, sweep_share);
    }
    rt.pages.finish_sweep();
    workers
}

/// How many workers sweep `pages`: one per [`PAGES_PER_SWEEPER`] pages, at least one, at most
/// `max_workers`.
fn workers_for(pages: usize, max_workers: usize) -> usize {
    (pages / PAGES_PER_SWEEPER).clamp(1, max_workers.max(1))
}

/// A sweep worker's part: sweep pages, starting at a class of its own, until none is left.
fn sweep_share(rt: &'static Runtime, worker: usize) -> MarkWork {
    // Workers start 7 classes apart (7 is prime to the class count, so none start together
    // before every class has a worker).
    rt.pages.sweep_pages_from(worker * 7);
    MarkWork::default()
}

#[cfg(all(test, not(gc_loom)))]
mod tests {
    use super::*;

    #[test]
    fn one_worker_per_share_of_pages_within_the_cores() {
        assert_eq!(workers_for(0, 2), 1);
        assert_eq!(workers_for(PAGES_PER_SWEEPER - 1, 2), 1);
        assert_eq!(workers_for(2 * PAGES_PER_SWEEPER, 2), 2);
        assert_eq!(workers_for(100 * PAGES_PER_SWEEPER, 2), 2);
        assert_eq!(workers_for(3 * PAGES_PER_SWEEPER, 8), 3);
        assert_eq!(workers_for(1000, 0), 1);
    }
}
