// The dumpster workloads, shared by `dumpster_unsync` and `dumpster_sync` (included by both;
// each brings `Gc`, `collect`, the collect-condition functions and a `Cell` type into scope).

/// Collections started by dumpster in this process (counted by the wrapped collect condition).
static COLLECTIONS: AtomicU64 = AtomicU64::new(0);

/// dumpster's default condition, counting the collections it starts.
fn counting_condition(info: &CollectInfo) -> bool {
    let go = default_collect_condition(info);
    if go {
        COLLECTIONS.fetch_add(1, Ordering::Relaxed);
    }
    go
}

/// Runs a workload.
pub fn run(w: Workload, p: &Params) -> Result<Record, String> {
    set_collect_condition(counting_condition);
    Ok(match w {
        Workload::BinaryTrees => super::binary_trees(p, &mut Trees(None)),
        Workload::Ring => super::ring(p, &mut RingImpl),
        Workload::FullGc => super::full_gc(p, &mut Full(None)),
        Workload::Pause => pause(p),
    }
    .with("collections", COLLECTIONS.load(Ordering::Relaxed)))
}

#[derive(Trace)]
struct Tree {
    left: Option<Gc<Tree>>,
    right: Option<Gc<Tree>>,
}

fn bottom_up_tree(depth: u32) -> Gc<Tree> {
    if depth > 0 {
        Gc::new(Tree { left: Some(bottom_up_tree(depth - 1)), right: Some(bottom_up_tree(depth - 1)) })
    } else {
        Gc::new(Tree { left: None, right: None })
    }
}

fn item_check(tree: &Tree) -> u64 {
    match (&tree.left, &tree.right) {
        (Some(l), Some(r)) => 1 + item_check(l) + item_check(r),
        _ => 1,
    }
}

struct Trees(Option<Gc<Tree>>);

impl BinaryTrees for Trees {
    fn trees(&mut self, count: u64, depth: u32) -> u64 {
        (0..count).map(|_| item_check(&bottom_up_tree(depth))).sum()
    }

    fn make_long_lived(&mut self, depth: u32) {
        self.0 = Some(bottom_up_tree(depth));
    }

    fn check_long_lived(&mut self) -> u64 {
        self.0.take().map_or(0, |t| item_check(&t))
    }
}

#[derive(Trace)]
struct RingNode {
    id: u64,
    next: Cell<Option<Gc<RingNode>>>,
}

struct RingImpl;

impl Ring for RingImpl {
    fn build_walk_drop(&mut self, n: usize) -> u64 {
        let head = Gc::new(RingNode { id: 0, next: Cell::new(None) });
        let mut tail = head.clone();
        for id in 1..n as u64 {
            let node = Gc::new(RingNode { id, next: Cell::new(None) });
            *write(&tail.next) = Some(node.clone());
            tail = node;
        }
        *write(&tail.next) = Some(head.clone());
        drop(tail);
        let mut sum = 0;
        let mut cur = head.clone();
        loop {
            sum += cur.id;
            let next = read(&cur.next).clone().expect("a ring has no end");
            if Gc::ptr_eq(&next, &head) {
                break;
            }
            cur = next;
        }
        sum
    }
}

#[derive(Trace)]
struct TreeNode {
    id: u64,
    left: Option<Gc<TreeNode>>,
    right: Option<Gc<TreeNode>>,
}

fn build_indexed(i: usize, n: usize) -> Gc<TreeNode> {
    let (l, r) = crate::tree_children(i, n);
    Gc::new(TreeNode { id: i as u64, left: l.map(|l| build_indexed(l, n)), right: r.map(|r| build_indexed(r, n)) })
}

fn sum_tree(node: &TreeNode) -> u64 {
    node.id + node.left.as_deref().map_or(0, sum_tree) + node.right.as_deref().map_or(0, sum_tree)
}

struct Full(Option<Gc<TreeNode>>);

impl FullGc for Full {
    fn build(&mut self, n: usize) {
        self.0 = Some(build_indexed(0, n));
    }

    fn collect(&mut self) -> Record {
        collect();
        Record::new()
    }

    fn check(&mut self) -> u64 {
        self.0.as_deref().map_or(0, sum_tree)
    }
}

#[derive(Trace)]
struct Node {
    id: u64,
    next: Cell<Option<Gc<Node>>>,
}

#[derive(Trace)]
struct Bucket {
    slots: Vec<Cell<Option<Gc<Node>>>>,
}

fn fresh_chain(len: usize, next_id: &mut u64) -> Gc<Node> {
    let mut next = None;
    for _ in 0..len {
        *next_id += 1;
        next = Some(Gc::new(Node { id: *next_id, next: Cell::new(next) }));
    }
    next.expect("len >= 1")
}

fn pause(p: &Params) -> Record {
    let chains = chains_for(p.live);
    let mut next_id = 0;
    let buckets: Vec<Gc<Bucket>> = (0..chains)
        .step_by(BUCKET_SLOTS)
        .map(|first| {
            let slots = BUCKET_SLOTS.min(chains - first);
            Gc::new(Bucket { slots: (0..slots).map(|_| Cell::new(Some(fresh_chain(CHAIN, &mut next_id)))).collect() })
        })
        .collect();
    let mut rng = rng::seeded(1);
    let out = super::pause_loop(p, |log| {
        for _ in 0..BATCH {
            let m = next_mutation(&mut rng, chains);
            let before = COLLECTIONS.load(Ordering::Relaxed);
            super::timed(
                log,
                || {
                    let slot = &buckets[m.bucket].slots[m.slot];
                    if m.depth == 0 {
                        *write(slot) = Some(fresh_chain(CHAIN, &mut next_id));
                        return;
                    }
                    let mut node = read(slot).clone().expect("chains are never empty");
                    for _ in 1..m.depth {
                        let next = read(&node.next).clone().expect("chains have CHAIN nodes");
                        node = next;
                    }
                    *write(&node.next) = Some(fresh_chain(CHAIN - m.depth, &mut next_id));
                },
                || COLLECTIONS.load(Ordering::Relaxed) != before,
            );
        }
    });
    let check: u64 = buckets
        .iter()
        .flat_map(|b| b.slots.iter())
        .map(|s| {
            let (mut len, mut cur) = (0u64, read(s).clone());
            while let Some(n) = cur {
                len += 1;
                cur = read(&n.next).clone();
            }
            len
        })
        .sum();
    out.with("check", check).with("live", chains * CHAIN).with("rss_mb", format!("{:.1}", stats::rss_mb()))
}
