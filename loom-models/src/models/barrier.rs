//! Model (b): the write barrier racing the marker. A store made while marking must never be
//! lost: either the stored (or overwritten) pointer is shaded, or the marker sees it.
//!
//! The heap is four objects: a root `R` pointing to `A` and `B`, and `X` in `A`'s first slot.
//! The mutator moves `X` from `A` to `B` — load it, store it into `B`, clear `A` — the classic
//! way to hide an object from a marker that scanned `B` before and `A` after the move. The
//! marker marks from `R` concurrently; the mutator then publishes its buffer (as at a
//! safepoint) and termination drains the queue. At the end every object reachable from `R`
//! must be marked.
//!
//! The store is `slot.rs`, the mark bits `mark_bits.rs` (the four objects' bits share one
//! bitmap word, as neighbouring 24-byte objects do), the queue `grey_queue.rs` and
//! the phase word `clock.rs`; what this file adds is the glue
//! `barrier.rs` and `marker.rs` put around them (shade the returned pointers; load each slot
//! with `Acquire` and mark what it holds). The control: with a barrier that shades nothing,
//! loom must find the schedule that loses `X`.
//!
//! The racing-writers variant adds a second mutator storing `Y` into `A`'s first slot at the
//! same time (see [`run_with`]): the deletion barrier reads old pointers with a load, not a
//! swap, and the model checks that the slot's value at mark start is still always shaded. Its
//! control is a racer without a barrier, which loom must catch losing `X`.

use std::ptr::NonNull;

use loom::{
    sync::{
        atomic::{AtomicPtr, Ordering},
        Arc,
    },
    thread,
};
use rusty_fork::rusty_fork_test;

use super::explore;
use crate::{
    clock::{AllocationViews, Phase, PhaseWord, FIRST_EPOCH},
    config::BarrierKind,
    grey_queue::{GreyQueue, ShadeBuffer},
    mark_bits::{PageMarks, GRANULE},
    slot::{is_object, store_idle, store_marking},
};

pub(super) const R: usize = 0;
pub(super) const A: usize = 1;
pub(super) const B: usize = 2;
pub(super) const X: usize = 3;
/// In the racing-writers model: held by `B`'s second slot; in the termination models, by
/// `X`'s first; in the black-allocation mark-start model, the object allocated.
pub(super) const Y: usize = 4;

pub(super) struct Obj {
    pub(super) slots: [AtomicPtr<Obj>; 2],
}

/// The granule of object `o`'s mark bit: 24-byte objects side by side in one page.
pub(super) fn granule(o: usize) -> usize {
    o * 24 / GRANULE
}

/// The objects, their page's mark bits, the phase word and the grey queue of one execution.
pub(super) struct Heap {
    pub(super) objs: [Obj; 5],
    pub(super) marks: PageMarks,
    pub(super) phase: PhaseWord,
    pub(super) queue: GreyQueue<usize>,
    /// The mutators' allocation views (only the mark-start models take any).
    pub(super) views: AllocationViews,
}

// SAFETY: the raw pointers in the slots only ever point into `objs` of the same `Heap`, which
// outlives every thread of the execution (they hold an `Arc`).
unsafe impl Send for Heap {}
// SAFETY: as above; every field is an atomic or internally synchronised.
unsafe impl Sync for Heap {}

impl Heap {
    /// The heap, in place (slots point into it, so it is linked after it stops moving).
    pub(super) fn new() -> Arc<Heap> {
        let obj = || Obj { slots: [AtomicPtr::default(), AtomicPtr::default()] };
        let heap = Arc::new(Heap {
            objs: [obj(), obj(), obj(), obj(), obj()],
            marks: PageMarks::new(),
            phase: PhaseWord::new(),
            queue: GreyQueue::default(),
            views: AllocationViews::new(),
        });
        heap.objs[R].slots[0].store(heap.ptr(A), Ordering::Relaxed);
        heap.objs[R].slots[1].store(heap.ptr(B), Ordering::Relaxed);
        heap.objs[A].slots[0].store(heap.ptr(X), Ordering::Relaxed);
        heap
    }

    pub(super) fn ptr(&self, i: usize) -> *mut Obj {
        (&raw const self.objs[i]).cast_mut()
    }

    fn index(&self, p: NonNull<Obj>) -> usize {
        (0..5).find(|&i| self.ptr(i) == p.as_ptr()).expect("slots point into the heap")
    }

    /// The object a slot value names, if any.
    pub(super) fn target(&self, p: *mut Obj) -> Option<usize> {
        NonNull::new(p).filter(|_| is_object(p)).map(|p| self.index(p))
    }

    /// Objects reachable from `R` in the current graph (world stopped).
    pub(super) fn reachable(&self) -> Vec<usize> {
        self.reachable_from(&[])
    }

    /// Objects reachable from `R` and from `extra` (value stacks' contents) in the current
    /// graph (world stopped).
    pub(super) fn reachable_from(&self, extra: &[usize]) -> Vec<usize> {
        let (mut seen, mut stack) = (vec![], vec![R]);
        stack.extend_from_slice(extra);
        while let Some(o) = stack.pop() {
            if !seen.contains(&o) {
                seen.push(o);
                stack.extend(self.objs[o].slots.iter().filter_map(|s| self.target(s.load(Ordering::Acquire))));
            }
        }
        seen
    }
}

/// Which pointers a barrier shades: (overwritten, stored).
#[derive(Clone, Copy)]
pub(super) struct Barrier {
    pub(super) shades_old: bool,
    pub(super) shades_new: bool,
}

pub(super) const DIJKSTRA: Barrier = Barrier { shades_old: false, shades_new: true };
pub(super) const YUASA: Barrier = Barrier { shades_old: true, shades_new: false };
pub(super) const HYBRID: Barrier = Barrier { shades_old: true, shades_new: true };
const NONE: Barrier = Barrier { shades_old: false, shades_new: false };

/// `barrier::write_member`, with `shade::shade` into this mutator's buffer.
pub(super) fn write(heap: &Heap, barrier: Barrier, buf: &mut ShadeBuffer<usize>, slot: &AtomicPtr<Obj>, new: *mut Obj) {
    if !heap.phase.barrier_on() {
        store_idle(slot, new, true).expect("slots in the model are armed");
        return;
    }
    let greys = store_marking(slot, new, barrier.shades_old, barrier.shades_new, true).expect("armed");
    for g in greys.into_iter().flatten() {
        // `barrier.rs` tests the bit first and reaches for the buffer only for a white object.
        let o = heap.index(g);
        if !heap.marks.is_marked(granule(o)) && heap.marks.try_mark(granule(o)) {
            buf.push(o, &heap.queue);
        }
    }
}

/// `marker.rs`: scan grey objects until the local stack is empty.
pub(super) fn drain(heap: &Heap, stack: &mut Vec<usize>) {
    while let Some(o) = stack.pop() {
        for slot in &heap.objs[o].slots {
            // Acquire: as `MarkSink::visit_slot`.
            if let Some(t) = heap.target(slot.load(Ordering::Acquire)) {
                if heap.marks.try_mark(granule(t)) {
                    stack.push(t);
                }
            }
        }
    }
}

/// Pop every queued buffer and scan it (`MarkWorker::drain_until_quiescent`).
pub(super) fn drain_queue(heap: &Heap, stack: &mut Vec<usize>) {
    while let Some(buf) = heap.queue.pop_busy() {
        scan_taken(heap, buf, stack);
    }
}

/// Scan a buffer taken with [`GreyQueue::pop_busy`] and leave the busy state.
pub(super) fn scan_taken(heap: &Heap, buf: Vec<usize>, stack: &mut Vec<usize>) {
    stack.extend(buf.iter().copied());
    heap.queue.recycle(buf);
    drain(heap, stack);
    heap.queue.leave_busy();
}

/// One execution; returns the reachable objects the marking missed.
///
/// The barrier is already on (it is turned on with the world stopped; model (a) checks that
/// pause). The marker runs on a spawned thread and the mutator on the model's main thread. The
/// other way round, loom 0.7's partial-order reduction never schedules the marker's two slot
/// loads around the mutator's stores: the barrier's own load of the slot before its store hides
/// the marker's load from loom's race detection. The control test catches such blind spots.
fn run(barrier: Barrier) -> Vec<usize> {
    run_with(barrier, None)
}

/// [`run`], with a second mutator racing the first on `A`'s first slot if `racer` is given:
/// it stores `Y` (which `B`'s second slot holds too) there, through a barrier of that kind,
/// while the first moves what it finds there into `B`.
///
/// The deletion barrier reads the old pointer with a load before its store, not a swap, so
/// with two writers one old value can go unseen: `Y`, when the racer stores it between the
/// other's load and store. That is allowed — `Y` was stored during the marking — but the value
/// the slot held at mark start, `X`, must be seen and shaded by whichever store overwrites it
/// first (see `barrier.rs`, "Reading the overwritten pointer"). The racer's control: a racer
/// that shades nothing overwrites `X` unshaded, and loom must find the schedule that loses it.
fn run_with(barrier: Barrier, racer: Option<Barrier>) -> Vec<usize> {
    let heap = Heap::new();
    if racer.is_some() {
        heap.objs[B].slots[1].store(heap.ptr(Y), Ordering::Relaxed);
    }
    // The kind in the word is not read here: `write` takes the model's own `Barrier`.
    heap.phase.set(Phase::Mark, BarrierKind::Hybrid, FIRST_EPOCH + 1);
    let marker = {
        let heap = heap.clone();
        thread::spawn(move || {
            let mut stack = vec![];
            if heap.marks.try_mark(granule(R)) {
                stack.push(R);
            }
            drain(&heap, &mut stack);
            drain_queue(&heap, &mut stack);
        })
    };
    let racer = racer.map(|racer| {
        let heap = heap.clone();
        thread::spawn(move || {
            let mut buf = ShadeBuffer::default();
            let y = heap.objs[B].slots[1].load(Ordering::Acquire);
            write(&heap, racer, &mut buf, &heap.objs[A].slots[0], y);
            buf.flush(&heap.queue);
        })
    });
    // The mutator moves X from A to B; `x` is a local, held only until the next safepoint,
    // where the buffer is published.
    let mut buf = ShadeBuffer::default();
    let x = heap.objs[A].slots[0].load(Ordering::Acquire);
    write(&heap, barrier, &mut buf, &heap.objs[B].slots[0], x);
    write(&heap, barrier, &mut buf, &heap.objs[A].slots[0], std::ptr::null_mut());
    buf.flush(&heap.queue);
    marker.join().unwrap();
    if let Some(racer) = racer {
        racer.join().unwrap();
    }
    // Termination with the world stopped: whatever the mutator published is drained.
    let mut stack = vec![];
    drain_queue(&heap, &mut stack);
    assert!(heap.queue.is_quiescent());
    heap.reachable().into_iter().filter(|&o| !heap.marks.is_marked(granule(o))).collect()
}

/// Explore `barrier`; every execution must mark every reachable object.
fn check(name: &str, barrier: Barrier) {
    explore(name, 6, move || {
        let missed = run(barrier);
        assert!(missed.is_empty(), "objects {missed:?} are reachable but not marked");
    });
}

rusty_fork_test! {
    #[test]
    fn dijkstra_never_loses_a_moved_pointer() {
        check("barrier: Dijkstra", DIJKSTRA);
    }

    #[test]
    fn yuasa_never_loses_a_moved_pointer() {
        check("barrier: Yuasa", YUASA);
    }

    #[test]
    fn hybrid_never_loses_a_moved_pointer() {
        check("barrier: hybrid", HYBRID);
    }

    /// The control: without a barrier loom finds a schedule that hides `X` (so the model can fail).
    #[test]
    fn without_a_barrier_the_model_finds_the_lost_object() {
        let lost = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = lost.clone();
        explore("barrier: none (control)", 6, move || {
            if run(NONE).contains(&X) {
                seen.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        });
        assert!(lost.load(std::sync::atomic::Ordering::Relaxed), "loom found no schedule that loses X without a barrier");
    }

    /// Two writers race on `A`'s first slot under the deletion barrier: every execution must mark
    /// every reachable object.
    ///
    /// The hybrid barrier is not modelled separately here: it shades what Yuasa shades (the
    /// overwritten pointer, read the same way) and, besides, the stored one, and shading more
    /// never loses an object. Its own paths run in the hybrid barrier model above and in the
    /// handshake models (`ragged.rs`); a separate racing run cost 400k executions, two minutes of
    /// CI, for nothing this one does not check.
    #[test]
    fn yuasa_racing_writers_never_lose_the_start_value() {
        explore("barrier: Yuasa, racing writers", 2, || {
            let missed = run_with(YUASA, Some(YUASA));
            assert!(missed.is_empty(), "objects {missed:?} are reachable but not marked");
        });
    }

    /// The racers' control: a racer that shades nothing overwrites `X`, the start value, unseen, and
    /// loom finds the schedule where the other mutator moved it into the already scanned `B`.
    #[test]
    fn a_racing_writer_without_a_barrier_loses_the_start_value() {
        let lost = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = lost.clone();
        explore("barrier: Yuasa, racing writer without a barrier (control)", 2, move || {
            if run_with(YUASA, Some(NONE)).contains(&X) {
                seen.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        });
        assert!(lost.load(std::sync::atomic::Ordering::Relaxed), "loom found no schedule that loses X to the racer");
    }
}
