//! Model (e): a weak map's entry across a termination decided without a pause
//! (`collections/weak_map.rs`, "Why the fixpoint is sound without a pause").
//!
//! The heap is model (b)'s: a root `R` pointing to `A` and `B`, `X` in `A`'s first slot, and
//! `Y` in `X`'s first slot. Here `A` is a weak map's holder and its first slot the value of the
//! map's one entry, whose key is `B`: `R`, `A` and `B` are black — `A` was scanned while `B`
//! was still white, so `X` was not traced — and `X` and `Y` are white. The entry owes `X` to
//! the marking: a black object's value under a marked key, an edge the barrier never saw
//! appear.
//!
//! The mutator passes a safepoint, then removes the entry as `GcWeakMap::remove` does: the
//! entry leaves the map without a store (removals do not shade), the weak read's checks run on
//! its value (`weak.rs`, `note_weak_read`) and, if they give it back, the mutator stores it into
//! `B` through the barrier. The
//! collector runs rounds as `ragged_round` does — the queue done, then the stamp *and the count
//! of unmarked weak reads* unchanged across the round, holding the weak gate — and then makes
//! the ephemeron pass over `A` (`marker/ephemerons.rs`): if the key is marked and the value is
//! not, it shades the value and the round is not quiet. When it decides, it sets the verdict
//! and turns the barrier off; nothing is drained after that. At the end every object reachable
//! must be marked — at the decision, and after the mutator's last store: `Y` above all, which
//! only a scan of `X` marks.
//!
//! This model found that `remove`, as first written, cleared the slot through the barrier before
//! the weak read's checks: under Yuasa the deletion shade had marked `X` (grey, in the thread's
//! private buffer) by then, so the read did not count it, the pass found the entry gone, and
//! `Y` was lost. Removals now shade nothing (`collections/weak_map.rs`, point 4).
//!
//! Controls, each of which loom must catch losing `Y`:
//! - *no count*: the weak read is not counted. The mutator answers, takes `X` out and stores it
//!   into `B` — shading it into its private buffer — and the decision comes before it
//!   publishes: the entry is gone, so the pass finds nothing.
//! - *verdict read first* (an upgrade of a weak reference to `X`, with no entry: the second
//!   scenario): the read checks the verdict and then the phase, as upgrades did before this
//!   model: it finds no verdict yet, then the barrier already off, and hands out `X` uncounted;
//!   stored with the barrier off, `X` is never scanned. (With the entry, the pass would find it
//!   owed: the map's own read cannot lose it this way.)
//! - *removal shades first* (Yuasa): the removal clears the slot through the barrier before the
//!   read's checks; the deletion shade marks `X` grey in the thread's buffer, the read sees it
//!   marked and does not count it.
//! - *no pass*: the collector decides without looking at the entry; the mutator's read, after
//!   the decision, fails (the verdict condemns `X`), but `X` was reachable through the entry at
//!   the decision, unmarked.

use loom::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, RwLock,
    },
    thread,
};
use rusty_fork::rusty_fork_test;

use super::{
    barrier::{drain_queue, granule, write, Barrier, Heap, A, B, DIJKSTRA, HYBRID, X, Y, YUASA},
    explore, find_losing_schedule,
    ragged::{Mutator, MARKING, WARN_AFTER},
};
use crate::{
    clock::Phase,
    config::BarrierKind,
    grey_queue::ShadeBuffer,
    handshake::{AnswerAt, Handshake},
};

/// What the protocol does; the controls leave one part out.
#[derive(Clone, Copy, PartialEq)]
enum Rules {
    /// `note_weak_read` as it is, and the pass at the decision.
    Sound,
    /// Control: weak reads of unmarked values are not counted.
    NoCount,
    /// Control: the weak read checks the verdict before the phase.
    VerdictFirst,
    /// Control: the decision makes no ephemeron pass.
    NoPass,
    /// Control: the removal clears the slot through the barrier before the weak read's checks
    /// (as `remove` was first written).
    ShadeOnRemove,
}

/// The weak gate, the verdict and the count of unmarked weak reads (`Runtime::weak_gate`,
/// `clock::weak_verdict`, `WeakTable::unmarked_upgrades`).
#[derive(Default)]
struct Weak {
    gate: RwLock<()>,
    verdict: AtomicU64,
    unmarked_reads: AtomicU64,
}

fn marked(heap: &Heap, o: usize) -> bool {
    heap.marks.is_marked(granule(o))
}

/// `weak::note_weak_read` for the object `o`: whether the read may hand it out; `upgraded` is
/// set when the thread's stores must shade what they store (Yuasa).
fn weak_read(heap: &Heap, weak: &Weak, rules: Rules, o: usize, upgraded: &mut bool) -> bool {
    let condemned = || {
        let verdict = weak.verdict.load(Ordering::Acquire);
        verdict != 0 && !marked(heap, o)
    };
    if rules == Rules::VerdictFirst {
        // The old order: the verdict, then the phase (relaxed, as the barrier's fast path).
        if condemned() {
            return false;
        }
        if !heap.phase.barrier_on() {
            return true;
        }
    } else if !heap.phase.barrier_on_acquire() {
        return !condemned();
    }
    let _gate = weak.gate.read().unwrap();
    if condemned() {
        return false;
    }
    *upgraded = true;
    if rules != Rules::NoCount && !marked(heap, o) {
        weak.unmarked_reads.fetch_add(1, Ordering::SeqCst);
    }
    true
}

/// A barriered store by a mutator whose stores shade the stored pointer too once it made a
/// weak read while marking (`ThreadState::note_weak_upgrade`).
fn store(
    heap: &Heap,
    buf: &mut ShadeBuffer<usize>,
    upgraded: bool,
    obj: usize,
    slot: usize,
    new: *mut super::barrier::Obj,
) {
    let barrier = match heap.phase.barrier_state() {
        None => DIJKSTRA, // off: `write` stores without shading
        Some(state) => {
            let kind = match state.kind {
                BarrierKind::Dijkstra => DIJKSTRA,
                BarrierKind::Yuasa => YUASA,
                BarrierKind::Hybrid => HYBRID,
            };
            Barrier { shades_old: kind.shades_old, shades_new: kind.shades_new || upgraded }
        }
    };
    write(heap, barrier, buf, &heap.objs[obj].slots[slot], new);
}

/// What the mutator does with the weakly held `X`.
#[derive(Clone, Copy, PartialEq)]
enum Scenario {
    /// `GcWeakMap::remove` of the entry under `B`, then a store of the value into `B`.
    RemoveFromMap,
    /// `Weak::upgrade` of a weak reference to `X` (no entry: `A`'s slot is empty), then a
    /// store of `X` into `B`.
    Upgrade,
}

/// One execution under `kind`; returns the reachable objects left unmarked.
fn run(kind: BarrierKind, rules: Rules, scenario: Scenario) -> Vec<usize> {
    let heap = Heap::new();
    heap.objs[X].slots[0].store(heap.ptr(Y), Ordering::Relaxed);
    // The weak reference's cell (only the upgrade reads it).
    let cell = heap.objs[A].slots[0].load(Ordering::Relaxed) as usize;
    if scenario == Scenario::Upgrade {
        heap.objs[A].slots[0].store(std::ptr::null_mut(), Ordering::Relaxed);
    }
    heap.phase.set(Phase::Mark, kind, MARKING);
    for o in [super::barrier::R, A, B] {
        assert!(heap.marks.try_mark(granule(o)));
    }
    let weak = Arc::new(Weak::default());
    let hs = Arc::new(Handshake::default());
    let mut m = Mutator::register(&hs, &heap);
    let mutator = {
        let weak = weak.clone();
        thread::spawn(move || {
            m.safepoint();
            let mut upgraded = false;
            let (heap, buf) = (m.heap.clone(), &mut m.buf);
            let (x, handed_out) = if scenario == Scenario::RemoveFromMap {
                // `GcWeakMap::remove(B)`: the entry leaves the map without a store (no barrier:
                // point 4), then the weak read's checks on its value.
                let x = if rules == Rules::ShadeOnRemove {
                    let x = heap.objs[A].slots[0].load(Ordering::Acquire);
                    store(&heap, buf, upgraded, A, 0, std::ptr::null_mut());
                    x
                } else {
                    heap.objs[A].slots[0].swap(std::ptr::null_mut(), Ordering::AcqRel)
                };
                let o = heap.target(x).expect("the entry holds X");
                (x, weak_read(&heap, &weak, rules, o, &mut upgraded))
            } else {
                let x = cell as *mut super::barrier::Obj;
                (x, weak_read(&heap, &weak, rules, X, &mut upgraded))
            };
            if handed_out {
                store(&heap, buf, upgraded, B, 1, x);
            }
            m.leave();
        })
    };
    // The collector, on the model's main thread.
    let mut missed;
    let mut stack = vec![];
    let mut first = true;
    loop {
        if !std::mem::take(&mut first) {
            drain_queue(&heap, &mut stack);
        }
        let before = (heap.queue.stamp(), weak.unmarked_reads.load(Ordering::SeqCst));
        hs.ragged_flush(WARN_AFTER, AnswerAt::Safepoints);
        let gate = weak.gate.write().unwrap();
        let quiet = heap.queue.is_done() && (heap.queue.stamp(), weak.unmarked_reads.load(Ordering::SeqCst)) == before;
        let owed = rules != Rules::NoPass && quiet && marked(&heap, B) && {
            // The pass: the entry's value, if its key is marked and it is not.
            let v = heap.objs[A].slots[0].load(Ordering::Acquire);
            heap.target(v).is_some_and(|o| {
                heap.marks.try_mark(granule(o)) && {
                    let mut buf = ShadeBuffer::default();
                    buf.push(o, &heap.queue);
                    buf.flush(&heap.queue);
                    true
                }
            })
        };
        if quiet && !owed {
            weak.verdict.store(MARKING, Ordering::SeqCst);
            missed = unmarked_reachable(&heap);
            heap.phase.set(Phase::Sweep, kind, MARKING);
            drop(gate);
            break;
        }
        drop(gate);
        thread::yield_now();
    }
    mutator.join().unwrap();
    // Reachable and unmarked at the decision (the sweep would free it under a live entry or
    // slot), or at the end (stored after the decision).
    for o in unmarked_reachable(&heap) {
        if !missed.contains(&o) {
            missed.push(o);
        }
    }
    missed
}

/// The objects reachable from `R` — through `A`'s entry too, whose key `B` always is — that
/// are not marked.
fn unmarked_reachable(heap: &Heap) -> Vec<usize> {
    heap.reachable().into_iter().filter(|&o| !marked(heap, o)).collect()
}

fn check(name: &str, kind: BarrierKind, scenario: Scenario) {
    explore(name, 4, move || {
        let missed = run(kind, Rules::Sound, scenario);
        assert!(missed.is_empty(), "objects {missed:?} are reachable but not marked");
    });
}

rusty_fork_test! {
    #[test]
    fn a_weak_map_entry_taken_out_across_the_decision_is_marked_under_dijkstra() {
        check("weak map across a ragged termination: Dijkstra", BarrierKind::Dijkstra, Scenario::RemoveFromMap);
    }

    #[test]
    fn a_weak_map_entry_taken_out_across_the_decision_is_marked_under_yuasa() {
        check("weak map across a ragged termination: Yuasa", BarrierKind::Yuasa, Scenario::RemoveFromMap);
    }

    #[test]
    fn a_weak_map_entry_taken_out_across_the_decision_is_marked_under_the_hybrid_barrier() {
        check("weak map across a ragged termination: hybrid", BarrierKind::Hybrid, Scenario::RemoveFromMap);
    }

    #[test]
    fn a_weak_upgrade_across_the_decision_is_marked_or_fails_under_yuasa() {
        check("weak upgrade across a ragged termination: Yuasa", BarrierKind::Yuasa, Scenario::Upgrade);
    }

    #[test]
    fn a_weak_upgrade_across_the_decision_is_marked_or_fails() {
        check("weak upgrade across a ragged termination: Dijkstra", BarrierKind::Dijkstra, Scenario::Upgrade);
    }

    #[test]
    fn a_weak_read_that_is_not_counted_is_caught() {
        find_losing_schedule("weak map across a ragged termination: Dijkstra, reads not counted (control)", 2, || {
            run(BarrierKind::Dijkstra, Rules::NoCount, Scenario::RemoveFromMap).contains(&Y)
        });
    }

    #[test]
    fn a_decision_without_the_ephemeron_pass_is_caught() {
        find_losing_schedule("weak map across a ragged termination: Dijkstra, no pass (control)", 2, || {
            run(BarrierKind::Dijkstra, Rules::NoPass, Scenario::RemoveFromMap).contains(&Y)
        });
    }

    #[test]
    fn a_removal_that_shades_before_the_read_is_caught_under_yuasa() {
        find_losing_schedule("weak map across a ragged termination: Yuasa, removal shades first (control)", 2, || {
            run(BarrierKind::Yuasa, Rules::ShadeOnRemove, Scenario::RemoveFromMap).contains(&Y)
        });
    }

    #[test]
    fn an_upgrade_that_checks_the_verdict_first_is_caught() {
        find_losing_schedule("weak upgrade across a ragged termination: Dijkstra, verdict read first (control)", 2, || {
            run(BarrierKind::Dijkstra, Rules::VerdictFirst, Scenario::Upgrade).contains(&Y)
        });
    }
}
