//! Idle mark workers (`Config::idle_mark_workers`): a concurrent cycle that a mutator waits for
//! in `collect` marks on that mutator's core too, as long as a core is left over; never on a
//! core a running mutator uses. Read from the cycle record's `mark_workers`.

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Mutex,
};

mod common;

use common::cores;
use gc_runtime::{Config, Member, Mode, Mutator, Trace};

static SERIAL: Mutex<()> = Mutex::new(());

#[derive(Trace)]
struct Cell {
    next: Member<Cell>,
}

/// Over a MiB of live cells: smaller heaps mark with the configured workers only.
const CELLS: usize = 100_000;

/// Collect with a chain of live cells under `config`; the most threads that marked at once.
fn mark_workers_of_one_cycle(mu: &mut Mutator, config: Config) -> usize {
    mark_workers_with(mu, config, CELLS)
}

/// As `mark_workers_of_one_cycle`, with a chain of `cells` cells.
fn mark_workers_with(mu: &mut Mutator, config: Config, cells: usize) -> usize {
    gc_runtime::reconfigure(config.with_gc_percent(None)).unwrap();
    let head = mu.alloc(Cell { next: Member::new() });
    let mut tail = head;
    for _ in 0..cells {
        let c = mu.alloc(Cell { next: Member::new() });
        tail.next.set(Some(c));
        tail = c;
    }
    let root = head.root(mu);
    let before = gc_runtime::stats().cycles;
    mu.collect();
    let stats = gc_runtime::stats();
    drop(root);
    let cycle = stats.recent.iter().find(|c| c.cycle == before + 1).expect("the cycle collect ran");
    cycle.mark_workers
}

#[test]
fn a_mutator_waiting_in_collect_lends_its_core_to_marking() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut mu = gc_runtime::attach();
    let concurrent = Config::default().with_mode(Mode::Concurrent).with_mark_workers(1);
    // The only mutator waits: one more worker, if there is a second core.
    assert_eq!(mark_workers_of_one_cycle(&mut mu, concurrent.clone()), cores().min(2));
    // Switched off: exactly the configured workers.
    assert_eq!(mark_workers_of_one_cycle(&mut mu, concurrent.clone().with_idle_mark_workers(false)), 1);
    // Never more than the cores, however many workers are configured.
    assert_eq!(mark_workers_of_one_cycle(&mut mu, concurrent.with_mark_workers(cores())), cores());
    // Inside a pause every core marks anyway.
    assert_eq!(mark_workers_of_one_cycle(&mut mu, Config::default().with_mode(Mode::StopTheWorld)), cores());
}

/// A heap under a MiB at mark start marks faster than an extra worker wakes: it gets none,
/// neither an idle one nor one per core in a pause.
#[test]
fn a_small_heap_marks_with_the_configured_workers_only() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut mu = gc_runtime::attach();
    // Whatever an earlier test left dead is freed by this cycle's sweep.
    mu.collect();
    let concurrent = Config::default().with_mode(Mode::Concurrent).with_mark_workers(1);
    assert_eq!(mark_workers_with(&mut mu, concurrent, 1000), 1);
    mu.collect();
    assert_eq!(mark_workers_with(&mut mu, Config::default().with_mode(Mode::StopTheWorld), 1000), 1);
    // The same heap with more cells than the threshold takes them again.
    mu.collect();
    let concurrent = Config::default().with_mode(Mode::Concurrent).with_mark_workers(1);
    assert_eq!(mark_workers_with(&mut mu, concurrent, CELLS), cores().min(2));
    gc_runtime::reconfigure(Config::default()).unwrap();
}

#[test]
fn a_core_a_running_mutator_uses_gets_no_idle_worker() {
    let _s = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let stop = AtomicBool::new(false);
    let attached = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut other = gc_runtime::attach();
            attached.store(true, Ordering::Release);
            while !stop.load(Ordering::Acquire) {
                other.safepoint();
                std::hint::spin_loop();
            }
        });
        while !attached.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
        let mut mu = gc_runtime::attach();
        let config = Config::default().with_mode(Mode::Concurrent).with_mark_workers(1);
        // One running mutator and one worker use two cores; only a third core is idle.
        let expected = 1 + usize::from(cores() >= 3);
        let got = mark_workers_of_one_cycle(&mut mu, config);
        stop.store(true, Ordering::Release);
        assert_eq!(got, expected);
    });
}
