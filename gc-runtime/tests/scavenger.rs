//! The scavenger: the memory of pages left empty by a collection goes back to the OS after
//! `scavenge_after`, down to what the pacer expects the heap to need; released pages are used
//! again, and what is allocated in them is intact. With the scavenger off, nothing is released.

use std::time::{Duration, Instant};

use gc_runtime::{Config, Member, Root, Trace};

#[derive(Trace)]
struct Node {
    id: u64,
    payload: [u64; 6],
    next: Member<Node>,
}

const MB: usize = 1 << 20;
/// Nodes in the list: 80 bytes each with the header, about 69 MiB.
const NODES: u64 = 900_000;

/// A list of `NODES` nodes, rooted at its head.
fn build(mu: &mut gc_runtime::Mutator) -> Root<Node> {
    let node = |id| Node { id, payload: [id; 6], next: Member::new() };
    let head = mu.alloc(node(0)).root(mu);
    let mut tail = head.get(mu).root(mu);
    let mut id = 1;
    while id < NODES {
        let mut t = tail.get(mu);
        for _ in 0..10_000.min(NODES - id) {
            let n = mu.alloc(node(id));
            t.next.set(Some(n));
            t = n;
            id += 1;
        }
        tail = t.root(mu);
        mu.safepoint();
    }
    head
}

/// Every node is there, in order, with its payload.
fn check(mu: &gc_runtime::Mutator, head: &Root<Node>) {
    let mut n = Some(head.get(mu));
    let mut expected = 0;
    while let Some(node) = n {
        assert_eq!((node.id, node.payload), (expected, [expected; 6]));
        expected += 1;
        n = node.next.get(mu);
    }
    assert_eq!(expected, NODES);
}

/// Resident memory of this process, where the OS tells it.
fn rss_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Wait (up to a generous deadline, for a loaded machine) until `done` holds.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}: {}", gc_runtime::stats());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn empty_pages_go_back_to_the_os_and_come_back_zeroed_for_reuse() {
    gc_runtime::reconfigure(Config::default().with_scavenge_after(None).with_checkmark(true)).unwrap();
    let mut mu = gc_runtime::attach();

    // Off: a dropped heap keeps its memory.
    let head = build(&mut mu);
    check(&mu, &head);
    let peak = gc_runtime::stats().heap_committed;
    assert!(peak >= 60 * MB, "the list takes {peak} bytes");
    drop(head);
    mu.collect();
    mu.collect();
    // Give an (erroneously) running scavenger time to act.
    std::thread::sleep(Duration::from_millis(300));
    let kept = gc_runtime::stats();
    assert_eq!(kept.heap_released, 0, "{kept}");
    assert!(kept.heap_committed >= peak - 4 * MB, "{kept}");

    // On, with no delay: the empty pages go back, down to the goal (4 MiB) plus 10 %.
    let rss_before = rss_bytes();
    gc_runtime::reconfigure(Config::default().with_scavenge_after(Some(Duration::ZERO)).with_checkmark(true)).unwrap();
    wait_until("the empty pages are released", || gc_runtime::stats().heap_released >= peak - 8 * MB);
    let released = gc_runtime::stats();
    assert!(released.heap_committed <= 8 * MB, "{released}");
    if let Some(before) = rss_before {
        // The statistics count a page as released when the scavenger takes it, just before
        // its `madvise`: the resident memory follows a moment later.
        wait_until("resident memory falls by the released pages", || {
            rss_bytes().is_some_and(|after| after + 48 * MB <= before)
        });
    }

    // The released pages are used again, and what is written in them reads back.
    let head = build(&mut mu);
    check(&mu, &head);
    let reused = gc_runtime::stats();
    assert!(reused.heap_released < released.heap_released / 4, "pages were reused: {reused}");
    mu.collect();
    check(&mu, &head);
    drop(head);
    gc_runtime::reconfigure(Config::default()).unwrap();
}
