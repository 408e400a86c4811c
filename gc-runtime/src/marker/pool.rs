//! Persistent mark workers: helper threads started once and parked between drains.
//!
//! A drain with more than one worker ([`super::drain_parallel`]) used to spawn its helper
//! threads and join them at the end — several times per cycle (every drain of the concurrent
//! mark loop), and inside the pause of a stop-the-world cycle, where the spawns are part of the
//! pause. Now the helpers are started the first time they are needed and then wait on a
//! condition variable for the next job (Go's background mark workers are persistent too).
//!
//! # Protocol
//!
//! The pool's state, under its mutex: a job number, whether the job is open, how many workers
//! it has room for besides the leader, how many workers joined it and have not finished, and
//! the work they reported. The leader (the thread that calls `drain_parallel`) bumps the job
//! number, opens the job, wakes the helpers, drains alongside them, then *closes* the job and
//! waits until every worker that joined has finished. Helper `i` joins job `n` if `i < room`
//! and the job is still open with room left,
//! drains until the queue says marking is done, adds its work and leaves; a helper not wanted,
//! or woken only after the job closed, skips it. No worker can still be draining when the
//! leader returns (and the cycle moves on to a pause or to termination), and the leader never
//! waits for a helper that has not started: once its own drain has found the marking done, a
//! helper still waking up has nothing to do. (Before, the leader waited for every helper it
//! had woken, and a helper's wake-up could take longer than the marking.) Each drain ends by the
//! queue's own quiescence test, which all workers share (see `grey_queue.rs`).
//!
//! # Threads waiting in `collect` join
//!
//! Waking a parked thread is slow where it matters most: on a virtual machine whose other
//! virtual core has gone idle, the host may take milliseconds to run it again. A stop-the-world
//! collection of a million objects marks for about 5 ms, and in about a third of the runs the
//! helper started 1–5 ms late (measured with timestamps in the drains), so the pause took
//! 9–14 ms instead of 5. A mutator that called `collect` in stop-the-world mode is already
//! running on a core and has nothing to do until the cycle ends, so it does not park: it polls
//! the pool ([`MarkPool::join`]), yielding its core between polls, and joins each job as soon
//! as it opens. The leader still wakes its helpers — the polling thread may share a core with
//! the leader, and then a helper on the other core does the work — but a job has room for as
//! many workers as it asked for, so the workers stay within the cores: a helper that wakes to
//! find the job full skips it. Once the cycle's marking is over the thread parks for the rest
//! of the cycle. At most one thread per core but one polls ([`MarkPool::poller`]; none on one
//! core): with a dozen threads in `collect`, each yielding between polls, the collector would
//! get its turn on a core only now and then. (Only in stop-the-world mode: a concurrent cycle
//! lasts long, and a thread polling through it would take a core from the mutators and the
//! workers.)
//!
//! A panic in a helper aborts the process (as one in the collector thread does): a helper that
//! died silently would leave `running` above zero and the collector waiting forever.
//!
//! Helpers are never stopped: the pool grows to the largest number of workers a drain has asked
//! for (`GC_MARK_WORKERS`, or the core count in a pause) and keeps them parked. Each has the
//! collector threads' stack, reserved rather than committed until used.

use crate::{
    primitive::sync::{Condvar, Mutex},
    report,
    runtime::Runtime,
    stats::MarkWork,
    thread_state,
};

/// The persistent helpers and the job they share.
#[derive(Default)]
pub(crate) struct MarkPool {
    state: Mutex<PoolState>,
    /// Helpers wait here for a job.
    job: Condvar,
    /// The leader waits here for the helpers to finish.
    finished: Condvar,
}

#[derive(Default)]
struct PoolState {
    /// Helper threads started so far.
    started: usize,
    /// The current job's number (0: none yet).
    job: u64,
    /// Whether the current job still takes workers: from its start until the leader's own
    /// drain returns.
    open: bool,
    /// Workers the current job takes besides the leader, helpers and joining threads alike
    /// (helpers with an index below it may take part).
    room: usize,
    /// Workers that joined the current job and have not finished it.
    running: usize,
    /// The work the current job's workers reported.
    work: MarkWork,
    /// The current job's drain, for threads that join it.
    drain: Option<fn(&'static Runtime) -> MarkWork>,
    /// Threads polling to join (see [`MarkPool::poller`]).
    pollers: usize,
}

impl MarkPool {
    /// Run `drain` on this thread and on up to `helpers` other workers — persistent helper
    /// threads, started if needed, and threads that join (see "Threads waiting in `collect`
    /// join") — until each returns; the sum of their work. `drain` must return only once the
    /// shared queue says marking is done, on every thread.
    pub(crate) fn run(
        &'static self,
        rt: &'static Runtime,
        helpers: usize,
        drain: fn(&'static Runtime) -> MarkWork,
    ) -> MarkWork {
        {
            let mut s = self.state.lock();
            while s.started < helpers {
                let index = s.started;
                thread_state::collector_thread("gc-mark-worker")
                    .spawn(move || helper(self, rt, index, drain))
                    .unwrap_or_else(|e| panic!("gc: cannot start a mark worker: {e}"));
                s.started += 1;
            }
            s.job += 1;
            s.open = true;
            s.room = helpers;
            s.running = 0;
            s.work = MarkWork::default();
            s.drain = Some(drain);
            self.job.notify_all();
        }
        let mut total = drain(rt);
        let mut s = self.state.lock();
        s.open = false;
        while s.running > 0 {
            self.finished.wait(&mut s);
        }
        total += s.work;
        total
    }

    /// Register the calling thread as one that polls to join jobs, if fewer than `limit` do:
    /// more would only take turns on the cores from the workers.
    pub(crate) fn poller(&self, limit: usize) -> Option<Poller<'_>> {
        let mut s = self.state.lock();
        (s.pollers < limit).then(|| {
            s.pollers += 1;
            Poller(self)
        })
    }

    /// Join the current job, unless it is closed, full or the job `last`: drain alongside its
    /// workers, report the work, and return the job's number.
    pub(crate) fn join(&self, rt: &'static Runtime, last: u64) -> Option<u64> {
        let (job, drain) = {
            let mut s = self.state.lock();
            let drain = s.drain?;
            if s.job == last || !s.takes_more() {
                return None;
            }
            s.running += 1;
            (s.job, drain)
        };
        let work = report::or_abort("mark worker", || drain(rt));
        self.leave(work);
        Some(job)
    }

    /// A worker that joined the current job has finished it with `work` done.
    fn leave(&self, work: MarkWork) {
        let mut s = self.state.lock();
        s.work += work;
        s.running -= 1;
        if s.running == 0 {
            self.finished.notify_one();
        }
    }
}

impl PoolState {
    /// Whether the current job takes another worker.
    fn takes_more(&self) -> bool {
        self.open && self.running < self.room
    }
}

/// A thread registered to poll for jobs (see [`MarkPool::poller`]), until dropped.
pub(crate) struct Poller<'a>(&'a MarkPool);

impl Drop for Poller<'_> {
    fn drop(&mut self) {
        self.0.state.lock().pollers -= 1;
    }
}

/// Helper `index`'s loop: wait for a job that wants it, drain, report.
fn helper(pool: &'static MarkPool, rt: &'static Runtime, index: usize, drain: fn(&'static Runtime) -> MarkWork) {
    thread_state::enter_collector_thread();
    let mut done_job = 0;
    loop {
        {
            let mut s = pool.state.lock();
            loop {
                if s.job != done_job {
                    if index < s.room && s.takes_more() {
                        break;
                    }
                    // Not wanted for this job, or it closed or filled up before this helper
                    // woke: skip it.
                    done_job = s.job;
                }
                pool.job.wait(&mut s);
            }
            done_job = s.job;
            s.running += 1;
        }
        let work = report::or_abort("mark worker", || drain(rt));
        pool.leave(work);
    }
}

#[cfg(all(test, not(gc_loom)))]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::test_support;

    /// Workers inside [`two_at_once`] now, and the most there ever were at once.
    static INSIDE: AtomicUsize = AtomicUsize::new(0);
    static MOST_INSIDE: AtomicUsize = AtomicUsize::new(0);
    /// Workers that entered [`two_at_once`] in the current test.
    static ENTERED: AtomicUsize = AtomicUsize::new(0);

    /// A drain that returns only once two workers have entered it (so the leader waits for
    /// another worker to take part), and reports one object.
    fn two_at_once(_rt: &'static Runtime) -> MarkWork {
        let inside = INSIDE.fetch_add(1, Ordering::SeqCst) + 1;
        MOST_INSIDE.fetch_max(inside, Ordering::SeqCst);
        ENTERED.fetch_add(1, Ordering::SeqCst);
        while ENTERED.load(Ordering::SeqCst) < 2 {
            std::thread::yield_now();
        }
        INSIDE.fetch_sub(1, Ordering::SeqCst);
        MarkWork { objects: 1, marked_bytes: 8 }
    }

    fn reset() {
        for c in [&INSIDE, &MOST_INSIDE, &ENTERED] {
            c.store(0, Ordering::SeqCst);
        }
    }

    fn fresh_pool() -> &'static MarkPool {
        Box::leak(Box::default())
    }

    #[test]
    fn a_job_wakes_its_helpers_and_sums_their_work() {
        let _s = test_support::serial();
        let rt = Runtime::get_or_start();
        let pool = fresh_pool();
        reset();
        let work = pool.run(rt, 1, two_at_once);
        assert_eq!(work.objects, 2, "the leader and the helper");
        let s = pool.state.lock();
        assert_eq!((s.started, s.running, s.open), (1, 0, false), "one helper, finished; the job closed");
    }

    /// A thread polling with `join` and a helper compete for a job with room for one worker
    /// besides the leader: either may take it, never both at once, and the leader returns only
    /// once whoever joined has finished.
    #[test]
    fn a_joining_thread_and_a_helper_share_a_jobs_room() {
        let _s = test_support::serial();
        let rt = Runtime::get_or_start();
        let pool = fresh_pool();
        for round in 0..20 {
            reset();
            let stop = std::sync::atomic::AtomicBool::new(false);
            let (work, joined) = std::thread::scope(|scope| {
                let joiner = scope.spawn(|| {
                    let mut joined = 0;
                    while !stop.load(Ordering::SeqCst) {
                        if pool.join(rt, 0).is_some() {
                            joined += 1;
                        }
                        std::thread::yield_now();
                    }
                    joined
                });
                let work = pool.run(rt, 1, two_at_once);
                assert_eq!(pool.state.lock().running, 0, "round {round}: a worker still in the job");
                stop.store(true, Ordering::SeqCst);
                (work, joiner.join().expect("the joiner"))
            });
            assert!(MOST_INSIDE.load(Ordering::SeqCst) <= 2, "round {round}: more workers than the job's room");
            assert!(work.objects >= 2, "round {round}: the leader waited for a second worker");
            assert!(work.objects <= 2 + joined, "round {round}: work from workers that never joined");
        }
    }

    #[test]
    fn no_more_threads_poll_than_the_limit() {
        let pool = fresh_pool();
        let first = pool.poller(2).expect("the first of two");
        let second = pool.poller(2).expect("the second of two");
        assert!(pool.poller(2).is_none(), "a third is refused");
        drop(first);
        let third = pool.poller(2).expect("a place freed");
        assert!(pool.poller(0).is_none(), "a limit of 0 takes none");
        drop((second, third));
        assert_eq!(pool.state.lock().pollers, 0);
    }

    #[test]
    fn a_closed_job_a_full_job_and_a_job_already_joined_are_not_joined() {
        let _s = test_support::serial();
        let rt = Runtime::get_or_start();
        let pool = fresh_pool();
        assert_eq!(pool.join(rt, 0), None, "no job yet");
        fn alone(_rt: &'static Runtime) -> MarkWork {
            MarkWork { objects: 1, marked_bytes: 8 }
        }
        let work = pool.run(rt, 0, alone);
        assert_eq!(work.objects, 1, "the leader alone");
        assert_eq!(pool.join(rt, 0), None, "the job closed when the leader's drain returned");
        let mut s = pool.state.lock();
        s.open = true;
        s.room = 1;
        let job = s.job;
        drop(s);
        assert_eq!(pool.join(rt, job), None, "the job this thread last joined");
        pool.state.lock().room = 0;
        assert_eq!(pool.join(rt, 0), None, "no room left");
        pool.state.lock().room = 1;
        assert_eq!(pool.join(rt, 0), Some(job), "open, with room: joined");
        pool.state.lock().open = false;
    }
}
