//! `with_mutator` keeps its mutator, detached, for the thread's next `with_mutator` or
//! `attach`, and the thread's end frees it (`thread_state/kept.rs`). Attacked here, checkmark on:
//! threads that attach per stretch of work while cycles run back to back, in concurrent and
//! stop-the-world mode (each re-attach may wait out a stopped world, and so may the thread's
//! end); a value stack made in one call, kept by the thread, reopened in the next, holding
//! objects alive in between; `with_mutator` from thread-local destructors while the thread ends;
//! panics inside it; a kept mutator taken by `attach` and leaked. After each scenario the counts
//! of mutators come back to what they were: nothing kept outlives its thread.

use std::{
    cell::RefCell,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    thread,
};

mod common;

use common::{
    child::{run_until, spawn_counted_collector},
    hostile::watchdog,
};
use gc_runtime::{Config, Gc, GcValueVec, GlobalRoot, Member, Mode, Trace, ValueStack};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Trace)]
struct Cell {
    id: u64,
    check: u64,
    next: Member<Cell>,
}

fn cell<'m>(mu: &'m gc_runtime::Mutator, id: u64) -> Gc<'m, Cell> {
    mu.alloc(Cell { id, check: !id, next: Member::new() })
}

fn verify(c: Gc<'_, Cell>) -> u64 {
    assert_eq!(c.check, !c.id, "a freed and reused cell");
    c.id
}

/// The mutator counts once every thread of the scenario has ended.
fn counts() -> (usize, usize, usize) {
    let m = gc_runtime::stats().mutators;
    (m.running, m.at_safepoint, m.detached)
}

/// Threads that do their heap work in short `with_mutator` calls — each building a small list
/// on a global root, reading back the last one, sometimes panicking, sometimes blocking — and
/// end, many of them, while another thread collects back to back. In both modes.
#[test]
fn threads_attaching_per_stretch_while_cycles_run() {
    let _s = serial();
    for mode in [Mode::Concurrent, Mode::StopTheWorld] {
        gc_runtime::reconfigure(Config::default().with_mode(mode).with_checkmark(true)).unwrap();
        let _w = watchdog("threads_attaching_per_stretch_while_cycles_run");
        let before = counts();
        let stop = Arc::new(AtomicBool::new(false));
        let ran = Arc::new(AtomicU64::new(0));
        let collector = spawn_counted_collector(&stop, &ran);
        let calls = AtomicU64::new(0);
        let first = ran.load(Ordering::Relaxed);
        run_until(
            if cfg!(miri) { 50 } else { 1_500 },
            || ran.load(Ordering::Relaxed) >= first + 20,
            || {
                thread::scope(|s| {
                    let threads: Vec<_> = (0..3u64)
                        .map(|t| {
                            let calls = &calls;
                            s.spawn(move || {
                                let shelf: GlobalRoot<Cell> = GlobalRoot::default();
                                for i in 0..40u64 {
                                    let id = t << 32 | i;
                                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                        gc_runtime::with_mutator(|mu| {
                                            if let Some(last) = shelf.get(mu) {
                                                assert_eq!(verify(last), id - 1, "the list kept between calls");
                                                let mut n = last.next.get(mu);
                                                while let Some(c) = n {
                                                    verify(c);
                                                    n = c.next.get(mu);
                                                }
                                            }
                                            let c = cell(mu, id);
                                            for k in 0..16 {
                                                let tail = cell(mu, 1 << 60 | k);
                                                tail.next.set(c.next.get(mu));
                                                c.next.set(Some(tail));
                                            }
                                            shelf.set(mu, c);
                                            if i % 7 == 3 {
                                                mu.blocking(thread::yield_now);
                                            }
                                            if i % 11 == 5 {
                                                panic!("a request failed");
                                            }
                                        })
                                    }));
                                    assert_eq!(r.is_err(), i % 11 == 5);
                                    calls.fetch_add(1, Ordering::Relaxed);
                                }
                            })
                        })
                        .collect();
                    // Joined one by one: the scope's own wait ends when the closures return,
                    // before the threads' exit hooks have freed their kept mutators.
                    threads.into_iter().for_each(|t| t.join().unwrap());
                });
            },
        );
        stop.store(true, Ordering::Relaxed);
        collector.join().unwrap();
        assert!(calls.load(Ordering::Relaxed) >= 120);
        assert_eq!(counts(), before, "{mode:?}: every thread's kept mutator was freed at its end");
    }
    gc_runtime::reconfigure(Config::default()).unwrap();
}

thread_local! {
    /// A value stack a thread keeps between its `with_mutator` calls.
    static STACK: RefCell<Option<ValueStack<Gc<'static, Cell>>>> = const { RefCell::new(None) };
}

/// A value stack made in one `with_mutator` call and kept by the thread opens again in the next
/// (the same mutator), and what it holds stays alive through the cycles in between, while the
/// mutator is kept detached: the collector scans a kept mutator's stacks as a blocked one's.
#[test]
fn a_kept_mutators_value_stack_holds_its_objects_between_calls() {
    let _s = serial();
    gc_runtime::reconfigure(Config::default().with_checkmark(true)).unwrap();
    let _w = watchdog("a_kept_mutators_value_stack_holds_its_objects_between_calls");
    let before = counts();
    thread::spawn(|| {
        for round in 0..20u64 {
            gc_runtime::with_mutator(|mu| {
                STACK.with_borrow_mut(|slot| {
                    let stack = slot.get_or_insert_with(|| ValueStack::new(mu));
                    let mut view = stack.open(mu);
                    let ids: Vec<u64> = view.iter().map(|&c| verify(c)).collect();
                    assert_eq!(ids, (0..round).collect::<Vec<_>>(), "what the stack held survived");
                    view.push(cell(mu, round));
                });
            });
            // Cycles while the mutator is kept: only the stack holds the cells.
            thread::spawn(|| gc_runtime::attach().collect()).join().unwrap();
        }
    })
    .join()
    .unwrap();
    assert_eq!(counts(), before);
    gc_runtime::reconfigure(Config::default()).unwrap();
}

/// `attach` takes the kept mutator; leaked, it is a leaked mutator like any other: its thread's
/// end is noticed and the collector stops waiting for it.
#[test]
fn a_kept_mutator_taken_by_attach_and_leaked_is_noticed_at_the_threads_end() {
    let _s = serial();
    let before = counts();
    thread::spawn(|| {
        gc_runtime::with_mutator(|mu| assert_eq!(*mu.alloc(1u8), 1));
        std::mem::forget(gc_runtime::attach());
    })
    .join()
    .unwrap();
    assert_eq!(counts(), before, "the leaked mutator was removed when its thread ended");
    let mut mu = gc_runtime::attach();
    mu.collect(); // does not wait for the ended thread
}

/// A collection call on a thread without a running mutator attaches one for the call (a value
/// with slots written into a `GcValueVec`): it must not take the mutator `with_mutator` kept,
/// whose value stacks the thread's next call reopens. (It did, and freed it when the call
/// ended: the next `with_mutator` got a fresh mutator, which could not open the stack.)
#[test]
fn a_collection_call_between_two_with_mutators_leaves_the_kept_mutator_alone() {
    let _s = serial();
    // Pacing off: this thread stays attached, without a safepoint, while the other one works
    // (no cycle may start meanwhile: it would wait for this thread).
    gc_runtime::reconfigure(Config::default().with_gc_percent(None)).unwrap();
    let before = counts();
    let mu = gc_runtime::attach();
    let vec = mu.alloc(GcValueVec::<Member<Cell>>::new());
    let vec: &GcValueVec<Member<Cell>> = &vec;
    {
        thread::scope(|s| {
            s.spawn(|| {
                gc_runtime::with_mutator(|mu| {
                    STACK.with_borrow_mut(|slot| {
                        let stack = slot.insert(ValueStack::new(mu));
                        stack.open(mu).push(cell(mu, 7));
                    });
                });
                let kept = counts();
                vec.push(None); // attaches for the call: no running mutator here
                assert_eq!(counts(), kept, "the call's own mutator came and went; the kept one stayed");
                gc_runtime::with_mutator(|mu| {
                    STACK.with_borrow_mut(|slot| {
                        let stack = slot.as_mut().expect("made by the first call");
                        let ids: Vec<u64> = stack.open(mu).iter().map(|&c| verify(c)).collect();
                        assert_eq!(ids, [7], "the kept mutator's stack, reopened");
                    });
                });
                STACK.with_borrow_mut(|slot| *slot = None);
            })
            .join()
            .unwrap(); // (not the scope's wait, which ends before the thread's exit hooks run)
        })
    }
    assert_eq!(vec.len(), 1);
    drop(mu);
    assert_eq!(counts(), (before.0, before.1, before.2), "the thread's end freed its kept mutator");
    gc_runtime::reconfigure(Config::default()).unwrap();
}

/// A thread-local whose destructor reopens a value stack the kept mutator made, as the thread
/// ends: it works whichever of the two thread-locals is destroyed first (on Linux the reverse
/// of their first use). The kept mutator is freed after every thread-local, by the exit hook
/// (`kept.rs`); when a thread-local's destructor freed it, a thread-local first used before the
/// thread's first `with_mutator` found it gone, `open` panicked and the process aborted (a
/// reviewer's program).
struct Interp {
    stack: ValueStack<Gc<'static, Cell>>,
    flushed: Arc<AtomicU64>,
}

impl Drop for Interp {
    fn drop(&mut self) {
        let n = gc_runtime::with_mutator(|mu| self.stack.open(mu).iter().map(|&c| verify(c)).sum::<u64>());
        self.flushed.store(n, Ordering::SeqCst);
    }
}

thread_local! {
    static INTERP: RefCell<Option<Interp>> = const { RefCell::new(None) };
}

#[test]
fn a_thread_local_reopens_the_kept_mutators_stack_as_the_thread_ends_in_either_order() {
    let _s = serial();
    let before = counts();
    for interp_first in [false, true] {
        let flushed = Arc::new(AtomicU64::new(0));
        let f = flushed.clone();
        thread::spawn(move || {
            if interp_first {
                INTERP.with_borrow(|i| assert!(i.is_none())); // first used before any with_mutator
            }
            gc_runtime::with_mutator(|mu| assert_eq!(*mu.alloc(1u8), 1));
            gc_runtime::with_mutator(|mu| {
                let mut stack = ValueStack::new(mu);
                stack.open(mu).push(cell(mu, 40));
                stack.open(mu).push(cell(mu, 2));
                INTERP.with_borrow_mut(|i| *i = Some(Interp { stack, flushed: f }));
            });
        })
        .join()
        .unwrap();
        assert_eq!(flushed.load(Ordering::SeqCst), 42, "interp first: {interp_first}");
        assert_eq!(counts(), before, "interp first: {interp_first}: the thread's end freed the kept mutator");
    }
}

/// A thread that ends right after such a collection call still frees its kept mutator: the
/// call's own mutator held the thread's exit watch while it lived, and the watch goes back to
/// the kept one when it is freed. (Before, it was nulled; only a later `with_mutator` watched
/// the kept mutator again, and a thread that ended first kept a detached mutator for good.)
#[test]
fn a_thread_that_ends_after_a_collection_call_frees_its_kept_mutator() {
    let _s = serial();
    gc_runtime::reconfigure(Config::default().with_gc_percent(None)).unwrap();
    let before = counts();
    let mu = gc_runtime::attach();
    let vec = mu.alloc(GcValueVec::<Member<Cell>>::new());
    let vec: &GcValueVec<Member<Cell>> = &vec;
    thread::scope(|s| {
        // Joined: the scope's own wait ends when the closure returns, before the thread's exit
        // hooks run (this test failed now and then with the scope's wait alone).
        s.spawn(|| {
            gc_runtime::with_mutator(|mu| assert_eq!(*mu.alloc(1u8), 1));
            vec.push(None);
        })
        .join()
        .unwrap();
    });
    drop(mu);
    assert_eq!(counts(), before, "the thread's end freed its kept mutator");
    gc_runtime::reconfigure(Config::default()).unwrap();
}
