//! `Member::swap`, `take` and `compare_exchange`: lock-free structures in the heap, written by
//! several threads at once while collection cycles run back to back, under every barrier, with
//! checkmark on (every concurrent marking is verified by a stop-the-world re-mark, and a
//! reachable object it missed is a fatal error).
//!
//! A population of nodes, allocated before any of it, flows from one Treiber stack to another
//! through a mailbox: each thread pops a node from the first stack (compare-exchange), swaps it
//! into the mailbox, and pushes the node it received onto the second stack (compare-exchange).
//! Every marking starts with the whole population white, and a node in flight is held only by
//! a local between its removal from one slot and its store into another — exactly how a
//! mutator hides an object from a marker — so the exchanges' barrier must shade: the
//! overwritten pointer under Yuasa and hybrid (the pop, the `take` that unlinks a popped node
//! and the swap remove it), the stored one under Dijkstra (the swap and the push store it).
//! With the exchanges' shades left out, checkmark stops every one of these tests (tried: nine
//! runs out of nine, three per barrier). Nodes only ever move forward, so the
//! stacks have no ABA problem. At the end every node is on the second stack or in the mailbox,
//! exactly once, with its canary intact.

use std::{
    collections::HashSet,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    thread,
    time::{Duration, Instant},
};

use gc_runtime::{BarrierKind, Config, Gc, Member, Mutator, Root, Trace};

const THREADS: u64 = 3;
const NODES: u64 = if cfg!(miri) { 600 } else { 60_000 };
/// Rounds run until this many collections overlapped them (at least `MIN_ROUNDS`; at most
/// `MAX_ROUNDS`, or more within `RUN_AT_MOST`: on a loaded machine the collector may finish
/// fewer collections per round).
const MIN_CYCLES: u64 = if cfg!(miri) { 2 } else { 40 };
const MIN_ROUNDS: u32 = 2;
const MAX_ROUNDS: u32 = 200;
const RUN_AT_MOST: Duration = Duration::from_secs(60);
const CANARY: u64 = 0x5DEE_CE66_D1CE_F00D;

static SERIAL: Mutex<()> = Mutex::new(());

#[derive(Trace)]
struct Node {
    value: u64,
    canary: u64,
    next: Member<Node>,
}

/// The two stacks' tops and the mailbox.
#[derive(Trace)]
struct Shared {
    from: Member<Node>,
    to: Member<Node>,
    mailbox: Member<Node>,
}

fn node(mu: &Mutator, value: u64) -> Gc<'_, Node> {
    mu.alloc(Node { value, canary: value ^ CANARY, next: Member::new() })
}

fn checked(n: Gc<'_, Node>) -> u64 {
    assert_eq!(n.canary, n.value ^ CANARY, "a node's contents changed: freed and reused?");
    n.value
}

fn push<'m>(mu: &'m Mutator, top: &Member<Node>, n: Gc<'m, Node>) {
    let mut seen = top.get(mu);
    loop {
        n.next.set(seen);
        match top.compare_exchange(seen, Some(n), mu) {
            Ok(_) => return,
            Err(actual) => seen = actual,
        }
    }
}

fn pop<'m>(mu: &'m Mutator, top: &Member<Node>) -> Option<Gc<'m, Node>> {
    loop {
        let n = top.get(mu)?;
        let next = n.next.get(mu);
        if top.compare_exchange(Some(n), next, mu).is_ok() {
            checked(n);
            // Unlink it: the rest of the stack is no longer reachable through it.
            n.next.take(mu);
            return Some(n);
        }
    }
}

/// One thread's share of a round: pop from the first stack, swap into the mailbox, push what
/// came out onto the second, until the first is empty.
fn move_all(mu: &mut Mutator, shared: &Root<Shared>) {
    for i in 0.. {
        {
            let s = shared.get(mu);
            let Some(n) = pop(mu, &s.from) else { return };
            if let Some(received) = s.mailbox.swap(Some(n), mu) {
                checked(received);
                push(mu, &s.to, received);
            }
        }
        if i % 16 == 0 {
            mu.safepoint();
        }
    }
}

fn run(barrier: BarrierKind) {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    gc_runtime::reconfigure(Config::default().with_barrier(barrier).with_checkmark(true).with_gc_percent(None))
        .unwrap();
    let mut mu = gc_runtime::attach();
    let shared: Arc<Root<Shared>> =
        Arc::new(mu.alloc(Shared { from: Member::new(), to: Member::new(), mailbox: Member::new() }).root(&mu));
    {
        let s = shared.get(&mu);
        for value in 0..NODES {
            push(&mu, &s.from, node(&mu, value));
        }
    }
    mu.safepoint();
    let stop = Arc::new(AtomicBool::new(false));
    let cycles_before = gc_runtime::stats().cycles;
    let collector = mu.blocking(|| {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut mu = gc_runtime::attach();
            while !stop.load(Ordering::Relaxed) {
                mu.collect();
            }
        })
    });
    // Rounds until enough markings overlapped the exchanges; between rounds the second stack
    // becomes the first (with no thread running, so a node is never pushed back onto a stack
    // another thread may be popping: no ABA).
    let (mut rounds, started) = (0, Instant::now());
    while rounds < MIN_ROUNDS
        || (gc_runtime::stats().cycles - cycles_before < MIN_CYCLES
            && (rounds < MAX_ROUNDS || started.elapsed() < RUN_AT_MOST))
    {
        rounds += 1;
        mu.blocking(|| {
            let workers: Vec<_> = (0..THREADS)
                .map(|_| {
                    let shared = shared.clone();
                    thread::spawn(move || move_all(&mut gc_runtime::attach(), &shared))
                })
                .collect();
            workers.into_iter().for_each(|w| w.join().expect("worker panicked"));
        });
        let s = shared.get(&mu);
        assert!(s.from.is_none(), "{barrier:?}: every node left the first stack");
        s.from.set(s.to.take(&mu));
    }
    stop.store(true, Ordering::Relaxed);
    mu.blocking(|| collector.join().expect("collector panicked"));
    let cycles = gc_runtime::stats().cycles - cycles_before;
    mu.collect();

    let s = shared.get(&mu);
    let mut values = vec![checked(s.mailbox.take(&mu).expect("the last node put in is still there"))];
    assert!(s.mailbox.is_none(), "taken");
    let mut cursor = s.from.get(&mu);
    while let Some(n) = cursor {
        values.push(checked(n));
        cursor = n.next.get(&mu);
    }
    assert_eq!(values.len() as u64, NODES, "{barrier:?}: nodes lost or duplicated");
    assert_eq!(values.into_iter().collect::<HashSet<_>>(), (0..NODES).collect(), "{barrier:?}: the values");
    assert!(cycles >= MIN_CYCLES, "{barrier:?}: {cycles} collections in {rounds} rounds");
    gc_runtime::reconfigure(Config::default()).unwrap();
}

#[test]
fn a_lock_free_stack_and_mailbox_survive_concurrent_collections_under_dijkstra() {
    run(BarrierKind::Dijkstra);
}

#[test]
fn a_lock_free_stack_and_mailbox_survive_concurrent_collections_under_yuasa() {
    run(BarrierKind::Yuasa);
}

#[test]
fn a_lock_free_stack_and_mailbox_survive_concurrent_collections_under_the_hybrid_barrier() {
    run(BarrierKind::Hybrid);
}

#[test]
#[should_panic(expected = "not inside an allocated object")]
fn swap_refuses_a_slot_outside_the_heap() {
    let mu = gc_runtime::attach();
    let target = node(&mu, 1);
    let loose: Member<Node> = Member::new();
    loose.swap(Some(target), &mu);
}

#[test]
#[should_panic(expected = "not inside an allocated object")]
fn compare_exchange_refuses_a_slot_outside_the_heap() {
    let mu = gc_runtime::attach();
    let target = node(&mu, 1);
    let loose: Member<Node> = Member::new();
    let _ = loose.compare_exchange(None, Some(target), &mu);
}

/// An unarmed slot reads as empty; a compare-exchange against empty must not take the
/// sentinel for an empty slot and arm it.
#[test]
fn take_on_a_slot_outside_the_heap_panics_and_leaves_it_unarmed() {
    let mu = gc_runtime::attach();
    let loose: Member<Node> = Member::new();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| loose.take(&mu)));
    assert!(outcome.is_err(), "take on an unarmed slot panics");
    assert!(loose.get(&mu).is_none());
    let target = node(&mu, 2);
    let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| loose.set(Some(target))));
    assert!(again.is_err(), "still unarmed: set panics too");
}
