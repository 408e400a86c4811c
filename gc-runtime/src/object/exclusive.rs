//! Exclusive marking: in a drain, each mark bit has one writer, which sets it with a plain
//! load and store instead of a locked instruction — inside a pause, and in a concurrent cycle
//! beside the running mutators.
//!
//! # Why
//!
//! Marking an object sets its bit with an atomic read-modify-write (see `mark_bits.rs`):
//! several markers, and allocating mutators, may set bits of one word at once, and the one that
//! turns a bit on must be the only one to queue the object. On x86 that
//! is a locked instruction per object marked, and it is about half of a mark worker's time:
//! a build that set the bits with a plain load and store (unsound with several writers) marked
//! 1M tree nodes at 200–220M objects/s per worker instead of 105–112M (`mark_rate`, one
//! worker), and one that did so for half of the objects at 154–160M.
//!
//! # Who may write the bits
//!
//! Mutators set no mark bits but their black allocations' and their mark assists': their
//! shades and weak reads record candidates for the mark workers instead (see `shade.rs`). With
//! the world stopped, no mutator runs at all, and the sweep is finished. The only writers left
//! are the mark workers of the drains, threads *without* a mutator, which can still empty
//! slots and so shade the pointers they overwrite — through the root table's orphan path,
//! under its lock — and, beside running mutators, allocation and assists. A drain in a pause is
//! therefore an *exclusive job*; so is a drain of a concurrent cycle, with
//! `Config::exclusive_marking` (the default), whose mutators' marks are logged and set again
//! (below). (With it off, a concurrent drain
//! is a job only while no mutator runs, with `Config::idle_exclusive_marking`: the collector
//! stops the world for it at no one's expense (`handshake.rs`, "Idle stops"), and a thread that
//! wants to run meanwhile gives the job up — as forwarding does, below — and waits until every
//! worker has returned and the world has started.) In every job:
//!
//! - **Orphan shades wait.** The collector starts and ends each job holding the root-table
//!   lock, and while a job runs an orphan shade only records its object, unmarked, under that
//!   lock; the collector marks the recorded objects (with locked instructions, as outside a
//!   job) when the job has ended, before it decides that marking is over (see
//!   `root_table.rs`). An orphan shade made before the job started set its bit before the
//!   collector took the lock to start the job, so every worker's first read of the word sees it.
//! - **Each 4 KiB of a page has one owner.** A worker that finds a white object claims the
//!   4 KiB around it for this job if no worker has (a compare-exchange of its claim word, once
//!   per claim and job; see `mark_bits.rs`, `RUN_CLAIMS`), and from then on sets their bits with
//!   a plain load and store ([`mark_bits::try_mark_bit_owned`]). An object in memory another
//!   worker owns is *forwarded*: collected in a private outbox per owner, published as a buffer
//!   on the owner's own queue (`GreyQueue::push_forwarded`), and marked by the owner when it
//!   takes the buffer — which it looks for every few dozen objects, not only when its own stack
//!   is empty (see `marker/mod.rs`). Once marked, an object is grey work like any other: its
//!   scan may be shared with, or stolen by, any worker; only setting bits is the owner's.
//!
//! A claim names the job and the owner, so claims of earlier jobs are simply stale: nothing
//! clears them. The jobs of a pause run one after another (the drains, with the ephemeron
//! passes and orphan shades between them, all on the collector thread), and a worker's writes
//! in one job happen before the next job starts (the pool's lock orders them), so the next
//! owner of a claim reads its words as the last one left them.
//!
//! # Termination
//!
//! A forwarded buffer is grey work in the queue: the owner enters the busy state before it
//! takes one, and a worker publishes its outboxes before it leaves the busy state, so the
//! quiescence test, which reads every owner's queue between its two reads of the busy word,
//! covers them as it covers the global queue (see `grey_queue.rs`, "Termination"). A worker
//! leaves the job only when the queue is *done* — quiescent with nothing deferred, in one
//! consistent reading (`GreyQueue::is_done`) — and in a pause nothing can make work after that,
//! so nothing is ever forwarded to a worker that is gone. (Deferred objects, collections whose
//! lock a thread without a mutator holds, are work that a worker may take up after another
//! found the queues quiescent: a worker that left on "quiescent" and then "nothing deferred",
//! two separate reads, could be forwarded the objects such a collection held, and the pause
//! never ended.) A worker that joins late takes part like any other. The one other way out
//! is a job given up (below): then workers leave with work left, and whatever is forwarded to
//! one that is gone waits on its queue until the collector marks it, after every worker has
//! returned.
//!
//! # When forwarding dominates
//!
//! Exclusive marking pays where a worker finds mostly objects in memory it owns: trees, lists,
//! anything allocated roughly in the order it is linked. In a heap linked at random every other
//! object a worker finds lies in memory another worker owns, and forwarding it costs more than
//! the lock it saves: two workers marked 1M nodes linked in random order in 28–35 ms inside a
//! pause, against 21 ms for one worker and 18–19 ms for two with locked marking. So the workers
//! add up their forwards and scans as they go (each reports every 256 forwards or 4 096
//! scans, at its checks every 64 objects), and once they have
//! forwarded [`GIVE_UP_MIN_FORWARDS`] objects together, and more than one for every
//! [`GIVE_UP_SCANNED_PER_FORWARD`] they scanned, the worker that sees it gives the job up
//! ([`give_up`]): every worker that
//! sees it given up (at its next check, every few dozen objects) publishes its stack on the
//! global queue and its outboxes on their owners' queues, leaves the busy state and returns,
//! work left or not. When all have returned, the collector ends the job as usual, marks the
//! objects still waiting on owners' queues — white: marking them was their owner's part — and
//! queues those that this turned grey (no worker runs then; `marker::mark_forwarded_leftovers`),
//! and drains the rest with locked marking, as outside a pause; the cycle's later drains mark
//! that way too. Leaving
//! early is safe for the same reason as leaving at the end: whatever a worker held is
//! published before it leaves the busy state, and the marks it set are ordered before the
//! next drain by the pool's lock.
//!
//! # Beside running mutators
//!
//! Two things differ when mutators run during the job.
//!
//! - **Mutators set bits.** A mutator allocating black sets the bits of its new objects with a
//!   locked `fetch_or`, and a mark assist the bits of what it finds with a compare-exchange; a
//!   worker's plain store may undo either (it loaded the word before and stores after). Both
//!   are logged, and the collector sets the logged bits again before it reads marks to decide
//!   anything (see `mutator_marks.rs`); a worker's own bits are never undone, since a locked
//!   read-modify-write reads the last value. Until then, an object whose bit was undone looks
//!   white to a later drain, which marks and scans it once more: sound, only more work.
//! - **Work keeps coming.** Mutators publish candidates at any time, so "done" is not final: a
//!   worker that left could be forwarded objects that nobody else may mark. So only the
//!   job's leader (worker 0, the collector thread) leaves when the queue is done, and ends the
//!   job for all ([`end_beside_mutators`]): the others wait for work until then, and leave at
//!   their next check. Whatever was forwarded to a worker that had left, the collector marks
//!   after the job (`marker::mark_forwarded_leftovers`, with no worker running); candidates
//!   published after the end wait for the next drain.
//!
//! # Large objects
//!
//! A large object's mark is a word of its own in front of it (see `object/mark.rs`), which no
//! neighbour shares: it is set with a locked swap as always, by whichever worker finds it.

use super::{mark, ObjPtr};
use crate::{
    grey_queue::{GreyQueue, OWNER_QUEUES},
    mark_bits::{self, Runs},
    primitive::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
};

/// The most workers an exclusive job takes (the owner field of a claim); the pool admits no
/// more to a job.
pub(crate) const MAX_OWNERS: usize = 1 << OWNER_BITS;
const OWNER_BITS: u32 = 6;
const OWNER_MASK: u64 = (1 << OWNER_BITS) - 1;
const _: () = assert!(MAX_OWNERS == OWNER_QUEUES, "one forwarding queue per owner");

/// The exclusive job running now, 0 when none.
static JOB: AtomicU64 = AtomicU64::new(0);
/// The last job number given out.
static LAST_JOB: AtomicU64 = AtomicU64::new(0);

/// Whether the current (or last) exclusive job was given up (see "When forwarding dominates").
static GIVEN_UP: AtomicBool = AtomicBool::new(false);

/// Whether the current (or last) exclusive job runs beside running mutators (see "Beside
/// running mutators").
static BESIDE_MUTATORS: AtomicBool = AtomicBool::new(false);

/// Whether the leader of the current job, beside running mutators, found the marking done and
/// ended the job (see "Beside running mutators").
static ENDED: AtomicBool = AtomicBool::new(false);

/// Objects forwarded, and objects scanned, in the current job by all its workers, as far as
/// they have reported them (see [`Exclusive::forwarding_dominates`]).
static JOB_FORWARDED: AtomicUsize = AtomicUsize::new(0);
static JOB_SCANNED: AtomicUsize = AtomicUsize::new(0);

/// Objects a job's workers forward, together, before their ratio of forwards to scans can make
/// the job be given up.
pub(crate) const GIVE_UP_MIN_FORWARDS: usize = 4096;

/// A job is given up once its workers, together, forwarded more than one object per this many
/// they scanned (and at least [`GIVE_UP_MIN_FORWARDS`]). On trees, lists and graphs built in the order they
/// are linked, forwards are a fraction of a percent of the objects scanned; in a heap linked at
/// random about one per object scanned.
pub(crate) const GIVE_UP_SCANNED_PER_FORWARD: usize = 4;

/// Start an exclusive job. The caller holds the root-table lock; the world is stopped, or the
/// job runs `beside_mutators` (see "Who may write the bits").
pub(crate) fn begin(beside_mutators: bool) {
    let job = LAST_JOB.fetch_add(1, Ordering::Relaxed) + 1;
    assert!(job < 1 << (64 - OWNER_BITS), "exclusive job numbers exhausted");
    // Relaxed: read under the root-table lock, or by a worker the pool started after this.
    JOB.store(job, Ordering::Relaxed);
    GIVEN_UP.store(false, Ordering::Relaxed);
    BESIDE_MUTATORS.store(beside_mutators, Ordering::Relaxed);
    ENDED.store(false, Ordering::Relaxed);
    JOB_FORWARDED.store(0, Ordering::Relaxed);
    JOB_SCANNED.store(0, Ordering::Relaxed);
}

/// A worker reports its forwards to the job's counters once it has this many new ones.
const REPORT_FORWARDS: usize = 256;

/// A worker reports its scans to the job's counters once it has this many new ones.
const REPORT_SCANS: usize = 4096;

/// Whether `forwarded` objects forwarded against `scanned` scanned are reason to give a job
/// up.
fn dominates(forwarded: usize, scanned: usize) -> bool {
    forwarded >= GIVE_UP_MIN_FORWARDS && forwarded.saturating_mul(GIVE_UP_SCANNED_PER_FORWARD) > scanned
}

/// Give the running job up: its workers leave at their next check (see "When forwarding
/// dominates").
pub(crate) fn give_up() {
    // Relaxed: a worker that reads it late only marks a little longer; the collector reads it
    // after every worker has finished (ordered by the pool's lock).
    GIVEN_UP.store(true, Ordering::Relaxed);
}

/// Whether the current job, or the last one if none runs, was given up.
pub(crate) fn given_up() -> bool {
    GIVEN_UP.load(Ordering::Relaxed)
}

/// Whether the running job runs beside running mutators: its workers other than the leader
/// leave only when the leader ends it (see "Beside running mutators").
pub(crate) fn beside_mutators() -> bool {
    BESIDE_MUTATORS.load(Ordering::Relaxed)
}

/// The leader of a job beside running mutators found the marking done: every worker leaves at
/// its next check (see "Beside running mutators").
pub(crate) fn end_beside_mutators() {
    // Relaxed: a worker that reads it late only waits a little longer; the collector reads
    // what the workers did after every worker has finished (ordered by the pool's lock).
    ENDED.store(true, Ordering::Relaxed);
}

/// Whether the leader ended the running job (see [`end_beside_mutators`]).
pub(crate) fn ended() -> bool {
    ENDED.load(Ordering::Relaxed)
}

/// End the exclusive job (the caller holds the root-table lock; every worker of the job has
/// finished).
pub(crate) fn end() {
    JOB.store(0, Ordering::Relaxed);
}

/// The exclusive job running now, if any: read by orphan shades under the root-table lock,
/// and by mark workers when they start a drain.
pub(crate) fn current() -> Option<u64> {
    match JOB.load(Ordering::Relaxed) {
        0 => None,
        job => Some(job),
    }
}

/// A mark worker's part in an exclusive job: its claim tag, and its outboxes of objects found
/// in memory other workers own.
pub(crate) struct Exclusive {
    /// `job << OWNER_BITS | owner`: the value of a claim word this worker holds.
    tag: u64,
    /// Objects found white in memory other workers own, by owner.
    outboxes: Vec<Vec<ObjPtr>>,
    /// Entries in the outboxes.
    forwarded: usize,
    /// Objects forwarded in this job so far.
    forwarded_in_all: usize,
    /// The forwards and scans this worker has added to the job's counters.
    reported: (usize, usize),
}

impl Exclusive {
    /// Worker `owner` of job `job`.
    pub(crate) fn new(job: u64, owner: usize) -> Self {
        assert!(owner < MAX_OWNERS, "an exclusive job takes at most {MAX_OWNERS} workers");
        Exclusive {
            tag: job << OWNER_BITS | owner as u64,
            outboxes: Vec::new(),
            forwarded: 0,
            forwarded_in_all: 0,
            reported: (0, 0),
        }
    }

    /// This worker's number in its job.
    pub(crate) fn owner(&self) -> usize {
        (self.tag & OWNER_MASK) as usize
    }

    /// Mark `obj` if it is white and this worker owns (or now claims) the memory around it;
    /// forward it to the owner if another worker owns it. Returns `true` if this call marked it.
    /// `runs` is the worker's copy of where the runs are (see `mark_bits::Runs`).
    ///
    /// # Safety
    /// `obj` is an allocated object, with the provenance of the memory it lives in; the
    /// caller is a worker of the running job `self` belongs to.
    #[inline(always)]
    pub(crate) unsafe fn try_mark(&mut self, obj: ObjPtr, epoch: u64, runs: Runs) -> bool {
        // SAFETY: guaranteed by the caller.
        let Some((word, bit, claim)) = (unsafe { mark_bits::mark_word_and_claim(obj.as_ptr().cast(), runs) }) else {
            // SAFETY: not in a page: a large object (allocated, the caller guarantees).
            return unsafe { mark::large_mark(obj.as_ptr()) }.try_mark(epoch);
        };
        // The claim first, the mark word only in memory this worker owns: the words of memory
        // another worker owns are in that worker's cache, being written (reading them first made
        // two workers 4–5 % slower on trees, and far slower on a graph linked at random). An
        // object already marked there is forwarded all the same; its owner finds it marked.
        if claim.load(Ordering::Relaxed) != self.tag {
            if let Err(owner) = self.claim(claim) {
                self.forward(owner, obj);
                return false;
            }
        }
        mark_bits::try_mark_bit_owned(word, bit)
    }

    /// Claim the memory `claim` covers for this worker unless another worker of the job
    /// holds it; `Err` names that worker.
    #[inline(never)]
    fn claim(&mut self, claim: &AtomicU64) -> Result<(), usize> {
        let mut held = claim.load(Ordering::Relaxed);
        let job = self.tag >> OWNER_BITS;
        if held >> OWNER_BITS != job {
            // Unclaimed in this job: one compare-exchange decides who owns it. Relaxed:
            // the claim guards no memory of its own; the owner's writes reach the other workers
            // and the sweep through the end of the job (see "Termination").
            held = match claim.compare_exchange(held, self.tag, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => self.tag,
                Err(now) => now,
            };
        }
        if held == self.tag {
            Ok(())
        } else {
            debug_assert_eq!(held >> OWNER_BITS, job, "claimed in this job");
            Err((held & OWNER_MASK) as usize)
        }
    }

    fn forward(&mut self, owner: usize, obj: ObjPtr) {
        if self.outboxes.len() <= owner {
            self.outboxes.resize_with(owner + 1, Vec::new);
        }
        self.outboxes[owner].push(obj);
        self.forwarded += 1;
        self.forwarded_in_all += 1;
    }

    /// Objects waiting in the outboxes.
    pub(crate) fn forwarded(&self) -> usize {
        self.forwarded
    }

    /// Objects this worker forwarded in its job so far.
    pub(crate) fn forwarded_in_all(&self) -> usize {
        self.forwarded_in_all
    }

    /// Report this worker's progress — `scanned` objects scanned in the job so far — and
    /// whether the job's workers together have forwarded so much that the job is better given
    /// up (see "When forwarding dominates"). Together, not each: a worker that steals work
    /// from another's stack scans objects in memory the other owns and forwards most of what it
    /// finds, while the job as a whole forwards little.
    ///
    /// A worker reports once it has forwarded [`REPORT_FORWARDS`] or scanned [`REPORT_SCANS`]
    /// objects since its last report, so the shared counters cost a locked instruction now
    /// and then, not at every check.
    pub(crate) fn forwarding_dominates(&mut self, scanned: usize) -> bool {
        let (forwarded, scanned) = (self.forwarded_in_all - self.reported.0, scanned - self.reported.1);
        if forwarded < REPORT_FORWARDS && scanned < REPORT_SCANS {
            return false;
        }
        self.reported.0 += forwarded;
        self.reported.1 += scanned;
        // Relaxed: counters, read for a heuristic.
        let forwarded = JOB_FORWARDED.fetch_add(forwarded, Ordering::Relaxed) + forwarded;
        let scanned = JOB_SCANNED.fetch_add(scanned, Ordering::Relaxed) + scanned;
        dominates(forwarded, scanned)
    }

    /// Publish every outbox on its owner's queue (the caller is busy).
    pub(crate) fn publish(&mut self, queue: &GreyQueue<ObjPtr>) {
        for (owner, out) in self.outboxes.iter_mut().enumerate() {
            if !out.is_empty() {
                let mut buf = queue.empty_buffer();
                buf.append(out);
                queue.push_forwarded(owner, buf);
            }
        }
        self.forwarded = 0;
    }
}

#[cfg(all(test, not(gc_loom)))]
mod tests {
    use super::*;
    use crate::{
        clock::{self, Phase},
        config::BarrierKind,
        runtime::Runtime,
        test_support, thread_state, Gc, Member, Trace,
    };

    #[derive(Trace)]
    struct Node {
        next: Member<Node>,
    }

    /// Big enough to be a large object (its own block, its own mark word).
    #[derive(Trace)]
    struct Big {
        _bytes: [u8; 16 * 1024],
    }

    /// Job numbers for these tests: far above any a real drain in this process reaches, so the
    /// claims they leave are stale for every real job.
    const TEST_JOB: u64 = 1 << 56;

    fn obj<T>(g: Gc<'_, T>) -> ObjPtr {
        ObjPtr(std::ptr::NonNull::new(g.header_ptr()).expect("an object"))
    }

    fn marked(o: ObjPtr) -> bool {
        // SAFETY: `o` names a live local's object.
        unsafe { mark::is_marked(o.as_ptr(), clock::mark_epoch()) }
    }

    /// Nodes allocated in a row, with two of them at least `CLAIM_BYTES` apart (in different
    /// claims): `(near, near_too, far)`.
    fn three_nodes(mu: &crate::Mutator) -> [Gc<'_, Node>; 3] {
        let first = mu.alloc(Node { next: Member::new() });
        let second = mu.alloc(Node { next: Member::new() });
        let far = loop {
            let n = mu.alloc(Node { next: Member::new() });
            let apart = (n.header_ptr() as usize).abs_diff(first.header_ptr() as usize);
            if apart >= 2 * mark_bits::CLAIM_BYTES {
                break n;
            }
        };
        [first, second, far]
    }

    /// Two workers of one job: the first to mark in a claim owns it; the other forwards what
    /// it finds there, and the owner marks it when it takes its queue. A claim left by an
    /// earlier job is taken afresh.
    #[test]
    fn the_first_worker_to_mark_in_a_claim_owns_it_and_the_other_forwards_to_it() {
        let _s = test_support::serial();
        let _clear = test_support::ClearMarks;
        let mu = crate::attach();
        let [a, b, far] = three_nodes(&mu);
        let queue = GreyQueue::default();
        let epoch = clock::mark_epoch();
        let (mut w0, mut w1) = (Exclusive::new(TEST_JOB, 0), Exclusive::new(TEST_JOB, 1));
        let mark = |w: &mut Exclusive, o: ObjPtr| {
            // SAFETY: `o` is a live local's object; no other writer of these marks runs.
            unsafe { w.try_mark(o, epoch, Runs::now()) }
        };
        assert!(mark(&mut w0, obj(a)), "worker 0 claims a's memory and marks it");
        assert!(!mark(&mut w0, obj(a)), "marked once");
        assert!(!mark(&mut w1, obj(b)), "b's memory is worker 0's: forwarded");
        assert!(!marked(obj(b)) && w1.forwarded() == 1);
        assert!(mark(&mut w1, obj(far)), "far is in another claim: worker 1 takes it");
        w1.publish(&queue);
        assert_eq!((w1.forwarded(), w1.forwarded_in_all()), (0, 1));
        assert!(queue.pop_forwarded_busy(1).is_none(), "nothing for worker 1");
        let buf = queue.pop_forwarded_busy(0).expect("worker 0's queue holds b");
        assert_eq!(buf, [obj(b)]);
        assert!(mark(&mut w0, buf[0]), "the owner marks what it was forwarded");
        queue.leave_busy();
        assert!(queue.is_quiescent());
        assert!([a, b, far].iter().all(|&n| marked(obj(n))));
        // A later job: the claims are stale, and worker 1 of it may take a's memory.
        Runtime::get().pages.clear_marks_for_test();
        let mut later = Exclusive::new(TEST_JOB + 1, 1);
        assert!(mark(&mut later, obj(b)) && later.forwarded() == 0);
    }

    /// A job is given up only once its workers together have forwarded enough objects, and
    /// more than one per `GIVE_UP_SCANNED_PER_FORWARD` they scanned.
    #[test]
    fn a_job_is_given_up_when_forwarding_dominates() {
        let scanned = GIVE_UP_SCANNED_PER_FORWARD * GIVE_UP_MIN_FORWARDS;
        assert!(!dominates(GIVE_UP_MIN_FORWARDS - 1, 0), "too few forwards to judge");
        assert!(dominates(GIVE_UP_MIN_FORWARDS, scanned - 1));
        assert!(!dominates(GIVE_UP_MIN_FORWARDS, scanned), "one forward per four scans is still worth it");
        assert!(!dominates(GIVE_UP_MIN_FORWARDS, 100 * scanned), "a tree: a forward now and then");
    }

    /// The workers' reports add up: one that forwards everything it finds while another scans
    /// far more does not give the job up.
    #[test]
    fn the_workers_forwards_and_scans_count_together() {
        let _s = test_support::serial();
        let job = test_support::ExclusiveJob::begin();
        let (mut thief, mut owner) = (Exclusive::new(job.0, 1), Exclusive::new(job.0, 0));
        thief.forwarded_in_all = GIVE_UP_MIN_FORWARDS;
        assert!(thief.forwarding_dominates(GIVE_UP_MIN_FORWARDS / 2), "alone, it would give up");
        owner.forwarded_in_all = 10;
        assert!(!owner.forwarding_dominates(100 * GIVE_UP_MIN_FORWARDS), "together, they do not");
        assert!(!thief.forwarding_dominates(GIVE_UP_MIN_FORWARDS / 2), "reports are not counted twice");
        thief.forwarded_in_all += REPORT_FORWARDS - 1;
        owner.forwarded_in_all += 100 * GIVE_UP_MIN_FORWARDS;
        assert!(
            !thief.forwarding_dominates(GIVE_UP_MIN_FORWARDS / 2 + REPORT_SCANS - 1),
            "nothing new enough to report"
        );
        assert!(owner.forwarding_dominates(100 * GIVE_UP_MIN_FORWARDS), "its forwards now count: they dominate");
    }

    /// A large object's mark is its own word: any worker marks it, once, with no claim.
    #[test]
    fn any_worker_marks_a_large_object_once() {
        let _s = test_support::serial();
        let _clear = test_support::ClearMarks;
        let mu = crate::attach();
        let big = mu.alloc(Big { _bytes: [0; 16 * 1024] });
        // The next marking's epoch: a new large object counts as marked in the current one.
        let epoch = clock::mark_epoch() + 1;
        let (mut w0, mut w1) = (Exclusive::new(TEST_JOB + 2, 0), Exclusive::new(TEST_JOB + 2, 1));
        let runs = Runs::now();
        // SAFETY: a live local; no other writer of its mark runs.
        let won = unsafe { [w1.try_mark(obj(big), epoch, runs), w0.try_mark(obj(big), epoch, runs)] };
        assert_eq!(won, [true, false]);
        assert_eq!(w0.forwarded() + w1.forwarded(), 0);
    }

    /// While a job runs, a store on a thread whose state the runtime holds (a `Trace` that
    /// clears a slot, run by a mark worker) does not mark what it overwrites: a locked mark
    /// beside a worker's plain store could be lost. The object is held, and marked — and queued —
    /// when the job ends.
    #[test]
    fn an_orphan_shade_during_a_job_is_held_unmarked_and_marked_when_the_job_ends() {
        let _s = test_support::serial();
        let _clear = test_support::ClearMarks;
        let mu = crate::attach();
        let rt = Runtime::get();
        for kind in [BarrierKind::Yuasa, BarrierKind::Hybrid] {
            let a = mu.alloc(Node { next: Member::new() });
            let b = mu.alloc(Node { next: Member::new() });
            a.next.set(Some(b));
            clock::force(Phase::Mark, kind);
            {
                let _roots = rt.roots.lock();
                begin(false);
            }
            let inside = thread_state::with_running_mutator(|_borrowed| a.next.set(None));
            assert!(inside.is_some() && a.next.is_none());
            assert!(!marked(obj(b)), "{kind:?}: not marked while the job runs");
            {
                let mut roots = rt.roots.lock();
                end();
                roots.mark_held_shades(&rt.grey);
                assert!(marked(obj(b)), "{kind:?}: marked once the job ended");
                roots.flush_orphans(&rt.grey);
            }
            clock::force(Phase::Off, kind);
            assert_eq!(rt.grey.clear(), (1, 0), "{kind:?}: and queued");
            rt.pages.clear_marks_for_test();
        }
    }
}
