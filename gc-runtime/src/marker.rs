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
//! # Mark assists
//!
//! A mutator that allocates while marking is in progress pays for it: every 64 KiB it
//! allocates, it scans about twice that many bytes of grey objects (if there are any) before
//! its allocation returns. Allocation-heavy threads thus slow down instead of outrunning the
//! marker (Go's assist credit, simplified to a fixed ratio).
//!
//! # A panicking `Trace`
//!
//! If a `Trace` impl panics, the marker cannot know the object's referents; going on would
//! free live objects. The process stops with a message naming the type.

use crate::{
    grey_queue::BUFFER_CAP,
    header::{Header, ObjPtr},
    member::is_object,
    phase,
    primitive::sync::atomic::{AtomicPtr, Ordering},
    runtime::Runtime,
    shade::GreyQueue,
    trace::{TraceSink, Tracer},
};

/// Above this many entries a worker gives a buffer back to the global queue.
const SPILL_AT: usize = 4 * BUFFER_CAP;

/// A mark worker's private state.
pub(crate) struct MarkWorker<'q> {
    queue: &'q GreyQueue,
    epoch: u64,
    stack: Vec<ObjPtr>,
    /// Objects scanned so far.
    pub(crate) scanned_objects: usize,
    /// Bytes of objects scanned so far.
    pub(crate) scanned_bytes: usize,
    /// Bytes of objects this worker marked that have nothing to scan (black at once).
    leaf_bytes: usize,
}

/// What a worker or assist did, for statistics and the pacer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct MarkWork {
    /// Objects scanned.
    pub(crate) objects: usize,
    /// Bytes of objects marked: scanned ones plus those with nothing to scan. The pacer's
    /// measure of the live heap.
    pub(crate) marked_bytes: usize,
}

impl std::ops::AddAssign for MarkWork {
    fn add_assign(&mut self, o: MarkWork) {
        self.objects += o.objects;
        self.marked_bytes += o.marked_bytes;
    }
}

struct MarkSink<'a> {
    epoch: u64,
    stack: &'a mut Vec<ObjPtr>,
    leaf_bytes: &'a mut usize,
}

impl TraceSink for MarkSink<'_> {
    #[inline]
    fn visit_slot(&mut self, slot: &AtomicPtr<Header>) {
        // Acquire: pairs with the barrier's Release store (publication ordering).
        let p = slot.load(Ordering::Acquire);
        if is_object(p) {
            let obj = ObjPtr(std::ptr::NonNull::new(p).unwrap_or_else(|| unreachable!()));
            // SAFETY: a slot of an object being scanned (hence allocated) points to an
            // allocated object.
            unsafe { mark_grey(obj, self.epoch, self.stack, self.leaf_bytes) };
        }
    }
}

/// Mark `obj` for `epoch`; if this call turned it grey, put it on `stack` when it has fields to
/// scan, or count its bytes in `leaf_bytes` when it is black at once.
///
/// # Safety
/// `obj` is allocated.
#[inline(always)]
unsafe fn mark_grey(obj: ObjPtr, epoch: u64, stack: &mut Vec<ObjPtr>, leaf_bytes: &mut usize) {
    // SAFETY: guaranteed by the caller.
    let h = unsafe { obj.header() };
    if h.try_mark(epoch) {
        let desc = h.desc();
        if desc.trace.is_some() {
            stack.push(obj);
        } else {
            *leaf_bytes += desc.size;
        }
    }
}

impl<'q> MarkWorker<'q> {
    /// A worker for the current marking.
    pub(crate) fn new(queue: &'q GreyQueue) -> Self {
        MarkWorker {
            queue,
            epoch: phase::mark_epoch(),
            stack: Vec::new(),
            scanned_objects: 0,
            scanned_bytes: 0,
            leaf_bytes: 0,
        }
    }

    /// What this worker did so far.
    pub(crate) fn work(&self) -> MarkWork {
        MarkWork { objects: self.scanned_objects, marked_bytes: self.scanned_bytes + self.leaf_bytes }
    }

    /// Shade a root: mark it and, if it has fields, put it on this worker's stack.
    ///
    /// # Safety
    /// `obj` is allocated (it was loaded from a root cell).
    pub(crate) unsafe fn shade_root(&mut self, obj: *const Header) {
        let Some(nn) = std::ptr::NonNull::new(obj.cast_mut()) else { return };
        // SAFETY: guaranteed by the caller.
        unsafe { mark_grey(ObjPtr(nn), self.epoch, &mut self.stack, &mut self.leaf_bytes) };
    }

    fn scan(&mut self, obj: ObjPtr) {
        // SAFETY: `obj` came off a shade queue or this stack in the current cycle: it was
        // marked this cycle, so it is reachable and allocated.
        let desc = unsafe { obj.header() }.desc();
        let Some(trace) = desc.trace else { return };
        let mut sink = MarkSink { epoch: self.epoch, stack: &mut self.stack, leaf_bytes: &mut self.leaf_bytes };
        let mut tracer = Tracer::new(&mut sink);
        // SAFETY: `obj` is an allocated object of the type `desc` describes.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe { trace(obj.as_ptr(), &mut tracer) }));
        if r.is_err() {
            eprintln!(
                "gc: fatal: Trace::trace of `{}` panicked; the collector cannot know which objects it \
                 references, and continuing could free live objects",
                desc.name()
            );
            std::process::abort();
        }
        self.scanned_objects += 1;
        self.scanned_bytes += desc.size;
    }

    /// Scan objects from the private stack until it is empty or `budget` bytes were scanned.
    /// Returns whether the stack is empty.
    fn drain_stack(&mut self, budget: usize) -> bool {
        let start = self.scanned_bytes;
        while let Some(obj) = self.stack.pop() {
            self.scan(obj);
            if self.stack.len() > SPILL_AT {
                self.spill();
            }
            if self.scanned_bytes - start >= budget {
                return self.stack.is_empty();
            }
        }
        true
    }

    fn spill(&mut self) {
        let mut buf = self.queue.empty_buffer();
        buf.extend(self.stack.drain(..BUFFER_CAP));
        self.queue.push_full(buf);
    }

    /// Give every object still on the private stack back to the global queue.
    fn spill_all(&mut self) {
        while !self.stack.is_empty() {
            let mut buf = self.queue.empty_buffer();
            let n = self.stack.len().min(BUFFER_CAP);
            buf.extend(self.stack.drain(..n));
            self.queue.push_full(buf);
        }
    }

    /// Scan what this worker shaded itself (roots), as a busy worker.
    pub(crate) fn drain_own(&mut self) {
        self.queue.enter_busy();
        self.drain_stack(usize::MAX);
        self.queue.leave_busy();
    }

    /// Take buffers from the global queue and scan until the queue is quiescent (empty and no
    /// worker busy) — the background workers' loop.
    pub(crate) fn drain_until_quiescent(&mut self) {
        let mut idle_spins = 0u32;
        loop {
            if let Some(buf) = self.queue.pop_busy() {
                idle_spins = 0;
                self.stack.extend_from_slice(&buf);
                self.queue.recycle(buf);
                self.drain_stack(usize::MAX);
                self.queue.leave_busy();
            } else if self.queue.is_quiescent() {
                return;
            } else {
                // Another worker or an assist holds grey objects; wait for it to finish or
                // to spill work.
                idle_spins += 1;
                if idle_spins < 64 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
        }
    }

    /// Scan up to `budget` bytes from the global queue, then give back what is left.
    pub(crate) fn drain_budget(&mut self, budget: usize) {
        let start = self.scanned_bytes;
        while self.scanned_bytes - start < budget {
            let Some(buf) = self.queue.pop_busy() else { return };
            self.stack.extend_from_slice(&buf);
            self.queue.recycle(buf);
            let left = budget - (self.scanned_bytes - start);
            if !self.drain_stack(left) {
                self.spill_all();
            }
            self.queue.leave_busy();
        }
    }
}

/// A mutator's mark assist: scan about `budget` bytes of grey objects.
pub(crate) fn assist(rt: &Runtime, budget: usize) {
    if !rt.grey.has_work() {
        return;
    }
    let mut worker = MarkWorker::new(&rt.grey);
    worker.drain_budget(budget);
    rt.stats.note_assist(worker.work(), worker.scanned_bytes);
}

/// Drain the global queue with `workers` threads (this one included) until it is quiescent.
pub(crate) fn drain_parallel(rt: &Runtime, workers: usize) -> MarkWork {
    let run = || {
        crate::mutator::enter_collector_thread();
        let mut w = MarkWorker::new(&rt.grey);
        w.drain_until_quiescent();
        w.work()
    };
    if workers <= 1 {
        return run();
    }
    std::thread::scope(|s| {
        let helpers: Vec<_> = (1..workers).map(|_| s.spawn(run)).collect();
        let mut total = run();
        for h in helpers {
            total += h.join().unwrap_or_else(|_| unreachable!("mark workers abort instead of panicking"));
        }
        total
    })
}
