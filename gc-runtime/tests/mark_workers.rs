//! Mark workers: however many a cycle uses, every reachable object is marked exactly once, and
//! the helper threads are started once and kept (parked) between drains, not spawned per drain.

use gc_runtime::{Config, Gc, Member, Mode, Mutator, Root, Trace};

#[derive(Trace)]
struct Tree {
    left: Member<Tree>,
    right: Member<Tree>,
}

fn tree(mu: &Mutator, depth: u32) -> Gc<'_, Tree> {
    let node = mu.alloc(Tree { left: Member::new(), right: Member::new() });
    if depth > 0 {
        node.left.set(Some(tree(mu, depth - 1)));
        node.right.set(Some(tree(mu, depth - 1)));
    }
    node
}

/// Threads of this process named `gc-mark-worker` (Linux; `None` elsewhere).
fn mark_worker_threads() -> Option<usize> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    Some(
        tasks
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .filter(|name| name.trim_end() == "gc-mark-worker")
            .count(),
    )
}

#[test]
fn any_number_of_workers_marks_everything_once_with_helpers_started_once() {
    const DEPTH: u32 = if cfg!(miri) { 6 } else { 12 };
    const TREES: usize = 8;
    let mut mu = gc_runtime::attach();
    let forest: Vec<Root<Tree>> = (0..TREES)
        .map(|_| {
            let t = tree(&mu, DEPTH).root(&mu);
            mu.safepoint();
            t
        })
        .collect();
    let live = TREES * ((1 << (DEPTH + 1)) - 1);
    let mut most = 1;
    for (workers, mode) in [
        (3, Mode::Concurrent),
        (1, Mode::Concurrent),
        (4, Mode::Concurrent),
        (2, Mode::StopTheWorld),
        (4, Mode::Concurrent),
        (2, Mode::Concurrent),
    ] {
        gc_runtime::reconfigure(
            Config::default().with_mode(mode).with_mark_workers(workers).with_gc_percent(None).with_checkmark(true),
        )
        .unwrap();
        for _ in 0..3 {
            let before = gc_runtime::stats().cycles;
            mu.collect();
            let stats = gc_runtime::stats();
            let c = stats.recent.iter().find(|c| c.cycle == before + 1).expect("the cycle's record");
            assert_eq!(c.objects_marked, live, "{workers} workers, {mode:?}");
        }
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        most = most.max(if mode == Mode::StopTheWorld { workers.max(cores) } else { workers });
        if let Some(threads) = mark_worker_threads() {
            assert_eq!(threads, most - 1, "helpers for the most workers used so far, started once and kept");
        }
    }
    // More workers than a drain admits (64, the collector's own thread included): the rest are
    // neither started nor counted (the cycle record said 200, and 199 helpers were started).
    gc_runtime::reconfigure(Config::default().with_mark_workers(200).with_gc_percent(None).with_checkmark(true))
        .unwrap();
    let before = gc_runtime::stats().cycles;
    mu.collect();
    let stats = gc_runtime::stats();
    let c = stats.recent.iter().find(|c| c.cycle == before + 1).expect("the cycle's record");
    assert_eq!(c.objects_marked, live, "200 workers configured");
    assert!((2..=64).contains(&c.mark_workers), "the most threads that marked at once: {}", c.mark_workers);
    if let Some(threads) = mark_worker_threads() {
        assert!(threads <= 63, "{threads} helper threads for at most 64 markers");
    }
    drop(forest);
    gc_runtime::reconfigure(Config::default()).unwrap();
}
