//! The marker: drains grey objects by tracing them, on mark workers and in mutator assists.
//!
//! # The mark loop
//!
//! A worker keeps a private LIFO stack of grey objects (depth-first, cache friendly). It pops
//! one, calls its type's trace function, and for every slot the object reports it loads the
//! pointer (`Acquire`, pairing with the barrier's `Release`) and tries to mark the referent
//! for the current epoch; the one thread that wins pushes it on its stack. When the stack runs
//! dry the worker takes a full buffer from the global queue; when the stack grows large it
//! gives a buffer's worth back so idle workers and assists can share the work.
//!
//! For a sized type with slots the call is its *run* (`object/mark_visit.rs`, "Runs of one type"): it
//! goes on scanning while the top of the stack holds an object of the same type, so a heap of
//! tree nodes or list cells is marked without a call per object. The worker's checks between
//! objects — its budget, the balance check, the spill — become limits it hands the run.
//!
//! # Prefetching
//!
//! Marking is bound by memory latency. A found pointer is marked at once (its bit is beside
//! it, see `mark_bits.rs`); if it turned grey, its first lines are prefetched and it waits in a
//! small FIFO ring before its descriptor is read and it is pushed; the per-slot step, the ring
//! and the stack are in `object/mark_visit.rs`, where the tracer reaches them without a call
//! per slot.
//!
//! # Sharing work between mark workers
//!
//! A depth-first stack stays shallow on trees and lists, so "spill when large" alone leaves a
//! second worker idle while the first marks a whole tree. A worker that finds the queue empty
//! therefore says it is hungry, and every 64 objects a busy worker checks for that (one
//! relaxed load); if someone waits and the queue is empty, it publishes the older half of its
//! stack (up to a buffer) — the entries nearest the roots, the largest pieces of work (Go's
//! `gcWork.balance`).
//!
//! # Several workers
//!
//! With more than one mark worker (or in a pause, which marks with every core) the collector
//! thread drains alongside persistent helper threads, parked between drains (`pool.rs`).
//!
//! # Exclusive jobs
//!
//! A drain with the world stopped is an *exclusive job* (`object/exclusive.rs`), and so, by
//! default (`Config::exclusive_marking`), is a drain of a concurrent cycle beside the running
//! mutators, whose own marks (black allocation, assists) are logged and set again
//! (`mutator_marks.rs`). In a job each 4 KiB of memory has one worker that sets its mark bits,
//! with a plain store instead of a locked instruction, and the others forward the objects they
//! find there to it. A worker publishes what it forwarded before it leaves the busy state, and
//! takes what was forwarded to it before the global queue, and every 64 objects while it marks
//! (the balance check). Where forwarding dominates (a heap linked at random), the job is given
//! up at a balance check: each worker publishes everything and returns, and the collector marks
//! the forwarded leftovers ([`mark_forwarded_leftovers`]) and drains the rest without owners.
//!
//! # Mark assists
//!
//! A mutator that allocates while marking is in progress pays for it: each refill of its
//! allocation cache owes marking in proportion to the bytes allocated, at a ratio set by how
//! much marking is left and how close the heap is to its goal; the mark workers' progress pays
//! for it first, and the mutator scans the rest before its allocation returns (Go's assist
//! ratio and background credit; see `credit.rs`). Allocation-heavy threads thus slow down
//! instead of outrunning the marker. The grey objects are mostly on the workers' private
//! stacks, so an assist that finds the global queue empty asks for work
//! (`GreyQueue::want_assist_work`): the next worker to check its balance shares half its stack,
//! as it does for an idle worker, and the assist's next attempt has something to scan. (Before,
//! such assists did nothing, and binary-trees overshot its heap goal by a median 12 % per cycle;
//! now by under 1 %.)
//!
//! # Locked collections
//!
//! A GC collection is traced under its read lock, which a writer may hold while running user
//! code (a map key's `Eq`) — code that may allocate, and so run a mark assist that would trace
//! this very collection. So no marker ever waits for a collection's lock: the collection's
//! `trace` tries the lock and, if it is taken, reports that (`Tracer::report_locked`); the
//! worker then *defers* the object (see `grey_queue.rs`) and comes back to it when the queue
//! has run dry, backing off between attempts so the holder can run. An assist never comes
//! back: it defers and moves on. The holder is always a thread that can make progress: a
//! running mutator, or a thread without one — which may at most wait for the root-table lock,
//! and the collector never holds that lock while it drains (see `collector/mod.rs`).
//!
//! Trying alone is not enough. A writer may release the lock and take it again at once, for
//! ever — a loop of insertions whose key's `Eq` is slow, a safepoint between them: the lock is
//! then free for a microsecond in every few milliseconds, a try nearly always fails, and the
//! cycle never ended (a hostile review found `collect` waiting for good). So once its retries
//! have found every deferred object still locked for 5 ms, the worker *waits* for the locks,
//! each up to as long again, at most 10 ms (`lock_patience`): queued with the writers, it is
//! handed the lock when the writer releases it, and then scans a chunk of a large collection
//! for every 64 µs it waited, up to sixteen, instead of one (`object/scan_cursor.rs`,
//! `PATIENT_CHUNKS`). The wait is bounded, so a holder blocked on something that waits for the
//! collector still holds the marking up no longer than it holds the lock. Inside a pause the
//! worker waits from its first retry (`PAUSE_LOCK_PATIENCE`): every mutator waits for the pause
//! anyway, and only threads without a mutator can hold the lock. The wait is cut into slices
//! of a millisecond, and a worker whose exclusive job was given up (a thread that wants to run
//! ends an idle stop so) stops waiting (`slots::read_for_trace`).
//!
//! # Large collections
//!
//! A collection larger than one chunk is scanned a chunk per visit (see
//! `object/scan_cursor.rs`), so its lock is held for one chunk at a time: after each partial
//! visit the worker puts the collection back on its stack *below* the objects the chunk found,
//! so it scans those first (depth-first, as for any object) and the collection's next chunk
//! after them. A continuation is an ordinary stack entry: it may be shared with another worker
//! or given back to the queue, and marking cannot terminate while one is pending. If the lock
//! is taken when the worker comes back, the collection is deferred like any locked object and
//! resumes where it stopped. Each chunk counts against an assist's budget (as the bytes of its
//! slots), so an assist that meets a large collection scans a few chunks and returns, instead
//! of scanning the whole collection a chunk at a time.
//!
//! # Ephemerons
//!
//! A weak map's entry reports its value only if its key is marked; an object traced while one
//! of its entries' keys was not is noted as an *ephemeron holder*, and the collector looks at
//! the holders again before it ends the marking (`ephemerons.rs`).
//!
//! # A panicking `Trace`
//!
//! If a `Trace` impl panics, the marker cannot know the object's referents; going on would
//! free live objects. The process stops with a message naming the type.

pub(crate) mod credit;
mod ephemerons;
pub(crate) mod pool;

pub(crate) use self::ephemerons::{resolve_ephemerons, EphemeronPass, QuietHolders};

use self::credit::AssistCredit;
use std::time::{Duration, Instant};

use crate::{
    clock,
    grey_queue::BUFFER_CAP,
    object::{
        exclusive::{self, Exclusive},
        header::TypeDesc,
        mark_visit::{note, RunLimits},
        scan_cursor::SCAN_CHUNK,
        trace::PAUSE_LOCK_PATIENCE,
        Header, MarkVisitor, ObjPtr, Tracer,
    },
    report,
    runtime::Runtime,
    shade::GreyQueue,
    stats::MarkWork,
};

/// Above this many entries a worker gives a buffer back to the global queue.
const SPILL_AT: usize = 4 * BUFFER_CAP;

/// A worker checks every this many objects whether another worker is waiting for work.
const BALANCE_EVERY: usize = 64;

/// A mark worker's private state.
pub(crate) struct MarkWorker<'q> {
    queue: &'q GreyQueue,
    /// The grey stack, the prefetch ring and the leaf bytes (see `object/mark_visit.rs`).
    visit: MarkVisitor,
    /// Objects scanned so far.
    pub(crate) scanned_objects: usize,
    /// Bytes of objects scanned so far.
    pub(crate) scanned_bytes: usize,
    /// Objects traced so far, in whole or in part (a chunk of a large collection), but not
    /// those found locked: how the retry loop of deferred objects sees progress.
    visits: usize,
    /// Slot bytes of the chunks scanned in large collections that are not finished yet: work
    /// that counts against a budget (an assist's debt), though it marks no heap bytes.
    chunk_bytes: usize,
    /// Where a mark worker publishes its progress as assist credit (`None` for an assist).
    credit: Option<&'q AssistCredit>,
    /// Marked bytes already published to `credit`.
    published: usize,
    /// Whether this worker drains inside a pause, every mutator parked until the marking
    /// ends: then it waits for locked objects' locks from its first retry
    /// (`PAUSE_LOCK_PATIENCE`). An idle stop — the world stopped because no mutator runs — is
    /// no such pause: nobody waits for it but a thread that wants to run, which ends it, so its
    /// drain waits for locks as a concurrent one does.
    in_pause: bool,
}

impl<'q> MarkWorker<'q> {
    /// A worker for the current marking, for an assist (its progress is no credit).
    pub(crate) fn new(queue: &'q GreyQueue) -> Self {
        MarkWorker {
            queue,
            visit: MarkVisitor::new(clock::mark_epoch()),
            scanned_objects: 0,
            scanned_bytes: 0,
            visits: 0,
            chunk_bytes: 0,
            credit: None,
            published: 0,
            in_pause: false,
        }
    }

    /// A mutator's mark assist for the current marking: it marks as a worker outside an
    /// exclusive job does, and records what it marks, since a drain beside it may undo those
    /// marks — unless the record is off for the marking, asked before the first mark (see
    /// `mutator_marks.rs`, "The limit"); its progress is no credit.
    pub(crate) fn assisting(queue: &'q GreyQueue) -> Self {
        let epoch = clock::mark_epoch();
        let visit = if crate::mutator_marks::logging(epoch) {
            MarkVisitor::logging_marks(epoch)
        } else {
            MarkVisitor::new(epoch)
        };
        MarkWorker { visit, ..MarkWorker::new(queue) }
    }

    /// A mark worker for the current marking, whose progress becomes assist credit: worker
    /// `owner` of the drain (0 for the thread that leads it), which marks as that owner if the
    /// drain is an exclusive job (see `object/exclusive.rs`); `in_pause`: the drain is a
    /// pause's.
    pub(crate) fn background(rt: &'q Runtime, owner: usize, in_pause: bool) -> Self {
        let mut worker = MarkWorker { credit: Some(&rt.assist_credit), in_pause, ..MarkWorker::new(&rt.grey) };
        worker.visit.exclusive = exclusive::current().map(|job| Exclusive::new(job, owner));
        worker
    }

    /// Publish what this worker marked since the last time as assist credit.
    fn publish_credit(&mut self) {
        if let Some(credit) = self.credit {
            let marked = self.work().marked_bytes;
            credit.add_background(marked - self.published);
            self.published = marked;
        }
    }

    /// What this worker did so far.
    pub(crate) fn work(&self) -> MarkWork {
        MarkWork {
            objects: self.scanned_objects,
            marked_bytes: (self.scanned_bytes + self.visit.leaf_bytes).saturating_add(self.visit.owned_bytes),
            owned_bytes: self.visit.owned_bytes,
            forwarded: self.visit.exclusive.as_ref().map_or(0, Exclusive::forwarded_in_all),
        }
    }

    /// Shade a root: mark it and, if it has fields, put it on this worker's stack.
    ///
    /// # Safety
    /// `obj` is allocated (it was loaded from a root cell).
    pub(crate) unsafe fn shade_root(&mut self, obj: *const Header) {
        let Some(nn) = std::ptr::NonNull::new(obj.cast_mut()) else { return };
        // SAFETY: guaranteed by the caller.
        unsafe { self.visit.mark_grey(ObjPtr(nn)) };
    }

    /// Scan `obj` and, if its type has a run (see `object/mark_visit.rs`, "Runs of one type"),
    /// the objects of its type that follow it on the stack, at most `max_objects` of them and
    /// until `max_bytes` are scanned. Returns how many objects were taken off the stack
    /// (scanned, or deferred because a lock was taken).
    fn scan(&mut self, obj: ObjPtr, max_objects: usize, max_bytes: usize) -> usize {
        // SAFETY: `obj` came off a shade queue or this stack in the current cycle: it was
        // marked this cycle, so it is reachable and allocated.
        let desc = unsafe { obj.header() }.desc();
        if let Some(run) = desc.mark_run {
            let limits = RunLimits { objects: max_objects, bytes: max_bytes, stack: SPILL_AT };
            // SAFETY: `obj` is grey in this marking and `desc` is its descriptor, whose run this is.
            let end = abort_on_panic(desc, || unsafe { run(obj, desc, &mut self.visit, &limits) });
            self.visits += end.objects;
            self.scanned_objects += end.objects;
            // A run's objects are of one sized type: `desc.size` bytes each.
            self.scanned_bytes += end.objects * desc.size;
            let Some((noted, below_children)) = end.noted else { return end.objects };
            self.after_noted_visit(noted, desc, below_children);
            return end.objects + 1;
        }
        if desc.trace.is_none() {
            // Shaded by a barrier or an assist, which do not read objects: nothing to scan.
            // SAFETY: as above.
            self.visit.leaf_bytes += unsafe { desc.size_of(obj.as_ptr()) };
            return 1;
        }
        self.visit.notes = 0;
        let below_children = self.visit.stack.len();
        // SAFETY: `obj` is an allocated object of the type `desc` describes.
        unsafe { trace_or_abort(obj, desc, &mut Tracer::marking(&mut self.visit)) };
        if self.visit.notes != 0 {
            self.after_noted_visit(obj, desc, below_children);
            return 1;
        }
        self.visits += 1;
        self.scanned_objects += 1;
        // SAFETY: as above.
        self.scanned_bytes += unsafe { desc.size_of(obj.as_ptr()) };
        1
    }

    /// The rest of [`scan`](Self::scan) for a visit that noted something besides slots: a
    /// lock taken, a collection scanned in part, an ephemeron pending.
    #[cold]
    #[inline(never)]
    fn after_noted_visit(&mut self, obj: ObjPtr, desc: &TypeDesc, below_children: usize) {
        let notes = self.visit.notes;
        if notes & note::EPHEMERONS_PENDING != 0 {
            // Some weak-map entry's key was unmarked: look again before marking ends
            // ("Ephemerons"). Also when the visit is abandoned for a lock below: the weak map
            // may have been scanned whole in it, and the next visit then reports nothing of it.
            self.queue.note_ephemeron_holder(obj);
        }
        if notes & note::LOCKED != 0 {
            // Traced in part: come back to the whole object later (module docs).
            self.queue.defer(obj);
            return;
        }
        self.visits += 1;
        if notes & note::MORE != 0 {
            // A large collection, scanned one chunk this time: come back for the next one
            // after the objects this chunk found (module docs, "Large collections").
            self.visit.stack.insert(below_children, obj);
            self.chunk_bytes += SCAN_CHUNK * std::mem::size_of::<usize>();
            return;
        }
        self.scanned_objects += 1;
        // SAFETY: `obj` came off a shade queue or this stack in the current cycle (see `scan`).
        self.scanned_bytes += unsafe { desc.size_of(obj.as_ptr()) };
    }

    /// The work done so far against a budget, in bytes: the objects scanned and the chunks of
    /// large collections.
    fn spent(&self) -> usize {
        self.scanned_bytes + self.chunk_bytes
    }

    /// Scan objects from the private stack until it is empty or `budget` bytes were scanned.
    /// Returns whether the stack is empty.
    fn drain_stack(&mut self, budget: usize) -> bool {
        let end = self.spent().saturating_add(budget);
        let mut until_balance = BALANCE_EVERY;
        while let Some(obj) = self.visit.next_grey() {
            let visited = self.scan(obj, until_balance, end - self.spent());
            if self.visit.stack.len() > SPILL_AT {
                self.spill();
            }
            if self.visit.exclusive.as_ref().is_some_and(|x| x.forwarded() >= BUFFER_CAP) {
                self.publish_forwarded();
            }
            until_balance = until_balance.saturating_sub(visited);
            if until_balance == 0 {
                until_balance = BALANCE_EVERY;
                if self.gives_up_exclusive_job() {
                    // Hand everything on; the drain returns (see `object/exclusive.rs`, "When
                    // forwarding dominates").
                    self.publish_all();
                    return true;
                }
                if self.visit.stack.len() > 1 && self.queue.wants_work() {
                    self.share();
                }
                // Objects other workers found in memory this worker owns wait for it alone: take
                // them now, not only once this stack is empty (the others may be idle by then).
                if self.take_forwarded_busy() {
                    self.queue.leave_busy();
                }
            }
            if self.spent() >= end {
                self.visit.settle_ring();
                return self.visit.stack.is_empty();
            }
        }
        true
    }

    /// Whether this worker's exclusive job is given up — by another worker, or now by this one
    /// if, with this worker's progress added, the job's workers have forwarded enough, and more
    /// than one object per four scanned (see `object/exclusive.rs`, "When forwarding
    /// dominates"); always `false` outside an exclusive job.
    fn gives_up_exclusive_job(&mut self) -> bool {
        let Some(x) = &mut self.visit.exclusive else { return false };
        if x.forwarding_dominates(self.scanned_objects) {
            exclusive::give_up();
        }
        exclusive::given_up()
    }

    /// Put `obj` on the private stack, as if found grey.
    #[cfg(test)]
    pub(crate) fn push_for_test(&mut self, obj: ObjPtr) {
        self.visit.stack.push(obj);
    }

    /// [`drain_stack`](Self::drain_stack), for tests.
    #[cfg(test)]
    pub(crate) fn drain_stack_for_test(&mut self, budget: usize) -> bool {
        self.drain_stack(budget)
    }

    /// Publish the older half of the stack (up to a buffer) for a waiting worker.
    fn share(&mut self) {
        self.publish_oldest((self.visit.stack.len() / 2).clamp(1, BUFFER_CAP));
        self.queue.shared();
    }

    /// The stack holds more than [`SPILL_AT`] entries: give the oldest back to the global queue.
    /// Usually a buffer of them, one scan having pushed a few entries past the mark. But one scan
    /// may push any number — a `Vec<Member<_>>` of a million elements inside one object, traced
    /// whole — and a buffer at a time from the bottom then moved the rest of the stack down at
    /// every scan that followed, quadratic in its length (`mark_rate --shape table-vec`, 1M
    /// nodes held by such a vector, in a pause: 311–316 ms for one worker, against 71–75 ms when
    /// a `GcVec` holds them). So a stack past twice the mark keeps its newest `SPILL_AT` entries
    /// and gives all the others back, in buffers, moving the kept ones once: 20–32 ms.
    fn spill(&mut self) {
        let len = self.visit.stack.len();
        if len <= 2 * SPILL_AT {
            self.publish_oldest(BUFFER_CAP);
            return;
        }
        let mut oldest = self.visit.stack.drain(..len - SPILL_AT);
        loop {
            let mut buf = self.queue.empty_buffer();
            buf.extend(oldest.by_ref().take(BUFFER_CAP));
            if buf.is_empty() {
                self.queue.recycle(buf);
                break;
            }
            self.queue.push_full(buf);
        }
    }

    /// Publish the `n` oldest entries of the stack (the bottom, nearest the roots) as one
    /// buffer on the global queue.
    fn publish_oldest(&mut self, n: usize) {
        let mut buf = self.queue.empty_buffer();
        buf.extend(self.visit.stack.drain(..n));
        self.queue.push_full(buf);
    }

    /// Give every object still on the private stack (and in the ring) back to the global queue,
    /// and every object found in memory another worker owns to that worker.
    pub(crate) fn publish_all(&mut self) {
        self.visit.settle_ring();
        // A buffer at a time from the top: taking each from the bottom moved the rest of the
        // stack down every time, quadratic in its length (the roots of a heap with 800 000 of
        // them took 338 ms to publish at each mark start; a hostile review found it).
        while !self.visit.stack.is_empty() {
            let at = self.visit.stack.len().saturating_sub(BUFFER_CAP);
            let mut buf = self.queue.empty_buffer();
            buf.extend(self.visit.stack.drain(at..));
            self.queue.push_full(buf);
        }
        self.publish_forwarded();
    }

    /// Publish the objects found in memory other workers of an exclusive job own, each on its
    /// owner's queue (the caller is busy).
    fn publish_forwarded(&mut self) {
        if let Some(x) = &mut self.visit.exclusive {
            x.publish(self.queue);
        }
    }

    /// Become busy and take a buffer of objects forwarded to this worker, which owns the memory
    /// they lie in for an exclusive job, and mark them; `false` (and not busy) if there is none.
    fn take_forwarded_busy(&mut self) -> bool {
        let Some(owner) = self.visit.exclusive.as_ref().map(Exclusive::owner) else { return false };
        if !self.queue.has_forwarded(owner) {
            return false;
        }
        let Some(buf) = self.queue.pop_forwarded_busy(owner) else { return false };
        // SAFETY: a forwarded object was found in a slot of an object scanned in this marking
        // (allocated), by a worker of this running job, of which this worker is one.
        unsafe { self.mark_found(buf) };
        true
    }

    /// Become busy and take a buffer of candidates that mutators shaded, and mark them; `false`
    /// (and not busy) if there is none.
    fn take_candidates_busy(&mut self) -> bool {
        if !self.queue.has_candidates() {
            return false;
        }
        let Some(buf) = self.queue.pop_candidates_busy() else { return false };
        // SAFETY: a candidate was found in a slot, root or local by a mutator in this marking
        // (allocated; nothing is freed before the marking ends, which needs this buffer
        // marked); if this worker is part of an exclusive job, the job is running.
        unsafe { self.mark_found(buf) };
        true
    }

    /// Mark each of `objs` — objects found, not marked: forwarded ones, candidates — queueing
    /// those this turned grey, and recycle the buffer.
    ///
    /// # Safety
    /// As [`MarkVisitor::mark_grey`] for each object.
    unsafe fn mark_found(&mut self, objs: Vec<ObjPtr>) {
        for &obj in &objs {
            // SAFETY: guaranteed by the caller.
            unsafe { self.visit.mark_grey(obj) };
        }
        self.queue.recycle(objs);
    }

    /// Take buffers from the global queue and scan until marking is done as far as the queue
    /// can tell (empty, no worker busy, nothing deferred) — the workers' loop. Deferred objects
    /// are retried whenever the queue runs dry.
    pub(crate) fn drain_until_done(&mut self) {
        let mut idle_spins = 0u32;
        let mut deferred_tries = 0u32;
        // Since when every retry of the deferred objects found them still locked.
        let mut locked_since = Instant::now();
        // In a job beside running mutators, mutators publish candidates at any time: a worker
        // that left when the marking looked done could be forwarded objects nobody else may
        // mark. So only the leader leaves on "done", ending the job for all (see
        // `object/exclusive.rs`, "Beside running mutators").
        let (leads, beside_mutators) = match &self.visit.exclusive {
            Some(x) => (x.owner() == 0, exclusive::beside_mutators()),
            None => (true, false),
        };
        loop {
            if self.visit.exclusive.is_some() && (exclusive::given_up() || exclusive::ended()) {
                // Not busy, nothing held: the collector drains the rest with locked marking
                // (given up), or the leader found the marking done (ended). A worker that was
                // waiting for work no longer is (else every later drain's workers would share
                // their stacks with nobody).
                if idle_spins > 0 {
                    self.queue.fed();
                }
                return;
            }
            let took = self.take_forwarded_busy() || self.take_candidates_busy() || {
                let buf = self.queue.pop_busy();
                buf.map(|buf| {
                    self.visit.stack.extend_from_slice(&buf);
                    self.queue.recycle(buf);
                })
                .is_some()
            };
            if took {
                if idle_spins > 0 {
                    self.queue.fed();
                }
                idle_spins = 0;
                deferred_tries = 0;
                self.drain_stack(usize::MAX);
                // Before leaving the busy state: forwarded objects are grey work.
                self.publish_forwarded();
                self.queue.leave_busy();
                self.publish_credit();
            } else if self.queue.is_quiescent() {
                if self.queue.has_deferred() {
                    let patience = match deferred_tries {
                        // Every mutator waits for this pause: wait at once (see
                        // `PAUSE_LOCK_PATIENCE`).
                        _ if self.in_pause => Some(PAUSE_LOCK_PATIENCE),
                        0 => {
                            locked_since = Instant::now();
                            None
                        }
                        _ => lock_patience(locked_since.elapsed()),
                    };
                    if deferred_tries > 0 && patience.is_none() {
                        // Every deferred object was still locked last time: let the holder run.
                        backoff(deferred_tries);
                    }
                    deferred_tries += 1;
                    if let Some(objs) = self.queue.take_deferred_busy() {
                        let visits = self.visits;
                        self.visit.stack.extend_from_slice(&objs);
                        self.visit.lock_patience = patience;
                        self.drain_stack(usize::MAX);
                        self.visit.lock_patience = None;
                        self.publish_forwarded();
                        self.queue.leave_busy();
                        if self.visits > visits {
                            // Some got through (a large collection, a chunk at a time between
                            // its writers): no reason to back off further.
                            deferred_tries = 0;
                        }
                    }
                    continue;
                }
                // Leave only on one consistent reading of "quiescent and nothing deferred":
                // between the two reads above another worker may have taken the deferred
                // objects, and tracing them makes work again — in an exclusive job, work
                // forwarded to this worker alone, which nobody would take once it had left
                // (the pause then never ended; a hostile review found it).
                if !self.queue.is_done() {
                    continue;
                }
                if beside_mutators && !leads {
                    // Wait for more work or for the leader to end the job.
                    if idle_spins == 0 {
                        self.queue.hungry();
                    }
                    idle_spins += 1;
                    wait_for_work(idle_spins);
                    continue;
                }
                if beside_mutators {
                    exclusive::end_beside_mutators();
                }
                if idle_spins > 0 {
                    self.queue.fed();
                }
                return;
            } else {
                if idle_spins == 0 {
                    self.queue.hungry();
                }
                // Another worker or an assist holds grey objects; wait for it to finish or
                // to spill work.
                idle_spins += 1;
                wait_for_work(idle_spins);
            }
        }
    }

    /// A mark assist's drain: scan grey objects from the global queue until `owed` bytes were
    /// scanned or taken from the workers' `credit`, then give back what is left. The credit is
    /// looked at again after every [`ASSIST_UNIT`] scanned and every buffer emptied: what the
    /// workers marked meanwhile pays the rest of the debt (see `credit.rs`, "Paying as it
    /// goes").
    pub(crate) fn drain_owed(&mut self, mut owed: usize, credit: &AssistCredit) {
        while owed > 0 {
            let Some(buf) = self.queue.pop_busy() else { return };
            self.visit.stack.extend_from_slice(&buf);
            self.queue.recycle(buf);
            loop {
                let before = self.spent();
                let emptied = self.drain_stack(owed.min(ASSIST_UNIT));
                owed = owed.saturating_sub(self.spent() - before);
                owed -= credit.steal(owed);
                if emptied {
                    break;
                }
                if owed == 0 {
                    self.publish_all();
                    break;
                }
            }
            self.queue.leave_busy();
        }
    }
}

/// How much a mark assist scans between two looks at the workers' credit (see
/// `MarkWorker::drain_owed`): about a thousand small objects, a few tens of microseconds.
/// (Under Miri, 1 KiB: the same paths with tests small enough to interpret.)
const ASSIST_UNIT: usize = if cfg!(miri) { 1024 } else { 32 * 1024 };

/// Call `obj`'s `trace` with `tracer`; if it panics, stop the process (module docs, "A
/// panicking `Trace`").
///
/// # Safety
/// `obj` is an allocated object of the type `desc` describes.
#[inline(always)]
pub(crate) unsafe fn trace_or_abort(obj: ObjPtr, desc: &TypeDesc, tracer: &mut Tracer<'_>) {
    let Some(trace) = desc.trace else { return };
    // SAFETY: guaranteed by the caller.
    abort_on_panic(desc, || unsafe { trace(obj.as_ptr(), tracer) });
}

/// Run `f`, a trace of objects `desc` describes; if it panics, stop the process (module docs,
/// "A panicking `Trace`").
#[inline(always)]
fn abort_on_panic<R>(desc: &TypeDesc, f: impl FnOnce() -> R) -> R {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            report::drop_payload(payload);
            report::fatal(format_args!(
                "gc: fatal: Trace::trace of `{}` panicked; the collector cannot know which objects it \
                 references, and continuing could free live objects",
                desc.name()
            ))
        }
    }
}

/// Wait a little for work, the `spins`-th time in a row: spin first, then yield.
fn wait_for_work(spins: u32) {
    if spins < 64 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

/// Wait a little before retrying objects whose locks were taken, the `tries`-th time in a
/// row: spin first, then yield, then sleep, so a lock holder on a busy core gets to run.
fn backoff(tries: u32) {
    if tries < 8 {
        std::hint::spin_loop();
    } else if tries < 64 {
        std::thread::yield_now();
    } else {
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// How long the marker retries objects it finds locked, only trying the locks, before it
/// waits for them. (After 1 ms, a writer that writes to a large map without pause was waited
/// for often enough to cost it: the 99.9th percentile of its writes while marking went from
/// 88–111 µs to 157–172 µs, because a reader handed the lock holds it while it wakes up; after
/// 5 ms, 116–132 µs against 103–135 µs. `collection_writer --collection map`, three pairs.)
const PATIENT_AFTER: Duration = Duration::from_millis(5);

/// The longest the marker waits for one lock in one retry.
const MOST_PATIENCE: Duration = Duration::from_millis(10);

/// How long a retry of the deferred objects waits for each one's lock, when every retry for
/// `locked` has found them still locked: not at all for the first [`PATIENT_AFTER`] (most
/// writers hold a lock for a moment, and a writer that writes without pause gets in between the
/// marker's chunks, as it should), then as long again as they have been locked, up to
/// [`MOST_PATIENCE`]. A waiting reader is queued with the lock's writers, and a writer that
/// releases the lock while a reader waits hands it over (`parking_lot`'s eventual fairness), so
/// even a writer that takes the lock back at once — back-to-back insertions whose key's `Eq`
/// is slow — lets the marker in; only trying, the marker found such a map locked at nearly
/// every try, and the cycle never ended (module docs, "Locked collections"). The wait is
/// bounded, so a holder that waits for the collector still delays it only as long as it holds
/// the lock.
fn lock_patience(locked: Duration) -> Option<Duration> {
    (locked >= PATIENT_AFTER).then(|| locked.min(MOST_PATIENCE))
}

/// A mutator's mark assist: scan about `owed` bytes of grey objects, less what the workers'
/// credit pays meanwhile (see `credit.rs`). Returns whether it found work to do.
pub(crate) fn assist(rt: &Runtime, owed: usize) -> bool {
    if !rt.grey.has_work() {
        // The work is on the workers' private stacks: have one share some for next time.
        rt.grey.want_assist_work();
        return false;
    }
    let mut worker = MarkWorker::assisting(&rt.grey);
    worker.drain_owed(owed, &rt.assist_credit);
    let epoch = worker.visit.epoch();
    crate::mutator_marks::record_assisted(&mut worker.visit.logged, epoch);
    rt.assist_credit.add_assist(worker.work().marked_bytes);
    rt.stats.note_assist(worker.work(), worker.scanned_bytes);
    true
}

/// Mark the objects left on owners' queues by an exclusive job that was given up (see
/// `object/exclusive.rs`, "When forwarding dominates"), and the candidates mutators published
/// (see `shade.rs`), and queue those this turned grey. They were found white and are still
/// unmarked (marking them was their owner's part, or a worker's), so unlike the global queue's
/// entries they cannot simply be scanned. Only between drains, when no worker runs. Returns
/// the work: the bytes of those that had nothing to scan.
pub(crate) fn mark_forwarded_leftovers(queue: &GreyQueue) -> MarkWork {
    let mut worker = MarkWorker::new(queue);
    while let Some(buf) = queue.pop_any_unmarked() {
        // SAFETY: a forwarded object was found in a slot of an object scanned in this marking,
        // a candidate by a mutator in this marking: allocated; the worker is not part of an
        // exclusive job.
        unsafe { worker.mark_found(buf) };
    }
    worker.publish_all();
    worker.work()
}

/// Drop the queued candidates that are marked, keeping the others queued (world stopped, no
/// worker running): what a decided marking may still find queued (see `GreyQueue::clear`).
pub(crate) fn drop_marked_candidates(queue: &GreyQueue) {
    let epoch = clock::mark_epoch();
    // SAFETY: a candidate was recorded by a mutator in this marking, from a slot, root or
    // local: allocated, since nothing is freed before the marking ends.
    let white: Vec<ObjPtr> = queue
        .take_candidates()
        .into_iter()
        .filter(|o| !unsafe { crate::object::mark::is_marked(o.as_ptr(), epoch) })
        .collect();
    for chunk in white.chunks(BUFFER_CAP) {
        let mut buf = queue.empty_buffer();
        buf.extend_from_slice(chunk);
        queue.push_candidates(buf);
    }
}

/// Drain the global queue with `workers` threads (this one included; the others are the
/// persistent helpers of `pool.rs`) until marking is done as far as the queue can tell;
/// `in_pause`: inside a pause, with every mutator parked until the marking ends.
pub(crate) fn drain_parallel(rt: &'static Runtime, workers: usize, in_pause: bool) -> MarkWork {
    fn drain<const IN_PAUSE: bool>(rt: &'static Runtime, owner: usize) -> MarkWork {
        let mut w = MarkWorker::background(rt, owner, IN_PAUSE);
        w.drain_until_done();
        debug_assert!(w.visit.exclusive.as_ref().is_none_or(|x| x.forwarded() == 0), "outboxes published");
        w.publish_credit();
        w.work()
    }
    let drain: pool::Drain = if in_pause { drain::<true> } else { drain::<false> };
    if workers <= 1 {
        return drain(rt, 0);
    }
    rt.mark_pool.run(rt, workers - 1, pool::Wake::All, drain)
}

#[cfg(all(test, not(gc_loom)))]
mod tests {
    use super::*;
    use crate::{object::mark, test_support, Gc, Member, Trace};

    #[derive(Trace)]
    struct Node {
        next: Member<Node>,
    }

    fn obj<T>(g: Gc<'_, T>) -> ObjPtr {
        ObjPtr(std::ptr::NonNull::new(g.header_ptr()).expect("an object"))
    }

    fn marked(o: ObjPtr) -> bool {
        // SAFETY: `o` names a live local's object.
        unsafe { mark::is_marked(o.as_ptr(), clock::mark_epoch()) }
    }

    /// The marker only tries the locks for the first `PATIENT_AFTER`, then waits as long again
    /// as the objects have been locked, up to `MOST_PATIENCE`.
    #[test]
    fn the_marker_waits_for_locks_only_after_finding_them_locked_a_while() {
        let ms = Duration::from_millis;
        assert_eq!(lock_patience(Duration::ZERO), None);
        assert_eq!(lock_patience(PATIENT_AFTER - Duration::from_nanos(1)), None);
        assert_eq!(lock_patience(PATIENT_AFTER), Some(PATIENT_AFTER));
        assert_eq!(lock_patience(ms(7)), Some(ms(7)));
        assert_eq!(lock_patience(Duration::from_secs(3600)), Some(MOST_PATIENCE));
    }

    /// Candidates queued after a marking was decided: those marked are dropped, a white one
    /// stays queued (and keeps the queue from being done).
    #[test]
    fn only_the_white_candidates_stay_queued() {
        let _s = test_support::serial();
        let _clear = test_support::ClearMarks;
        let mu = crate::attach();
        let queue = GreyQueue::default();
        let [a, b, c] = [(); 3].map(|()| obj(mu.alloc(Node { next: Member::new() })));
        for o in [a, c] {
            // SAFETY: live locals' objects.
            assert!(unsafe { mark::try_mark(o.as_ptr(), clock::mark_epoch()) });
        }
        queue.push_candidates(vec![a, b, c]);
        drop_marked_candidates(&queue);
        assert!(!queue.is_done(), "the white candidate is grey work");
        assert_eq!(queue.take_candidates(), vec![b]);
        drop_marked_candidates(&queue);
        assert!(queue.is_done(), "nothing left");
    }

    /// A worker of an exclusive job that is given up stops at its next check, with everything
    /// it held — its stack, its prefetch ring — published on the global queue, from which a
    /// drain without owners marks the rest: each object scanned exactly once in all.
    #[test]
    fn a_worker_whose_job_is_given_up_publishes_what_it_holds_and_stops() {
        let _s = test_support::serial();
        let _clear = test_support::ClearMarks;
        let mu = crate::attach();
        let n = 4 * BALANCE_EVERY;
        let nodes: Vec<_> = (0..n).map(|_| mu.alloc(Node { next: Member::new() })).collect();
        for pair in nodes.windows(2) {
            pair[0].next.set(Some(pair[1]));
        }
        let queue = GreyQueue::default();
        let job = test_support::ExclusiveJob::begin();
        let mut w = MarkWorker::new(&queue);
        w.visit.exclusive = Some(Exclusive::new(job.0, 0));
        // SAFETY: a live local's object; this worker is the job's only one.
        unsafe { w.visit.mark_grey(obj(nodes[0])) };
        exclusive::give_up();
        assert!(w.drain_stack_for_test(usize::MAX), "it left nothing on its stack");
        let first = w.work().objects;
        assert!(first > 0 && first < n / 2, "stopped at its first check: {first} of {n} scanned");
        assert!(queue.has_work(), "what it held is on the global queue");
        drop(job);
        assert!(exclusive::given_up(), "the collector reads it after the job");
        let mut rest = MarkWorker::new(&queue);
        rest.drain_until_done();
        assert_eq!(first + rest.work().objects, n, "every node scanned exactly once");
        assert!(nodes.iter().all(|&g| marked(obj(g))));
        assert!(queue.is_done());
    }

    /// One scan that pushes a long run of grey objects — a `Vec<Member<_>>` of many elements,
    /// traced whole — leaves the stack at its spill mark at once, everything older given back
    /// to the global queue, so that the scans after it do not move a long stack down one buffer
    /// at a time (see `MarkWorker::spill`). Not under Miri: the spill is safe code, and the
    /// 4,096 objects it needs take Miri half a minute.
    #[test]
    #[cfg(not(miri))]
    fn a_stack_grown_long_by_one_scan_is_spilled_at_once() {
        #[derive(Trace)]
        struct Table {
            nodes: Vec<Member<Node>>,
        }
        let _s = test_support::serial();
        let _clear = test_support::ClearMarks;
        let mu = crate::attach();
        let n = 4 * SPILL_AT;
        let nodes: Vec<_> = (0..n).map(|_| mu.alloc(Node { next: Member::new() })).collect();
        let table = mu.alloc(Table { nodes: (0..n).map(|_| Member::new()).collect() });
        for (slot, &node) in table.nodes.iter().zip(&nodes) {
            slot.set(Some(node));
        }
        let queue = GreyQueue::default();
        let mut w = MarkWorker::new(&queue);
        // SAFETY: a live local's object.
        unsafe { w.visit.mark_grey(obj(table)) };
        w.drain_stack_for_test(1);
        assert_eq!(w.work().objects, 1, "the budget was the table alone");
        let kept = w.visit.stack.len();
        assert!(kept <= SPILL_AT + 32, "the stack was cut to its spill mark: {kept} of {n} left");
        assert!(queue.has_work(), "the rest is on the global queue");
        w.publish_all();
        let mut rest = MarkWorker::new(&queue);
        rest.drain_until_done();
        assert_eq!(rest.work().objects, n, "every node scanned exactly once");
        assert!(nodes.iter().all(|&g| marked(obj(g))));
    }

    /// An assist looks at the workers' credit after each unit it scans (or buffer it empties):
    /// credit enough for the rest of its debt ends it at the first look, leaving the other grey objects queued; without
    /// credit it scans its whole debt, and takes no credit.
    #[test]
    fn an_assist_stops_once_the_workers_credit_pays_the_rest_of_its_debt() {
        let _s = test_support::serial();
        let _clear = test_support::ClearMarks;
        let mu = crate::attach();
        let owed = 4 * ASSIST_UNIT;
        let nodes: Vec<_> = (0..16 * ASSIST_UNIT / 16).map(|_| mu.alloc(Node { next: Member::new() })).collect();
        let queue = GreyQueue::default();
        let mut w = MarkWorker::new(&queue);
        for &g in &nodes {
            // SAFETY: a live local's object.
            unsafe { w.visit.mark_grey(obj(g)) };
        }
        w.visit.settle_ring();
        w.publish_all();
        let credit = AssistCredit::default();
        credit.add_background(1 << 30);
        let mut paid = MarkWorker::new(&queue);
        paid.drain_owed(owed, &credit);
        let spent = paid.spent();
        assert!((1..=ASSIST_UNIT + 64).contains(&spent), "a buffer or a unit, then the credit paid: {spent} bytes");
        assert_eq!(credit.steal(usize::MAX), (1 << 30) - (owed - spent), "the credit paid the rest, and no more");
        assert!(queue.has_work(), "the other grey objects stay queued");
        let mut unpaid = MarkWorker::new(&queue);
        unpaid.drain_owed(owed, &credit);
        let spent = unpaid.spent();
        assert!((owed..owed + 64).contains(&spent), "no credit: the whole debt scanned: {spent} bytes");
        let mut rest = MarkWorker::new(&queue);
        rest.drain_until_done();
        let scanned = paid.work().objects + unpaid.work().objects + rest.work().objects;
        assert_eq!(scanned, nodes.len(), "every node scanned exactly once");
        assert!(nodes.iter().all(|&g| marked(obj(g))));
    }

    /// A worker that was waiting for work when its job was given up leaves no longer counted
    /// as waiting: otherwise the queue would want work for good, and every busy worker of
    /// every later drain would share half its stack at each check with nobody.
    #[test]
    fn a_waiting_worker_that_leaves_a_given_up_job_is_no_longer_counted_hungry() {
        let _s = test_support::serial();
        let _clear = test_support::ClearMarks;
        let mu = crate::attach();
        let n = obj(mu.alloc(Node { next: Member::new() }));
        let queue = GreyQueue::default();
        // Another worker is busy with a buffer: the queue is not quiescent, so this worker waits.
        queue.push_full(vec![n]);
        let held = queue.pop_busy().expect("the buffer");
        assert!(!queue.wants_work(), "nobody waits yet");
        let job = test_support::ExclusiveJob::begin();
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(std::time::Duration::from_millis(20));
                exclusive::give_up();
            });
            let mut w = MarkWorker::new(&queue);
            w.visit.exclusive = Some(Exclusive::new(job.0, 1));
            w.drain_until_done();
        });
        drop(job);
        let still_hungry = queue.wants_work();
        queue.recycle(held);
        queue.leave_busy();
        assert!(!still_hungry, "the worker left the job but is still counted hungry");
    }

    /// Objects left on owners' queues when a job is given up are still white: they are marked,
    /// and each one this turned grey is queued once — whether forwarded twice or already marked.
    #[test]
    fn objects_left_on_owners_queues_are_marked_and_those_turned_grey_queued_once() {
        let _s = test_support::serial();
        let _clear = test_support::ClearMarks;
        let mu = crate::attach();
        let [a, b, c] = [(); 3].map(|()| obj(mu.alloc(Node { next: Member::new() })));
        // SAFETY: a live local's object; nothing else marks.
        assert!(unsafe { mark::try_mark(a.as_ptr(), clock::mark_epoch()) });
        let queue = GreyQueue::default();
        queue.push_forwarded(0, vec![a, b]);
        queue.push_forwarded(1, vec![c, b]);
        mark_forwarded_leftovers(&queue);
        assert!([a, b, c].into_iter().all(marked));
        assert!(queue.pop_any_unmarked().is_none(), "the owners' queues are empty");
        let mut queued = Vec::new();
        while let Some(buf) = queue.pop_busy() {
            queued.extend_from_slice(&buf);
            queue.leave_busy();
        }
        queued.sort();
        let mut expected = vec![b, c];
        expected.sort();
        assert_eq!(queued, expected, "b and c turned grey here, once each; a was black already");
    }
}
