//! Finalization: where the destructors of dead objects run.
//!
//! # Why a thread of its own
//!
//! A dead object's fields may have destructors (a `String`, a file, a [`Root`](crate::Root)),
//! and those are user code: they may panic (with a payload whose own destructor panics), block,
//! reach a thread-local [`Mutator`](crate::Mutator) and allocate, or try to attach. None of
//! that may happen where the collector holds something it needs: inside an allocation (the
//! mutator's cache is borrowed), inside a stop-the-world pause, or on the collector thread
//! (whose progress every mutator waits for). So no sweeper runs a destructor. Sweeping a page —
//! on any thread — frees the dead objects that need no drop and *dooms* those that do: they
//! keep their slots, and the sweep hands their slot bits (with the page) to this queue, while
//! the page itself is filed as usual; a dead large object with a destructor is handed over
//! alone. One thread, `gc-finalizer`, takes the work in order, runs the destructors (each
//! inside `catch_unwind`, its payload dropped inside another), and reports the slots back to
//! the page, whose owner frees them at its next sweep (see `page.rs`). Go and cppgc take the
//! same decision: finalizers run on their own goroutine or task, never inside the allocator.
//!
//! The finalizer thread is a collector thread: it cannot attach a mutator, so a destructor
//! cannot reach another object (reading a slot needs a mutator), dead or alive.
//!
//! # Waiting for finalization
//!
//! The queue counts the work items it was given and the ones it finished. A collector cycle
//! does not wait for destructors (a blocking destructor must not stop collection); instead, at
//! the end of each cycle, it records how many items had been queued, and
//! [`Mutator::collect`](crate::Mutator::collect) waits — detached — until that many are done,
//! so that `collect()` returns only after every object found dead by its cycle was finalized
//! and freed.
//!
//! # Ownership
//!
//! The queue never owns a page: it owns the doomed objects it lists, which nobody else touches
//! until the finalizer reports them finalized (see `page.rs`, "Ownership"). A large object in
//! the queue is owned by it.

use std::{
    collections::VecDeque,
    time::{Duration, Instant},
};

use super::{large::LargeObject, page::Doomed};
use crate::{
    primitive::sync::{Condvar, Mutex},
    report,
};

/// One item of finalization work.
pub(crate) enum Work {
    /// The doomed objects one sweep of a page found.
    Page(Doomed),
    /// A dead large object with a destructor.
    Large(LargeObject),
}

#[derive(Default)]
struct Pending {
    items: VecDeque<Work>,
    enqueued: u64,
    done: u64,
}

/// The queue between sweepers and the finalizer thread.
#[derive(Default)]
pub(crate) struct FinalizeQueue {
    pending: Mutex<Pending>,
    work_ready: Condvar,
    progress: Condvar,
}

impl FinalizeQueue {
    /// Hand `work` to the finalizer thread.
    pub(crate) fn push(&self, work: Work) {
        let mut p = self.pending.lock();
        p.items.push_back(work);
        p.enqueued += 1;
        self.work_ready.notify_one();
    }

    /// The finalizer thread: wait for the next item.
    pub(crate) fn next(&self) -> Work {
        let mut p = self.pending.lock();
        loop {
            if let Some(w) = p.items.pop_front() {
                return w;
            }
            self.work_ready.wait(&mut p);
        }
    }

    /// The finalizer thread: one item taken by [`next`](Self::next) is finished. Returns
    /// whether none is left queued.
    pub(crate) fn finished_one(&self) -> bool {
        let mut p = self.pending.lock();
        p.done += 1;
        self.progress.notify_all();
        p.items.is_empty()
    }

    /// Items queued so far (a mark to wait for with [`wait_done`](Self::wait_done)).
    pub(crate) fn enqueued(&self) -> u64 {
        self.pending.lock().enqueued
    }

    /// Wait until the first `target` items ever queued are finished. If the finalizer makes no
    /// progress for `warn_after` (a destructor runs that long), say so on stderr, once per
    /// wait: a destructor that waits for a lock the waiting thread holds deadlocks it, and
    /// without the line that deadlock would be silent.
    pub(crate) fn wait_done(&self, target: u64, warn_after: Duration) {
        let mut p = self.pending.lock();
        let (mut done_before, mut since, mut warned) = (p.done, Instant::now(), false);
        while p.done < target {
            self.progress.wait_for(&mut p, warn_after);
            if p.done != done_before {
                (done_before, since) = (p.done, Instant::now());
            } else if !warned && since.elapsed() >= warn_after {
                warned = true;
                let thread = std::thread::current();
                report::line(format_args!(
                    "gc: collect() on thread '{}' has waited {:.1} s for a destructor on the gc-finalizer thread \
                     ({} of the cycle's destructors are still to run); a destructor that waits for a lock this \
                     thread holds, or for this thread, deadlocks it",
                    thread.name().unwrap_or("<unnamed>"),
                    since.elapsed().as_secs_f64(),
                    target - p.done,
                ));
            }
        }
    }
}
