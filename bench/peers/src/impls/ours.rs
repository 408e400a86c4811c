//! gc-runtime: this workspace's concurrent collector, in concurrent mode (`ours`),
//! stop-the-world mode (`ours-stw`), concurrent with global stops instead of handshakes
//! (`ours-stops`), and concurrent with two mutator threads (`ours-2t`).
//!
//! Settings not chosen here come from the `GC_*` environment variables. Nodes are
//! `#[derive(Trace)]` structs with [`Member`] slots written through the barrier; long-lived
//! structures are held by [`Root`]s; each thread calls [`Mutator::safepoint`] between units of
//! work, as the crate's documentation asks.
//!
//! Pauses (pause workload) come from three places: the collector's records of its global stops
//! ([`gc_runtime::CycleStats::pauses`]: stop request to restart; none when every phase change
//! is a handshake, the default); the pauses each mutator thread recorded itself
//! ([`gc_runtime::Stats::thread_pauses`]: max, p99.9, p99 and the worst thread's MMU); and, as
//! for the peers, what the harness saw: the intervals a mutator spent blocked inside
//! `safepoint()` (longer than 2 µs), from which the `mmu_*` columns are computed. Mark assists,
//! done inside allocation, are not in those intervals (as a peer's allocation is not); the
//! threads' own records count them. `ours-stops` is concurrent mode
//! with global stops for its phase changes, for the side-by-side figures.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use gc_bench_support::{
    record::Record,
    rng::{self, Rng},
    stats::{self, Latencies, PauseLog},
};
use gc_runtime::{Config, CycleStats, Gc, Member, Mode, Mutator, Root, Trace};

use super::{BinaryTrees, FullGc, Ring, UNSUPPORTED};
use crate::{chains_for, next_mutation, Params, Workload, BATCH, BUCKET_SLOTS, CHAIN};

/// Concurrent mode, one mutator.
pub fn run(w: Workload, p: &Params) -> Result<Record, String> {
    run_in(w, p, Mode::Concurrent, 1)
}

/// Stop-the-world mode, one mutator.
pub fn run_stw(w: Workload, p: &Params) -> Result<Record, String> {
    run_in(w, p, Mode::StopTheWorld, 1)
}

/// Concurrent mode with its phase changes made by global stops instead of per-thread
/// handshakes (`GC_HANDSHAKES=0`), one mutator (pause only: the other workloads do not tell
/// the two apart).
pub fn run_with_stops(w: Workload, p: &Params) -> Result<Record, String> {
    match w {
        Workload::Pause => run_configured(w, p, Mode::Concurrent, 1, false),
        _ => Err(UNSUPPORTED.into()),
    }
}

/// Concurrent mode, two mutator threads (binary-trees and pause only).
pub fn run_two_threads(w: Workload, p: &Params) -> Result<Record, String> {
    match w {
        Workload::BinaryTrees | Workload::Pause => run_in(w, p, Mode::Concurrent, 2),
        _ => Err(UNSUPPORTED.into()),
    }
}

fn run_in(w: Workload, p: &Params, mode: Mode, threads: u32) -> Result<Record, String> {
    let handshakes = Config::from_env().map_err(|e| e.to_string())?.handshakes;
    run_configured(w, p, mode, threads, handshakes)
}

fn run_configured(w: Workload, p: &Params, mode: Mode, threads: u32, handshakes: bool) -> Result<Record, String> {
    let env = Config::from_env().map_err(|e| e.to_string())?.with_mode(mode).with_handshakes(handshakes);
    let config = match w {
        // Only the explicit collection runs: no pacer-triggered cycle during the build.
        Workload::FullGc => env.with_gc_percent(None),
        _ => env,
    };
    gc_runtime::init(config).map_err(|e| e.to_string())?;
    let mut mu = gc_runtime::attach();
    Ok(match w {
        Workload::BinaryTrees => super::binary_trees(p, &mut Trees { mu: &mut mu, threads, long_lived: None }),
        Workload::Ring => super::ring(p, &mut RingImpl { mu: &mut mu }),
        Workload::FullGc => super::full_gc(p, &mut Full { mu: &mut mu, root: None }),
        Workload::Pause => pause(p, mu, threads),
    })
}

/// A binary tree node.
#[derive(Trace)]
struct Tree {
    left: Member<Tree>,
    right: Member<Tree>,
}

fn bottom_up_tree(mu: &Mutator, depth: u32) -> Gc<'_, Tree> {
    let node = mu.alloc(Tree { left: Member::new(), right: Member::new() });
    if depth > 0 {
        node.left.set(Some(bottom_up_tree(mu, depth - 1)));
        node.right.set(Some(bottom_up_tree(mu, depth - 1)));
    }
    node
}

fn item_check(mu: &Mutator, tree: Gc<'_, Tree>) -> u64 {
    match (tree.left.get(mu), tree.right.get(mu)) {
        (Some(l), Some(r)) => 1 + item_check(mu, l) + item_check(mu, r),
        _ => 1,
    }
}

fn check_trees(mu: &mut Mutator, count: u64, depth: u32) -> u64 {
    let mut check = 0;
    for _ in 0..count {
        check += item_check(mu, bottom_up_tree(mu, depth));
        mu.safepoint();
    }
    check
}

struct Trees<'a> {
    mu: &'a mut Mutator,
    threads: u32,
    long_lived: Option<Root<Tree>>,
}

impl BinaryTrees for Trees<'_> {
    fn trees(&mut self, count: u64, depth: u32) -> u64 {
        if self.threads == 1 || count < u64::from(self.threads) {
            return check_trees(self.mu, count, depth);
        }
        let threads = self.threads;
        self.mu.blocking(|| {
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    .map(|i| {
                        let count = gc_bench_support::binary_trees::share(count, threads, i);
                        s.spawn(move || check_trees(&mut gc_runtime::attach(), count, depth))
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().expect("worker thread panicked")).sum()
            })
        })
    }

    fn make_long_lived(&mut self, depth: u32) {
        self.long_lived = Some(bottom_up_tree(self.mu, depth).root(self.mu));
        self.mu.safepoint();
    }

    fn check_long_lived(&mut self) -> u64 {
        let root = self.long_lived.take().expect("long-lived tree built");
        let check = item_check(self.mu, root.get(self.mu));
        drop(root);
        self.mu.safepoint();
        check
    }
}

/// A ring node.
#[derive(Trace)]
struct RingNode {
    id: u64,
    next: Member<RingNode>,
}

struct RingImpl<'a> {
    mu: &'a mut Mutator,
}

impl Ring for RingImpl<'_> {
    fn build_walk_drop(&mut self, n: usize) -> u64 {
        let sum = {
            let mu = &*self.mu;
            let head = mu.alloc(RingNode { id: 0, next: Member::new() });
            let mut tail = head;
            for id in 1..n as u64 {
                let node = mu.alloc(RingNode { id, next: Member::new() });
                tail.next.set(Some(node));
                tail = node;
            }
            tail.next.set(Some(head));
            let (mut sum, mut cur) = (0, head);
            loop {
                sum += cur.id;
                cur = cur.next.get(mu).expect("a ring has no end");
                if Gc::ptr_eq(cur, head) {
                    break sum;
                }
            }
        };
        // The ring is garbage from here on.
        self.mu.safepoint();
        sum
    }
}

/// A node of the full-gc tree.
#[derive(Trace)]
struct TreeNode {
    id: u64,
    left: Member<TreeNode>,
    right: Member<TreeNode>,
}

fn build_indexed(mu: &Mutator, i: usize, n: usize) -> Gc<'_, TreeNode> {
    let node = mu.alloc(TreeNode { id: i as u64, left: Member::new(), right: Member::new() });
    let (l, r) = crate::tree_children(i, n);
    if let Some(l) = l {
        node.left.set(Some(build_indexed(mu, l, n)));
    }
    if let Some(r) = r {
        node.right.set(Some(build_indexed(mu, r, n)));
    }
    node
}

fn sum_tree(mu: &Mutator, node: Gc<'_, TreeNode>) -> u64 {
    node.id + node.left.get(mu).map_or(0, |l| sum_tree(mu, l)) + node.right.get(mu).map_or(0, |r| sum_tree(mu, r))
}

struct Full<'a> {
    mu: &'a mut Mutator,
    root: Option<Root<TreeNode>>,
}

impl FullGc for Full<'_> {
    fn build(&mut self, n: usize) {
        self.root = Some(build_indexed(self.mu, 0, n).root(self.mu));
        self.mu.safepoint();
    }

    fn collect(&mut self) -> Record {
        let before = gc_runtime::stats().cycles;
        self.mu.collect();
        let stats = gc_runtime::stats();
        let Some(c) = stats.recent.iter().rev().find(|c| c.cycle > before) else {
            return Record::new();
        };
        let mark = c.mark_time.as_secs_f64();
        let sweep = c.sweep_time.as_secs_f64();
        Record::new()
            .with_ms("pause_ms", c.max_pause())
            .with_ms("world_stopped_ms", c.pauses.iter().map(|p| p.world_stopped()).max().unwrap_or_default())
            .with_ms("mark_ms", c.mark_time)
            .with_ms("sweep_ms", c.sweep_time)
            .with("objects_marked", c.objects_marked)
            .with("bytes_marked", c.heap_marked)
            .with("mark_objects_per_s", format!("{:.0}", c.objects_marked as f64 / mark.max(1e-9)))
            .with("mark_bytes_per_s", format!("{:.0}", c.heap_marked as f64 / mark.max(1e-9)))
            .with(
                "sweep_ms_per_mb",
                format!("{:.4}", sweep * 1e3 / (c.heap_before as f64 / (1 << 20) as f64).max(1e-9)),
            )
    }

    fn check(&mut self) -> u64 {
        let root = self.root.as_ref().expect("tree built");
        sum_tree(self.mu, root.get(self.mu))
    }
}

/// A chain node of the pause workload.
#[derive(Trace)]
struct Node {
    id: u64,
    next: Member<Node>,
}

/// A bucket of chain heads.
#[derive(Trace)]
struct Bucket {
    slots: Vec<Member<Node>>,
}

fn fresh_chain<'m>(mu: &'m Mutator, len: usize, next_id: &mut u64) -> Gc<'m, Node> {
    let head = mu.alloc(Node { id: *next_id, next: Member::new() });
    let mut tail = head;
    for _ in 1..len {
        *next_id += 1;
        let n = mu.alloc(Node { id: *next_id, next: Member::new() });
        tail.next.set(Some(n));
        tail = n;
    }
    *next_id += 1;
    head
}

fn mutate_once(mu: &Mutator, roots: &[Root<Bucket>], rng: &mut Rng, chains: usize, next_id: &mut u64) {
    let m = next_mutation(rng, chains);
    let bucket = roots[m.bucket].get(mu).into_ref();
    let slot = &bucket.slots[m.slot];
    if m.depth == 0 {
        slot.set(Some(fresh_chain(mu, CHAIN, next_id)));
        return;
    }
    let mut node = slot.get(mu).expect("chains are never empty");
    for _ in 1..m.depth {
        node = node.next.get(mu).expect("chains have CHAIN nodes");
    }
    node.next.set(Some(fresh_chain(mu, CHAIN - m.depth, next_id)));
}

/// Keeps every cycle record seen, by cycle number (`Stats::recent` holds only the last few).
#[derive(Default)]
struct Cycles(BTreeMap<u64, CycleStats>);

impl Cycles {
    fn sample(&mut self, after: u64) {
        for c in gc_runtime::stats().recent {
            if c.cycle > after {
                self.0.entry(c.cycle).or_insert(c);
            }
        }
    }
}

/// One mutator of the pause workload: returns its pause log (time blocked in safepoints), its
/// elapsed time and operation count.
fn pause_mutator(
    mu: &mut Mutator,
    roots: &[Root<Bucket>],
    chains: usize,
    seed: u64,
    run_for: Duration,
    mut sample: impl FnMut(),
) -> (PauseLog, Duration, u64) {
    let mut rng = rng::seeded(seed);
    let mut next_id = 1 << 40;
    let mut log = PauseLog::new();
    let mut ops = 0u64;
    let mut next_sample = Duration::from_millis(100);
    loop {
        for _ in 0..BATCH {
            mutate_once(mu, roots, &mut rng, chains, &mut next_id);
        }
        ops += BATCH as u64;
        let t = Instant::now();
        mu.safepoint();
        let now = Instant::now();
        if now - t > Duration::from_micros(2) {
            log.record(t, now);
        }
        let elapsed = log.start().elapsed();
        if elapsed >= run_for {
            return (log, elapsed, ops);
        }
        if elapsed >= next_sample {
            next_sample = elapsed + Duration::from_millis(100);
            sample();
        }
    }
}

fn pause(p: &Params, mut mu: Mutator, threads: u32) -> Record {
    let chains = chains_for(p.live);
    let mut roots: Vec<Root<Bucket>> = Vec::new();
    let mut next_id = 0;
    for first in (0..chains).step_by(BUCKET_SLOTS) {
        let slots = BUCKET_SLOTS.min(chains - first);
        {
            let bucket = mu.alloc(Bucket { slots: (0..slots).map(|_| Member::new()).collect() });
            for slot in &bucket.slots {
                slot.set(Some(fresh_chain(&mu, CHAIN, &mut next_id)));
            }
            roots.push(bucket.root(&mu));
        }
        mu.safepoint();
    }
    let before = gc_runtime::stats().cycles;
    let mut cycles = Cycles::default();
    let run_for = p.duration();
    let results: Vec<(PauseLog, Duration, u64)> = if threads == 1 {
        vec![pause_mutator(&mut mu, &roots, chains, 1, run_for, || cycles.sample(before))]
    } else {
        let roots = &roots;
        let cycles = std::sync::Mutex::new(&mut cycles);
        mu.blocking(|| {
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    .map(|i| {
                        let cycles = &cycles;
                        s.spawn(move || {
                            let mut mu = gc_runtime::attach();
                            pause_mutator(&mut mu, roots, chains, u64::from(i) + 1, run_for, || {
                                if i == 0 {
                                    cycles.lock().unwrap_or_else(std::sync::PoisonError::into_inner).sample(before);
                                }
                            })
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().expect("mutator thread panicked")).collect()
            })
        })
    };
    cycles.sample(before);
    let check: u64 = roots
        .iter()
        .map(|r| {
            let bucket = r.get(&mu).into_ref();
            bucket
                .slots
                .iter()
                .map(|s| {
                    let (mut len, mut cur) = (0u64, s.get(&mu));
                    while let Some(n) = cur {
                        len += 1;
                        cur = n.next.get(&mu);
                    }
                    len
                })
                .sum::<u64>()
        })
        .sum();
    let elapsed = results.iter().map(|r| r.1).max().unwrap_or_default();
    let ops: u64 = results.iter().map(|r| r.2).sum();
    let pauses: Latencies = cycles.0.values().flat_map(|c| c.pauses.iter().map(|p| p.duration)).collect();
    let stopped_max =
        cycles.0.values().flat_map(|c| c.pauses.iter().map(|p| p.world_stopped())).max().unwrap_or_default();
    let mmu = |w: u64| {
        let w = Duration::from_millis(w);
        let m = results.iter().map(|(log, t, _)| log.mmu(*t, w)).fold(1.0, f64::min);
        format!("{m:.3}")
    };
    let blocked_max = results.iter().map(|(log, _, _)| log.lengths().max()).max().unwrap_or_default();
    let handshakes: Latencies = cycles.0.values().flat_map(|c| c.handshakes.iter().map(|h| h.latency)).collect();
    // The collector's own per-thread records (the whole run, set-up included).
    let tp = gc_runtime::stats().thread_pauses;
    let mmu_of = |i: usize| tp.mmu[i].map_or_else(|| "-".to_owned(), |u| format!("{u:.3}"));
    Record::new()
        .with("check", check)
        .with("live", chains * CHAIN)
        .with("cycles", cycles.0.len())
        .with("pauses", pauses.len())
        .with_ms("pause_max_ms", pauses.max())
        .with_ms("pause_p99_ms", pauses.quantile(0.99))
        .with_ms("pause_p50_ms", pauses.quantile(0.5))
        .with_ms("pause_total_ms", pauses.total())
        .with_ms("world_stopped_max_ms", stopped_max)
        .with_ms("mutator_blocked_max_ms", blocked_max)
        .with("mmu_1ms", mmu(1))
        .with("mmu_10ms", mmu(10))
        .with("mmu_100ms", mmu(100))
        .with_ms("thread_pause_max_ms", tp.max)
        .with_ms("thread_pause_p999_ms", tp.p999)
        .with_ms("thread_pause_p99_ms", tp.p99)
        .with("thread_mmu_1", mmu_of(0))
        .with("thread_mmu_10", mmu_of(1))
        .with("thread_mmu_100", mmu_of(2))
        .with("handshakes", handshakes.len())
        .with_ms("handshake_max_ms", handshakes.max())
        .with("ops_per_s", format!("{:.0}", ops as f64 / elapsed.as_secs_f64()))
        .with("rss_mb", format!("{:.1}", stats::rss_mb()))
}
