//! The `#[gc]` rewrite next to the hand-written barrier calls it stands for.
//!
//! ```text
//! cargo run --release -p gc-examples --bin gc_rewrite -- 10000
//! ```
//!
//! Two modules build the same structure — a doubly linked ring of `n` nodes, each node also
//! pointing to a shared label, then reversed in place — one with `#[gc]` (slot fields written
//! `Gc<T>` / `Option<Gc<T>>`, plain assignments), one by hand (`NonNullMember<T>` /
//! `Member<T>` fields, `#[derive(Trace)]`, and a `set` call for every store, which is what
//! `#[gc]` expands to). The program runs both, collecting in between, and checks that they
//! produce the same walk. Exits non-zero if they differ.

/// With `#[gc]`.
mod with_gc {
    // ANCHOR: with_gc
    use gc_runtime::{gc, Gc, Mutator};

    /// A label shared by many nodes.
    #[gc]
    pub struct Label {
        pub text: String,
    }

    /// `label: Gc<Label>` becomes a `NonNullMember<Label>` slot, `next` and `prev` become
    /// `Member<Node>` slots; `#[gc]` also generates `Node::new`, getters and setters.
    #[gc]
    pub struct Node {
        pub value: u64,
        pub label: Gc<Label>,
        pub next: Option<Gc<Node>>,
        pub prev: Option<Gc<Node>>,
    }

    #[gc]
    impl Node {
        /// A ring of `n` nodes `0..n`, all with the same label.
        pub fn ring<'m>(mu: &'m Mutator, n: u64, text: &str) -> Gc<'m, Node> {
            let label = Label::new(mu, text.to_string());
            let first = Node::new(mu, 0, label, None, None);
            let mut last = first;
            for value in 1..n {
                let node = Node::new(mu, value, label, None, Some(last));
                last.next = Some(node); // rewritten: a barriered store
                last = node;
            }
            last.next = Some(first);
            first.prev = Some(last);
            first
        }

        /// Reverse the ring in place: swap every node's `next` and `prev`.
        pub fn reverse(start: Gc<'_, Node>, mu: &Mutator) {
            let mut cur = start;
            loop {
                let (next, prev) = (cur.next(mu), cur.prev(mu));
                cur.next = prev; // rewritten
                cur.prev = next; // rewritten
                cur = next.unwrap();
                if Gc::ptr_eq(cur, start) {
                    break;
                }
            }
        }
    }
    // ANCHOR_END: with_gc
}

/// By hand: what `#[gc]` expands to, minus the generated getters and setters.
mod by_hand {
    // ANCHOR: by_hand
    use gc_runtime::{Gc, Member, Mutator, NonNullMember, Trace};

    /// A label shared by many nodes.
    #[derive(Trace)]
    pub struct Label {
        pub text: String,
    }

    /// The slots are written as what they are.
    #[derive(Trace)]
    pub struct Node {
        pub value: u64,
        pub label: NonNullMember<Label>,
        pub next: Member<Node>,
        pub prev: Member<Node>,
    }

    impl Node {
        /// What `#[gc]`'s constructor does: allocate with empty slots, then set each slot
        /// through the barrier. (A new object is black while marking, so every pointer must
        /// get into it through a barriered store after allocation.)
        pub fn new<'m>(
            mu: &'m Mutator,
            value: u64,
            label: Gc<'_, Label>,
            next: Option<Gc<'_, Node>>,
            prev: Option<Gc<'_, Node>>,
        ) -> Gc<'m, Node> {
            let node = mu.alloc(Node { value, label: NonNullMember::new(), next: Member::new(), prev: Member::new() });
            node.label.set(label);
            node.next.set(next);
            node.prev.set(prev);
            node
        }

        /// A ring of `n` nodes `0..n`, all with the same label.
        pub fn ring<'m>(mu: &'m Mutator, n: u64, text: &str) -> Gc<'m, Node> {
            let label = mu.alloc(Label { text: text.to_string() });
            let first = Node::new(mu, 0, label, None, None);
            let mut last = first;
            for value in 1..n {
                let node = Node::new(mu, value, label, None, Some(last));
                last.next.set(Some(node)); // `last.next = Some(node)` under #[gc]
                last = node;
            }
            last.next.set(Some(first));
            first.prev.set(Some(last));
            first
        }

        /// Reverse the ring in place: swap every node's `next` and `prev`.
        pub fn reverse(start: Gc<'_, Node>, mu: &Mutator) {
            let mut cur = start;
            loop {
                let (next, prev) = (cur.next.get(mu), cur.prev.get(mu));
                cur.next.set(prev);
                cur.prev.set(next);
                cur = next.unwrap();
                if Gc::ptr_eq(cur, start) {
                    break;
                }
            }
        }
    }
    // ANCHOR_END: by_hand
}

/// Build, reverse, collect, then walk `next` from the start: (value, label) pairs.
macro_rules! run {
    ($m:ident, $mu:expr, $n:expr, $get_next:expr, $get_label:expr) => {{
        let mu: &mut gc_runtime::Mutator = $mu;
        let root = $m::Node::ring(mu, $n, stringify!($m)).root(mu);
        $m::Node::reverse(root.get(mu), mu);
        mu.collect(); // only the root keeps the ring alive now
        let start = root.get(mu);
        let mut walk = Vec::new();
        let mut cur = start;
        loop {
            walk.push((cur.value, $get_label(cur, &*mu)));
            cur = $get_next(cur, &*mu);
            if gc_runtime::Gc::ptr_eq(cur, start) {
                break;
            }
        }
        walk
    }};
}

fn main() {
    let n: u64 = std::env::args().nth(1).map_or(5_000, |a| a.parse().expect("usage: gc_rewrite [N]")).max(1);
    let mut mu = gc_runtime::attach();
    let a = run!(
        with_gc,
        &mut mu,
        n,
        |c: gc_runtime::Gc<'_, with_gc::Node>, mu| c.next(mu).unwrap(),
        |c: gc_runtime::Gc<'_, with_gc::Node>, mu| c.label(mu).text.len()
    );
    let b = run!(
        by_hand,
        &mut mu,
        n,
        |c: gc_runtime::Gc<'_, by_hand::Node>, mu| c.next.get(mu).unwrap(),
        |c: gc_runtime::Gc<'_, by_hand::Node>, mu| c.label.get(mu).text.len()
    );
    // Both labels are 7 bytes long ("with_gc", "by_hand"), so the walks must be equal.
    let expected: Vec<(u64, usize)> = std::iter::once(0).chain((1..n).rev()).map(|v| (v, 7)).collect();
    println!("#[gc]: {} nodes, by hand: {} nodes, equal: {}", a.len(), b.len(), a == b);
    if a != b || a != expected {
        eprintln!("FAILED: the two variants differ, or the walk is wrong");
        std::process::exit(1);
    }
    println!("ok");
}
