//! Marking without a locked instruction without a locked instruction per object (see the book's "Marking
//! inside a pause"): each 4 KiB of a page is marked by the one worker of the drain that claimed
//! it, and a worker that finds an object in another worker's memory forwards it there.
//! Attacked here, in stop-the-world mode with checkmark on (a reachable object left unmarked
//! aborts the process before the sweep):
//! - a graph linked in random order — nearly every pointer leads to memory another claim
//!   covers, so whichever workers join a drain forward to each other — mutated between
//!   collections: every collection must mark exactly the live objects, and every node must
//!   keep its contents;
//! - the one writer of mark bits in a pause besides its workers: a thread without a mutator,
//!   which shades what it overwrites through the root table's orphan path. A thread that drops
//!   roots while the main thread collects (a `Root` may be dropped on any thread), and — beyond
//!   `Trace`'s contract, which forbids writing slots — a `Trace` that empties slots while a mark
//!   worker traces it, in the middle of the drain, under deletion barriers. Each object so
//!   shaded is also reachable from another object, and must survive.
//!
//! And in concurrent mode, where every drain is exclusive beside the running mutators (the
//! default, `Config::exclusive_marking`), or — with that off — only while no mutator runs (the
//! world is stopped at no one's expense; see `Config::idle_exclusive_marking`): a collection
//! whose caller is the only mutator marks that way, exactly; threads that come back from
//! blocking sections and attach — while other threads' collections mark — end idle drains
//! early, with the marking finished by locked instructions and checkmark confirming it; and
//! mutators that allocate into holes among live objects while drains mark beside them lose
//! nothing.

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Mutex,
};

use gc_runtime::{BarrierKind, Config, Gc, Member, Mode, Mutator, Root, Trace, Tracer};

mod common;

use common::Rng;

/// A graph node: `next` links every node into one cycle, `other` points anywhere.
#[derive(Trace)]
struct Node {
    id: u64,
    check: u64,
    next: Member<Node>,
    other: Member<Node>,
}

fn check_of(id: u64) -> u64 {
    id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xA5A5
}

/// The tests reconfigure the one runtime of this process: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// How long a test's run goes on at most, past its usual time, for the cycles (and drains) its
/// checks count: a loaded machine may need far longer for them than usual.
const RUN_AT_MOST: std::time::Duration = std::time::Duration::from_secs(60);

fn stop_the_world(barrier: BarrierKind) -> Config {
    Config::default().with_mode(Mode::StopTheWorld).with_barrier(barrier).with_mark_workers(4).with_gc_percent(None)
}

/// How the nodes of a graph are linked.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// `next` links every node into one cycle in a random order (Sattolo's shuffle), `other`
    /// points at random: nearly every pointer leads into another claim, and two workers
    /// forward about one object per object scanned — enough to give exclusive marking up.
    Random,
    /// A complete binary tree allocated depth-first, `next` and `other` its children (the
    /// collector's favourable case, like a parse tree or a VM's nested scopes): a worker
    /// forwards only what it finds below objects it took from another worker's stack, and the
    /// job stays exclusive.
    Tree,
}

/// `n` nodes linked as `shape` says; returns the root.
fn graph<'m>(mu: &'m Mutator, n: usize, shape: Shape, rng: &mut Rng) -> Gc<'m, Node> {
    let node = |id: u64| mu.alloc(Node { id, check: check_of(id), next: Member::new(), other: Member::new() });
    if let Shape::Tree = shape {
        return tree(&mut 0, n as u64, &node);
    }
    let nodes: Vec<_> = (0..n as u64).map(node).collect();
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.below(i));
    }
    for (i, &from) in order.iter().enumerate() {
        nodes[from].next.set(Some(nodes[order[(i + 1) % n]]));
        nodes[from].other.set(Some(nodes[rng.below(n)]));
    }
    nodes[0]
}

/// A subtree of `size` nodes allocated depth-first, ids from `*next_id` on (preorder).
fn tree<'m>(next_id: &mut u64, size: u64, node: &impl Fn(u64) -> Gc<'m, Node>) -> Gc<'m, Node> {
    let root = node(*next_id);
    *next_id += 1;
    let below = size - 1;
    if below > 0 {
        root.next.set(Some(tree(next_id, below.div_ceil(2), node)));
    }
    if below > 1 {
        root.other.set(Some(tree(next_id, below / 2, node)));
    }
    root
}

/// Walk everything reachable from `root`: each of the `n` nodes once, with its contents.
fn verify(mu: &Mutator, root: Gc<'_, Node>, n: usize) {
    let (mut todo, mut seen, mut count) = (vec![root], vec![false; n], 0);
    while let Some(node) = todo.pop() {
        let id = node.id as usize;
        assert!(id < n, "node id {id} out of range: freed and reused?");
        assert_eq!(node.check, check_of(node.id), "node {id}'s contents changed: freed and reused?");
        if std::mem::replace(&mut seen[id], true) {
            continue;
        }
        count += 1;
        todo.extend([node.next.get(mu), node.other.get(mu)].into_iter().flatten());
    }
    assert_eq!(count, n, "every node reachable");
}

/// The last cycle's record (the caller collected).
fn last_cycle(before: u64) -> gc_runtime::CycleStats {
    gc_runtime::stats().recent.into_iter().rfind(|c| c.cycle > before).expect("the cycle was recorded")
}

/// Six stop-the-world collections of a graph of `shape`, with garbage pointing into it and
/// some links moved between them, checkmark on: every collection marks exactly the live nodes,
/// and every node keeps its contents. Returns the objects forwarded and the jobs given up.
fn marked_exactly_in_every_pause(shape: Shape) -> (usize, u32) {
    let n = if cfg!(miri) { 200 } else { 40_000 };
    let mut mu = gc_runtime::attach();
    gc_runtime::reconfigure(stop_the_world(BarrierKind::Hybrid).with_checkmark(true)).unwrap();
    let mut rng = Rng(0x5EED_0001);
    let root: Root<Node> = graph(&mu, n, shape, &mut rng).root(&mu);
    mu.safepoint();
    let (mut forwarded, mut given_up) = (0, 0);
    for round in 0..6 {
        // Garbage beside the live graph, pointing into it, and (in the random graph) a few
        // `other` links moved.
        {
            let live = root.get(&mu);
            for i in 0..n / 4 {
                let g = mu.alloc(Node { id: u64::MAX, check: 0, next: Member::new(), other: Member::new() });
                g.other.set(Some(live));
                if i % 8 == 0 && matches!(shape, Shape::Random) {
                    live.other.set(Some(live.next.get(&mu).expect("a cycle")));
                }
            }
        }
        mu.safepoint();
        let before = gc_runtime::stats().cycles;
        mu.collect();
        let c = last_cycle(before);
        assert_eq!(c.objects_marked, n, "{shape:?} round {round}: exactly the live nodes, each once");
        assert!(c.checkmarked_objects.is_some(), "{shape:?} round {round}: checkmark confirmed the marking");
        assert!(c.exclusive_jobs_given_up <= 1, "{shape:?} round {round}: given up once at most");
        forwarded += c.objects_forwarded;
        given_up += c.exclusive_jobs_given_up;
        verify(&mu, root.get(&mu), n);
    }
    eprintln!(
        "{shape:?}: {forwarded} objects forwarded between workers in 6 pauses, {given_up} jobs given up ({} cores)",
        common::cores()
    );
    gc_runtime::reconfigure(Config::default()).unwrap();
    (forwarded, given_up)
}

/// Workers forward to each other at every other pointer, and give exclusive marking up part
/// of the way through (when more than one worker marks; see the book's "Marking inside a
/// pause"): the objects still forwarded then, white, are marked by the collector and the rest
/// is marked with locked instructions.
#[test]
fn a_graph_in_random_order_is_marked_exactly_in_every_pause() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    marked_exactly_in_every_pause(Shape::Random);
}

/// Workers forward now and then, and the jobs stay exclusive to the end.
#[test]
fn a_tree_is_marked_exactly_in_every_pause_without_giving_up() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (_, given_up) = marked_exactly_in_every_pause(Shape::Tree);
    assert_eq!(given_up, 0, "forwarding never dominated");
}

/// A leaf reachable from two places.
#[derive(Trace)]
struct Leaf {
    id: u64,
    check: u64,
}

/// Holds the leaves for good.
#[derive(Trace)]
struct Holder {
    leaves: Vec<Member<Leaf>>,
}

/// `n` leaves allocated in a row, and a holder pointing to each.
fn held_leaves<'m>(mu: &'m Mutator, n: usize) -> (Gc<'m, Holder>, Vec<Gc<'m, Leaf>>) {
    let all: Vec<Gc<'_, Leaf>> = (0..n as u64).map(|id| mu.alloc(Leaf { id, check: check_of(id) })).collect();
    let holder = mu.alloc(Holder { leaves: (0..n).map(|_| Member::new()).collect() });
    for (m, &l) in holder.leaves.iter().zip(&all) {
        m.set(Some(l));
    }
    (holder, all)
}

/// Every leaf of `holder` with its contents (`what` says where the check failed).
fn verify_leaves(mu: &Mutator, holder: Gc<'_, Holder>, what: &str) {
    for (i, m) in holder.leaves.iter().enumerate() {
        let leaf = m.get(mu).expect("the holder's slots are never emptied");
        assert_eq!((leaf.id, leaf.check), (i as u64, check_of(i as u64)), "{what}: leaf {i}");
    }
}

/// Whether an [`Eraser`] empties its slots when traced: only while the test collects (its
/// trace also runs when it is allocated, to arm its slots, and then it must leave them be).
static ERASING: AtomicBool = AtomicBool::new(false);

/// Holds the same leaves, and empties its slots whenever a worker traces it (breaking rule 2 of
/// `Trace`'s contract: the runtime stays sound anyway, and this checks that it does).
struct Eraser {
    victims: Vec<Member<Leaf>>,
}

// SAFETY: reports every slot it has (after emptying it: an empty slot reports nothing).
unsafe impl Trace for Eraser {
    fn trace(&self, tracer: &mut Tracer<'_>) {
        for v in &self.victims {
            if ERASING.load(Ordering::Relaxed) {
                // A store of null on a thread without a running mutator: the orphan path.
                v.set(None);
            }
            v.trace(tracer);
        }
    }
}

#[test]
fn slots_emptied_by_a_trace_during_a_pause_lose_no_object_reachable_elsewhere() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (leaves, erasers) = if cfg!(miri) { (64, 2) } else { (20_000, 16) };
    let mut mu = gc_runtime::attach();
    for barrier in [BarrierKind::Yuasa, BarrierKind::Hybrid] {
        // No checkmark: it traces with the root table locked, and this trace's stores take
        // that lock. A leaf freed while reachable is caught below instead: its slot is
        // reused by the garbage allocated after the collection.
        gc_runtime::reconfigure(stop_the_world(barrier)).unwrap();
        // Leaves allocated in a row, then the holder and the erasers that point to them.
        let (holder, all) = held_leaves(&mu, leaves);
        let eraser_roots: Vec<Root<Eraser>> = all
            .chunks(leaves / erasers)
            .map(|chunk| {
                let e = mu.alloc(Eraser { victims: chunk.iter().map(|_| Member::new()).collect() });
                for (v, &l) in e.victims.iter().zip(chunk) {
                    v.set(Some(l));
                }
                e.root(&mu)
            })
            .collect();
        let holder: Root<Holder> = holder.root(&mu);
        drop(all);
        mu.safepoint();
        for round in 0..4 {
            let before = gc_runtime::stats().cycles;
            ERASING.store(true, Ordering::Relaxed);
            mu.collect();
            ERASING.store(false, Ordering::Relaxed);
            assert!(gc_runtime::stats().cycles > before, "{barrier:?} round {round}: a cycle ran");
            for _ in 0..leaves {
                mu.alloc(Leaf { id: u64::MAX, check: 0 });
            }
            let h = holder.get(&mu);
            verify_leaves(&mu, h, &format!("{barrier:?} round {round}"));
            // Re-arm the erasers for the next pause.
            for (k, e) in eraser_roots.iter().enumerate() {
                let e = e.get(&mu);
                for (j, v) in e.victims.iter().enumerate() {
                    assert!(v.is_none(), "{barrier:?} round {round}: the trace emptied every slot it reported");
                    let leaf = h.leaves[k * (leaves / erasers) + j].get(&mu).expect("held");
                    v.set(Some(leaf));
                }
            }
            mu.safepoint();
        }
    }
    gc_runtime::reconfigure(Config::default()).unwrap();
}

#[test]
fn roots_dropped_on_another_thread_during_pauses_lose_no_object_reachable_elsewhere() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (leaves, rounds) = if cfg!(miri) { (64, 2) } else { (20_000, 6) };
    let mut mu = gc_runtime::attach();
    for barrier in [BarrierKind::Yuasa, BarrierKind::Hybrid] {
        gc_runtime::reconfigure(stop_the_world(barrier).with_checkmark(true)).unwrap();
        let holder: Root<Holder> = held_leaves(&mu, leaves).0.root(&mu);
        for round in 0..rounds {
            // Roots of every leaf, dropped one by one on a thread without a mutator while this
            // thread collects: each drop stores null into a root cell and shades the leaf.
            let roots: Vec<Root<Leaf>> =
                holder.get(&mu).leaves.iter().map(|m| m.get(&mu).expect("held").root(&mu)).collect();
            std::thread::scope(|s| {
                let dropper = s.spawn(move || {
                    for (i, r) in roots.into_iter().enumerate() {
                        drop(r);
                        if i % 256 == 0 {
                            // Spread the drops over several collections.
                            std::thread::sleep(std::time::Duration::from_micros(100));
                        }
                    }
                });
                loop {
                    mu.collect();
                    if dropper.is_finished() {
                        break;
                    }
                }
            });
            mu.collect();
            verify_leaves(&mu, holder.get(&mu), &format!("{barrier:?} round {round}"));
        }
    }
    gc_runtime::reconfigure(Config::default()).unwrap();
}

/// Sets the flag when dropped.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Concurrent, checkmark on, collections only when asked; drains exclusive only while no
/// mutator runs (idle exclusive marking on, exclusive marking beside mutators off).
fn concurrent(barrier: BarrierKind) -> Config {
    Config::default()
        .with_barrier(barrier)
        .with_mark_workers(2)
        .with_gc_percent(None)
        .with_checkmark(true)
        .with_exclusive_marking(false)
        .with_idle_exclusive_marking(true)
}

/// How a concurrent drain marks, by configuration.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Drains {
    /// Exclusive jobs beside the running mutators (the default).
    BesideMutators,
    /// Exclusive jobs only while no mutator runs, the world stopped for them.
    WhileIdle,
    /// With locked instructions.
    Locked,
}

/// A concurrent collection whose caller is the only mutator: its drains are exclusive —
/// beside the mutators (the default), or, with that off and idle exclusive marking on, with the
/// world stopped for them at no one's expense — and each marks exactly the live nodes: a tree
/// without giving the job up, a random graph perhaps giving it up where forwarding dominates.
/// With both off, the same collections mark with locked instructions.
#[test]
fn a_concurrent_collection_while_no_mutator_runs_marks_exclusively_and_exactly() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let n = if cfg!(miri) { 200 } else { 40_000 };
    let mut mu = gc_runtime::attach();
    let mut rng = Rng(0x5EED_0002);
    for shape in [Shape::Tree, Shape::Random] {
        for drains in [Drains::BesideMutators, Drains::WhileIdle, Drains::Locked] {
            let config = concurrent(BarrierKind::Dijkstra)
                .with_exclusive_marking(drains == Drains::BesideMutators)
                .with_idle_exclusive_marking(drains == Drains::WhileIdle);
            gc_runtime::reconfigure(config).unwrap();
            let root: Root<Node> = graph(&mu, n, shape, &mut rng).root(&mu);
            for round in 0..3 {
                mu.safepoint();
                let before = gc_runtime::stats().cycles;
                mu.collect();
                let c = last_cycle(before);
                let what = format!("{shape:?}, drains {drains:?}, round {round}");
                assert_eq!(c.objects_marked, n, "{what}: exactly the live nodes, each once");
                assert!(c.checkmarked_objects.is_some(), "{what}: checkmark confirmed the marking");
                assert_eq!(c.idle_drains_yielded, 0, "{what}: nobody wanted to run");
                let (beside, idle) = (c.exclusive_drains_beside_mutators, c.idle_exclusive_drains);
                match drains {
                    Drains::BesideMutators => assert!(beside >= 1 && idle == 0, "{what}: {beside} {idle}"),
                    Drains::WhileIdle => assert!(beside == 0 && idle >= 1, "{what}: {beside} {idle}"),
                    Drains::Locked => {
                        assert_eq!((beside, idle, c.objects_forwarded), (0, 0, 0), "{what}: a drain ran exclusive")
                    }
                }
                if let Shape::Tree = shape {
                    assert_eq!(c.exclusive_jobs_given_up, 0, "{what}: forwarding dominated on a tree");
                }
                verify(&mu, root.get(&mu), n);
            }
        }
    }
    gc_runtime::reconfigure(Config::default()).unwrap();
}

/// Threads that spend most of their time in blocking sections, and come back to mutate the
/// shared graph, while another thread collects in a loop: each comes back (attaches) whenever
/// it likes, so some come back while a drain runs exclusive with the world stopped for it, and
/// end it — the workers hand their work back, the world starts, the rest is marked with locked
/// instructions. Under each barrier, checkmark on: every collection marks every live node,
/// whatever was moved meanwhile; every node keeps its contents; and drains did yield.
#[test]
fn threads_that_want_to_run_end_an_idle_exclusive_drain_and_lose_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let n = if cfg!(miri) { 200 } else { 20_000 };
    let (mut drains, mut yielded, mut cycles) = (0, 0, 0);
    let mut mu = gc_runtime::attach();
    for barrier in [BarrierKind::Dijkstra, BarrierKind::Yuasa, BarrierKind::Hybrid] {
        gc_runtime::reconfigure(concurrent(barrier)).unwrap();
        let mut rng = Rng(0x5EED_0003);
        let root: Root<Node> = graph(&mu, n, Shape::Tree, &mut rng).root(&mu);
        let stop = AtomicBool::new(false);
        let barrier_yielded = std::thread::scope(|s| {
            // Ends the threads below when this scope ends, also by a failed assertion.
            let _stop = StopOnDrop(&stop);
            for t in 0..2u64 {
                let (root, stop) = (&root, &stop);
                s.spawn(move || {
                    let mut mu = gc_runtime::attach();
                    let mut rng = Rng(0xB10C_0000 + t);
                    while !stop.load(Ordering::Relaxed) {
                        // Away: the collector may stop the world for a drain meanwhile.
                        let micros = 20 + rng.below(200) as u64;
                        mu.blocking(|| std::thread::sleep(std::time::Duration::from_micros(micros)));
                        // Back: move a subtree's links around — the two children of the root's
                        // child this thread alone changes swap places — and allocate a little
                        // garbage pointing into the graph.
                        let root = root.get(&mu);
                        let live = if t == 0 { root.next.get(&mu) } else { root.other.get(&mu) }.expect("a child");
                        let (a, b) = (live.next.get(&mu), live.other.get(&mu));
                        live.next.set(b);
                        live.other.set(a);
                        let g = mu.alloc(Node { id: u64::MAX, check: 0, next: Member::new(), other: Member::new() });
                        g.next.set(a);
                        mu.safepoint();
                    }
                });
            }
            let mut barrier_yielded = 0;
            let started = std::time::Instant::now();
            // Until enough drains yielded, for 10 s at most (an idle drain runs for a fraction of
            // a millisecond, and a thread comes back every 0.1 ms or so); past that only until
            // the first (checked below), for `RUN_AT_MOST`.
            for round in 0.. {
                let before = gc_runtime::stats().cycles;
                mu.collect();
                let c = last_cycle(before);
                assert!(c.objects_marked >= n, "{barrier:?} round {round}: every live node marked");
                assert!(c.checkmarked_objects.is_some(), "{barrier:?} round {round}: checkmark confirmed the marking");
                drains += c.idle_exclusive_drains;
                barrier_yielded += c.idle_drains_yielded;
                cycles += 1;
                let elapsed = started.elapsed();
                if (barrier_yielded >= 3 && round >= 20)
                    || (elapsed > std::time::Duration::from_secs(10) && barrier_yielded >= 1)
                    || elapsed > RUN_AT_MOST
                {
                    break;
                }
            }
            barrier_yielded
        });
        yielded += barrier_yielded;
        mu.collect();
        verify(&mu, root.get(&mu), n);
        assert!(barrier_yielded >= 1, "{barrier:?}: no thread ever came back during an idle exclusive drain");
    }
    eprintln!("{cycles} collections: {drains} idle exclusive drains, {yielded} ended early by a thread that came back");
    gc_runtime::reconfigure(Config::default()).unwrap();
}

/// A leaf hung on a link of [`mutators_allocating_into_holes_beside_exclusive_drains_lose_nothing`].
#[derive(Trace)]
struct Tag {
    id: u64,
    check: u64,
}

/// A link of a chain, with a slot for a tag.
#[derive(Trace)]
struct Link {
    tag: Member<Tag>,
    next: Member<Link>,
}

fn new_tag(mu: &Mutator, id: u64) -> Gc<'_, Tag> {
    mu.alloc(Tag { id, check: check_of(id) })
}

/// Mutators allocating black beside exclusive drains (the default concurrent marking): two
/// threads each keep a chain of links whose tags they replace, a third of them per walk, with
/// new ones, while a third thread collects back to back with checkmark on. The tags replaced
/// leave holes in pages of live tags, so new tags are allocated — and marked, with a locked
/// instruction — into the very mark words whose old tags a mark worker marks with plain
/// stores. A bit so undone must be set again before the marking ends (see
/// `mutator_marks.rs`): else checkmark finds the new tag unmarked and aborts the process, or
/// the sweep frees it and its contents change under the thread that checks them. (The undoing
/// needs a worker preempted between its load and its store, after the new tag was stored: a
/// rare schedule, which the loom model `mutator_marks` explores; here the whole of the marking
/// beside mutators — candidates, forwarding, the leader ending the jobs — is checked against
/// checkmark, over about a hundred cycles.)
#[test]
fn mutators_allocating_into_holes_beside_exclusive_drains_lose_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let config = Config::default().with_mark_workers(2).with_gc_percent(None).with_checkmark(true);
    gc_runtime::reconfigure(config).unwrap();
    // Under ThreadSanitizer (`--cfg gc_tsan`, CI), shorter chains: each access is checked there.
    let (chain, millis) = if cfg!(miri) {
        (50, 200)
    } else if cfg!(gc_tsan) {
        (5_000, 1_500)
    } else {
        (20_000, 1_500)
    };
    let stop = AtomicBool::new(false);
    let before = gc_runtime::stats().cycles;
    // What the checks below count: two cycles, one of them with a drain beside the mutators.
    let enough = || {
        let stats = gc_runtime::stats();
        stats.cycles - before >= 2
            && stats.recent.iter().any(|c| c.cycle > before && c.exclusive_drains_beside_mutators > 0)
    };
    std::thread::scope(|s| {
        let collector = s.spawn(|| {
            let mut mu = gc_runtime::attach();
            let mut cycles = 0u64;
            while !stop.load(Ordering::Relaxed) {
                mu.collect();
                cycles += 1;
            }
            cycles
        });
        let mutators: Vec<_> = (0..2u64)
            .map(|t| {
                let (stop, enough) = (&stop, &enough);
                s.spawn(move || {
                    let _stop = StopOnDrop(stop);
                    let mut mu = gc_runtime::attach();
                    let mut next_id = t << 48;
                    let head: Root<Link> = {
                        let head = mu.alloc(Link { tag: Member::new(), next: Member::new() });
                        let mut tail = head;
                        for _ in 0..chain {
                            let h = mu.alloc(Link { tag: Member::new(), next: Member::new() });
                            h.tag.set(Some(new_tag(&mu, next_id)));
                            next_id += 1;
                            tail.next.set(Some(h));
                            tail = h;
                        }
                        head.root(&mu)
                    };
                    let started = std::time::Instant::now();
                    let mut replaced = 0u64;
                    // For `millis`, and until `enough` (for `RUN_AT_MOST` in all).
                    while started.elapsed().as_millis() < millis || (!enough() && started.elapsed() < RUN_AT_MOST) {
                        let mut h = head.get(&mu).next.get(&mu);
                        let mut i = 0u64;
                        while let Some(link) = h {
                            let old = link.tag.get(&mu).expect("every link has a tag");
                            assert_eq!(old.check, check_of(old.id), "a tag's contents changed: freed and reused?");
                            // Every third tag replaced: holes among live tags.
                            if (i + replaced) % 3 == 0 {
                                link.tag.set(Some(new_tag(&mu, next_id)));
                                next_id += 1;
                            }
                            i += 1;
                            h = link.next.get(&mu);
                        }
                        replaced += 1;
                        mu.safepoint();
                    }
                    replaced
                })
            })
            .collect();
        for m in mutators {
            assert!(m.join().unwrap() > 0, "the mutator walked its chain");
        }
        stop.store(true, Ordering::Relaxed);
        let cycles = collector.join().unwrap();
        assert!(cycles >= 2, "collections ran ({cycles})");
    });
    let stats = gc_runtime::stats();
    let cycles: Vec<_> = stats.recent.iter().filter(|c| c.cycle > before).collect();
    assert!(cycles.iter().all(|c| c.checkmarked_objects.is_some()), "checkmark confirmed every marking");
    assert!(
        cycles.iter().any(|c| c.exclusive_drains_beside_mutators > 0),
        "some drain ran as an exclusive job beside the mutators"
    );
    gc_runtime::reconfigure(Config::default()).unwrap();
}

/// A chain link of [`assists_and_drains_mark_beside_each_other_and_lose_nothing`].
#[derive(Trace)]
struct Cell {
    id: u64,
    check: u64,
    next: Member<Cell>,
}

/// A bucket of chain heads.
#[derive(Trace)]
struct Bucket {
    heads: Vec<Member<Cell>>,
}

const CELLS: usize = 4;

fn new_chain<'m>(mu: &'m Mutator, len: usize, next_id: &mut u64) -> Gc<'m, Cell> {
    let cell = |mu: &'m Mutator, id: u64| mu.alloc(Cell { id, check: check_of(id), next: Member::new() });
    let head = cell(mu, *next_id);
    let mut tail = head;
    for _ in 1..len {
        *next_id += 1;
        let c = cell(mu, *next_id);
        tail.next.set(Some(c));
        tail = c;
    }
    *next_id += 1;
    head
}

/// Mark assists beside exclusive drains: a live heap of a few hundred thousand cells in chains
/// of four, whose tails a mutator replaces with new chains as fast as it can, with the pacer
/// on, so that cycles follow each other and the mutator assists the marking — marking with a
/// locked instruction the objects it finds, in words a drain's worker owns and writes with
/// plain stores. An assist's mark so undone must be set again before the marking ends (see
/// `mutator_marks.rs`): without that, this program lost a chain's cells within a second (the
/// `bench/peers` pause workload, whose shape this is, did as soon as assists marked beside the
/// drains), checkmark aborting the process or a walk finding a chain cut short.
#[test]
fn assists_and_drains_mark_beside_each_other_and_lose_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let drained = |c: &gc_runtime::CycleStats| c.exclusive_drains_beside_mutators > 0;
    let recorded = |c: &gc_runtime::CycleStats| c.mark_log_peak_bytes > 0;
    let cycles = assists_beside_drains(|c| c, |cs| cs.iter().any(drained) && cs.iter().any(recorded));
    assert!(cycles.iter().any(drained), "drains ran beside the mutator");
    assert!(cycles.iter().any(recorded), "the assists' marks were recorded");
}

/// The same with the record of mutators' marks limited to a thousandth of the heap, which the
/// assists' records outgrow in the middle of a drain beside the mutator: the record gives the
/// running drain up, the rest of the marking sets its bits with locked instructions, and the
/// record is turned off once the job's workers have finished (see `mutator_marks.rs`, "The
/// limit"), all under checkmark. (That the record is turned off only after the job's workers
/// have finished is a race this test would catch only by chance — the window is a worker's
/// next check — and the loom model `models/mutator_marks.rs` checks; its control, the record
/// turned off during the job, loses the mark.) With the limit at 0, any record is over it.
#[test]
fn a_log_over_its_limit_gives_the_drain_up_and_loses_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let gave_up = |c: &gc_runtime::CycleStats| c.mark_log_over_limit && c.exclusive_jobs_given_up == 1;
    let cycles = assists_beside_drains(|c| c.with_mark_log_permille(1), |cs| cs.iter().any(gave_up));
    assert!(
        cycles.iter().any(gave_up),
        "a record went over the limit while a drain ran beside the mutator, and gave it up"
    );
    let over = |c: &gc_runtime::CycleStats| c.mark_log_over_limit;
    let cycles = assists_beside_drains(|c| c.with_mark_log_permille(0), |cs| cs.iter().any(over));
    assert!(cycles.iter().any(over), "with a limit of 0, a record is over it");
}

/// With `exclusive_marking` off no drain runs beside the mutators as an exclusive job, so no
/// plain store can undo a mutator's mark: the record of mutators' marks is off from mark start,
/// though the mutator assists.
#[test]
fn without_exclusive_drains_beside_the_mutators_nothing_is_recorded() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cycles = assists_beside_drains(|c| c.with_exclusive_marking(false), |_| true);
    assert!(cycles.iter().all(|c| c.exclusive_drains_beside_mutators == 0 && !c.mark_log_over_limit));
    assert!(
        cycles.iter().all(|c| c.mark_log_peak_bytes == 0),
        "nothing recorded: {:?}",
        cycles.iter().map(|c| c.mark_log_peak_bytes).collect::<Vec<_>>()
    );
}

/// With handshakes off, a concurrent marking ends in a stop. The log of mutators' marks is set
/// again after the flush before it, with the world running, as a termination round sets it, so
/// the pause sets only the records made since. (Set in the pause, the log of a long marking
/// beside an allocating thread made it milliseconds long: `pause_bench --live 8000000
/// --phase-changes stops`, 5–7 MB of records, a termination pause of 3–7 ms instead of
/// 0.1–0.3 ms.)
#[test]
fn with_handshakes_off_the_log_is_set_again_before_the_stop_that_ends_the_marking() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let logged = |c: &gc_runtime::CycleStats| c.mark_log_applied >= 1_000;
    let cycles = assists_beside_drains(|c| c.with_handshakes(false), |cs| cs.iter().any(logged));
    let logged: Vec<_> = cycles.iter().filter(|c| logged(c)).collect();
    assert!(!logged.is_empty(), "no cycle logged 1,000 records");
    for c in logged {
        let ended_in_a_stop = c.pauses.iter().any(|p| matches!(p.kind, gc_runtime::PauseKind::MarkTermination));
        assert!(ended_in_a_stop, "cycle {}: the marking ended in a stop: {:?}", c.cycle, c.pauses);
        assert!(
            c.mark_log_applied_in_pause * 4 <= c.mark_log_applied,
            "cycle {}: {} of {} records set again inside a pause",
            c.cycle,
            c.mark_log_applied_in_pause,
            c.mark_log_applied
        );
    }
}

/// A mark assist is a pause of its thread (`Stats::thread_pauses`, whose minimum mutator
/// utilisation counts it, as Go's does): the one mutator of the assists' workload records
/// more pauses than it can have answered handshake rounds and parked for stops. (The run goes
/// on until it has, for a minute at most: without the assists, the records never outnumber
/// the bound.)
#[test]
fn mark_assists_are_pauses_of_their_thread() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before = gc_runtime::stats().thread_pauses.count;
    let recorded = || gc_runtime::stats().thread_pauses.count - before;
    // At most one answer per round and one park per stop, in every cycle of the run (and the
    // records of the cycle that ran when it began).
    let visits = |cycles: &[gc_runtime::CycleStats]| {
        cycles.iter().map(|c| c.handshakes.len() + c.pauses.len()).sum::<usize>() as u64 + 16
    };
    let cycles = assists_beside_drains(|c| c, |cycles| recorded() > visits(cycles));
    let (recorded, visits) = (recorded(), visits(&cycles));
    assert!(
        recorded > visits,
        "{recorded} pauses recorded, against at most {visits} answers and parks: the assists were not counted"
    );
}

/// The pause workload's shape beside exclusive drains, configured by `configure`: chains
/// replaced in part or whole as fast as one mutator can, every chain walked and checked before
/// it is changed, checkmark on, until at least three cycles ran, the mutator assisted in one
/// and their records are `wanted` (what the caller checks); returns those records.
fn assists_beside_drains(
    configure: impl FnOnce(Config) -> Config,
    wanted: impl Fn(&[gc_runtime::CycleStats]) -> bool,
) -> Vec<gc_runtime::CycleStats> {
    // Under ThreadSanitizer (`--cfg gc_tsan`, CI), a quarter of the heap.
    let (live, millis) = if cfg!(miri) {
        (2_000, 100)
    } else if cfg!(gc_tsan) {
        (100_000, 1_500)
    } else {
        (400_000, 1_500)
    };
    let config = configure(Config::default().with_mark_workers(1).with_min_heap(1 << 20).with_checkmark(true));
    gc_runtime::reconfigure(config).unwrap();
    let mut mu = gc_runtime::attach();
    let chains = live / CELLS;
    let mut next_id = 0;
    let buckets: Vec<Root<Bucket>> = (0..chains.div_ceil(1024))
        .map(|_| {
            let heads = (0..1024).map(|_| Member::new()).collect();
            let b = mu.alloc(Bucket { heads });
            for h in &b.heads {
                h.set(Some(new_chain(&mu, CELLS, &mut next_id)));
            }
            b.root(&mu)
        })
        .collect();
    // A cycle takes its configuration when it starts: end any the pacer started before
    // `reconfigure` (without checkmark), so that the cycles counted below are this test's.
    mu.collect();
    let before = gc_runtime::stats().cycles;
    let mut rng = Rng(0x5EED_0004);
    let started = std::time::Instant::now();
    let mut mutations = 0u64;
    // At least `millis`, and until three cycles ran, one of them had the mutator assist and
    // their records are `wanted` (a minute at most: under ThreadSanitizer a cycle can take
    // longer than `millis`, and on a loaded machine the first cycles may end before the mutator
    // owes an assist).
    let enough = || {
        let stats = gc_runtime::stats();
        let cycles: Vec<_> = stats.recent.into_iter().filter(|c| c.cycle > before).collect();
        stats.cycles - before >= 3 && cycles.iter().any(|c| c.assist_bytes > 0) && wanted(&cycles)
    };
    while started.elapsed().as_millis() < millis || (!enough() && started.elapsed() < RUN_AT_MOST) {
        for _ in 0..256 {
            let chain = rng.below(buckets.len() * 1024);
            let bucket = buckets[chain / 1024].get(&mu);
            let head = &bucket.into_ref().heads[chain % 1024];
            let depth = rng.below(CELLS);
            let mut cell = head.get(&mu).expect("chains are never empty");
            let mut len = 1;
            while let Some(next) = cell.next.get(&mu) {
                assert_eq!(next.check, check_of(next.id), "a cell's contents changed: freed and reused?");
                cell = next;
                len += 1;
            }
            assert_eq!(len, CELLS, "a chain was cut short: a cell freed while reachable?");
            if depth == 0 {
                head.set(Some(new_chain(&mu, CELLS, &mut next_id)));
            } else {
                let mut at = head.get(&mu).expect("chains are never empty");
                for _ in 1..depth {
                    at = at.next.get(&mu).expect("chains have four cells");
                }
                at.next.set(Some(new_chain(&mu, CELLS - depth, &mut next_id)));
            }
            mutations += 1;
        }
        mu.safepoint();
    }
    let stats = gc_runtime::stats();
    let cycles: Vec<_> = stats.recent.into_iter().filter(|c| c.cycle > before).collect();
    assert!(
        stats.cycles - before >= 2,
        "the pacer started cycles ({} in {mutations} mutations)",
        stats.cycles - before
    );
    assert!(cycles.iter().all(|c| c.checkmarked_objects.is_some()), "checkmark confirmed every marking");
    assert!(cycles.iter().any(|c| c.assist_bytes > 0), "the mutator assisted the marking");
    drop(buckets);
    gc_runtime::reconfigure(Config::default()).unwrap();
    cycles
}
