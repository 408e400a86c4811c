//! The marker's step per slot: what a mark worker does with each pointer a traced object
//! reports.
//!
//! The worker's private state — its stack of grey objects and its prefetch ring — lives in a
//! [`MarkVisitor`], which [`Tracer`] knows by its concrete type: when a type's
//! `trace` (monomorphised in its descriptor's trace function) reports a slot to the marker, the
//! call is a direct, inlined one, not a call through a vtable per slot. The run of one type
//! (below) loops around it; the loops around the runs (taking work from the queue, sharing it,
//! budgets) are `marker/mod.rs`'s.
//!
//! # Prefetching
//!
//! Marking is bound by memory latency: the first read of a newly found object's header misses
//! the cache. Marking it does not read it (its bit is beside it, see `mark_bits.rs`), so a
//! found pointer is marked at once, and only if that made it grey is its header prefetched and
//! the pointer put in a small FIFO ring. When it leaves the ring, [`PREFETCH_DISTANCE`] grey
//! finds later, its header has usually arrived: the worker reads its descriptor and pushes it
//! if it has fields to scan (the FIFO prefetch buffer of Cher, Hosking and Vijaykumar, 2004).
//! The stack and the ring are private to one worker; the worker empties the ring
//! ([`MarkVisitor::settle_ring`]) before it stops or leaves the busy state, so nothing found is
//! lost.
//!
//! # Runs of one type
//!
//! A heap is mostly made of many objects of a few types (tree nodes, list cells, a VM's
//! closures), and a depth-first marker pops them in long stretches of one type. A type's
//! descriptor holds [`mark_run`] for it: it scans an object with the type's `trace` inlined,
//! then — while the top of the stack is an object of the same type ([`same_run`]) — pops and
//! scans that one too, without returning. So the common case costs no call per object (a call's
//! saving and restoring of registers, and the worker's loop around it, cost as much as the
//! scan of a two-slot node), and the worker's checks between objects — budget, balance, spill
//! — are made once per run, under limits it passes in ([`RunLimits`]).

use std::time::Duration;

use super::{
    exclusive::{self, Exclusive},
    header::{GcBox, Header, ObjPtr, TypeDesc},
    mark,
    trace::{Trace, Tracer},
};
use crate::{
    mark_bits::Runs,
    primitive::sync::atomic::{AtomicPtr, Ordering},
    slot::is_object,
};

/// Grey objects found but not yet pushed, whose headers are being prefetched. (With marks
/// beside the objects, 32 marked 4M tree nodes at 97–101M objects/s against 86–88M with 16;
/// 64 gained nothing more.)
const PREFETCH_DISTANCE: usize = 32;

/// A FIFO of grey objects: each is prefetched when it enters and pushed (or counted as black)
/// when it leaves, `PREFETCH_DISTANCE` grey finds later.
///
/// The entries are always the `len` slots before `next` (modulo the distance): one goes in at
/// `next`, which is free unless the ring is full (then its occupant, the oldest, comes out),
/// and [`take_oldest`](Self::take_oldest) takes the first of them. So taking the oldest is one
/// index, not a search of the ring: a worker whose stack runs empty at every object — a linked
/// list, where each object leads to one more — takes from a ring of one entry each time (the
/// search of 32 slots it replaced was a fifth of the marking's instructions there).
struct PrefetchRing {
    slots: [Option<ObjPtr>; PREFETCH_DISTANCE],
    /// Counts entries put in; the next slot is this modulo `PREFETCH_DISTANCE` (a power of two,
    /// so indexing is a mask and needs no bounds check).
    next: usize,
    /// Entries in the ring.
    len: usize,
}

const _: () = assert!(PREFETCH_DISTANCE.is_power_of_two());

impl PrefetchRing {
    fn new() -> Self {
        PrefetchRing { slots: [None; PREFETCH_DISTANCE], next: 0, len: 0 }
    }

    /// Put `obj` in (prefetching its header) and return the object it displaces, if any.
    #[inline(always)]
    fn exchange(&mut self, obj: ObjPtr) -> Option<ObjPtr> {
        crate::prefetch::prefetch_read(obj.as_ptr());
        // Slots are 8-aligned, so a small object may straddle two cache lines: fetch the line
        // of its third word too (the same line for most objects; a 24-byte object's last slot).
        crate::prefetch::prefetch_read(obj.as_ptr().cast::<u8>().wrapping_add(16));
        let out = self.slots[self.next % PREFETCH_DISTANCE].replace(obj);
        self.next = self.next.wrapping_add(1);
        if out.is_none() {
            self.len += 1;
        }
        out
    }

    /// Take the oldest object out, if any.
    #[inline]
    fn take_oldest(&mut self) -> Option<ObjPtr> {
        if self.len == 0 {
            return None;
        }
        let oldest = self.next.wrapping_sub(self.len) % PREFETCH_DISTANCE;
        self.len -= 1;
        let out = self.slots[oldest].take();
        debug_assert!(out.is_some(), "the ring's entries are the `len` slots before `next`");
        out
    }
}

/// What the visit of one object found besides its slots: bits of [`MarkVisitor::notes`], all
/// cleared before each object, so that the worker tests one byte after the common visit, which
/// found none of them.
pub(crate) mod note {
    /// Part of the object was skipped because a lock was taken (see `marker/mod.rs`, "Locked
    /// collections").
    pub(crate) const LOCKED: u8 = 1;
    /// A collection in the object was scanned only in part, a chunk of it (see
    /// `object/scan_cursor.rs`): the worker must come back for the rest.
    pub(crate) const MORE: u8 = 2;
    /// The object holds an ephemeron entry whose key was unmarked: it must be looked at again
    /// before marking ends (see `marker::resolve_ephemerons`).
    pub(crate) const EPHEMERONS_PENDING: u8 = 4;
}

/// A mark worker's private state: its grey stack and prefetch ring, and what it marked.
pub(crate) struct MarkVisitor {
    epoch: u64,
    /// Where the runs are, read when the visitor was made (see `mark_bits::Runs`: a copy from
    /// before the arena existed is still right, only slower).
    runs: Runs,
    /// Grey objects to scan, newest last.
    pub(crate) stack: Vec<ObjPtr>,
    ring: PrefetchRing,
    /// Bytes of objects this worker marked that have nothing to scan (black at once).
    pub(crate) leaf_bytes: usize,
    /// What the visit of the object being traced found besides its slots (bits of [`note`]).
    pub(crate) notes: u8,
    /// This worker's part in an exclusive job, if it marks in one (see `object/exclusive.rs`).
    pub(crate) exclusive: Option<Exclusive>,
    /// Whether this visitor records each object it marks in `logged`: a mutator's mark assist,
    /// whose marks an exclusive drain may undo (see `mutator_marks.rs`).
    logs_marks: bool,
    /// The objects marked so far (with `logs_marks`), for the assist to record.
    pub(crate) logged: Vec<ObjPtr>,
    /// Bytes that the collections this worker scanned own outside the heap, reported on each
    /// one's first visit of the marking (see `owned_bytes.rs`).
    pub(crate) owned_bytes: usize,
    /// How long a collection's `trace` may wait for its read lock, if at all: set while a mark
    /// worker retries objects it found locked again and again, so a writer that takes the lock
    /// back to back cannot keep it from the marker for ever (see `marker/mod.rs`, "Locked
    /// collections").
    pub(crate) lock_patience: Option<Duration>,
    /// How many chunks the visit of the collection being traced claims: one, or more if the
    /// marker had to wait for its lock (see `object/scan_cursor.rs`, `PATIENT_CHUNKS`).
    pub(crate) chunks_earned: usize,
}

impl MarkVisitor {
    /// A visitor that marks for `epoch`.
    pub(crate) fn new(epoch: u64) -> Self {
        MarkVisitor {
            epoch,
            runs: Runs::now(),
            stack: Vec::new(),
            ring: PrefetchRing::new(),
            leaf_bytes: 0,
            notes: 0,
            exclusive: None,
            logs_marks: false,
            logged: Vec::new(),
            owned_bytes: 0,
            lock_patience: None,
            chunks_earned: 1,
        }
    }

    /// A visitor that records each object it marks, for a mutator's mark assist (see
    /// `mutator_marks.rs`).
    pub(crate) fn logging_marks(epoch: u64) -> Self {
        MarkVisitor { logs_marks: true, ..MarkVisitor::new(epoch) }
    }

    /// How long a collection's `trace` may wait for its read lock now ([`Self::lock_patience`]),
    /// or `None` once this worker's exclusive job is given up or ended: a thread that wants to
    /// run gives up an idle stop's job and waits for the workers to hand their work back, so
    /// none of them may go on waiting for a lock (a hostile review saw such a thread wait
    /// 260 ms while threads without a mutator hammered sixteen vectors' locks).
    pub(crate) fn patience_now(&self) -> Option<Duration> {
        let job_over = self.exclusive.is_some() && (exclusive::given_up() || exclusive::ended());
        self.lock_patience.filter(|_| !job_over)
    }

    /// The epoch of the marking this visitor marks for.
    #[inline]
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// A slot of the object being traced: if it holds an object, mark it; if that made it
    /// grey, prefetch its header and queue it in the ring, and settle the object the ring hands
    /// back.
    #[inline(always)]
    pub(crate) fn visit_slot(&mut self, slot: &AtomicPtr<Header>) {
        // Acquire: pairs with the barrier's Release store (publication ordering).
        let p = slot.load(Ordering::Acquire);
        if is_object(p) {
            // SAFETY: `is_object` is false for null.
            let obj = ObjPtr(unsafe { std::ptr::NonNull::new_unchecked(p) });
            // SAFETY: `p` was loaded from a slot of an object scanned in this cycle (hence
            // allocated), and objects are not freed while marking runs; a visitor with an
            // exclusive part traces only inside its job's drain.
            unsafe { self.mark_grey(obj) };
        }
    }

    /// An ephemeron entry of the object being traced: its value is a slot to visit if `key`
    /// is marked; otherwise the object is noted as pending.
    #[inline]
    pub(crate) fn visit_ephemeron(&mut self, key: *const Header, value: &AtomicPtr<Header>) {
        // SAFETY: an entry's key is allocated (`Tracer::report_ephemeron`).
        if unsafe { mark::is_marked(key, self.epoch) } {
            self.visit_slot(value);
        } else {
            self.notes |= note::EPHEMERONS_PENDING;
        }
    }

    /// Mark `obj`; if this call turned it grey, queue it in the prefetch ring. In an exclusive
    /// job, an object in memory another worker owns is forwarded to it instead. A visitor that
    /// logs its marks records the object if this call marked it.
    ///
    /// # Safety
    /// `obj` is allocated; if this visitor has an exclusive part, the caller is a worker of
    /// that running job.
    #[inline(always)]
    pub(crate) unsafe fn mark_grey(&mut self, obj: ObjPtr) {
        let won = match &mut self.exclusive {
            // SAFETY: guaranteed by the caller.
            None if self.logs_marks => unsafe { self.mark_and_log(obj) },
            // SAFETY: guaranteed by the caller.
            None => unsafe { mark::try_mark_in(obj.as_ptr(), self.epoch, self.runs) },
            // SAFETY: guaranteed by the caller.
            Some(exclusive) => unsafe { exclusive.try_mark(obj, self.epoch, self.runs) },
        };
        if won {
            if let Some(due) = self.ring.exchange(obj) {
                self.settle(due);
            }
        }
    }

    /// Mark `obj` and, if this call marked it, record it in `logged`; returns whether it did.
    ///
    /// # Safety
    /// `obj` is allocated.
    #[cold]
    #[inline(never)]
    unsafe fn mark_and_log(&mut self, obj: ObjPtr) -> bool {
        // SAFETY: guaranteed by the caller.
        let won = unsafe { mark::try_mark(obj.as_ptr(), self.epoch) };
        if won {
            self.logged.push(obj);
        }
        won
    }

    /// A grey object leaving the ring: push it if it has fields to scan, else it is black at
    /// once and its bytes count in `leaf_bytes`.
    #[inline(always)]
    fn settle(&mut self, obj: ObjPtr) {
        // SAFETY: a grey object of this marking: allocated (see `visit_slot`).
        let desc = unsafe { obj.header() }.desc();
        if desc.trace.is_some() {
            self.stack.push(obj);
        } else {
            // SAFETY: as above.
            self.leaf_bytes += unsafe { desc.size_of(obj.as_ptr()) };
        }
    }

    /// The next object to scan: from the stack, or — when it is empty — the oldest grey
    /// object still in the prefetch ring that has fields to scan.
    #[inline]
    pub(crate) fn next_grey(&mut self) -> Option<ObjPtr> {
        loop {
            if let Some(obj) = self.stack.pop() {
                return Some(obj);
            }
            let due = self.ring.take_oldest()?;
            self.settle(due);
        }
    }

    /// Settle every grey object still in the prefetch ring (pushing those with fields).
    pub(crate) fn settle_ring(&mut self) {
        while let Some(due) = self.ring.take_oldest() {
            self.settle(due);
        }
    }
}

/// When a run of one type ([`mark_run`]) must stop and hand back to the worker.
pub(crate) struct RunLimits {
    /// The most objects to scan.
    pub(crate) objects: usize,
    /// Stop once the objects scanned take at least this many bytes.
    pub(crate) bytes: usize,
    /// Stop once the stack holds more than this many objects (the worker spills).
    pub(crate) stack: usize,
}

/// How a run of one type ended.
pub(crate) struct RunEnd {
    /// Objects scanned whole with nothing noted: the run's first `objects`, all of its type (or
    /// of a type whose run is the same code, see [`same_run`]).
    pub(crate) objects: usize,
    /// The object whose visit noted something (a lock, a chunk, an ephemeron: the visitor's
    /// `notes` still say which), with the stack's length before that visit. It ended the run;
    /// what to do with it is the worker's.
    pub(crate) noted: Option<(ObjPtr, usize)>,
}

/// Scan `first`, then, while the top of the stack is an object of the same type and `limits`
/// allow, pop and scan that one too (module docs, "Runs of one type"). Always scans `first`.
///
/// Which objects qualify is decided by their descriptors ([`same_run`]), so scanning them with
/// `T`'s `trace` is what the worker would do one object at a time.
///
/// # Safety
/// `first` is a grey object of this marking whose descriptor is `desc`, a descriptor of `T`,
/// and this function is called as `desc.mark_run` (so an object whose descriptor has the same
/// run function is a `T`, or one whose own run is this very code).
pub(crate) unsafe fn mark_run<T: Trace>(
    first: ObjPtr,
    desc: &'static TypeDesc,
    visitor: &mut MarkVisitor,
    limits: &RunLimits,
) -> RunEnd {
    // The byte limit as a count of objects (all of one size; a division by a constant).
    let size = std::mem::size_of::<GcBox<T>>();
    let max_objects = limits.objects.min(limits.bytes.div_ceil(size));
    let (mut obj, mut objects) = (first, 0);
    loop {
        visitor.notes = 0;
        let below_children = visitor.stack.len();
        // SAFETY: `obj` is a grey object (allocated) of type `T`: `first` by the caller's
        // guarantee, the others because their descriptor is `desc` or has `desc`'s run
        // function, `T`'s (tested below, see the caller's guarantee). `GcBox` is `repr(C)` with
        // the header first, so the cast recovers the box.
        let value = unsafe { &(*obj.as_ptr().cast::<GcBox<T>>()).value };
        value.trace(&mut Tracer::marking(visitor));
        if visitor.notes != 0 {
            return RunEnd { objects, noted: Some((obj, below_children)) };
        }
        objects += 1;
        if objects >= max_objects || visitor.stack.len() > limits.stack {
            break;
        }
        let Some(&next) = visitor.stack.last() else { break };
        // SAFETY: every object on the stack is grey in this marking, hence allocated.
        if !same_run(unsafe { next.header() }.desc(), desc) {
            break;
        }
        visitor.stack.pop();
        obj = next;
    }
    RunEnd { objects, noted: None }
}

/// Whether an object described by `next` belongs in the run being scanned, which started at an
/// object described by `desc` (and runs `desc.mark_run`).
///
/// The same descriptor does (the common case: one comparison). So does another descriptor
/// with the same run function: a descriptor is a constant, and each crate or codegen unit that
/// allocates a type may hold its own copy of it, at its own address. Comparing the run
/// functions is sound however the compiler merges or copies functions: equal means that the
/// object's own run is the very code now running.
#[inline(always)]
fn same_run(next: &'static TypeDesc, desc: &'static TypeDesc) -> bool {
    std::ptr::eq(next, desc)
        || matches!((next.mark_run, desc.mark_run), (Some(a), Some(b)) if std::ptr::fn_addr_eq(a, b))
}

#[cfg(all(test, not(gc_loom)))]
mod tests {
    use super::*;
    use crate::{test_support, GcVec, Member, Trace};

    #[derive(Trace)]
    struct Node {
        next: Member<Node>,
    }

    #[test]
    fn the_prefetch_ring_gives_its_entries_back_oldest_first() {
        // Addresses only: the ring prefetches them (which reads nothing) and hands them back.
        let obj = |i: usize| ObjPtr(std::ptr::NonNull::new(std::ptr::without_provenance_mut::<Header>(8 * i)).unwrap());
        let mut ring = PrefetchRing::new();
        assert_eq!(ring.take_oldest(), None);
        let mut model = std::collections::VecDeque::new();
        let mut next = 1;
        // Every mix of puts and takes a worker makes: runs of puts that fill the ring and
        // displace its oldest, takes down to empty, and both in turn, around the ring's end.
        for round in 0..200 {
            for _ in 0..(round * 7) % 45 {
                let out = ring.exchange(obj(next));
                model.push_back(obj(next));
                next += 1;
                let displaced = if model.len() > PREFETCH_DISTANCE { model.pop_front() } else { None };
                assert_eq!(out, displaced);
            }
            for _ in 0..(round * 5) % 37 {
                assert_eq!(ring.take_oldest(), model.pop_front());
            }
        }
        while let Some(expected) = model.pop_front() {
            assert_eq!(ring.take_oldest(), Some(expected));
        }
        assert_eq!(ring.take_oldest(), None);
    }

    /// Not laid out as `Node` is: the compiler may merge the run functions of types whose runs
    /// compile to the same code, and a run then goes on through both (see `same_run`).
    #[derive(Trace)]
    struct Other {
        node: Member<Node>,
        more: Member<Node>,
    }

    #[derive(Trace)]
    struct Holder {
        items: GcVec<u32>,
    }

    fn obj<T>(g: crate::Gc<'_, T>) -> ObjPtr {
        ObjPtr(std::ptr::NonNull::new(g.header_ptr()).expect("an object"))
    }

    fn desc(o: ObjPtr) -> &'static TypeDesc {
        // SAFETY: `o` names a live local's object.
        unsafe { o.header() }.desc()
    }

    const NO_LIMITS: RunLimits = RunLimits { objects: usize::MAX, bytes: usize::MAX, stack: usize::MAX };

    /// `limits` applied to a run that starts at `a` with `b`, `c` and then an `Other` on the
    /// stack (`b` on top): how many objects it scanned, and what it left on the stack.
    fn run_with(limits: &RunLimits) -> (usize, usize) {
        let _s = test_support::serial();
        let _clear = test_support::ClearMarks;
        let mu = crate::attach();
        let [a, b, c] = [(); 3].map(|()| mu.alloc(Node { next: Member::new() }));
        let other = mu.alloc(Other { node: Member::new(), more: Member::new() });
        let mut v = MarkVisitor::new(crate::clock::mark_epoch());
        v.stack.extend([obj(other), obj(c), obj(b)]);
        // SAFETY: `a` is a live `Node`, with its own descriptor.
        let end = unsafe { mark_run::<Node>(obj(a), desc(obj(a)), &mut v, limits) };
        assert!(end.noted.is_none(), "nothing to note in these objects");
        assert_eq!(v.stack[0], obj(other), "the other type's object stays for the worker");
        (end.objects, v.stack.len())
    }

    #[test]
    fn a_run_scans_the_objects_of_its_type_on_top_of_the_stack_and_stops_at_another_type() {
        assert_eq!(run_with(&NO_LIMITS), (3, 1));
    }

    #[test]
    fn a_run_stops_at_each_of_its_limits_and_always_scans_its_first_object() {
        let node_bytes = std::mem::size_of::<GcBox<Node>>();
        assert_eq!(run_with(&RunLimits { objects: 2, ..NO_LIMITS }), (2, 2));
        assert_eq!(run_with(&RunLimits { objects: 0, ..NO_LIMITS }), (1, 3));
        assert_eq!(run_with(&RunLimits { bytes: 2 * node_bytes, ..NO_LIMITS }), (2, 2));
        assert_eq!(run_with(&RunLimits { bytes: 2 * node_bytes - 1, ..NO_LIMITS }), (2, 2));
        assert_eq!(run_with(&RunLimits { bytes: 0, ..NO_LIMITS }), (1, 3));
        // The stack holds three objects after the first scan: over a limit of 2, not of 3 (and
        // the run pops as it goes).
        assert_eq!(run_with(&RunLimits { stack: 2, ..NO_LIMITS }), (1, 3));
        assert_eq!(run_with(&RunLimits { stack: 3, ..NO_LIMITS }), (3, 1));
    }

    #[test]
    fn a_run_goes_on_through_another_copy_of_its_types_descriptor() {
        let _s = test_support::serial();
        let _clear = test_support::ClearMarks;
        let mu = crate::attach();
        let [a, b, c] = [(); 3].map(|()| mu.alloc(Node { next: Member::new() }));
        let other = mu.alloc(Other { node: Member::new(), more: Member::new() });
        // What an object allocated in another codegen unit may have: the same descriptor
        // constant at another address.
        let original = desc(obj(c));
        let copy: &'static TypeDesc = Box::leak(Box::new(TypeDesc {
            trace: original.trace,
            mark_run: original.mark_run,
            drop: original.drop,
            size: original.size,
            element_size: original.element_size,
            value_offset: original.value_offset,
            type_name: original.type_name,
        }));
        // SAFETY: `c` is a live `Node` and `copy` describes `Node` exactly as its own does.
        unsafe { c.header_ptr().write(Header::with_desc(copy)) };
        let mut v = MarkVisitor::new(crate::clock::mark_epoch());
        v.stack.extend([obj(other), obj(c), obj(b)]);
        // SAFETY: `a` is a live `Node`, with its own descriptor.
        let end = unsafe { mark_run::<Node>(obj(a), desc(obj(a)), &mut v, &NO_LIMITS) };
        // SAFETY: as above; back to the descriptor it was allocated with.
        unsafe { c.header_ptr().write(Header::with_desc(original)) };
        assert_eq!(end.objects, 3, "the copy's object is part of the run");
        assert_eq!(v.stack, [obj(other)]);
    }

    #[test]
    fn the_worker_ends_a_run_where_its_budget_ends_and_keeps_the_rest() {
        let _s = test_support::serial();
        let _clear = test_support::ClearMarks;
        let mu = crate::attach();
        let nodes: Vec<_> = (0..10).map(|_| mu.alloc(Node { next: Member::new() })).collect();
        let queue = crate::shade::GreyQueue::default();
        let mut worker = crate::marker::MarkWorker::new(&queue);
        for n in &nodes {
            worker.push_for_test(obj(*n));
        }
        let node_bytes = std::mem::size_of::<GcBox<Node>>();
        assert!(!worker.drain_stack_for_test(3 * node_bytes), "seven objects are left");
        assert_eq!(worker.work().objects, 3, "one run of three, cut by the budget");
        assert!(worker.drain_stack_for_test(usize::MAX));
        assert_eq!(worker.work().objects, 10);
        assert_eq!(worker.work().marked_bytes, 10 * node_bytes);
    }

    #[test]
    fn the_children_a_run_finds_are_marked_and_reach_the_stack_through_the_ring() {
        let _s = test_support::serial();
        let _clear = test_support::ClearMarks;
        let mu = crate::attach();
        let [a, b, child_a, child_b] = [(); 4].map(|()| mu.alloc(Node { next: Member::new() }));
        a.next.set(Some(child_a));
        b.next.set(Some(child_b));
        let mut v = MarkVisitor::new(crate::clock::mark_epoch());
        v.stack.push(obj(b));
        // SAFETY: `a` is a live `Node`, with its own descriptor.
        let end = unsafe { mark_run::<Node>(obj(a), desc(obj(a)), &mut v, &NO_LIMITS) };
        assert_eq!(end.objects, 2);
        assert!(v.stack.is_empty(), "the children wait in the prefetch ring");
        v.settle_ring();
        assert_eq!(v.stack, [obj(child_a), obj(child_b)], "found in order, pushed as they leave the ring");
        // SAFETY: live locals.
        assert!([child_a, child_b].iter().all(|c| unsafe { mark::is_marked(c.header_ptr(), v.epoch()) }));
    }

    #[test]
    fn an_object_that_notes_something_ends_the_run_and_is_handed_back_with_its_stack_depth() {
        let _s = test_support::serial();
        let _clear = test_support::ClearMarks;
        let mu = crate::attach();
        let [first, big] = [(); 2].map(|()| mu.alloc(Holder { items: GcVec::new() }));
        let after = mu.alloc(Holder { items: GcVec::new() });
        big.items.extend((0..2 * super::super::scan_cursor::SCAN_CHUNK as u32).map(|i| mu.alloc(i)));
        let mut v = MarkVisitor::new(crate::clock::mark_epoch());
        v.stack.extend([obj(after), obj(big)]);
        // SAFETY: `first` is a live `Holder`, with its own descriptor.
        let end = unsafe { mark_run::<Holder>(obj(first), desc(obj(first)), &mut v, &NO_LIMITS) };
        assert_eq!(end.objects, 1, "the first object, scanned whole");
        assert_eq!(end.noted, Some((obj(big), 1)), "the big vector's holder, with `after` below it");
        assert_eq!(v.notes, note::MORE, "one chunk of the vector was scanned");
        assert_eq!(v.stack, [obj(after)], "the run did not go past the noted object");
    }
}
