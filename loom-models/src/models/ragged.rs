//! Model (d): the phase changes by per-thread handshakes — mark start and mark termination
//! without stopping the world (`collector/mod.rs`, "Per-thread handshakes").
//!
//! Both run the real handshake (`handshake.rs`: ragged flushes answered at safepoints), the
//! real phase word (`clock.rs`), grey queue and its stamp (`grey_queue.rs`), mark bits and
//! slot stores, on model (b)'s heap: a root `R` pointing to `A` and `B`, `X` in `A`'s first
//! slot, and — for termination — `Y` in `X`'s first slot. Mutators keep no pointer across a
//! safepoint, as the borrow checker makes them.
//!
//! **Mark start.** Two mutators that answer whenever their code reaches a safepoint, one of
//! them late: `M1` passes a safepoint, moves `X` from `A` into `B` (load, store) and passes
//! another; `M2` clears `A`'s slot and passes one. The collector turns the barrier on in the
//! mark-start window, runs its rounds, turns the cycle's barrier on and scans from `R`; then
//! termination drains what the mutators published. Every object reachable at the end must be
//! marked, under each barrier. Controls: Dijkstra with no round (scanning right away), and
//! Yuasa with one round instead of two — loom must find the schedule that loses `X` (for Yuasa:
//! `M1` answers, loads `X`; `M2`, not yet answering, clears `A` without a barrier; the snapshot
//! is taken and `B` scanned; `M1` stores `X` into `B` under Yuasa, which does not shade it).
//!
//! **Black allocation in the window** ([`start_black`], Dijkstra): a mutator that answered
//! allocates an object black and links it in; one that has not answered finds it and moves
//! `X` into it. The window's barrier shades a stored pointer once any mutator took the
//! marking's epoch to allocate with; controls shade only after the storing thread's own answer,
//! never in the window, or let the answers take no epoch at all (in [`start`]).
//!
//! **Termination.** Marking runs (under each barrier); the collector, on the model's main
//! thread, runs rounds (draining between them) and decides as `ragged_round` does: the queue
//! done, then the stamp unchanged across the round. After the decision nothing is drained any
//! more — the barrier goes off — so every reachable object must be marked *at* the decision:
//! in particular `Y`, which only a scan of `X` marks. Two scenarios:
//!
//! - *One mutator and a worker* ([`terminate`]): `A` and `B` grey in the queue; the mutator
//!   passes a safepoint, moves `X` from `A` into `B` and detaches (which publishes its buffer
//!   and answers any round) while the worker drains the queue — from the start, or
//!   (`busy_before`) having taken `A` and `B` before the first stamp.
//! - *Two mutators, one answering late* ([`terminate_late`]): `A` grey in the late mutator's
//!   buffer; the early one answers, moves `X` and detaches, the late one answers (publishing
//!   `A`) and then takes `A` back from the queue as a mark assist.
//!
//! A second safepoint before each detach doubles the executions (two mutators: 108k–136k per
//! model at bound 2, instead of 64k–80k) for the same verdicts — the fixed rule passed and
//! every control failed with it too — because the detach publishes and answers as it would.
//!
//! In both, the losing schedule has a mutator that, after answering, shades `X` into its
//! private buffer (under Dijkstra by its store into `B`, under Yuasa by its deletion from
//! `A`) while the grey object that protected `X` is scanned, so `X` is never scanned and `Y`
//! is lost. The controls decide by a broken rule, and loom must find that schedule: no stamp
//! (for each barrier, in both scenarios), the stamp read before the queue is found done, and a
//! stamp without the busy count (with the worker busy since before the round). The last two
//! are what the first version of `ragged_round` did; these models found them.

use std::time::Duration;

use loom::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    thread,
};
use rusty_fork::rusty_fork_test;

use super::{
    barrier::{
        drain, drain_queue, granule, scan_taken, write, Barrier, Heap, Obj, A, B, DIJKSTRA, HYBRID, R, X, Y, YUASA,
    },
    explore, find_losing_schedule,
};
use crate::{
    clock::{Phase, FIRST_EPOCH},
    config::BarrierKind,
    grey_queue::ShadeBuffer,
    handshake::{AnswerAt, Handshake},
};

pub(super) const WARN_AFTER: Duration = Duration::from_secs(3600);

/// The epoch of the marking the termination models run (one began after the first).
pub(super) const MARKING: u64 = FIRST_EPOCH + 1;

/// The shades of a barrier kind, as `barrier.rs` derives them.
fn shades(kind: BarrierKind) -> Barrier {
    match kind {
        BarrierKind::Dijkstra => DIJKSTRA,
        BarrierKind::Yuasa => YUASA,
        BarrierKind::Hybrid => HYBRID,
    }
}

/// When a barrier in the mark-start window shades the pointer it stores.
#[derive(Clone, Copy, PartialEq)]
enum WindowRule {
    /// `BarrierState::shades_new`: once any mutator took the marking's epoch to allocate with.
    AnyView,
    /// Control: never (only the deletion barrier works in the window).
    Never,
    /// Control: once *this* mutator took the marking's epoch (it answered).
    OwnView,
}

/// A mutator of the model: its handshake entry, its private shade buffer, and — in the
/// mark-start models — the mark epoch it allocates with (its view; `heap/cache.rs`, "Whose mark
/// epoch"), taken when it answers a round. The termination models take no views: the window
/// is closed there, and the view's atomics would only multiply the executions.
pub(super) struct Mutator {
    pub(super) hs: Arc<Handshake>,
    pub(super) heap: Arc<Heap>,
    pub(super) id: usize,
    pub(super) ack: std::sync::Arc<AtomicU64>,
    pub(super) buf: ShadeBuffer<usize>,
    view: Option<u64>,
    rule: WindowRule,
}

impl Mutator {
    pub(super) fn register(hs: &Arc<Handshake>, heap: &Arc<Heap>) -> Mutator {
        let id = hs.register("mutator".into());
        Mutator {
            hs: hs.clone(),
            heap: heap.clone(),
            id,
            ack: hs.ack_cell(id),
            buf: ShadeBuffer::default(),
            view: None,
            rule: WindowRule::AnyView,
        }
    }

    /// A mutator of a mark-start model: it takes its view at attach and at every answer, and
    /// its barrier decides by `rule` in the window.
    fn register_with_view(hs: &Arc<Handshake>, heap: &Arc<Heap>, rule: WindowRule) -> Mutator {
        let view = Some(heap.views.take(&heap.phase));
        Mutator { view, rule, ..Mutator::register(hs, heap) }
    }

    /// A barriered store of `new` into slot `slot` of object `obj`, with the barrier the phase
    /// word says is in force (`barrier.rs`'s `write_marking`).
    pub(super) fn store(&mut self, obj: usize, slot: usize, new: *mut Obj) {
        let barrier = match self.heap.phase.barrier_state() {
            // `write` stores without a barrier when it reads the barrier off.
            None => DIJKSTRA,
            Some(state) => {
                let kind = shades(state.kind);
                let shades_new = match self.rule {
                    WindowRule::AnyView => state.shades_new(&self.heap.views),
                    WindowRule::Never => kind.shades_new && !state.window,
                    WindowRule::OwnView => {
                        kind.shades_new && (!state.window || self.view.is_some_and(|v| v >= state.epoch))
                    }
                };
                Barrier { shades_old: state.shades_old(), shades_new }
            }
        };
        write(&self.heap, barrier, &mut self.buf, &self.heap.objs[obj].slots[slot], new);
    }

    /// Allocate `o`, an object nothing points to yet: black if this mutator's view is newer
    /// than the epoch the page was swept for (the first, here), as `AllocCache::alloc_fast`.
    fn alloc(&self, o: usize) {
        if self.view.is_some_and(|v| v > 1) {
            self.heap.marks.try_mark(granule(o));
        }
    }

    /// Load slot `slot` of object `obj` (`Member::get`).
    pub(super) fn load(&self, obj: usize, slot: usize) -> *mut Obj {
        self.heap.objs[obj].slots[slot].load(Ordering::Acquire)
    }

    /// `Mutator::safepoint`: answer a flush request (publishing the buffer, then taking the
    /// mark epoch to allocate with, as `publish_private_state`).
    pub(super) fn safepoint(&mut self) {
        if self.hs.poll_requested() {
            let (heap, buf, view) = (&self.heap, &mut self.buf, &mut self.view);
            self.hs.safepoint_slow(self.id, &self.ack, &mut || {
                buf.flush(&heap.queue);
                if view.is_some() {
                    *view = Some(heap.views.take(&heap.phase));
                }
            });
        }
    }

    pub(super) fn leave(mut self) {
        let (heap, buf) = (&self.heap, &mut self.buf);
        self.hs.unregister(self.id, || buf.flush(&heap.queue));
    }
}

/// One execution of the mark start; returns the reachable objects the marking missed. With
/// `views` false (a control) the mutators take no allocation views, so the window's barrier
/// never shades a stored pointer.
fn start(kind: BarrierKind, rounds: usize, views: bool) -> Vec<usize> {
    let heap = Heap::new();
    let hs = Arc::new(Handshake::default());
    let (mut m1, mut m2) = if views {
        (
            Mutator::register_with_view(&hs, &heap, WindowRule::AnyView),
            Mutator::register_with_view(&hs, &heap, WindowRule::AnyView),
        )
    } else {
        (Mutator::register(&hs, &heap), Mutator::register(&hs, &heap))
    };
    let collector = {
        let (heap, hs) = (heap.clone(), hs.clone());
        thread::spawn(move || {
            let window = if kind == BarrierKind::Dijkstra { kind } else { BarrierKind::Hybrid };
            let epoch = heap.phase.begin_marking(window, true);
            for _ in 0..rounds {
                hs.ragged_flush(WARN_AFTER, AnswerAt::Safepoints);
            }
            heap.phase.set(Phase::Mark, kind, epoch);
            let mut stack = vec![];
            if heap.marks.try_mark(granule(R)) {
                stack.push(R);
            }
            drain(&heap, &mut stack);
            drain_queue(&heap, &mut stack);
        })
    };
    let late = thread::spawn(move || {
        m2.store(A, 0, std::ptr::null_mut());
        m2.safepoint();
        m2.leave();
    });
    m1.safepoint();
    let x = m1.load(A, 0);
    m1.store(B, 0, x);
    m1.safepoint();
    m1.leave();
    late.join().unwrap();
    collector.join().unwrap();
    // Termination (world stopped): whatever was published is drained.
    let mut stack = vec![];
    drain_queue(&heap, &mut stack);
    heap.reachable().into_iter().filter(|&o| !heap.marks.is_marked(granule(o))).collect()
}

/// One execution of a Dijkstra mark start in which a mutator allocates black; returns the
/// reachable objects the marking missed.
///
/// `M1` answers the round (taking the new epoch), allocates `Y` — black — and links it into
/// `B`'s second slot, then detaches. `M2`, which has not answered, finds `Y` there, moves `X`
/// from `A` into `Y` and answers. `Y` is never scanned (it is black), so `X` survives only if
/// `M2`'s store into `Y` shaded it: in the window, a stored pointer is shaded once *any*
/// mutator took the marking's epoch (`BarrierState::shades_new`), which `M2` sees because it
/// received `Y` from `M1`. Controls: no insertion shade in the window, and one only after the
/// storing thread's own answer — loom must find both losing `X`. (Under Yuasa and hybrid the
/// window's deletion barrier shades `X` when `A` is cleared, whatever the rule.)
fn start_black(rule: WindowRule) -> Vec<usize> {
    let heap = Heap::new();
    let hs = Arc::new(Handshake::default());
    let mut m1 = Mutator::register_with_view(&hs, &heap, rule);
    let mut m2 = Mutator::register_with_view(&hs, &heap, rule);
    let early = thread::spawn(move || {
        m1.safepoint();
        m1.alloc(Y);
        let y = m1.heap.ptr(Y);
        m1.store(B, 1, y);
        m1.leave();
    });
    let late = thread::spawn(move || {
        if !m2.load(B, 1).is_null() {
            let x = m2.load(A, 0);
            m2.store(Y, 0, x);
            m2.store(A, 0, std::ptr::null_mut());
        }
        m2.safepoint();
        m2.leave();
    });
    // The collector, on the model's main thread: window, one round, scan.
    let epoch = heap.phase.begin_marking(BarrierKind::Dijkstra, true);
    hs.ragged_flush(WARN_AFTER, AnswerAt::Safepoints);
    heap.phase.set(Phase::Mark, BarrierKind::Dijkstra, epoch);
    let mut stack = vec![];
    if heap.marks.try_mark(granule(R)) {
        stack.push(R);
    }
    drain(&heap, &mut stack);
    drain_queue(&heap, &mut stack);
    early.join().unwrap();
    late.join().unwrap();
    // Termination (world stopped): whatever was published is drained.
    drain_queue(&heap, &mut stack);
    heap.reachable().into_iter().filter(|&o| !heap.marks.is_marked(granule(o))).collect()
}

/// One execution of the termination under `kind`; returns the reachable objects unmarked at
/// the decision.
fn terminate(kind: BarrierKind, check: Decision, busy_before: bool) -> Vec<usize> {
    let heap = Heap::new();
    heap.objs[X].slots[0].store(heap.ptr(Y), Ordering::Relaxed);
    heap.phase.set(Phase::Mark, kind, MARKING);
    let hs = Arc::new(Handshake::default());
    let mut m = Mutator::register(&hs, &heap);
    // The root scan already ran: `R` is black, `A` and `B` are grey in the queue.
    let mut roots = ShadeBuffer::default();
    for o in [R, A, B] {
        assert!(heap.marks.try_mark(granule(o)));
    }
    roots.push(A, &heap.queue);
    roots.push(B, &heap.queue);
    roots.flush(&heap.queue);
    // A worker (or an assist) drains the queue while the collector's first round runs; with
    // `busy_before` it took `A` and `B` before the collector read its first stamp.
    let taken = busy_before.then(|| heap.queue.pop_busy().expect("A and B are queued"));
    let worker = {
        let heap = heap.clone();
        thread::spawn(move || {
            let mut stack = vec![];
            if let Some(buf) = taken {
                scan_taken(&heap, buf, &mut stack);
            }
            drain_queue(&heap, &mut stack)
        })
    };
    let mutator = thread::spawn(move || {
        m.safepoint();
        let x = m.load(A, 0);
        m.store(B, 0, x);
        m.store(A, 0, std::ptr::null_mut());
        m.leave();
    });
    // The collector, on the model's main thread.
    let missed = decide(&heap, &hs, kind, check);
    mutator.join().unwrap();
    worker.join().unwrap();
    missed
}

/// How the collector decides that a round was quiet: `ragged_round`'s rule, and the broken
/// rules the controls check.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Decision {
    /// The queue done at the end of the round, then the stamp unchanged across it.
    Stamp,
    /// The queue done, nothing else.
    NoStamp,
    /// The stamp read first, then the queue: a worker may take and finish the last grey work
    /// between the two reads.
    StampReadFirst,
    /// The stamp without the busy count (entries and publications only): a worker busy since
    /// before the round may finish during it unseen.
    EntriesOnly,
}

/// The collector's termination: rounds (draining between them, not before the first) until
/// one decides by `rule`. After the decision nothing is drained any more (the barrier goes
/// off), so it returns the reachable objects unmarked at that moment.
fn decide(heap: &Heap, hs: &Handshake, kind: BarrierKind, rule: Decision) -> Vec<usize> {
    let marked = decide_marks(heap, hs, kind, rule);
    heap.reachable().into_iter().filter(|&o| !marked[o]).collect()
}

/// [`decide`], returning which objects were marked at the decision (for models whose
/// reachable objects include value stacks, read once their owners are done).
pub(super) fn decide_marks(heap: &Heap, hs: &Handshake, kind: BarrierKind, rule: Decision) -> Vec<bool> {
    let stamp = || {
        let (busy, published) = heap.queue.stamp();
        if rule == Decision::EntriesOnly {
            (busy >> 32, published)
        } else {
            (busy, published)
        }
    };
    let mut stack = vec![];
    let mut first = true;
    loop {
        if !std::mem::take(&mut first) {
            drain_queue(heap, &mut stack);
        }
        let before = stamp();
        hs.ragged_flush(WARN_AFTER, AnswerAt::Safepoints);
        let quiet = match rule {
            Decision::NoStamp => heap.queue.is_done(),
            Decision::StampReadFirst => stamp() == before && heap.queue.is_done(),
            // The queue done first, then the stamp (as `ragged_round`).
            Decision::Stamp | Decision::EntriesOnly => heap.queue.is_done() && stamp() == before,
        };
        if quiet {
            let marked = (0..heap.objs.len()).map(|o| heap.marks.is_marked(granule(o))).collect();
            heap.phase.set(Phase::Sweep, kind, MARKING);
            return marked;
        }
        // Not yet: let the worker and the mutators run (the real collector's drain waits for
        // its workers).
        thread::yield_now();
    }
}

/// One execution of the termination with two mutators, one of which answers late; returns
/// the reachable objects unmarked at the decision.
///
/// `R` and `B` are black; `A` is grey in the late mutator's private buffer (it shaded `A`
/// before the round: the grey object of the argument's second case, "in a mutator's buffer").
/// `M1` answers, then moves `X` from `A` into `B` — shading `X` into its own buffer, under
/// Dijkstra by the store into black `B`, under Yuasa by clearing `A` — and detaches (publishing
/// its buffer); meanwhile `M2`, late, answers
/// (publishing `A`), and then assists: it takes `A` and scans it. No worker runs; the
/// collector drains between rounds.
fn terminate_late(kind: BarrierKind, check: Decision) -> Vec<usize> {
    let heap = Heap::new();
    heap.objs[X].slots[0].store(heap.ptr(Y), Ordering::Relaxed);
    heap.phase.set(Phase::Mark, kind, MARKING);
    let hs = Arc::new(Handshake::default());
    let mut m1 = Mutator::register(&hs, &heap);
    let mut m2 = Mutator::register(&hs, &heap);
    for o in [R, B, A] {
        assert!(heap.marks.try_mark(granule(o)));
    }
    m2.buf.push(A, &heap.queue);
    let late = thread::spawn(move || {
        m2.safepoint();
        // A mark assist (an allocation's): take grey work from the queue and scan it.
        drain_queue(&m2.heap, &mut vec![]);
        m2.leave();
    });
    let early = thread::spawn(move || {
        m1.safepoint();
        let x = m1.load(A, 0);
        m1.store(B, 0, x);
        m1.store(A, 0, std::ptr::null_mut());
        m1.leave();
    });
    // The collector, on the model's main thread.
    let missed = decide(&heap, &hs, kind, check);
    early.join().unwrap();
    late.join().unwrap();
    missed
}

fn check_start(name: &str, kind: BarrierKind, rounds: usize) {
    explore(name, 2, move || {
        let missed = start(kind, rounds, true);
        assert!(missed.is_empty(), "objects {missed:?} are reachable but not marked");
    });
}

/// Explore a termination model that must mark everything reachable by its decision. Two
/// preemptions: with the collector on the main thread, every control's losing schedule needs
/// at most two (at three, the one-mutator models pass too, at 0.8–1.0 M executions each,
/// minutes in all: `LOOM_MAX_PREEMPTIONS=3`).
pub(super) fn check_termination(name: &str, model: impl Fn() -> Vec<usize> + Sync + Send + 'static) {
    explore(name, 2, move || {
        let missed = model();
        assert!(missed.is_empty(), "objects {missed:?} are reachable but not marked at the decision");
    });
}

/// Explore a model expected to fail until loom finds a failing schedule.
fn control(name: &str, bound: usize, model: impl Fn() -> bool + Sync + Send + 'static) {
    find_losing_schedule(name, bound, model);
}

rusty_fork_test! {
    #[test]
    fn a_handshake_start_with_dijkstra_needs_one_round() {
        check_start("ragged start: Dijkstra, one round", BarrierKind::Dijkstra, 1);
    }

    #[test]
    fn a_handshake_start_with_yuasa_needs_two_rounds() {
        check_start("ragged start: Yuasa, two rounds", BarrierKind::Yuasa, 2);
    }

    #[test]
    fn a_handshake_start_with_the_hybrid_barrier_needs_two_rounds() {
        check_start("ragged start: hybrid, two rounds", BarrierKind::Hybrid, 2);
    }

    /// Control: scanning before every mutator answered loses `X` under Dijkstra.
    #[test]
    fn a_start_that_does_not_wait_for_answers_is_caught() {
        control("ragged start: Dijkstra, no round (control)", 2, || start(BarrierKind::Dijkstra, 0, true).contains(&X));
    }

    /// In the window, a store into an object another mutator allocated black is shaded.
    #[test]
    fn a_handshake_start_shades_stores_into_objects_allocated_black_in_the_window() {
        explore("ragged start: Dijkstra, black allocation in the window", 2, || {
            let missed = start_black(WindowRule::AnyView);
            assert!(missed.is_empty(), "objects {missed:?} are reachable but not marked");
        });
    }

    /// Control: without insertion shades in the window, `M2` hides `X` in black `Y`.
    #[test]
    fn a_window_without_insertion_shades_is_caught() {
        control("ragged start: Dijkstra, no shade in the window (control)", 2, || {
            start_black(WindowRule::Never).contains(&X)
        });
    }

    /// Control: shading only after the storing thread's own answer is not enough: `M2` has not
    /// answered, `M1` has.
    #[test]
    fn a_window_that_shades_after_the_own_answer_only_is_caught() {
        control("ragged start: Dijkstra, shade after own answer (control)", 2, || {
            start_black(WindowRule::OwnView).contains(&X)
        });
    }

    /// Control: one round is not enough for the snapshot barrier.
    #[test]
    fn a_yuasa_start_with_one_round_is_caught() {
        control("ragged start: Yuasa, one round (control)", 2, || start(BarrierKind::Yuasa, 1, true).contains(&X));
    }

    /// Control: a window whose barrier never sees an allocation view (the mutators take none when
    /// they answer) does not shade what `M1` stores after answering; the store can land in `B`
    /// after `B` was scanned. Taking the view at the answer is what makes the answering thread's
    /// own stores shade (`BarrierState::shades_new`).
    #[test]
    fn a_window_whose_answers_take_no_views_is_caught() {
        control("ragged start: Dijkstra, answers take no views (control)", 2, || {
            start(BarrierKind::Dijkstra, 1, false).contains(&X)
        });
    }

    #[test]
    fn a_handshake_termination_decides_only_when_everything_reachable_is_marked() {
        check_termination("ragged termination: Dijkstra, stamp checked", || {
            terminate(BarrierKind::Dijkstra, Decision::Stamp, false)
        });
    }

    /// Under Yuasa the mutator's clearing of `A` shades `X` (the deletion barrier) into its
    /// private buffer, where only the stamp shows it; its store into `B` shades nothing.
    #[test]
    fn a_handshake_termination_under_yuasa_decides_only_when_everything_reachable_is_marked() {
        check_termination("ragged termination: Yuasa, stamp checked", || {
            terminate(BarrierKind::Yuasa, Decision::Stamp, false)
        });
    }

    #[test]
    fn a_handshake_termination_under_the_hybrid_barrier_decides_only_when_everything_reachable_is_marked() {
        check_termination("ragged termination: hybrid, stamp checked", || {
            terminate(BarrierKind::Hybrid, Decision::Stamp, false)
        });
    }

    /// A worker that took `A` and `B` before the collector's first stamp, and scans them during
    /// the round: only the busy count in the stamp shows that.
    #[test]
    fn a_handshake_termination_sees_a_worker_busy_since_before_the_round() {
        check_termination("ragged termination: Dijkstra, a worker busy since before the round", || {
            terminate(BarrierKind::Dijkstra, Decision::Stamp, true)
        });
    }

    /// Two mutators, one answering late and then assisting: the grey object protecting `X` is
    /// in the late one's buffer when the round starts.
    #[test]
    fn a_handshake_termination_with_a_late_mutator_decides_only_when_everything_reachable_is_marked() {
        check_termination("ragged termination, two mutators: Dijkstra, stamp checked", || {
            terminate_late(BarrierKind::Dijkstra, Decision::Stamp)
        });
    }

    #[test]
    fn a_handshake_termination_with_a_late_mutator_under_yuasa_decides_only_when_everything_reachable_is_marked() {
        check_termination("ragged termination, two mutators: Yuasa, stamp checked", || {
            terminate_late(BarrierKind::Yuasa, Decision::Stamp)
        });
    }

    #[test]
    fn a_handshake_termination_with_a_late_mutator_under_the_hybrid_barrier_decides_only_when_everything_reachable_is_marked() {
        check_termination("ragged termination, two mutators: hybrid, stamp checked", || {
            terminate_late(BarrierKind::Hybrid, Decision::Stamp)
        });
    }

    /// Control: deciding on an empty queue alone, without the stamp, loses `Y`.
    #[test]
    fn a_termination_without_the_stamp_is_caught() {
        control("ragged termination: Dijkstra, no stamp (control)", 2, || {
            terminate(BarrierKind::Dijkstra, Decision::NoStamp, false).contains(&Y)
        });
    }

    /// Control: the same under Yuasa, where `X` waits in the buffer as a deleted value.
    #[test]
    fn a_yuasa_termination_without_the_stamp_is_caught() {
        control("ragged termination: Yuasa, no stamp (control)", 2, || {
            terminate(BarrierKind::Yuasa, Decision::NoStamp, false).contains(&Y)
        });
    }

    /// Control: the same under the hybrid barrier.
    #[test]
    fn a_hybrid_termination_without_the_stamp_is_caught() {
        control("ragged termination: hybrid, no stamp (control)", 2, || {
            terminate(BarrierKind::Hybrid, Decision::NoStamp, false).contains(&Y)
        });
    }

    /// Control: the stamp read before the queue is found done — the worker takes and finishes
    /// the last grey work between the two reads.
    #[test]
    fn a_termination_that_reads_the_stamp_first_is_caught() {
        control("ragged termination: Dijkstra, stamp read first (control)", 2, || {
            terminate(BarrierKind::Dijkstra, Decision::StampReadFirst, false).contains(&Y)
        });
    }

    /// Control: a stamp without the busy count misses the worker busy since before the round.
    #[test]
    fn a_termination_without_the_busy_count_is_caught() {
        control("ragged termination: Dijkstra, stamp without busy count (control)", 2, || {
            terminate(BarrierKind::Dijkstra, Decision::EntriesOnly, true).contains(&Y)
        });
    }

    /// Control: two mutators, no stamp — the late mutator publishes `A` and takes it back as an
    /// assist within the round, while the early one holds `X` in its buffer.
    #[test]
    fn a_termination_with_a_late_mutator_without_the_stamp_is_caught() {
        control("ragged termination, two mutators: Dijkstra, no stamp (control)", 2, || {
            terminate_late(BarrierKind::Dijkstra, Decision::NoStamp).contains(&Y)
        });
    }

    /// Control: the same under Yuasa (`X` shaded by its deletion from `A`).
    #[test]
    fn a_yuasa_termination_with_a_late_mutator_without_the_stamp_is_caught() {
        control("ragged termination, two mutators: Yuasa, no stamp (control)", 2, || {
            terminate_late(BarrierKind::Yuasa, Decision::NoStamp).contains(&Y)
        });
    }

    /// Control: the same under the hybrid barrier.
    #[test]
    fn a_hybrid_termination_with_a_late_mutator_without_the_stamp_is_caught() {
        control("ragged termination, two mutators: hybrid, no stamp (control)", 2, || {
            terminate_late(BarrierKind::Hybrid, Decision::NoStamp).contains(&Y)
        });
    }
}
