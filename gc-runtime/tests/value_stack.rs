//! Value stacks: objects held only by a mutator's `ValueStack` (plain stores, no barrier)
//! survive collections in every mode and under every barrier — while their thread runs,
//! answers handshakes, parks, detaches and re-attaches — and die once the stack lets go.
//!
//! The stress runs move pointers between a shared board (barriered slots, read and cleared by
//! three threads) and each thread's stack (plain stores) while cycles run back to back with
//! checkmark on: a pointer the protocol loses is either caught by checkmark (which aborts) or
//! shows up as a freed object read through the stack (its canary, or its drop count).

use std::{
    collections::HashSet,
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    thread,
    time::Duration,
};

mod common;

use common::{collect2, serial_only, stress_configs, DropProbe, Ledger, Rng};
use gc_runtime::{BarrierKind, Config, Gc, Member, Mode, Root, Trace, ValueStack, Weak};

const MAGIC: u64 = 0x5DEE_CE66_D1CE_4E5B;
const BOARD: usize = 16;
const STACK_MAX: usize = 96;
const STRESS_MILLIS: u64 = if cfg!(miri) { 150 } else { 1500 };
/// Garbage cells made after a detached thread's stack was scanned (Miri interprets slowly).
const GARBAGE: usize = if cfg!(miri) { 200 } else { 10_000 };

/// The configurations the single-threaded stack tests run under: every mode and barrier of
/// the stress runs natively (and under ThreadSanitizer); under Miri, which looks for undefined
/// behaviour in the stacks' plain stores and their scans and interprets a cycle in seconds, the
/// two that scan stacks differently — the world stopped, where the collector scans every stack,
/// and handshakes under Dijkstra, where each owner scans its own at its answers and again at
/// termination, and the collector scans a detached thread's.
fn stack_configs() -> Vec<Config> {
    let all = stress_configs();
    all[..if cfg!(miri) { 2 } else { all.len() }].to_vec()
}

#[derive(Trace)]
struct Cell {
    id: u64,
    canary: u64,
    next: Member<Cell>,
    #[trace(skip)]
    probe: DropProbe,
}

impl Cell {
    fn new(ledger: &std::sync::Arc<Ledger>) -> Cell {
        let probe = ledger.probe();
        Cell { id: probe.id, canary: probe.id ^ MAGIC, next: Member::new(), probe }
    }

    fn check(&self) {
        assert_eq!(self.canary, self.id ^ MAGIC, "canary of cell {} corrupted", self.id);
        assert_eq!(self.probe.id, self.id, "cell {} reused", self.id);
    }
}

#[derive(Trace)]
struct Board {
    slots: [Member<Cell>; BOARD],
}

type Stack = ValueStack<Option<Gc<'static, Cell>>>;

/// One thread's part of a stress run.
fn mutate(ledger: &std::sync::Arc<Ledger>, board: &Root<Board>, seed: u64, stop: &AtomicBool, ops: &AtomicU64) {
    let mut mu = gc_runtime::attach();
    let mut rng = Rng(seed);
    let mut stack = Stack::new(&mu);
    let mut round = 0u64;
    while !stop.load(Ordering::Relaxed) {
        {
            let b = board.get(&mu);
            let mut s = stack.open(&mu);
            for _ in 0..32 {
                match rng.below(8) {
                    // A new cell, held only by the stack.
                    0 | 1 => s.push(Some(mu.alloc(Cell::new(ledger)))),
                    // Move a cell from the board into the stack: the slot is cleared (a
                    // deletion), the stack store is plain.
                    2 => {
                        let slot = &b.slots[rng.below(BOARD)];
                        if let Some(c) = slot.get(&mu) {
                            slot.set(None);
                            s.push(Some(c));
                        }
                    }
                    // Move a cell from the stack onto the board (an insertion), dropping it
                    // from the stack.
                    3 => {
                        if let Some(Some(c)) = s.pop() {
                            c.check();
                            b.slots[rng.below(BOARD)].set(Some(c));
                        }
                    }
                    // Link two stack cells through the heap, or unlink one.
                    4 if !s.is_empty() => {
                        let (i, j) = (rng.below(s.len()), rng.below(s.len()));
                        if let Some(a) = s[i] {
                            a.next.set(s[j]);
                        }
                    }
                    // Plain stores inside the stack: overwrite, swap, follow a link.
                    5 if !s.is_empty() => {
                        let (i, j) = (rng.below(s.len()), rng.below(s.len()));
                        s.swap(i, j);
                        let next = s[i].and_then(|c| c.next.get(&mu));
                        s[j] = next;
                    }
                    6 if !s.is_empty() => {
                        let i = rng.below(s.len());
                        s[i] = None;
                    }
                    _ => {
                        for c in s.iter().flatten() {
                            c.check();
                            if let Some(n) = c.next.get(&mu) {
                                n.check();
                            }
                        }
                    }
                }
            }
            if s.len() > STACK_MAX {
                s.truncate(STACK_MAX / 2);
            }
        }
        ops.fetch_add(32, Ordering::Relaxed);
        round += 1;
        match round % 16 {
            // Detached across whatever the collector does meanwhile.
            5 => mu.blocking(|| thread::sleep(Duration::from_micros(200))),
            // A new stack: the old one's cells are garbage unless linked from elsewhere.
            11 => stack = Stack::new(&mu),
            _ => mu.safepoint(),
        }
        if ledger.nearly_full(10_000) {
            break;
        }
    }
    stack.open(&mu).clear();
}

fn stress(config: Config) {
    let _s = serial_only();
    let label = format!("{config:?}");
    gc_runtime::reconfigure(config.with_checkmark(true).with_gc_percent(Some(50))).unwrap();
    let ledger = Ledger::new(2_000_000);
    let board = {
        let mu = gc_runtime::attach();
        mu.alloc(Board { slots: std::array::from_fn(|_| Member::new()) }).root(&mu)
    };
    let (cycles, ops) = common::churn(3, STRESS_MILLIS, |seed, stop, ops| mutate(&ledger, &board, seed, stop, ops));
    assert!(cycles >= 2, "{label}: only {cycles} cycles ran");
    assert!(ops > 0);
    let stats = gc_runtime::stats();
    let verified = stats.recent.iter().rev().take(cycles.min(4) as usize);
    assert!(verified.into_iter().all(|c| c.checkmarked_objects.is_some()), "{label}: checkmark ran");
    drop(board);
    let mut mu = gc_runtime::attach();
    collect2(&mut mu);
    ledger.check_exactly(&HashSet::new());
}

#[test]
fn stress_every_mode_and_barrier() {
    for config in stress_configs() {
        stress(config);
    }
}

#[test]
fn stress_dijkstra_with_global_stops() {
    stress(Config::default().with_mode(Mode::Concurrent).with_barrier(BarrierKind::Dijkstra).with_handshakes(false));
}

/// Cells held only by a stack, through collections of every kind; then dropped with it.
#[test]
fn a_stack_keeps_its_values_alive_and_they_die_with_it() {
    let _s = serial_only();
    let ledger = Ledger::new(10_000);
    for config in stack_configs() {
        gc_runtime::reconfigure(config.clone().with_checkmark(true)).unwrap();
        let mut mu = gc_runtime::attach();
        let mut stack = Stack::new(&mu);
        let weaks: Vec<Weak<Cell>> = {
            let mut s = stack.open(&mu);
            (0..100)
                .map(|_| {
                    let c = mu.alloc(Cell::new(&ledger));
                    s.push(Some(c));
                    Weak::new(&mu, c)
                })
                .collect()
        };
        collect2(&mut mu);
        mu.blocking(|| ());
        collect2(&mut mu);
        {
            let s = stack.open(&mu);
            assert_eq!(s.len(), 100);
            for (value, weak) in s.iter().zip(&weaks) {
                let c = value.expect("pushed Some");
                c.check();
                assert!(Gc::ptr_eq(c, weak.upgrade(&mu).expect("alive")));
            }
        }
        drop(stack);
        collect2(&mut mu);
        assert!(weaks.iter().all(Weak::is_cleared), "{config:?}: the cells died with their stack");
    }
    let alive: HashSet<u64> = HashSet::new();
    ledger.check_exactly(&alive);
}

/// A thread parked in `blocking` while other threads run whole cycles: the collector scans its
/// stack (the thread answers no round), and its cells survive.
#[test]
fn a_detached_threads_stack_is_scanned_by_the_collector() {
    let _s = serial_only();
    let ledger = Ledger::new(50_000);
    // Under Miri, only the configuration in which the collector scans the detached thread's
    // stack while the other threads answer handshakes: with the world stopped the collector
    // scans every stack, which `a_stack_keeps_its_values_alive_and_they_die_with_it` covers.
    for config in stack_configs().into_iter().skip(usize::from(cfg!(miri))) {
        gc_runtime::reconfigure(config.clone().with_checkmark(true)).unwrap();
        let mut mu = gc_runtime::attach();
        let mut stack = Stack::new(&mu);
        {
            let mut s = stack.open(&mu);
            for _ in 0..50 {
                let c = mu.alloc(Cell::new(&ledger));
                // A chain through the heap, newest first.
                c.next.set(s.last().copied().flatten());
                s.push(Some(c));
            }
            // Only the stack holds the chain's head.
            let head = s.pop().expect("pushed");
            s.clear();
            s.push(head);
        }
        let cycles_before = gc_runtime::stats().cycles;
        mu.blocking(|| {
            thread::scope(|scope| {
                scope.spawn(|| {
                    let mut other = gc_runtime::attach();
                    collect2(&mut other);
                    // Garbage, so the sweep reuses the memory a lost cell would be in.
                    for _ in 0..GARBAGE {
                        other.alloc(Cell::new(&ledger));
                    }
                    collect2(&mut other);
                });
            });
        });
        assert!(gc_runtime::stats().cycles >= cycles_before + 4);
        let s = stack.open(&mu);
        let mut chain = s[0];
        let mut ids = Vec::new();
        while let Some(c) = chain {
            c.check();
            ids.push(c.id);
            chain = c.next.get(&mu);
        }
        let first = (ledger.created() - GARBAGE - 50) as u64;
        assert_eq!(ids, (first..first + 50).rev().collect::<Vec<_>>(), "{config:?}: the whole chain survived");
    }
}

/// Opening a stack with a mutator other than its own is refused: the stack is not scanned for
/// that one.
#[test]
#[should_panic(expected = "a ValueStack can only be opened with the mutator it was made with")]
fn a_stack_opens_only_with_its_own_mutator() {
    let first = gc_runtime::attach();
    let mut stack: ValueStack<Gc<'static, u64>> = ValueStack::new(&first);
    stack.open(&first).push(first.alloc(1));
    drop(first);
    let second = gc_runtime::attach();
    let _ = stack.open(&second);
}

/// A stack dropped after its mutator, and one dropped inside `blocking` (while the collector
/// may scan it), leave the heap consistent.
#[test]
fn stacks_dropped_late_or_detached_are_harmless() {
    let _s = serial_only();
    gc_runtime::reconfigure(Config::default().with_checkmark(true)).unwrap();
    let mu = gc_runtime::attach();
    let mut late: ValueStack<Gc<'static, u64>> = ValueStack::new(&mu);
    late.open(&mu).push(mu.alloc(5));
    drop(mu);
    drop(late);
    let mut mu = gc_runtime::attach();
    let mut stack: ValueStack<Gc<'static, u64>> = ValueStack::with_capacity(&mu, 8);
    stack.open(&mu).extend((0..8).map(|i| mu.alloc(i)));
    let collector = thread::spawn(|| {
        let mut other = gc_runtime::attach();
        for _ in 0..20 {
            other.collect();
        }
    });
    mu.blocking(move || {
        thread::sleep(Duration::from_millis(5));
        drop(stack);
    });
    // Detached while joining: the other thread's cycles wait for every attached mutator (on a
    // slow machine, or under Miri, they are not over after the 5 ms above).
    mu.blocking(|| collector.join().unwrap());
    collect2(&mut mu);
}

/// A stack value whose `trace` panics once armed: the process must stop with a message, on
/// whichever thread scans the stack.
#[derive(Clone, Copy)]
struct Exploding<'m>(Gc<'m, u64>);

enum Explodings {}

static EXPLODE: AtomicBool = AtomicBool::new(false);

// SAFETY: reports the value's one pointer; panics on purpose once armed.
unsafe impl gc_runtime::StackValue for Explodings {
    type At<'m> = Exploding<'m>;
    fn trace(value: &Exploding<'_>, tracer: &mut gc_runtime::StackTracer<'_>) {
        if EXPLODE.load(Ordering::SeqCst) {
            panic!("stack trace impl fails");
        }
        tracer.gc(value.0);
    }
}

/// The collector scans the stack of the thread detached in `collect`.
#[test]
fn child_panicking_stack_trace_on_the_collector() {
    if !common::child::in_child() {
        return;
    }
    let mut mu = gc_runtime::attach();
    let mut stack = ValueStack::<Explodings>::new(&mu);
    stack.open(&mu).push(Exploding(mu.alloc(1)));
    EXPLODE.store(true, Ordering::SeqCst);
    mu.collect();
    println!("the collector went on after a panicking stack trace");
}

/// The owner scans its stack when it answers a handshake.
#[test]
fn child_panicking_stack_trace_on_the_owner() {
    if !common::child::in_child() {
        return;
    }
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let _collector = common::child::spawn_collector(&stop);
    let mut mu = gc_runtime::attach();
    let mut stack = ValueStack::<Explodings>::new(&mu);
    stack.open(&mu).push(Exploding(mu.alloc(1)));
    EXPLODE.store(true, Ordering::SeqCst);
    // The first handshake's scan stops the process; a loaded machine may be slow to get there.
    common::child::run_for(common::child::RUN_AT_MOST.as_millis() as u64, || mu.safepoint());
    println!("the owner went on after a panicking stack trace");
}

#[test]
fn a_panicking_stack_value_trace_stops_the_process_with_a_message() {
    for scenario in ["child_panicking_stack_trace_on_the_collector", "child_panicking_stack_trace_on_the_owner"] {
        let out = common::child::child(scenario, &[], common::child::DEADLINE);
        assert!(!out.success && !out.timed_out, "{scenario}: {}", out.describe());
        assert!(
            out.stderr.contains("StackValue::trace of `value_stack::Explodings` panicked"),
            "{scenario}: {}",
            out.describe()
        );
        assert!(!out.stdout.contains("went on"), "{scenario}: {}", out.describe());
    }
}

/// A hostile value type that borrows a Rust variable breaks the trait's contract (rule 2), so
/// it needs `unsafe`; the provided impls (`Gc<'static, T>`, `Option<Gc<'static, T>>`) borrow
/// nothing but GC objects. This checks that what they keep survives the variable scopes of
/// the code that pushed it.
#[test]
fn provided_value_types_outlive_the_scope_that_pushed_them() {
    let mut mu = gc_runtime::attach();
    let mut stack: ValueStack<Option<Gc<'static, String>>> = ValueStack::new(&mu);
    for i in 0..10 {
        let text = format!("value {i}");
        stack.open(&mu).push(Some(mu.alloc(text)));
        stack.open(&mu).push(None);
    }
    mu.collect();
    let s = stack.open(&mu);
    let texts: Vec<String> = s.iter().flatten().map(|t| t.to_string()).collect();
    assert_eq!(texts, (0..10).map(|i| format!("value {i}")).collect::<Vec<_>>());
    assert_eq!(s.len(), 20);
}

/// A forgotten view takes its values with it: the stack is empty afterwards, and the heap and
/// the stack stay usable.
#[test]
fn a_forgotten_view_empties_the_stack_and_nothing_else() {
    let mut mu = gc_runtime::attach();
    let mut stack: ValueStack<Gc<'static, u64>> = ValueStack::new(&mu);
    stack.open(&mu).extend((0..4).map(|i| mu.alloc(i)));
    std::mem::forget(stack.open(&mu));
    mu.collect();
    assert_eq!(stack.open(&mu).len(), 0);
    stack.open(&mu).push(mu.alloc(9));
    mu.collect();
    assert_eq!(*stack.open(&mu)[0], 9);
}
