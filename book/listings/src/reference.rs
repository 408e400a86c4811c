//! Reference chapter listings: `#[gc]` in each position, the derive, collections, weak
//! references, configuration and statistics.

/// `#[gc]` on a struct, an impl block, a function and an inline module.
pub mod gc_positions {
    // ANCHOR: gc_struct
    use gc_runtime::{gc, Gc, Mutator};

    /// A `#[gc]` struct: `Gc<T>` fields become `NonNullMember<T>` slots, `Option<Gc<T>>`
    /// fields become `Member<T>` slots.
    #[gc]
    pub struct Node {
        /// Plain data.
        pub value: u64,
        /// A nullable slot (`Member<Node>`).
        pub next: Option<Gc<Node>>,
    }

    /// A struct with a non-null slot and a renamed constructor.
    #[gc(constructor = "make")]
    pub struct Pair {
        /// A non-null slot (`NonNullMember<Node>`), set by the constructor.
        pub first: Gc<Node>,
        /// A nullable slot.
        pub second: Option<Gc<Node>>,
    }

    /// Generated items: `Node::new(mu, value, next)`, the getter `next(&self, mu)` and the
    /// setter `set_next(&self, value)`.
    pub fn generated(mu: &Mutator) -> u64 {
        let a = Node::new(mu, 1, None);
        let b = Node::new(mu, 2, Some(a));
        a.set_next(Some(b)); // setter: the barrier runs
        let pair = Pair::make(mu, a, None);
        pair.first(mu).next(mu).unwrap().value // getters
    }
    // ANCHOR_END: gc_struct

    // ANCHOR: gc_impl
    #[gc]
    impl Node {
        /// In a `#[gc] impl`, `place.next = value` is rewritten into a barrier call.
        pub fn link(this: Gc<'_, Node>, other: Gc<'_, Node>) {
            this.next = Some(other);
        }
    }
    // ANCHOR_END: gc_impl

    // ANCHOR: gc_fn
    /// A `#[gc]` function lists the structs whose slot names it rewrites.
    #[gc(Node, Pair)]
    pub fn rotate(pair: Gc<'_, Pair>, mu: &Mutator) {
        let first = pair.first(mu);
        if let Some(second) = pair.second(mu) {
            pair.first = second; // NonNullMember: takes a `Gc`
            pair.second = Some(first); // Member: takes an `Option<Gc>`
        }
    }
    // ANCHOR_END: gc_fn

    // ANCHOR: gc_mod
    /// In a `#[gc]` module every `#[gc]` struct's slots are known to every item inside it.
    #[gc]
    pub mod tree {
        use gc_runtime::{Gc, Mutator};

        /// A binary tree node.
        #[gc]
        pub struct Tree {
            /// Left child.
            pub left: Option<Gc<Tree>>,
            /// Right child.
            pub right: Option<Gc<Tree>>,
        }

        /// A complete tree of `depth` levels below the root.
        pub fn build(mu: &Mutator, depth: u32) -> Gc<'_, Tree> {
            let t = Tree::new(mu, None, None);
            if depth > 0 {
                t.left = Some(build(mu, depth - 1)); // rewritten
                t.right = Some(build(mu, depth - 1)); // rewritten
            }
            t
        }

        /// Number of nodes.
        pub fn count(mu: &Mutator, t: Gc<'_, Tree>) -> usize {
            1 + t.left(mu).map_or(0, |l| count(mu, l)) + t.right(mu).map_or(0, |r| count(mu, r))
        }
    }
    // ANCHOR_END: gc_mod
}

/// `#[derive(Trace)]` with `#[trace(skip)]`.
pub mod derive {
    // ANCHOR: derive
    use std::sync::atomic::{AtomicU64, Ordering};

    use gc_runtime::{Member, Trace};

    /// Generic parameters get a `Trace` bound; enums trace the fields of the live variant.
    #[derive(Trace)]
    pub enum Shape<T> {
        /// A leaf holding a value.
        Leaf(T),
        /// An inner node with a slot.
        Link {
            /// The child.
            child: Member<Shape<T>>,
        },
    }

    /// `#[trace(skip)]`: a field whose type does not implement `Trace` (and holds no GC
    /// pointer — on a slot type it is a compile error).
    #[derive(Trace)]
    pub struct Counted {
        /// A slot.
        pub next: Member<Counted>,
        /// Not traced.
        #[trace(skip)]
        pub visits: AtomicU64,
    }

    /// Allocate a small structure of each and read it back.
    pub fn run() -> (u8, u64) {
        let mu = gc_runtime::attach();
        let leaf = mu.alloc(Shape::Leaf(7u8));
        let link = mu.alloc(Shape::Link { child: Member::new() });
        if let Shape::Link { child } = &*link {
            child.set(Some(leaf));
        }
        let c = mu.alloc(Counted { next: Member::new(), visits: AtomicU64::new(0) });
        c.next.set(Some(c));
        c.next.get(&mu).unwrap().visits.fetch_add(1, Ordering::Relaxed);
        let value = match &*link {
            Shape::Link { child } => match &*child.get(&mu).unwrap() {
                Shape::Leaf(v) => *v,
                Shape::Link { .. } => 0,
            },
            Shape::Leaf(_) => 0,
        };
        (value, c.visits.load(Ordering::Relaxed))
    }
    // ANCHOR_END: derive
}

/// `#[trace(bound = "...")]`.
pub mod derive_bound {
    // ANCHOR: derive_bound
    use std::marker::PhantomData;

    use gc_runtime::Trace;

    /// A type that does not implement `Trace`.
    pub struct NotTrace;

    /// `Trace` for every `T`: a `PhantomData<T>` is, whatever `T` is.
    #[derive(Trace)]
    #[trace(bound = "")]
    pub struct Tagged<T> {
        /// Plain data.
        pub id: u32,
        /// No `T` is stored.
        pub marker: PhantomData<T>,
    }

    /// The bound spelled out.
    #[derive(Trace)]
    #[trace(bound = "T: Trace + Clone")]
    pub struct Wrapper<T: Clone> {
        /// A traced value.
        pub value: T,
    }

    /// Allocate a `Tagged<NotTrace>` (pointer-free, so never traced) and a `Wrapper`.
    pub fn run() -> (u32, u8, bool) {
        let mu = gc_runtime::attach();
        let tagged = mu.alloc(Tagged::<NotTrace> { id: 1, marker: PhantomData });
        let wrapped = mu.alloc(Wrapper { value: 5u8 });
        (tagged.id, wrapped.value, <Tagged<NotTrace> as Trace>::NEEDS_TRACE)
    }
    // ANCHOR_END: derive_bound
}

/// Weak references, `GcIdMap`, `AtomicCell`.
pub mod weak_and_collections {
    // ANCHOR: weak
    use gc_runtime::{AtomicCell, GcIdMap, Trace, Weak};

    /// A counter object: `AtomicCell` holds `Copy` plain data, shared between threads.
    #[derive(Trace)]
    pub struct Counter {
        /// The count.
        pub hits: AtomicCell<u64>,
    }

    /// One object kept by a root, one kept by nothing: after a collection only the first
    /// weak reference still upgrades.
    pub fn run() -> (bool, bool, u64) {
        let mut mu = gc_runtime::attach();
        let kept = mu.alloc(Counter { hits: AtomicCell::new(0) }).root(&mu);
        let weak_kept = Weak::new(&mu, kept.get(&mu));
        let weak_lost = Weak::new(&mu, mu.alloc(Counter { hits: AtomicCell::new(0) }));
        // A side table keyed by object identity (keys are kept alive, like values).
        let table = mu.alloc(GcIdMap::<Counter, Counter>::new()).root(&mu);
        table.get(&mu).insert(kept.get(&mu), kept.get(&mu));
        mu.collect();
        let k = weak_kept.upgrade(&mu);
        if let Some(k) = k {
            k.hits.fetch_add(1);
        }
        let hits = table.get(&mu).get(kept.get(&mu), &mu).map_or(0, |c| c.hits.load());
        (k.is_some(), weak_lost.upgrade(&mu).is_none() && weak_lost.is_cleared(), hits)
    }
    // ANCHOR_END: weak
}

/// A weak map (ephemeron table): properties attached to host objects without keeping them alive.
pub mod weak_map {
    // ANCHOR: weak_map
    use gc_runtime::{GcWeakMap, Member, Trace};

    /// An object of the host program.
    #[derive(Trace)]
    pub struct Host {
        /// Its name.
        pub name: String,
    }

    /// What a script attached to a host object; it may point back to the object.
    #[derive(Trace)]
    pub struct Extra {
        /// The attached value.
        pub note: String,
        /// The host object it belongs to (a cycle through the map's value).
        pub owner: Member<Host>,
    }

    /// Attach extras to two hosts, keep one: after a collection only its entry is left, though
    /// the other's extra pointed back to its host. Returns (entries, the kept host's note).
    pub fn run() -> (usize, String) {
        let mut mu = gc_runtime::attach();
        let extras = mu.alloc(GcWeakMap::<Host, Extra>::new()).root(&mu);
        let kept = mu.alloc(Host { name: "window".into() }).root(&mu);
        for host in [kept.get(&mu), mu.alloc(Host { name: "popup".into() })] {
            let extra = mu.alloc(Extra { note: format!("{} extra", host.name), owner: Member::new() });
            extra.owner.set(Some(host));
            extras.get(&mu).insert(host, extra);
        }
        mu.collect(); // "popup" is unreachable: its entry, and the extra, go with it
        let extras = extras.get(&mu);
        let note = extras.get(kept.get(&mu), &mu).map(|e| e.note.clone()).unwrap_or_default();
        (extras.len(), note)
    }
    // ANCHOR_END: weak_map
}

/// Unsized objects: a runtime's strings and arrays, one allocation each.
pub mod unsized_objects {
    // ANCHOR: unsized
    use gc_runtime::{Gc, GcMap, Member, Mutator, Trace};

    /// A script-level array: a fixed number of slots, allocated once.
    #[derive(Trace)]
    pub struct Array {
        /// The elements (`None` is the script's `nil`).
        pub items: Member<[Member<Array>]>,
        /// A label, shared by every array built with it.
        pub label: Member<str>,
    }

    /// An array of `len` empty slots, labelled.
    pub fn array<'m>(mu: &'m Mutator, len: usize, label: Gc<'_, str>) -> Gc<'m, Array> {
        let a = mu.alloc(Array { items: Member::new(), label: Member::new() });
        a.items.set(Some(mu.alloc_from_iter((0..len).map(|_| Member::new()))));
        a.label.set(Some(label));
        a
    }

    /// Intern two strings, build a nested array, collect, read it all back. Returns (the
    /// outer array's length, the inner one's label, the interned name's bytes).
    pub fn run() -> (usize, String, usize) {
        let mut mu = gc_runtime::attach();
        let names = mu.alloc(GcMap::<u32, str>::new()).root(&mu);
        let outer = {
            let label = mu.alloc_str("list");
            names.get(&mu).insert(0, label);
            let outer = array(&mu, 3, label);
            let inner = array(&mu, 1, mu.alloc_str("inner"));
            outer.items.get(&mu).unwrap()[2].set(Some(inner));
            outer.root(&mu)
        };
        mu.collect();
        let outer = outer.get(&mu);
        let items = outer.items.get(&mu).unwrap();
        let inner = items[2].get(&mu).unwrap();
        let label = inner.label.get(&mu).unwrap().to_string();
        (items.len(), label, names.get(&mu).get(&0, &mu).unwrap().len())
    }
    // ANCHOR_END: unsized
}

/// Trait objects: a runtime's natives or AST nodes behind one trait.
pub mod trait_objects {
    // ANCHOR: dyn_objects
    use gc_runtime::{dyn_object, unsize, Gc, Member, Mutator, Trace};

    /// A node of an expression tree, evaluated through a vtable.
    pub trait Expr {
        /// The node's value.
        fn eval(&self, mu: &Mutator) -> f64;
    }
    // Once, next to the trait: `Gc<dyn Expr>`, `Member<dyn Expr>` and the rest now work.
    dyn_object!(dyn Expr);

    /// A literal.
    #[derive(Trace)]
    pub struct Num(pub f64);

    impl Expr for Num {
        fn eval(&self, _: &Mutator) -> f64 {
            self.0
        }
    }

    /// A sum of two subtrees: slots of the trait-object type.
    #[derive(Trace)]
    pub struct Add {
        /// The left operand.
        pub left: Member<dyn Expr>,
        /// The right operand.
        pub right: Member<dyn Expr>,
    }

    impl Expr for Add {
        fn eval(&self, mu: &Mutator) -> f64 {
            let operand = |m: &Member<dyn Expr>| m.get(mu).map_or(0.0, |e| e.eval(mu));
            operand(&self.left) + operand(&self.right)
        }
    }

    /// A literal, as an `Expr`.
    pub fn num(mu: &Mutator, n: f64) -> Gc<'_, dyn Expr> {
        mu.alloc_dyn(Num(n), unsize!(Num => dyn Expr))
    }

    /// `1 + (2 + 3)`, built, collected, evaluated.
    pub fn run() -> f64 {
        let mut mu = gc_runtime::attach();
        let tree = {
            // `alloc_dyn_split` also hands out the concrete `Add`, to set its slots.
            let (inner, add) =
                mu.alloc_dyn_split(Add { left: Member::new(), right: Member::new() }, unsize!(Add => dyn Expr));
            add.left.set(Some(num(&mu, 2.0)));
            add.right.set(Some(num(&mu, 3.0)));
            let (outer, add) =
                mu.alloc_dyn_split(Add { left: Member::new(), right: Member::new() }, unsize!(Add => dyn Expr));
            add.left.set(Some(num(&mu, 1.0)));
            add.right.set(Some(inner));
            outer.root(&mu)
        };
        mu.collect(); // everything is reachable from the root: it all survives
        let tree = tree.get(&mu);
        tree.eval(&mu)
    }
    // ANCHOR_END: dyn_objects
}

/// Configuration and statistics.
pub mod config_and_stats {
    // ANCHOR: config
    use gc_runtime::{BarrierKind, Config, Mode};

    /// A configuration built in code: the same settings as
    /// `GC_MODE=concurrent GC_BARRIER=hybrid GC_PERCENT=50 GC_MIN_HEAP=16M GC_TRACE=1`.
    pub fn config() -> Config {
        Config::default()
            .with_mode(Mode::Concurrent)
            .with_barrier(BarrierKind::Hybrid)
            .with_gc_percent(Some(50))
            .with_min_heap(16 << 20)
            .with_trace(true)
        // then: gc_runtime::init(config) before the first `attach`,
        // or gc_runtime::reconfigure(config) at any time.
    }
    // ANCHOR_END: config

    // ANCHOR: stats
    /// Run a collection and read the statistics: the cycle count and the last cycle's trace
    /// line (what `GC_TRACE=1` prints).
    pub fn last_cycle() -> (u64, String) {
        let mut mu = gc_runtime::attach();
        let _garbage = mu.alloc(vec![0u8; 1024]);
        mu.collect();
        let stats = gc_runtime::stats();
        let last = stats.recent.last().expect("a cycle was recorded");
        (stats.cycles, last.trace_line())
    }
    // ANCHOR_END: stats
}

/// A `GcVec` read by one thread while another changes it: no lock on the reading side.
pub mod lock_free_reads {
    // ANCHOR: lock_free_reads
    use gc_runtime::{GcVec, Trace};

    /// An object shared by two threads.
    #[derive(Trace)]
    pub struct Shared {
        /// Read by one thread, changed by the other.
        pub items: GcVec<u64>,
    }

    /// The sum a reader computes while the writer inserts at the front, and the vector's
    /// length after both are done.
    pub fn run() -> (u64, usize) {
        let mut mu = gc_runtime::attach();
        let shared = mu.alloc(Shared { items: GcVec::new() });
        shared.items.extend((1..=4).map(|i| mu.alloc(i)));
        let (root, mine) = (shared.root(&mu), shared.root(&mu));
        let reader = std::thread::spawn(move || {
            let mu = gc_runtime::attach();
            let items = &root.get(&mu).items;
            // No lock: these reads never wait for the writer below. Each index below 4 holds
            // an element throughout, from before the insertion or from after it.
            (0..4).map(|i| *items.get(i, &mu).expect("an element at every index below 4")).sum::<u64>()
        });
        shared.items.insert(0, mu.alloc(100));
        // Waiting for another thread: detached, so that a cycle does not wait for us.
        let sum = mu.blocking(|| reader.join().expect("the reader"));
        (sum, mine.get(&mu).items.len())
    }
    // ANCHOR_END: lock_free_reads
}

/// A dynamic language's array: numbers, `nil` and strings in one vector, by value.
pub mod value_array {
    // ANCHOR: value_array
    use std::sync::atomic::{AtomicU64, Ordering};

    use gc_runtime::{Gc, GcValueVec, HeapValue, Member, Mutator, Trace};

    /// A value as running code holds it: the string is a local.
    #[derive(Clone, Copy)]
    pub enum Value<'m> {
        /// `nil`.
        Nil,
        /// A number.
        Number(f64),
        /// A string object.
        Str(Gc<'m, str>),
    }

    /// The same value in the heap: one word (a number's bits, or a tag) and a slot.
    #[derive(Trace)]
    pub struct Cell {
        word: AtomicU64,
        string: Member<str>,
    }

    const NIL: u64 = 0x7FF8_0000_0000_0001; // NaNs that no number is stored as
    const STR: u64 = 0x7FF8_0000_0000_0002;

    impl HeapValue for Cell {
        type Local<'m> = Value<'m>;

        fn empty() -> Cell {
            Cell { word: AtomicU64::new(NIL), string: Member::new() }
        }

        fn load<'m>(&self, mu: &'m Mutator) -> Value<'m> {
            match self.word.load(Ordering::Relaxed) {
                NIL => Value::Nil,
                STR => Value::Str(self.string.get(mu).expect("a string cell holds its string")),
                bits => Value::Number(f64::from_bits(bits)),
            }
        }

        fn store(&self, value: Value<'_>) {
            let word = match value {
                Value::Nil => NIL,
                Value::Number(n) if n.is_nan() => f64::NAN.to_bits(),
                Value::Number(n) => n.to_bits(),
                Value::Str(s) => {
                    self.string.set(Some(s)); // through the write barrier
                    STR
                }
            };
            self.word.store(word, Ordering::Relaxed);
        }
    }

    /// An array of three values kept across a collection; returns what it reads back.
    pub fn run() -> (f64, String, usize) {
        let mut mu = gc_runtime::attach();
        let array = mu.alloc(GcValueVec::<Cell>::new());
        array.push(Value::Number(2.5));
        array.push(Value::Str(mu.alloc_str("two and a half")));
        array.push(Value::Nil);
        let root = array.root(&mu);
        mu.collect(); // the string is reachable through the array: it survives
        let array = root.get(&mu);
        let Some(Value::Number(n)) = array.get(0, &mu) else { unreachable!("a number") };
        let Some(Value::Str(s)) = array.get(1, &mu) else { unreachable!("a string") };
        (n, s.into_ref().to_string(), array.len())
    }
    // ANCHOR_END: value_array
}

/// The same array with the library's tagged slot: 8 bytes per value, no hand-made encoding.
pub mod tagged {
    // ANCHOR: tagged
    use gc_runtime::{GcValueVec, Tagged, TaggedMember, Trace};

    /// A dynamic language's object: its fields hold `nil`, booleans, numbers or objects.
    #[derive(Trace)]
    pub struct Object {
        /// Two fields, each one word.
        pub fields: [TaggedMember<Object>; 2],
    }

    /// The language's small constants, as `Tagged::Data`.
    pub const NIL: u64 = 0;

    /// Builds an object whose first field is a number and whose second points to another
    /// object, and an array of three values; collects; returns what it reads back.
    pub fn run() -> (f64, u64, usize) {
        let mut mu = gc_runtime::attach();
        let new_object = || Object { fields: [TaggedMember::new(), TaggedMember::new()] };
        let outer = mu.alloc(new_object());
        outer.fields[0].set(Tagged::Number(2.5));
        outer.fields[1].set(Tagged::Ptr(mu.alloc(new_object())));
        let array = mu.alloc(GcValueVec::<TaggedMember<Object>>::new());
        array.push(Tagged::Ptr(outer));
        array.push(Tagged::Data(NIL));
        array.push(Tagged::Number(-1.0));
        let root = array.root(&mu);
        mu.collect(); // both objects are reachable through the array: they survive
        let array = root.get(&mu);
        let outer = array.get(0, &mu).and_then(Tagged::as_gc).expect("an object");
        let inner = outer.fields[1].get(&mu).as_gc().expect("an object");
        inner.fields[0].set(Tagged::Data(NIL));
        (outer.fields[0].number().expect("a number"), inner.fields[0].data().expect("data"), array.len())
    }
    // ANCHOR_END: tagged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gc_in_every_position() {
        let mu = gc_runtime::attach();
        assert_eq!(gc_positions::generated(&mu), 2);
        let a = gc_positions::Node::new(&mu, 10, None);
        let b = gc_positions::Node::new(&mu, 20, None);
        gc_positions::Node::link(a, b);
        assert_eq!(a.next(&mu).unwrap().value, 20);
        let pair = gc_positions::Pair::make(&mu, a, Some(b));
        gc_positions::rotate(pair, &mu);
        assert_eq!((pair.first(&mu).value, pair.second(&mu).unwrap().value), (20, 10));
        let t = gc_positions::tree::build(&mu, 4);
        assert_eq!(gc_positions::tree::count(&mu, t), 31);
    }

    #[test]
    fn a_vector_read_while_another_thread_inserts() {
        let (sum, len) = lock_free_reads::run();
        assert!(sum == 1 + 2 + 3 + 4 || sum == 100 + 1 + 2 + 3, "before or after the insertion: {sum}");
        assert_eq!(len, 5);
    }

    #[test]
    fn an_array_of_mixed_values() {
        assert_eq!(value_array::run(), (2.5, "two and a half".to_string(), 3));
        assert_eq!(tagged::run(), (2.5, tagged::NIL, 3));
    }

    #[test]
    fn derive_with_skip() {
        assert_eq!(derive::run(), (7, 1));
    }

    #[test]
    fn derive_with_a_bound() {
        assert_eq!(derive_bound::run(), (1, 5, false));
    }

    #[test]
    fn weak_references_clear() {
        assert_eq!(weak_and_collections::run(), (true, true, 1));
    }

    #[test]
    fn weak_map_entries_die_with_their_keys() {
        assert_eq!(weak_map::run(), (1, "window extra".to_string()));
    }

    #[test]
    fn unsized_objects_read_back() {
        assert_eq!(unsized_objects::run(), (3, "inner".to_string(), 4));
    }

    #[test]
    fn trait_objects_evaluate() {
        assert_eq!(trait_objects::run(), 6.0);
    }

    #[test]
    fn config_builds_and_validates() {
        let c = config_and_stats::config();
        assert!(c.validate().is_ok());
        assert_eq!(
            (c.barrier, c.gc_percent, c.min_heap, c.trace),
            (gc_runtime::BarrierKind::Hybrid, Some(50), 16 << 20, true)
        );
    }

    #[test]
    fn stats_have_a_trace_line() {
        let (cycles, line) = config_and_stats::last_cycle();
        assert!(cycles >= 1);
        assert!(line.starts_with("gc ") && line.contains("pauses") && line.contains("objects marked"), "{line}");
    }
}
