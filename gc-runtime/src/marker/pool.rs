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
//! The pool's state, under its mutex: a job number, how many helpers the current job wants,
//! how many of them are still running, and the work they reported. The leader (the thread that
//! calls `drain_parallel`) bumps the job number, sets `wanted` and `running` to the number of
//! helpers, wakes them, drains alongside them, then waits until `running` is back to zero.
//! Helper `i` takes job `n` if `i < wanted`, drains until the queue says marking is done, adds
//! its work, and decrements `running`; a helper not wanted for a job skips it. A job is over
//! only when every wanted helper has finished it, so no helper can still be draining when the
//! leader returns (and the cycle moves on to a pause or to termination). Each drain ends by the
//! queue's own quiescence test, which all workers share (see `grey_queue.rs`).
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
    /// Helpers the current job wants (those with index below it take part).
    wanted: usize,
    /// Wanted helpers that have not finished the current job.
    running: usize,
    /// The work the current job's helpers reported.
    work: MarkWork,
}

impl MarkPool {
    /// Run `drain` on this thread and on `helpers` persistent helper threads, started if
    /// needed, until each returns; the sum of their work. `drain` must return only once the
    /// shared queue says marking is done, on every thread.
    pub(crate) fn run(
        &self,
        rt: &'static Runtime,
        helpers: usize,
        drain: fn(&'static Runtime) -> MarkWork,
    ) -> MarkWork {
        {
            let mut s = self.state.lock();
            while s.started < helpers {
                let index = s.started;
                thread_state::collector_thread("gc-mark-worker")
                    .spawn(move || helper(rt, index, drain))
                    .unwrap_or_else(|e| panic!("gc: cannot start a mark worker: {e}"));
                s.started += 1;
            }
            s.job += 1;
            s.wanted = helpers;
            s.running = helpers;
            s.work = MarkWork::default();
            self.job.notify_all();
        }
        let mut total = drain(rt);
        let mut s = self.state.lock();
        while s.running > 0 {
            self.finished.wait(&mut s);
        }
        total += s.work;
        total
    }
}

/// Helper `index`'s loop: wait for a job that wants it, drain, report.
fn helper(rt: &'static Runtime, index: usize, drain: fn(&'static Runtime) -> MarkWork) {
    thread_state::enter_collector_thread();
    let pool = &rt.mark_pool;
    let mut done_job = 0;
    loop {
        {
            let mut s = pool.state.lock();
            loop {
                if s.job != done_job {
                    if index < s.wanted {
                        break;
                    }
                    // Not wanted for this job: skip it.
                    done_job = s.job;
                }
                pool.job.wait(&mut s);
            }
            done_job = s.job;
        }
        let work = report::or_abort("mark worker", || drain(rt));
        let mut s = pool.state.lock();
        s.work += work;
        s.running -= 1;
        if s.running == 0 {
            pool.finished.notify_one();
        }
    }
}
