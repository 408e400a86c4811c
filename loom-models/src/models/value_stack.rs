//! Model (g): value stacks — pointers a mutator keeps across safepoints with plain stores,
//! scanned by their owner at its answers, detach and attach, and by the collector while the
//! owner is stopped (`stack_scan.rs`).
//!
//! Each model runs the real handshake, phase word, grey queue and slot stores of model (d)
//! (`ragged.rs`), and the real rule for when a scan is due (`BarrierState::stack_scan_due`);
//! the stack is a `loom::cell::UnsafeCell`, so loom also checks that the collector never reads
//! a stack its owner is writing (the handshake table's lock orders them).
//!
//! - **Yuasa mark start** ([`start`]): `M1` answers the first round, loads `X` from `A` into
//!   its stack; `M2`, not yet answering, clears `A` without a barrier; `M1` answers the second
//!   round, and after the snapshot moves `X` from its stack into `B` (Yuasa does not shade a
//!   stored pointer) and pops it. Only the scan at the *second* answer sees `X`. Control: a
//!   scan once per marking (at the first answer only).
//! - **Re-attach** ([`reattach`], Yuasa): `X` is only in the stack of `M1`, which is detached
//!   when marking starts and re-attaches at any point; it then moves `X` into `B`. If it
//!   re-attaches after the rounds but before the collector scans stopped mutators' stacks,
//!   only its own scan at attach sees `X`. Control: no scan at attach.
//! - **Dijkstra termination** ([`terminate`]): marking runs with `A` and `B` grey; a worker
//!   drains; the mutator answers, moves `X` from `A` into its stack (clearing `A`, which
//!   Dijkstra does not shade) and keeps it there, answering again and detaching. The collector
//!   decides by the stamp (`ragged_round`); `Y`, in `X`, must be marked at the decision: only
//!   the rescan at the mutator's next answer shades `X`. Control: once per marking.

use loom::{cell::UnsafeCell, sync::Arc, thread};
use rusty_fork::rusty_fork_test;

use super::{
    barrier::{drain, drain_queue, granule, Heap, A, B, R, X, Y},
    find_losing_schedule,
    ragged::{check_termination, decide_marks, Decision, Mutator, WARN_AFTER},
};
use crate::{
    clock::{Phase, FIRST_EPOCH},
    config::BarrierKind,
    grey_queue::ShadeBuffer,
    handshake::{AnswerAt, Handshake},
};

/// A value stack's storage: object indices, written by the owner, read by the collector.
struct Stack(UnsafeCell<Vec<usize>>);

// SAFETY: loom checks every access to the cell for a data race.
unsafe impl Send for Stack {}
// SAFETY: as above.
unsafe impl Sync for Stack {}

impl Stack {
    fn contents(&self) -> Vec<usize> {
        // SAFETY: loom checks the access (a race is reported, not undefined).
        self.0.with(|v| unsafe { (*v).clone() })
    }
}

/// When the owner scans its stack.
#[derive(Clone, Copy, PartialEq)]
enum ScanRule {
    /// `BarrierState::stack_scan_due`, and a scan at attach (`ThreadState::attach_again`).
    Real,
    /// Control: once per marking, whatever the barrier and the window.
    OncePerMarking,
    /// Control: the real rule, but no scan at attach.
    NoAttachScan,
}

/// A mutator of model (d) with a value stack.
struct StackMutator {
    m: Mutator,
    stack: Arc<Stack>,
    /// The epoch of the marking during which it last scanned.
    scanned: u64,
    rule: ScanRule,
}

/// `ThreadState::scan_stacks`: shade the stack's objects into `buf` if a scan is due.
fn scan_own(heap: &Heap, stack: &Stack, scanned: &mut u64, rule: ScanRule, buf: &mut ShadeBuffer<usize>) -> bool {
    let Some(state) = heap.phase.barrier_state() else { return false };
    let due = match rule {
        ScanRule::OncePerMarking => *scanned != state.epoch,
        ScanRule::Real | ScanRule::NoAttachScan => state.stack_scan_due(*scanned),
    };
    if !due {
        return false;
    }
    for o in stack.contents() {
        if heap.marks.try_mark(granule(o)) {
            buf.push(o, &heap.queue);
        }
    }
    *scanned = state.epoch;
    true
}

impl StackMutator {
    fn register(m: Mutator, stack: Vec<usize>, rule: ScanRule) -> StackMutator {
        StackMutator { m, stack: Arc::new(Stack(UnsafeCell::new(stack))), scanned: 0, rule }
    }

    fn push(&mut self, o: usize) {
        // SAFETY: the owner writes while it runs; loom checks the access.
        self.stack.0.with_mut(|v| unsafe { (*v).push(o) });
    }

    fn pop(&mut self) -> usize {
        // SAFETY: as in `push`.
        self.stack.0.with_mut(|v| unsafe { (*v).pop() }).expect("the stack holds an object")
    }

    /// `Mutator::safepoint`: answer a request, scanning the stack before publishing the buffer
    /// (`publish_private_state`).
    fn safepoint(&mut self) {
        if self.m.hs.poll_requested() {
            let StackMutator { m, stack, scanned, rule } = self;
            let (heap, buf) = (&m.heap, &mut m.buf);
            m.hs.safepoint_slow(m.id, &m.ack, &mut || {
                scan_own(heap, stack, scanned, *rule, buf);
                buf.flush(&heap.queue);
            });
        }
    }

    /// `ThreadState::detach`: scan if due, then publish and detach.
    fn detach(&mut self) {
        let StackMutator { m, stack, scanned, rule } = self;
        let (heap, buf) = (&m.heap, &mut m.buf);
        scan_own(heap, stack, scanned, *rule, buf);
        m.hs.detach(m.id, || buf.flush(&heap.queue));
    }

    /// `ThreadState::attach_again`: attach, then scan and publish if due.
    fn attach(&mut self) {
        self.m.hs.attach(self.m.id);
        if self.rule != ScanRule::NoAttachScan {
            let StackMutator { m, stack, scanned, rule } = self;
            if scan_own(&m.heap, stack, scanned, *rule, &mut m.buf) {
                m.buf.flush(&m.heap.queue);
            }
        }
    }
}

/// `stack_scan::scan_stopped` (in `mark_from_roots`): mark grey what the stack of `owner`
/// holds if `owner` is not running, holding the handshake table's lock.
fn scan_stopped(hs: &Handshake, heap: &Heap, owner: usize, stack: &Stack, grey: &mut Vec<usize>) {
    hs.for_each_stopped(|id| {
        if id == owner {
            for o in stack.contents() {
                if heap.marks.try_mark(granule(o)) {
                    grey.push(o);
                }
            }
        }
    });
}

/// The collector's mark start by handshakes (`begin_marking_by_handshakes`, then
/// `mark_from_roots`), with the stack of `owner` scanned if `owner` is stopped.
fn collector_start(hs: &Handshake, heap: &Heap, owner: usize, stack: &Stack, kind: BarrierKind) {
    let window = if kind == BarrierKind::Dijkstra { kind } else { BarrierKind::Hybrid };
    let epoch = heap.phase.begin_marking(window, true);
    let rounds = if kind == BarrierKind::Dijkstra { 1 } else { 2 };
    for _ in 0..rounds {
        hs.ragged_flush(WARN_AFTER, AnswerAt::Safepoints);
    }
    heap.phase.set(Phase::Mark, kind, epoch);
    let mut grey = vec![];
    scan_stopped(hs, heap, owner, stack, &mut grey);
    if heap.marks.try_mark(granule(R)) {
        grey.push(R);
    }
    drain(heap, &mut grey);
    drain_queue(heap, &mut grey);
}

/// Objects reachable from `R` and `stack` not marked (world stopped, after termination drained).
fn missed(heap: &Heap, stack: &Stack) -> Vec<usize> {
    drain_queue(heap, &mut vec![]);
    heap.reachable_from(&stack.contents()).into_iter().filter(|&o| !heap.marks.is_marked(granule(o))).collect()
}

/// The Yuasa mark start with `X` held across the rounds in `M1`'s stack. The collector runs
/// on the model's main thread, which loom schedules first: the losing schedule of the control
/// then needs two preemptions (after `M1` pushes `X`, after `M1` answers the second round).
fn start(kind: BarrierKind, rule: ScanRule) -> Vec<usize> {
    let heap = Heap::new();
    let hs = Arc::new(Handshake::default());
    // No allocation views: nothing is allocated, and their atomics would only multiply the
    // executions (the window then shades no stored pointer, which this model does not need).
    let mut m1 = StackMutator::register(Mutator::register(&hs, &heap), vec![], rule);
    let mut m2 = Mutator::register(&hs, &heap);
    let (owner, stack) = (m1.m.id, m1.stack.clone());
    let early = thread::spawn(move || {
        m1.safepoint();
        if let Some(x) = m1.m.heap.target(m1.m.load(A, 0)) {
            m1.push(x);
            m1.safepoint();
            let x = m1.pop();
            let p = m1.m.heap.ptr(x);
            m1.m.store(B, 0, p);
        }
        m1.detach();
    });
    let late = thread::spawn(move || {
        m2.store(A, 0, std::ptr::null_mut());
        m2.safepoint();
        m2.leave();
    });
    collector_start(&hs, &heap, owner, &stack, kind);
    early.join().unwrap();
    late.join().unwrap();
    missed(&heap, &stack)
}

/// A mutator detached at mark start, holding `X` only in its stack, re-attaches and moves `X`
/// into `B`. The collector runs on the main thread (the losing schedule of the control: a
/// preemption after the rounds, one after the attach).
fn reattach(rule: ScanRule) -> Vec<usize> {
    let heap = Heap::new();
    heap.objs[A].slots[0].store(std::ptr::null_mut(), loom::sync::atomic::Ordering::Relaxed);
    let hs = Arc::new(Handshake::default());
    let mut m1 = StackMutator::register(Mutator::register(&hs, &heap), vec![X], rule);
    m1.detach();
    let (owner, stack) = (m1.m.id, m1.stack.clone());
    let mutator = thread::spawn(move || {
        m1.attach();
        let x = m1.pop();
        let p = m1.m.heap.ptr(x);
        m1.m.store(B, 0, p);
        m1.safepoint();
        m1.detach();
    });
    collector_start(&hs, &heap, owner, &stack, BarrierKind::Yuasa);
    mutator.join().unwrap();
    missed(&heap, &stack)
}

/// The Dijkstra termination with `X` moved from `A` into the mutator's stack after it
/// answered; returns the reachable objects unmarked at the decision.
fn terminate(rule: ScanRule) -> Vec<usize> {
    let heap = Heap::new();
    heap.objs[X].slots[0].store(heap.ptr(Y), loom::sync::atomic::Ordering::Relaxed);
    let marking = FIRST_EPOCH + 1;
    heap.phase.set(Phase::Mark, BarrierKind::Dijkstra, marking);
    let hs = Arc::new(Handshake::default());
    let mut m = StackMutator::register(Mutator::register(&hs, &heap), vec![], rule);
    // It scanned its (empty) stack at this marking's start.
    m.scanned = marking;
    // The root scan already ran: `R` is black, `A` and `B` are grey in the queue.
    let mut roots = ShadeBuffer::default();
    for o in [R, A, B] {
        assert!(heap.marks.try_mark(granule(o)));
    }
    roots.push(A, &heap.queue);
    roots.push(B, &heap.queue);
    roots.flush(&heap.queue);
    let worker = {
        let heap = heap.clone();
        thread::spawn(move || drain_queue(&heap, &mut vec![]))
    };
    let stack = m.stack.clone();
    let mutator = thread::spawn(move || {
        m.safepoint();
        let x = m.m.load(A, 0);
        if let Some(x) = m.m.heap.target(x) {
            m.push(x);
        }
        m.m.store(A, 0, std::ptr::null_mut());
        m.safepoint();
        m.detach();
    });
    let marked = decide_marks(&heap, &hs, BarrierKind::Dijkstra, Decision::Stamp);
    mutator.join().unwrap();
    worker.join().unwrap();
    heap.reachable_from(&stack.contents()).into_iter().filter(|&o| !marked[o]).collect()
}

rusty_fork_test! {
    #[test]
    fn a_yuasa_start_scans_each_stack_at_every_answer_in_the_window() {
        check_termination("value stack: Yuasa start, scans in the window", || start(BarrierKind::Yuasa, ScanRule::Real));
    }

    /// Control: a stack scanned at the first answer only holds `X` unseen through the second.
    #[test]
    fn a_yuasa_start_that_scans_stacks_once_is_caught() {
        find_losing_schedule("value stack: Yuasa start, one scan (control)", 2, || {
            start(BarrierKind::Yuasa, ScanRule::OncePerMarking).contains(&X)
        });
    }

    #[test]
    fn a_mutator_detached_at_mark_start_has_its_stack_scanned() {
        check_termination("value stack: re-attach during the mark start", || reattach(ScanRule::Real));
    }

    /// Control: without the scan at attach, a mutator that re-attaches between the rounds and
    /// the collector's scan of stopped stacks hides `X`.
    #[test]
    fn a_reattach_without_a_scan_is_caught() {
        find_losing_schedule("value stack: re-attach, no scan at attach (control)", 2, || {
            reattach(ScanRule::NoAttachScan).contains(&X)
        });
    }

    #[test]
    fn a_dijkstra_termination_rescans_stacks() {
        check_termination("value stack: Dijkstra termination, rescans", || terminate(ScanRule::Real));
    }

    /// Control: under Dijkstra a stack scanned once per marking hides `X` (and `Y`) from the
    /// termination.
    #[test]
    fn a_dijkstra_termination_without_rescans_is_caught() {
        find_losing_schedule("value stack: Dijkstra termination, no rescan (control)", 2, || {
            terminate(ScanRule::OncePerMarking).contains(&Y)
        });
    }
}
