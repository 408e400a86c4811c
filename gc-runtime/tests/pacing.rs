//! The pacer's records: each cycle ran under the goal the previous one set, and starts the next
//! one at a trigger between 30 % of the way to the goal and the goal itself — below the goal
//! when the heap grew while the cycle marked (the runway).

use gc_runtime::{Config, CycleStats, Member, Root, Trace};

#[derive(Trace)]
struct Node {
    payload: [u64; 4],
    next: Member<Node>,
}

/// A rooted list of `n` nodes: the live heap the cycles mark.
fn live_list(mu: &mut gc_runtime::Mutator, n: usize) -> Root<Node> {
    let head = mu.alloc(Node { payload: [0; 4], next: Member::new() });
    let mut tail = head;
    for i in 1..n {
        let node = mu.alloc(Node { payload: [i as u64; 4], next: Member::new() });
        tail.next.set(Some(node));
        tail = node;
    }
    head.root(mu)
}

#[test]
fn each_cycle_runs_under_the_last_goal_and_triggers_the_next_before_it() {
    const CYCLES: u64 = 8;
    gc_runtime::reconfigure(Config::default().with_gc_percent(Some(100)).with_min_heap(1 << 20)).unwrap();
    let mut mu = gc_runtime::attach();
    let live = live_list(&mut mu, if cfg!(miri) { 1_000 } else { 50_000 });
    let start = gc_runtime::stats().cycles;
    // Garbage, allocated steadily, so the pacer starts cycles and the heap grows while they mark.
    while gc_runtime::stats().cycles < start + CYCLES + 1 {
        for i in 0..1_000u64 {
            mu.alloc(Node { payload: [i; 4], next: Member::new() });
        }
        mu.safepoint();
    }
    let stats = gc_runtime::stats();
    let records: Vec<&CycleStats> = stats.recent.iter().filter(|c| c.cycle > start).collect();
    assert!(records.len() as u64 >= CYCLES, "{} records", records.len());
    for pair in records.windows(2) {
        let (last, this) = (pair[0], pair[1]);
        assert_eq!(this.cycle_goal, last.heap_goal, "cycle {} ran under cycle {}'s goal", this.cycle, last.cycle);
    }
    for c in &records {
        let floor = c.heap_marked.min(c.heap_goal) + (c.heap_goal - c.heap_marked.min(c.heap_goal)) / 10 * 3;
        assert!(
            floor <= c.next_trigger && c.next_trigger <= c.heap_goal,
            "cycle {}: trigger {} outside [{floor}, {}]",
            c.cycle,
            c.next_trigger,
            c.heap_goal
        );
        assert!(c.heap_peak > 0 && c.overshoot() == c.heap_peak.saturating_sub(c.cycle_goal));
        assert!(c.trace_line().contains(" peak "), "{}", c.trace_line());
    }
    assert!(
        records.iter().any(|c| c.next_trigger < c.heap_goal),
        "the heap grew while some cycle marked, so some trigger leaves a runway: {:?}",
        records.iter().map(|c| (c.heap_goal, c.next_trigger)).collect::<Vec<_>>()
    );
    drop(live);
}
