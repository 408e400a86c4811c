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
//! running on a core and has nothing to do until the cycle ends, so it does not park at once:
//! it polls the pool ([`MarkPool::poll_and_join`]), yielding its core between polls, and joins
//! each job of the cycle's pause as soon as it opens — the marking's, then the sweep's
//! (`collector/parallel_sweep.rs`) — until the pause is over; then it parks for the rest of
//! the cycle. The leader still wakes its helpers — the polling thread may share a core with
//! the leader, and then a helper on the other core does the work — but a job has room for as
//! many workers as it asked for, so the workers stay within the cores: a helper that wakes to
//! find the job full skips it, and a polling thread that finds a job full stops polling and
//! parks at once. (It polled on through the cycle whatever it found at first: once the
//! helpers were awake — from the second collection of a process on — they took the room, and
//! the polling thread, yielding beside the two workers on two cores, slowed them by half:
//! 13–14 ms marks instead of 6–7.)
//!
//! It used to park after the first job, and the sweep's helper had to be woken. On a virtual
//! machine a woken thread often runs on the waker's core even when the other is idle — here
//! the leader's, which then waited while the helper swept: in timestamps of the sweep, in
//! about half the collections of 1M objects, the leader began its share 330 µs late, after the
//! helper had swept everything. Now the polling thread, awake on the other core, takes the
//! sweep's room, and the sweep wakes helpers only for room the polling threads cannot take
//! ([`Wake::BeyondPollers`]): if the polling thread cannot run soon, the leader sweeps alone,
//! a fraction of a millisecond. The marking still wakes its helpers ([`Wake::All`]): there a
//! polling thread that cannot run soon would leave the leader to mark alone for milliseconds
//! (not waking them cut the median collection, but one in ten took 6–8 ms instead of 4–5).
//! The polling thread drains on a deep stack, mapped when the first job opens and kept for
//! the jobs after it. It polls for a pause to begin for a millisecond at most (the collector
//! normally stops the world 20–100 µs after the request): a stop held up by a mutator slow to
//! reach a safepoint, or a cycle that marks with the world running, does not keep it spinning.
//! Starting the helpers ahead, when the collector thread starts, was tried and not kept: a
//! woken helper lands on the waker's core more often than a new thread does, and one
//! collection in three then marked with the helper starting 1–3 ms late.
//!
//! At most one thread per core but one polls ([`MarkPool::poller`]; none on one core): with a
//! dozen threads in `collect`, each yielding between polls, the collector would get its turn on
//! a core only now and then. Only in stop-the-world mode: a concurrent cycle lasts long, and a
//! thread polling through it would take a core from the mutators and the workers.
//!
//! # The end of a job
//!
//! The workers of a drain find it over at about the same time — the queue's quiescence test,
//! which they share, or a job given up — and the leader, once its own drain has returned,
//! waits for the others to leave. It used to park at once, and the last worker to leave woke
//! it: on a virtual machine that wake-up took 50–100 µs, at the end of every job, where the
//! workers themselves had left within a few microseconds (timestamps of concurrent drains given
//! up for a mutator that wanted to run: the workers saw it 0–7 µs after the request, the leader
//! returned 90–100 µs after it). So the leader first yields its core for up to
//! [`FINISH_SPIN`], checking between yields, and parks only if a worker is still draining then.
//!
//! A panic in a helper aborts the process (as one in the collector thread does): a helper that
//! died silently would leave `running` above zero and the collector waiting forever.
//!
//! Helpers are never stopped: the pool grows to the largest number of workers a drain has asked
//! for (`GC_MARK_WORKERS`, or the core count in a pause) and keeps them parked. Each has the
//! collector threads' stack, reserved rather than committed until used.

use std::time::{Duration, Instant};

use crate::{
    object::exclusive::MAX_OWNERS,
    primitive::sync::{
        atomic::{AtomicU64, Ordering},
        Condvar, Mutex, MutexGuard,
    },
    report,
    runtime::Runtime,
    stats::MarkWork,
    thread_state,
};

/// A job's drain: run by each of its workers with the worker's number in the job (0 for the
/// leader), until the shared queue says marking is done — or, in a stop-the-world pause's
/// sweep, until no unswept page is left (`collector/parallel_sweep.rs`).
pub(crate) type Drain = fn(&'static Runtime, usize) -> MarkWork;

/// How long the leader of a job yields, waiting for the other workers to leave, before it parks
/// (see "The end of a job").
const FINISH_SPIN: Duration = Duration::from_micros(100);

/// The persistent helpers and the job they share.
#[derive(Default)]
pub(crate) struct MarkPool {
    state: Mutex<PoolState>,
    /// Helpers wait here for a job.
    job: Condvar,
    /// The leader waits here for the helpers to finish.
    finished: Condvar,
    /// The open job's number, 0 while none is open: written under the state's lock, read
    /// without it by polling threads, which take the lock only to join.
    open_job: AtomicU64,
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
    /// Workers the current job takes besides the leader, helpers and joining threads alike.
    room: usize,
    /// Helpers with an index below this may take part in the current job: those it woke.
    helper_room: usize,
    /// Workers that joined the current job and have not finished it.
    running: usize,
    /// Workers that joined the current job so far, finished or not: the next one is worker
    /// `joined + 1` of the job (the leader is worker 0; see `object/exclusive.rs`, which
    /// numbers the owners of an exclusive job so).
    joined: usize,
    /// The work the current job's workers reported.
    work: MarkWork,
    /// The current job's drain, for the workers that join it; it takes the worker's number in
    /// the job.
    drain: Option<Drain>,
    /// Threads polling to join (see [`MarkPool::poller`]).
    pollers: usize,
}

/// Which helpers a job wakes ([`MarkPool::run`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    /// As many as the job has room for, though polling threads may take some of the room
    /// first: a marking, where a polling thread that cannot run soon would leave one worker
    /// to mark alone for milliseconds.
    All,
    /// Only as many as the polling threads cannot take the place of (see "Threads waiting in
    /// `collect` join"): a pause's sweep, where a helper woken onto the leader's core would hold
    /// the leader up, and a polling thread that cannot run soon leaves the leader to sweep
    /// alone — a fraction of a millisecond.
    BeyondPollers,
}

impl MarkPool {
    /// Run `drain` on this thread and on up to `helpers` other workers — persistent helper
    /// threads, started if needed and woken as `wake` says, and threads that join (see
    /// "Threads waiting in `collect` join") — until each returns; the sum of their work.
    /// `drain` must return only once the job's work is done as far as its thread can tell (for
    /// a marking: the shared queue says marking is done), on every thread.
    pub(crate) fn run(&'static self, rt: &'static Runtime, helpers: usize, wake: Wake, drain: Drain) -> MarkWork {
        {
            let mut s = self.state.lock();
            let woken = match wake {
                Wake::All => helpers,
                Wake::BeyondPollers => helpers.saturating_sub(s.pollers),
            };
            while s.started < woken {
                let index = s.started;
                thread_state::collector_thread("gc-mark-worker")
                    .spawn(move || helper(self, rt, index))
                    .unwrap_or_else(|e| panic!("gc: cannot start a mark worker: {e}"));
                s.started += 1;
            }
            s.job += 1;
            s.open = true;
            s.room = helpers;
            s.helper_room = woken;
            s.running = 0;
            s.joined = 0;
            s.work = MarkWork::default();
            s.drain = Some(drain);
            self.open_job.store(s.job, Ordering::Relaxed);
            if woken > 0 {
                self.job.notify_all();
            }
        }
        let mut total = drain(rt, 0);
        let mut s = self.state.lock();
        s.open = false;
        self.open_job.store(0, Ordering::Relaxed);
        // The others find the drain over when the leader does, give or take a few microseconds:
        // yield to them for a while before parking (see "The end of a job").
        let spin_until = Instant::now() + FINISH_SPIN;
        while s.running > 0 && Instant::now() < spin_until {
            MutexGuard::unlocked(&mut s, std::thread::yield_now);
        }
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

    /// The number of the latest job (0: none yet).
    pub(crate) fn latest_job(&self) -> u64 {
        self.state.lock().job
    }

    /// Join the first job after job `after` if it is open and has room: `None` while there is
    /// no such job or it closed before this thread came (poll again); [`Joined::Drained`] once
    /// this thread has drained alongside its workers and reported the work; [`Joined::Full`]
    /// if helpers took its room. The drain runs on this thread's stack: see
    /// [`MarkPool::poll_and_join`] for a stack deep enough.
    #[cfg_attr(any(miri, gc_tsan), allow(dead_code))] // polling is absent there, but for tests
    pub(crate) fn join_after(&self, rt: &'static Runtime, after: u64) -> Option<Joined> {
        let (job, drain, worker) = {
            let mut s = self.state.lock();
            if s.job <= after || !s.open {
                return None;
            }
            let drain = s.drain.expect("an open job has a drain");
            if !s.takes_more() {
                return Some(Joined::Full);
            }
            (s.job, drain, s.join())
        };
        let work = report::or_abort("mark worker", || drain(rt, worker));
        self.leave(work);
        Some(Joined::Drained(job))
    }

    /// Poll, yielding the core between polls, until a job after job `after` is open (read
    /// without the lock: a hint, which `join_after` confirms); `false` if `keep_polling` said
    /// stop first.
    #[cfg(not(any(miri, gc_tsan)))]
    fn wait_for_job_after(&self, after: u64, keep_polling: &impl Fn() -> bool) -> bool {
        loop {
            if !keep_polling() {
                return false;
            }
            if self.open_job.load(Ordering::Relaxed) > after {
                return true;
            }
            std::thread::yield_now();
        }
    }

    /// Poll for the jobs after job `after` and join each that has room, yielding the core
    /// between polls, while `keep_polling` says so and until a job is full (helpers took its
    /// room: this thread would only take turns on the cores with them); returns the jobs it
    /// joined. It drains on a stack as deep as the collector's own threads' (see
    /// `thread_state::collector_stack_size`): tracing an object may recurse natively (a `Box`
    /// chain inside one object), and the collector promises to trace any value a program could
    /// build — on a thread of its own, whose stack may be deeper than this one's. The stack is
    /// mapped once the first job is open, and kept for the jobs after it (reserved, not
    /// committed, until used); none is mapped while the thread only polls.
    #[cfg(not(any(miri, gc_tsan)))]
    pub(crate) fn poll_and_join(&self, rt: &'static Runtime, after: u64, keep_polling: impl Fn() -> bool) -> usize {
        if !self.wait_for_job_after(after, &keep_polling) {
            return 0;
        }
        stacker::grow(thread_state::collector_stack_size(), || {
            let (mut after, mut joined) = (after, 0);
            loop {
                match self.join_after(rt, after) {
                    Some(Joined::Drained(job)) => (after, joined) = (job, joined + 1),
                    Some(Joined::Full) => return joined,
                    // It closed before this thread came.
                    None => std::thread::yield_now(),
                }
                if !self.wait_for_job_after(after, &keep_polling) {
                    return joined;
                }
            }
        })
    }

    /// Under Miri and ThreadSanitizer, which do not follow a switch of stacks, the thread does
    /// not join: it parks, as in concurrent mode.
    #[cfg(any(miri, gc_tsan))]
    pub(crate) fn poll_and_join(&self, _rt: &'static Runtime, _after: u64, _keep_polling: impl Fn() -> bool) -> usize {
        0
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
    /// Whether the current job takes another worker: it is open, has room, and has a number
    /// left for it (at most [`MAX_OWNERS`] workers, the leader included, ever join one job).
    fn takes_more(&self) -> bool {
        self.open && self.running < self.room && self.joined + 1 < MAX_OWNERS
    }

    /// A worker joins the current job: its number in the job.
    fn join(&mut self) -> usize {
        self.running += 1;
        self.joined += 1;
        self.joined
    }
}

/// What became of a thread's attempt to join a job ([`MarkPool::join_after`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Joined {
    /// It drained in job number `.0` alongside the job's workers, and reported its work.
    Drained(u64),
    /// The job was open but full: helpers had taken its room.
    Full,
}

/// A thread registered to poll for jobs (see [`MarkPool::poller`]), until dropped.
pub(crate) struct Poller<'a>(&'a MarkPool);

impl Drop for Poller<'_> {
    fn drop(&mut self) {
        self.0.state.lock().pollers -= 1;
    }
}

/// Helper `index`'s loop: wait for a job that wants it, run the job's drain, report.
fn helper(pool: &'static MarkPool, rt: &'static Runtime, index: usize) {
    thread_state::enter_collector_thread();
    let mut done_job = 0;
    loop {
        let (drain, worker) = {
            let mut s = pool.state.lock();
            loop {
                if s.job != done_job {
                    if index < s.helper_room && s.takes_more() {
                        break;
                    }
                    // Not wanted for this job, or it closed or filled up before this helper
                    // woke: skip it.
                    done_job = s.job;
                }
                pool.job.wait(&mut s);
            }
            done_job = s.job;
            (s.drain.expect("an open job has a drain"), s.join())
        };
        let work = report::or_abort("mark worker", || drain(rt, worker));
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
    fn two_at_once(_rt: &'static Runtime, _worker: usize) -> MarkWork {
        let inside = INSIDE.fetch_add(1, Ordering::SeqCst) + 1;
        MOST_INSIDE.fetch_max(inside, Ordering::SeqCst);
        ENTERED.fetch_add(1, Ordering::SeqCst);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while ENTERED.load(Ordering::SeqCst) < 2 {
            assert!(std::time::Instant::now() < deadline, "no second worker entered the job");
            std::thread::yield_now();
        }
        INSIDE.fetch_sub(1, Ordering::SeqCst);
        MarkWork { objects: 1, marked_bytes: 8, owned_bytes: 0, forwarded: 0 }
    }

    fn reset() {
        for c in [&INSIDE, &MOST_INSIDE, &ENTERED] {
            c.store(0, Ordering::SeqCst);
        }
    }

    fn fresh_pool() -> &'static MarkPool {
        Box::leak(Box::default())
    }

    /// Open job number `job` by hand, as `run` opens one but with no leader and no helper:
    /// room for `room` workers.
    fn open_by_hand(pool: &MarkPool, job: u64, room: usize, drain: Drain) {
        let mut s = pool.state.lock();
        s.job = job;
        (s.open, s.room, s.helper_room, s.running, s.joined, s.work) = (true, room, 0, 0, 0, MarkWork::default());
        s.drain = Some(drain);
        pool.open_job.store(job, Ordering::Relaxed);
    }

    /// Close the current job by hand.
    fn close_by_hand(pool: &MarkPool) {
        pool.state.lock().open = false;
        pool.open_job.store(0, Ordering::Relaxed);
    }

    #[test]
    fn a_job_wakes_its_helpers_and_sums_their_work() {
        let _s = test_support::serial();
        let rt = Runtime::get_or_start();
        let pool = fresh_pool();
        reset();
        let work = pool.run(rt, 1, Wake::All, two_at_once);
        assert_eq!(work.objects, 2, "the leader and the helper");
        let s = pool.state.lock();
        assert_eq!((s.started, s.running, s.open), (1, 0, false), "one helper, finished; the job closed");
    }

    /// A thread polling with `join_after` and a helper compete for a job with room for one
    /// worker besides the leader: never both at once (one may join after the other left, while
    /// the leader still drains), the leader returns only once whoever joined has finished, and
    /// the polling thread learns whether it took part (or came after the job closed).
    #[test]
    fn a_joining_thread_and_a_helper_share_a_jobs_room() {
        let _s = test_support::serial();
        let rt = Runtime::get_or_start();
        let pool = fresh_pool();
        for round in 0..20 {
            reset();
            let after = pool.latest_job();
            let (work, joined) = std::thread::scope(|scope| {
                let joiner = scope.spawn(|| loop {
                    match pool.join_after(rt, after) {
                        Some(Joined::Drained(job)) => {
                            assert_eq!(job, after + 1, "the first job after `after`");
                            return true;
                        }
                        Some(Joined::Full) => return false,
                        None if {
                            let s = pool.state.lock();
                            s.job > after && !s.open
                        } =>
                        {
                            return false
                        }
                        None => std::thread::yield_now(),
                    }
                });
                let work = pool.run(rt, 1, Wake::All, two_at_once);
                assert_eq!(pool.state.lock().running, 0, "round {round}: a worker still in the job");
                (work, joiner.join().expect("the joiner"))
            });
            assert_eq!(MOST_INSIDE.load(Ordering::SeqCst), 2, "round {round}: never more than the room at once");
            let others = if joined { 1..=2 } else { 1..=1 };
            assert!(others.contains(&(work.objects - 1)), "round {round}: {} workers, joined: {joined}", work.objects);
            assert_eq!(pool.join_after(rt, after), None, "round {round}: the job is closed now");
        }
    }

    /// A drain that recurses `DEEP_FRAMES` times with a kilobyte on each frame: far more than
    /// the small stack of the thread that joins in the test below.
    #[cfg(not(any(miri, gc_tsan)))]
    fn deep_drain(_rt: &'static Runtime, _worker: usize) -> MarkWork {
        const DEEP_FRAMES: usize = 8 * 1024;
        fn down(n: usize) -> usize {
            let frame = std::hint::black_box([n as u8; 1024]);
            if n == 0 {
                return frame[0] as usize;
            }
            down(n - 1) + std::hint::black_box(frame)[1] as usize
        }
        std::hint::black_box(down(DEEP_FRAMES));
        MarkWork { objects: 1, marked_bytes: 8, owned_bytes: 0, forwarded: 0 }
    }

    /// A thread with a 256 KiB stack polls for and joins a job whose drain needs about 8 MiB of
    /// stack (as tracing a deep `Box` chain inside one object does): it drains on a stack as
    /// deep as the collector's threads' and finishes, where on its own stack it would overflow
    /// and abort.
    #[cfg(not(any(miri, gc_tsan)))]
    #[test]
    fn a_thread_that_joins_drains_on_a_stack_as_deep_as_the_collectors() {
        let _s = test_support::serial();
        let rt = Runtime::get_or_start();
        let pool = fresh_pool();
        open_by_hand(pool, 1, 1, deep_drain);
        let joined = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || pool.poll_and_join(rt, 0, || pool.state.lock().work.objects == 0))
            .expect("a small-stack thread")
            .join()
            .expect("the small-stack thread finished");
        assert_eq!(joined, 1, "one job joined, then its work was in");
        let s = pool.state.lock();
        assert_eq!((s.running, s.work.objects), (0, 1), "its work was reported");
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
    fn a_closed_job_a_full_job_and_an_old_job_are_not_joined() {
        let _s = test_support::serial();
        let rt = Runtime::get_or_start();
        let pool = fresh_pool();
        assert_eq!(pool.join_after(rt, 0), None, "no job yet");
        fn alone(_rt: &'static Runtime, _worker: usize) -> MarkWork {
            MarkWork { objects: 1, marked_bytes: 8, owned_bytes: 0, forwarded: 0 }
        }
        let work = pool.run(rt, 0, Wake::All, alone);
        assert_eq!(work.objects, 1, "the leader alone");
        let job = pool.latest_job();
        assert_eq!(pool.join_after(rt, 0), None, "the job closed when the leader's drain returned");
        open_by_hand(pool, job, 1, alone);
        assert_eq!(pool.join_after(rt, job), None, "no job after this one");
        pool.state.lock().room = 0;
        assert_eq!(pool.join_after(rt, 0), Some(Joined::Full), "no room left");
        pool.state.lock().room = 1;
        assert_eq!(pool.join_after(rt, 0), Some(Joined::Drained(job)), "open, with room: joined and drained");
        assert_eq!(pool.state.lock().work.objects, 1, "the joined drain's work was reported");
        close_by_hand(pool);
    }

    /// A polling thread joins job after job — skipping none, draining each once — until one is
    /// full (helpers took its room), and then stops polling.
    #[cfg(not(any(miri, gc_tsan)))]
    #[test]
    fn a_polling_thread_joins_every_job_with_room_and_stops_at_a_full_one() {
        fn one(_rt: &'static Runtime, _worker: usize) -> MarkWork {
            MarkWork { objects: 1, marked_bytes: 8, owned_bytes: 0, forwarded: 0 }
        }
        let _s = test_support::serial();
        let rt = Runtime::get_or_start();
        let pool = fresh_pool();
        let poller = std::thread::spawn(move || pool.poll_and_join(rt, 0, || true));
        for job in 1..=3 {
            open_by_hand(pool, job, 1, one);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while pool.state.lock().work.objects == 0 {
                assert!(std::time::Instant::now() < deadline, "job {job}: the polling thread never joined");
                std::thread::yield_now();
            }
            let s = pool.state.lock();
            assert_eq!((s.job, s.work.objects, s.joined), (job, 1, 1), "job {job}: joined and drained once");
            drop(s);
            close_by_hand(pool);
        }
        open_by_hand(pool, 4, 0, one);
        assert_eq!(poller.join().expect("the poller"), 3, "three jobs joined, then stopped at the full one");
        close_by_hand(pool);
    }

    /// A job that wakes helpers only beyond the polling threads leaves its room to a polling
    /// thread (no helper is even started); with nobody polling, it wakes a helper.
    #[cfg(not(any(miri, gc_tsan)))]
    #[test]
    fn a_job_for_pollers_wakes_no_helper_while_a_thread_polls() {
        let _s = test_support::serial();
        let rt = Runtime::get_or_start();
        let pool = fresh_pool();
        reset();
        let poller = pool.poller(1).expect("the only poller");
        let polling =
            std::thread::spawn(move || pool.poll_and_join(rt, 0, || pool.latest_job() == 0 || pool.state.lock().open));
        let work = pool.run(rt, 1, Wake::BeyondPollers, two_at_once);
        assert_eq!(work.objects, 2, "the leader and the polling thread");
        assert_eq!(polling.join().expect("the polling thread"), 1, "it joined the job");
        assert_eq!(pool.state.lock().started, 0, "no helper was started");
        drop(poller);
        reset();
        let work = pool.run(rt, 1, Wake::BeyondPollers, two_at_once);
        assert_eq!(work.objects, 2, "the leader and a helper");
        assert_eq!(pool.state.lock().started, 1, "with nobody polling, a helper");
    }

    /// A job for pollers lets only the helpers it woke take part: with room for two besides
    /// the leader and one thread registered to poll (which never comes), one helper joins,
    /// not both, though both are started and awake.
    #[test]
    fn a_job_for_pollers_keeps_their_room_from_the_other_helpers() {
        fn linger(_rt: &'static Runtime, _worker: usize) -> MarkWork {
            std::thread::sleep(std::time::Duration::from_millis(30));
            MarkWork { objects: 1, marked_bytes: 8, owned_bytes: 0, forwarded: 0 }
        }
        let _s = test_support::serial();
        let rt = Runtime::get_or_start();
        let pool = fresh_pool();
        pool.run(rt, 2, Wake::All, linger);
        assert_eq!(pool.state.lock().started, 2, "two helpers started");
        let _poller = pool.poller(1).expect("a registered poller");
        let work = pool.run(rt, 2, Wake::BeyondPollers, linger);
        let joined = pool.state.lock().joined;
        assert!(joined <= 1 && work.objects == 1 + joined, "{joined} helpers joined, {} objects", work.objects);
    }
}
