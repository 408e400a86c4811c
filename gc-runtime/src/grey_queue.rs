//! The shade queue's data structure: private buffers of grey objects and the global queue of
//! full buffers.
//!
//! # Structure
//!
//! Shading an object (white → grey; see [`crate::shade`]) records its address in the shading
//! thread's own [`ShadeBuffer`] with no synchronisation. A full buffer (256 entries) is pushed
//! whole onto the global [`GreyQueue`]; markers pop whole buffers and hand back the empty ones
//! for reuse, so the steady state allocates nothing (Go's `gcWork` and `workbuf`s on an
//! lfstack). The queue never looks inside its entries: it is generic over them, so the loom
//! models (`gc-loom-models`) run this very code with plain numbers for objects.
//!
//! # Why a lock-free segmented queue and not a hand-written Treiber stack
//!
//! The global list of full buffers is `crossbeam_queue::SegQueue`: lock-free, with memory
//! reclamation solved and model-checked upstream. Go uses a LIFO stack for cache locality; here
//! a buffer is the unit of work and the marker keeps its own LIFO stack inside a buffer, so
//! FIFO order between buffers costs nothing measurable and we avoid hand-writing an ABA-safe
//! stack.
//!
//! # Termination
//!
//! The queue alone cannot tell that marking is over: a mutator may hold grey objects in its
//! private buffer. The collector asks every mutator to flush (a ragged handshake) and then
//! re-checks with the world stopped; see `collector/mod.rs`.
//!
//! Among mark workers, "quiescent" means: the queue is empty and no worker holds grey objects
//! outside it (a marker between taking a buffer and finishing it, an assist). Two separate
//! reads — "queue empty", then "nobody busy" — are not enough: a busy worker can publish new
//! work and leave the busy state between them, and the reader stops early while work is
//! queued (the loom model `shade_queue` finds that schedule). So the busy word counts busy
//! workers in its low half and *entries* into the busy state in its high half, a worker becomes
//! busy *before* it takes a buffer, and [`GreyQueue::is_quiescent`] reads the word, the queue,
//! and the word again: if the word is unchanged and shows nobody busy, nobody took or published
//! work in between, so the queue was empty with nobody busy at the moment it was read. A pop
//! that finds nothing undoes its entry, so idle workers polling the queue do not disturb each
//! other's checks.
//!
//! # Ragged termination
//!
//! With per-thread handshakes the collector decides that marking is over without stopping
//! the world (see `collector/mod.rs`, "Termination without a pause"). It needs to know that no
//! grey work was created or taken up during a whole handshake round, not only that the queue is
//! empty at its end: [`GreyQueue::stamp`] pairs the whole busy word — the entry count (work
//! taken) *and* the number of workers busy — with a count of buffers published (work created
//! where another thread can see it). The counts only grow while work moves (a pop that finds
//! nothing undoes its entry), so an unchanged stamp across the round means that nobody
//! published or took a buffer in it — and, with the queue done at its end (nobody busy then),
//! that nobody held grey work at its start either. The busy count is part of the stamp for
//! that last clause: a worker or assist that took grey work *before* the round and finished
//! scanning it during the round moves no entry count, yet a mutator that answered early may
//! have shaded, into its private buffer, an object whose only grey protector was in that
//! worker's hands (the loom control `ragged termination: Dijkstra, stamp without busy count`
//! finds that schedule).
//!
//! # Forwarded objects
//!
//! In an exclusive job (a drain inside a pause, or by default any drain of a concurrent cycle;
//! see `object/exclusive.rs`) each mark bit has one owner, and a worker that finds a white
//! object in memory another worker owns publishes it on that owner's own queue
//! ([`GreyQueue::push_forwarded`]), unmarked; only the owner takes from it
//! ([`GreyQueue::pop_forwarded_busy`]) — or, after a job was given up and every worker has
//! returned, the collector ([`GreyQueue::pop_any_unmarked`]). These queues are grey work like
//! the global one: published while busy, taken after entering the busy state, and read by the
//! quiescence test between its two reads of the busy word.
//!
//! # Candidates
//!
//! Mutators do not mark: a barrier, a weak read, a root store or a scan of a value stack that
//! finds a white object records it, unmarked, in the thread's [`ShadeBuffer`] of *candidates*,
//! which it publishes as a buffer on the candidates queue ([`GreyQueue::push_candidates`]). Mark
//! workers take such buffers ([`GreyQueue::pop_candidates_busy`]) and mark each object as they
//! mark what they find, turning the white ones grey; between drains the collector does
//! ([`GreyQueue::pop_any_unmarked`]). So the mark bits have no writers on mutator threads but
//! allocation and mark assists, whose marks are logged (see `mark_bits.rs`, "Who writes the
//! bits"), and a drain can be an exclusive job while mutators run (see `object/exclusive.rs`). Candidates are grey work like the rest:
//! published and taken as the forwarded buffers are, and read by the quiescence test.
//!
//! # Deferred objects
//!
//! A grey object that could not be traced because another thread holds a lock inside it (a
//! GC collection being written; see `collections/mod.rs`) is *deferred*: a worker puts it on a
//! separate list instead of waiting for the lock. It is still grey work: marking is finished
//! only when the queue is quiescent **and** nothing is deferred ([`GreyQueue::is_done`]). Workers
//! come back to deferred objects when the queue runs dry ([`GreyQueue::take_deferred_busy`], which
//! enters the busy state like a pop, so the quiescence argument above covers it).
//!
//! # Ephemeron holders
//!
//! An object traced while one of its weak-map entries had an unmarked key (see
//! `collections/weak_map.rs`) is not grey work — it is scanned — but it may owe a value to the
//! marking if that key turns black later. Workers note such objects on one more list
//! ([`GreyQueue::note_ephemeron_holder`]); the collector looks at them again, with the queue
//! done, before it decides that marking is over (`marker::resolve_ephemerons`).

use crate::primitive::sync::{
    atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    Mutex, SegQueue,
};

/// Entries per buffer.
pub(crate) const BUFFER_CAP: usize = 256;

/// Owners' queues of forwarded objects: one per worker an exclusive job may take (see "Forwarded
/// objects"). Two under loom, whose models have at most two workers.
pub(crate) const OWNER_QUEUES: usize = if cfg!(gc_loom) { 2 } else { 64 };

/// A private buffer of grey objects, or of candidates (see "Candidates").
pub(crate) struct ShadeBuffer<T> {
    items: Vec<T>,
    /// Whether the entries are candidates (unmarked), published on the candidates queue.
    candidates: bool,
}

impl<T> Default for ShadeBuffer<T> {
    /// A buffer of grey objects, published on the global queue.
    fn default() -> Self {
        ShadeBuffer { items: Vec::new(), candidates: false }
    }
}

/// The global queue of full buffers, the pool of empty ones, and the busy count.
pub(crate) struct GreyQueue<T> {
    full: SegQueue<Vec<T>>,
    /// Each owner's queue of forwarded objects (see "Forwarded objects").
    forwarded: Box<[SegQueue<Vec<T>>]>,
    /// Buffers on the owners' queues: counted up before a push, down after a pop, so never
    /// below what the queues hold. Read only while no worker drains, when every push and pop
    /// happened before the read (the pool's lock orders a job's end before the collector's
    /// next step): then zero means every owner's queue is empty, and the collector's look for
    /// leftovers after each drain ([`GreyQueue::pop_any_unmarked`]) skips the
    /// [`OWNER_QUEUES`] queues instead of popping each.
    forwarded_waiting: AtomicUsize,
    /// Buffers of candidates, for any worker to mark (see "Candidates").
    candidates: SegQueue<Vec<T>>,
    empty: SegQueue<Vec<T>>,
    /// Low 32 bits: workers busy; high 32 bits: entries into the busy state (wrapping; an
    /// exact repeat needs 2^32 entries between the two reads of one check).
    busy: AtomicU64,
    /// Workers waiting for work; busy workers with a private backlog share it when this is
    /// non-zero and the queue is empty (see [`GreyQueue::wants_work`]).
    hungry: AtomicUsize,
    /// Set by a mark assist that found the queue empty: the next busy worker to check shares
    /// part of its backlog, so the assist's next attempt finds work.
    assist_wanted: AtomicBool,
    /// Objects whose tracing found a lock taken (see "Deferred objects").
    deferred: Mutex<Vec<T>>,
    /// `deferred.len()`, readable without the lock.
    deferred_len: AtomicUsize,
    /// Buffers published so far (see "Ragged termination").
    published: AtomicU64,
    /// Objects with ephemeron entries whose keys were unmarked when traced (see "Ephemeron
    /// holders"); may hold duplicates.
    ephemeron_holders: Mutex<Vec<T>>,
}

const ONE_BUSY: u64 = 1;
const ONE_ENTRY: u64 = 1 << 32;
const BUSY_MASK: u64 = ONE_ENTRY - 1;

impl<T> Default for GreyQueue<T> {
    fn default() -> Self {
        GreyQueue {
            full: SegQueue::default(),
            forwarded: (0..OWNER_QUEUES).map(|_| SegQueue::default()).collect(),
            forwarded_waiting: AtomicUsize::new(0),
            candidates: SegQueue::default(),
            empty: SegQueue::default(),
            busy: AtomicU64::new(0),
            hungry: AtomicUsize::new(0),
            assist_wanted: AtomicBool::new(false),
            deferred: Mutex::new(Vec::new()),
            deferred_len: AtomicUsize::new(0),
            published: AtomicU64::new(0),
            ephemeron_holders: Mutex::new(Vec::new()),
        }
    }
}

impl<T> GreyQueue<T> {
    /// A fresh or recycled empty buffer.
    pub(crate) fn empty_buffer(&self) -> Vec<T> {
        self.empty.pop().unwrap_or_else(|| Vec::with_capacity(BUFFER_CAP))
    }

    /// Publish a non-empty buffer of grey objects.
    pub(crate) fn push_full(&self, buf: Vec<T>) {
        debug_assert!(!buf.is_empty());
        self.full.push(buf);
        // SeqCst: read by `stamp` in the same total order as the busy word.
        self.published.fetch_add(1, Ordering::SeqCst);
    }

    /// Publish a non-empty buffer of objects forwarded to worker `owner` of an exclusive job
    /// (the caller is busy; see "Forwarded objects").
    pub(crate) fn push_forwarded(&self, owner: usize, buf: Vec<T>) {
        debug_assert!(!buf.is_empty());
        self.forwarded_waiting.fetch_add(1, Ordering::Relaxed);
        self.forwarded[owner].push(buf);
        // SeqCst: as in `push_full`.
        self.published.fetch_add(1, Ordering::SeqCst);
    }

    /// Become busy and take a buffer forwarded to worker `owner`; on `None` the caller is not
    /// busy.
    pub(crate) fn pop_forwarded_busy(&self, owner: usize) -> Option<Vec<T>> {
        // SeqCst: as in `pop_busy`.
        self.busy.fetch_add(ONE_BUSY + ONE_ENTRY, Ordering::SeqCst);
        let b = self.forwarded[owner].pop();
        match b {
            Some(_) => self.taken_forwarded(),
            None => {
                self.busy.fetch_sub(ONE_BUSY + ONE_ENTRY, Ordering::SeqCst);
            }
        }
        b
    }

    /// Count a buffer taken from an owner's queue (see `forwarded_waiting`).
    fn taken_forwarded(&self) {
        self.forwarded_waiting.fetch_sub(1, Ordering::Relaxed);
    }

    /// Whether a buffer waits in worker `owner`'s queue of forwarded objects (a hint: one may
    /// arrive right after).
    #[inline]
    pub(crate) fn has_forwarded(&self, owner: usize) -> bool {
        !self.forwarded[owner].is_empty()
    }

    /// Publish a non-empty buffer of candidates (see "Candidates").
    pub(crate) fn push_candidates(&self, buf: Vec<T>) {
        debug_assert!(!buf.is_empty());
        self.candidates.push(buf);
        // SeqCst: as in `push_full`.
        self.published.fetch_add(1, Ordering::SeqCst);
    }

    /// Become busy and take a buffer of candidates; on `None` the caller is not busy.
    pub(crate) fn pop_candidates_busy(&self) -> Option<Vec<T>> {
        // SeqCst: as in `pop_busy`.
        self.busy.fetch_add(ONE_BUSY + ONE_ENTRY, Ordering::SeqCst);
        let b = self.candidates.pop();
        if b.is_none() {
            self.busy.fetch_sub(ONE_BUSY + ONE_ENTRY, Ordering::SeqCst);
        }
        b
    }

    /// Whether a buffer of candidates waits (a hint, as [`GreyQueue::has_forwarded`]).
    #[inline]
    pub(crate) fn has_candidates(&self) -> bool {
        !self.candidates.is_empty()
    }

    /// No buffer in the global queue, in any owner's queue, nor of candidates.
    fn queues_empty(&self) -> bool {
        self.full.is_empty() && self.candidates.is_empty() && self.forwarded.iter().all(SegQueue::is_empty)
    }

    /// Return an emptied buffer for reuse.
    pub(crate) fn recycle(&self, mut buf: Vec<T>) {
        buf.clear();
        if buf.capacity() >= BUFFER_CAP && self.empty.len() < 1024 {
            self.empty.push(buf);
        }
    }

    /// Become busy and take a buffer; on `None` the caller is not busy.
    pub(crate) fn pop_busy(&self) -> Option<Vec<T>> {
        // SeqCst, with `is_quiescent`: see "Termination" in the module header.
        self.busy.fetch_add(ONE_BUSY + ONE_ENTRY, Ordering::SeqCst);
        let b = self.full.pop();
        if b.is_none() {
            // Nothing taken: undo the entry too (see "Termination").
            self.busy.fetch_sub(ONE_BUSY + ONE_ENTRY, Ordering::SeqCst);
        }
        b
    }

    /// Leave the busy state (after everything taken has been scanned or pushed back).
    pub(crate) fn leave_busy(&self) {
        self.busy.fetch_sub(ONE_BUSY, Ordering::SeqCst);
    }

    /// No buffer in the queue and no worker holding grey objects outside it.
    pub(crate) fn is_quiescent(&self) -> bool {
        // SeqCst throughout: the three reads and every update of the word are in one total
        // order with the queue operations (see "Termination").
        let before = self.busy.load(Ordering::SeqCst);
        before & BUSY_MASK == 0 && self.queues_empty() && self.busy.load(Ordering::SeqCst) == before
    }

    /// Put aside an object that could not be traced now (the caller is busy with it).
    pub(crate) fn defer(&self, obj: T) {
        let mut d = self.deferred.lock();
        d.push(obj);
        // SeqCst: read by `is_done` after the queue check, in the same total order as the
        // busy word (see "Termination").
        self.deferred_len.store(d.len(), Ordering::SeqCst);
    }

    /// Note an object that holds ephemeron entries with unmarked keys (see "Ephemeron
    /// holders").
    pub(crate) fn note_ephemeron_holder(&self, obj: T) {
        self.ephemeron_holders.lock().push(obj);
    }

    /// The objects noted by [`GreyQueue::note_ephemeron_holder`] in this marking, each once.
    pub(crate) fn ephemeron_holders(&self) -> Vec<T>
    where
        T: Ord + Copy,
    {
        let mut holders = self.ephemeron_holders.lock();
        holders.sort_unstable();
        holders.dedup();
        holders.clone()
    }

    /// Forget the ephemeron holders: the marking that noted them is over (or beginning).
    pub(crate) fn clear_ephemeron_holders(&self) {
        let mut holders = self.ephemeron_holders.lock();
        holders.clear();
        holders.shrink_to(BUFFER_CAP);
    }

    /// Whether some object is deferred.
    pub(crate) fn has_deferred(&self) -> bool {
        self.deferred_len.load(Ordering::SeqCst) != 0
    }

    /// Become busy and take every deferred object; on `None` the caller is not busy.
    pub(crate) fn take_deferred_busy(&self) -> Option<Vec<T>> {
        self.busy.fetch_add(ONE_BUSY + ONE_ENTRY, Ordering::SeqCst);
        let taken = {
            let mut d = self.deferred.lock();
            self.deferred_len.store(0, Ordering::SeqCst);
            std::mem::take(&mut *d)
        };
        if taken.is_empty() {
            self.busy.fetch_sub(ONE_BUSY + ONE_ENTRY, Ordering::SeqCst);
            return None;
        }
        Some(taken)
    }

    /// Marking is complete as far as the queue can tell: quiescent, and nothing deferred.
    pub(crate) fn is_done(&self) -> bool {
        let before = self.busy.load(Ordering::SeqCst);
        before & BUSY_MASK == 0
            && self.queues_empty()
            && !self.has_deferred()
            && self.busy.load(Ordering::SeqCst) == before
    }

    /// A stamp that changes whenever grey work is published, taken up or finished: buffers
    /// published, and the busy word (entries into the busy state that took work, and workers
    /// busy now; see "Ragged termination").
    pub(crate) fn stamp(&self) -> (u64, u64) {
        (self.busy.load(Ordering::SeqCst), self.published.load(Ordering::SeqCst))
    }

    /// A worker found no buffer and waits for one (until [`GreyQueue::fed`]).
    pub(crate) fn hungry(&self) {
        self.hungry.fetch_add(1, Ordering::Relaxed);
    }

    /// A waiting worker got work or stopped waiting.
    pub(crate) fn fed(&self) {
        self.hungry.fetch_sub(1, Ordering::Relaxed);
    }

    /// Whether a worker waits, or an assist wanted work, while the queue is empty: a busy
    /// worker should publish part of its private backlog (Go's `gcWork.balance`). A hint only,
    /// read every few dozen objects.
    #[inline]
    pub(crate) fn wants_work(&self) -> bool {
        // Relaxed: a stale answer only delays or hastens sharing by one check.
        (self.hungry.load(Ordering::Relaxed) != 0 || self.assist_wanted.load(Ordering::Relaxed)) && self.full.is_empty()
    }

    /// A mark assist found nothing to take: ask busy workers to share (see
    /// [`GreyQueue::wants_work`]); the flag is cleared when a worker shares.
    pub(crate) fn want_assist_work(&self) {
        // Relaxed: a hint, as in `wants_work`.
        if !self.assist_wanted.load(Ordering::Relaxed) {
            self.assist_wanted.store(true, Ordering::Relaxed);
        }
    }

    /// A worker shared part of its backlog: assists are served.
    pub(crate) fn shared(&self) {
        if self.assist_wanted.load(Ordering::Relaxed) {
            self.assist_wanted.store(false, Ordering::Relaxed);
        }
    }

    /// Take a buffer of unmarked objects — forwarded to any owner, or candidates — for the
    /// collector between drains (see `object/exclusive.rs`, "When forwarding dominates", and
    /// "Candidates"); only while no worker drains.
    pub(crate) fn pop_any_unmarked(&self) -> Option<Vec<T>> {
        if self.forwarded_waiting.load(Ordering::Relaxed) > 0 {
            if let Some(b) = self.forwarded.iter().find_map(SegQueue::pop) {
                self.taken_forwarded();
                return Some(b);
            }
        }
        self.candidates.pop()
    }

    /// Whether there are buffers to take.
    pub(crate) fn has_work(&self) -> bool {
        !self.full.is_empty()
    }

    /// Drop every queued buffer and deferred object (only between cycles, when every entry is
    /// already black). Returns the grey objects dropped (queued, forwarded or deferred), and
    /// apart the candidates: a mutator may record one after the marking was decided, of an
    /// object whose mark a drain had undone and the collector had not yet set again (see
    /// `mutator_marks.rs`), and publish it later — harmless, the object is marked.
    pub(crate) fn clear(&self) -> (usize, usize) {
        let mut n = 0;
        for q in std::iter::once(&self.full).chain(self.forwarded.iter()) {
            while let Some(b) = q.pop() {
                n += b.len();
                self.recycle(b);
            }
        }
        self.forwarded_waiting.store(0, Ordering::Relaxed);
        let candidates = self.take_candidates().len();
        let mut d = self.deferred.lock();
        n += d.len();
        d.clear();
        self.deferred_len.store(0, Ordering::SeqCst);
        self.ephemeron_holders.lock().clear();
        (n, candidates)
    }

    /// Take every queued candidate, without entering the busy state: only while no worker
    /// drains and no mutator runs, or between cycles.
    pub(crate) fn take_candidates(&self) -> Vec<T> {
        let mut all = Vec::new();
        while let Some(mut b) = self.candidates.pop() {
            all.append(&mut b);
            self.recycle(b);
        }
        all
    }
}

impl<T> ShadeBuffer<T> {
    /// A buffer of candidates, published on the candidates queue (see "Candidates").
    pub(crate) fn of_candidates() -> Self {
        ShadeBuffer { items: Vec::new(), candidates: true }
    }

    /// The entry recorded last, if the buffer holds any.
    #[inline]
    pub(crate) fn last(&self) -> Option<&T> {
        self.items.last()
    }

    /// Record a grey object (or a candidate), publishing the buffer when it fills.
    #[inline]
    pub(crate) fn push(&mut self, obj: T, queue: &GreyQueue<T>) {
        if self.items.capacity() == 0 {
            self.items = queue.empty_buffer();
        }
        self.items.push(obj);
        if self.items.len() >= BUFFER_CAP {
            self.flush(queue);
        }
    }

    /// Publish whatever the buffer holds.
    pub(crate) fn flush(&mut self, queue: &GreyQueue<T>) {
        if !self.items.is_empty() {
            let full = std::mem::replace(&mut self.items, queue.empty_buffer());
            if self.candidates {
                queue.push_candidates(full);
            } else {
                queue.push_full(full);
            }
        }
    }
}

#[cfg(all(test, not(gc_loom)))]
mod tests {
    use super::*;
    use crate::object::{Header, ObjPtr};

    fn fake(i: usize) -> ObjPtr {
        // Addresses only: the queue never dereferences them.
        ObjPtr(std::ptr::NonNull::new(std::ptr::without_provenance_mut::<Header>(16 * (i + 1))).unwrap())
    }

    /// The collector's look for leftovers finds every buffer forwarded and not taken by its
    /// owner, on any owner's queue, after owners took some, after a clear, and candidates after
    /// them; and nothing once they are all taken.
    #[test]
    fn leftovers_are_every_forwarded_buffer_no_owner_took_then_the_candidates() {
        let q = GreyQueue::<ObjPtr>::default();
        let last = OWNER_QUEUES - 1;
        q.push_forwarded(0, vec![fake(1)]);
        q.push_forwarded(last, vec![fake(2)]);
        q.push_forwarded(last, vec![fake(3)]);
        q.push_candidates(vec![fake(4)]);
        assert_eq!(q.pop_forwarded_busy(last).unwrap(), [fake(2)], "owner {last} takes its first buffer");
        q.leave_busy();
        assert!(q.pop_forwarded_busy(1).is_none());
        let mut left = Vec::new();
        while let Some(b) = q.pop_any_unmarked() {
            left.extend(b);
        }
        assert_eq!(left, [fake(1), fake(3), fake(4)], "the owners' leftovers, then the candidates");
        q.push_forwarded(5, vec![fake(5)]);
        assert_eq!(q.pop_any_unmarked().unwrap(), [fake(5)], "a buffer forwarded later is found too");
        q.push_forwarded(6, vec![fake(6)]);
        q.clear();
        assert!(q.pop_any_unmarked().is_none(), "a clear empties the owners' queues");
        q.push_forwarded(7, vec![fake(7)]);
        assert_eq!(q.pop_any_unmarked().unwrap(), [fake(7)], "and a buffer forwarded after it is found");
        assert!(q.pop_any_unmarked().is_none());
    }

    #[test]
    fn full_buffers_reach_the_queue_and_quiescence_counts_busy_workers() {
        let q = GreyQueue::<ObjPtr>::default();
        let mut buf = ShadeBuffer::default();
        assert!(q.is_quiescent());
        for i in 0..BUFFER_CAP + 3 {
            buf.push(fake(i), &q);
        }
        assert!(q.has_work(), "a full buffer was published");
        assert!(!q.is_quiescent());
        buf.flush(&q);
        let first = q.pop_busy().unwrap();
        assert_eq!(first.len(), BUFFER_CAP);
        let second = q.pop_busy().unwrap();
        assert_eq!(second.len(), 3);
        assert!(!q.has_work());
        assert!(!q.is_quiescent(), "two workers hold grey objects");
        q.recycle(first);
        q.leave_busy();
        q.recycle(second);
        assert!(!q.is_quiescent());
        q.leave_busy();
        assert!(q.is_quiescent());
        assert!(q.pop_busy().is_none());
        assert!(q.is_quiescent(), "a failed pop leaves nobody busy");
        assert_eq!(q.empty_buffer().capacity(), BUFFER_CAP, "recycled buffers are reused");
    }

    #[test]
    fn deferred_objects_keep_marking_unfinished_until_taken_and_done() {
        let q = GreyQueue::<ObjPtr>::default();
        assert!(q.is_done());
        let mut b = q.pop_busy();
        assert!(b.is_none());
        q.defer(fake(1));
        assert!(q.is_quiescent(), "nothing queued, nobody busy");
        assert!(!q.is_done(), "but an object is deferred");
        b = q.take_deferred_busy();
        assert_eq!(b.as_deref(), Some(&[fake(1)][..]));
        assert!(!q.has_deferred());
        assert!(!q.is_done(), "the taker is busy with it");
        q.defer(fake(1)); // still locked: deferred again
        q.leave_busy();
        assert!(!q.is_done());
        assert_eq!(q.take_deferred_busy().map(|v| v.len()), Some(1));
        q.leave_busy();
        assert!(q.is_done());
        assert!(q.take_deferred_busy().is_none(), "an empty take leaves nobody busy");
        assert!(q.is_done());
    }

    #[test]
    fn clear_discards_queued_entries() {
        let q = GreyQueue::<ObjPtr>::default();
        let mut buf = ShadeBuffer::default();
        for i in 0..10 {
            buf.push(fake(i), &q);
        }
        buf.flush(&q);
        assert_eq!(q.clear(), (10, 0));
        assert!(q.is_quiescent());
    }

    #[test]
    fn the_stamp_moves_when_work_is_published_taken_or_finished_and_not_on_a_failed_pop() {
        let q = GreyQueue::<ObjPtr>::default();
        let mut buf = ShadeBuffer::default();
        let s0 = q.stamp();
        assert!(q.pop_busy().is_none());
        assert_eq!(q.stamp(), s0, "a pop that found nothing undoes its entry");
        buf.push(fake(0), &q);
        assert_eq!(q.stamp(), s0, "a private shade is not visible");
        buf.flush(&q);
        let s1 = q.stamp();
        assert_ne!(s1, s0, "a publication moves the stamp");
        let taken = q.pop_busy().unwrap();
        let s2 = q.stamp();
        assert_ne!(s2, s1, "taking work moves the stamp");
        q.recycle(taken);
        q.leave_busy();
        // A worker busy since before `s2` finished: the entry count is what it was at `s2`,
        // the busy count is not (see "Ragged termination").
        assert!(q.is_done());
        assert_ne!(q.stamp(), s2, "finishing work moves the stamp");
    }
}
