//! Trait objects: `Gc<dyn Trait>`. Methods dispatch to the concrete value for small,
//! zero-sized, over-aligned and large types; a trait object's slots keep their referents alive
//! exactly while it is reachable, and its concrete value is dropped exactly once when it dies;
//! roots, weak references, collections and `#[gc]` fields of trait-object types; generic
//! traits; the crate's own `dyn Any`, `dyn Debug`, `dyn Display`; the memory limit gives the
//! value back; and a concurrent stress run under every barrier with checkmark on.

use std::{
    any::Any,
    collections::HashSet,
    fmt::{self, Debug, Display},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
};

mod common;

use common::{DropProbe, Ledger, Rng};
use gc_runtime::{dyn_object, gc, unsize, Config, Gc, GcMap, GcVec, Member, Mutator, Root, Trace, Weak};

fn serial() -> std::sync::MutexGuard<'static, ()> {
    common::serial_with_checkmark()
}

/// The trait the tests view objects through.
trait Shape {
    fn area(&self) -> f64;
    fn name(&self) -> String;
    /// The shapes this one holds (a group's members), as locals of `mu`.
    fn parts<'m>(&self, mu: &'m Mutator) -> Vec<Gc<'m, dyn Shape>> {
        self.slots().iter().filter_map(|m| m.get(mu)).collect()
    }
    /// The slots of the shapes this one holds.
    fn slots(&self) -> &[Member<dyn Shape>] {
        &[]
    }
}
dyn_object!(dyn Shape);

#[derive(Trace)]
struct Square {
    side: f64,
    #[trace(skip)]
    probe: DropProbe,
}

impl Shape for Square {
    fn area(&self) -> f64 {
        self.side * self.side
    }
    fn name(&self) -> String {
        format!("square {}", self.probe.id)
    }
}

/// A zero-sized shape.
#[derive(Trace)]
struct Dot;

impl Shape for Dot {
    fn area(&self) -> f64 {
        0.0
    }
    fn name(&self) -> String {
        "dot".into()
    }
}

/// A shape aligned to 64 bytes, so the view is not at the usual offset.
#[derive(Trace)]
#[repr(align(64))]
struct Wide {
    cells: [u8; 100],
    tag: u128,
}

impl Shape for Wide {
    fn area(&self) -> f64 {
        self.cells.iter().map(|&c| f64::from(c)).sum::<f64>() + self.tag as f64
    }
    fn name(&self) -> String {
        "wide".into()
    }
}

/// A shape too large for a page: a large object.
#[derive(Trace)]
struct Huge {
    pixels: [u16; 70_000],
}

impl Shape for Huge {
    fn area(&self) -> f64 {
        self.pixels.iter().map(|&p| f64::from(p)).sum()
    }
    fn name(&self) -> String {
        "huge".into()
    }
}

/// A shape that holds other shapes: slots of a trait-object type inside a trait object.
#[derive(Trace)]
struct Group {
    members: [Member<dyn Shape>; 3],
    #[trace(skip)]
    probe: DropProbe,
}

impl Shape for Group {
    fn area(&self) -> f64 {
        -1.0 // a group's area needs a mutator: see `total_area`
    }
    fn name(&self) -> String {
        format!("group {}", self.probe.id)
    }
    fn slots(&self) -> &[Member<dyn Shape>] {
        &self.members
    }
}

/// A shape's area, a group's being the sum of its parts'.
fn total_area(mu: &Mutator, shape: Gc<'_, dyn Shape>) -> f64 {
    if shape.slots().is_empty() {
        shape.area()
    } else {
        shape.parts(mu).into_iter().map(|p| total_area(mu, p)).sum()
    }
}

fn square<'m>(mu: &'m Mutator, ledger: &Arc<Ledger>, side: f64) -> Gc<'m, dyn Shape> {
    mu.alloc_dyn(Square { side, probe: ledger.probe() }, unsize!(Square => dyn Shape))
}

fn group<'m>(mu: &'m Mutator, ledger: &Arc<Ledger>) -> Gc<'m, dyn Shape> {
    let members = [Member::new(), Member::new(), Member::new()];
    mu.alloc_dyn(Group { members, probe: ledger.probe() }, unsize!(Group => dyn Shape))
}

#[test]
fn methods_dispatch_to_the_concrete_value_of_every_size_and_alignment() {
    let _s = serial();
    let ledger = Ledger::new(10);
    let mu = gc_runtime::attach();
    let s = square(&mu, &ledger, 3.0);
    let d: Gc<dyn Shape> = mu.alloc_dyn(Dot, unsize!(Dot => dyn Shape));
    let w: Gc<dyn Shape> = mu.alloc_dyn(Wide { cells: [2; 100], tag: 1 << 70 }, unsize!(Wide => dyn Shape));
    let h: Gc<dyn Shape> = mu.alloc_dyn(Huge { pixels: [3; 70_000] }, unsize!(Huge => dyn Shape));
    assert_eq!((s.area(), s.name()), (9.0, "square 0".to_string()));
    assert_eq!((d.area(), d.name()), (0.0, "dot".to_string()));
    assert_eq!((w.area(), w.name()), (200.0 + (1u128 << 70) as f64, "wide".to_string()));
    assert_eq!((h.area(), h.name()), (210_000.0, "huge".to_string()));
    // The reference a trait object hands out is its concrete value, correctly aligned.
    let wide_ref: &dyn Shape = w.into_ref();
    assert_eq!((wide_ref as *const dyn Shape).cast::<u8>().align_offset(64), 0, "over-aligned value");
    assert!(std::mem::size_of_val(wide_ref) >= 128 && std::mem::align_of_val(wide_ref) == 64);
    assert_eq!(std::mem::size_of_val(h.into_ref()), 140_000);
    // Identity: a local is one object, whatever it is viewed as.
    assert!(Gc::ptr_eq(s, s) && !Gc::ptr_eq(s, d));
}

#[test]
fn a_trait_object_keeps_its_referents_alive_and_is_dropped_exactly_once() {
    let _s = serial();
    let ledger = Ledger::new(100);
    let mut mu = gc_runtime::attach();
    // outer = group(square 1, group(square 2, square 3), empty)
    let outer = group(&mu, &ledger);
    let inner = group(&mu, &ledger);
    outer.slots()[0].set(Some(square(&mu, &ledger, 1.0)));
    outer.slots()[1].set(Some(inner));
    inner.slots()[0].set(Some(square(&mu, &ledger, 2.0)));
    inner.slots()[1].set(Some(square(&mu, &ledger, 3.0)));
    let root: Root<dyn Shape> = outer.root(&mu);
    let lost = square(&mu, &ledger, 9.0);
    let lost_id = ledger.created() as u64 - 1;
    let lost_weak: Weak<dyn Shape> = lost.downgrade(&mu);
    mu.collect();
    mu.collect();
    assert!(lost_weak.upgrade(&mu).is_none(), "an unreachable trait object is collected");
    assert_eq!(ledger.drops(lost_id), 1, "its concrete value was dropped once");
    assert_eq!(ledger.total_drops(), 1, "nothing reachable was dropped");
    let outer = root.get(&mu);
    assert_eq!(outer.name(), "group 0");
    assert_eq!(total_area(&mu, outer), 1.0 + 4.0 + 9.0);
    // Cut the inner group off: it and its two squares die, each dropped once.
    outer.slots()[1].set(None);
    mu.collect();
    mu.collect();
    assert_eq!(ledger.total_drops(), 4);
    assert_eq!(total_area(&mu, root.get(&mu)), 1.0);
    drop(root);
    mu.collect();
    mu.collect();
    ledger.check_exactly(&HashSet::new());
}

#[test]
fn trait_objects_in_roots_weak_references_collections_and_gc_structs() {
    let _s = serial();
    let ledger = Ledger::new(100);
    let mut mu = gc_runtime::attach();
    let scene = mu.alloc(Scene { shapes: GcVec::new(), by_name: GcMap::new() });
    for side in [1.0, 2.0, 3.0] {
        let s = square(&mu, &ledger, side);
        scene.shapes.push(s);
        scene.by_name.insert(s.name(), s);
    }
    scene.shapes.push(mu.alloc_dyn(Dot, unsize!(Dot => dyn Shape)));
    let canvas = Canvas::new(&mu, square(&mu, &ledger, 5.0), None);
    canvas.set_overlay(Some(mu.alloc_dyn(Dot, unsize!(Dot => dyn Shape))));
    let scene = scene.root(&mu);
    let canvas = canvas.root(&mu);
    let kept: Weak<dyn Shape> = scene.get(&mu).shapes.get(0, &mu).unwrap().downgrade(&mu);
    mu.collect();
    mu.collect();
    let scene = scene.get(&mu);
    let areas: Vec<f64> = scene.shapes.iter(&mu).map(|s| s.area()).collect();
    assert_eq!(areas, [1.0, 4.0, 9.0, 0.0]);
    assert_eq!(scene.by_name.get(&"square 1".to_string(), &mu).unwrap().area(), 4.0);
    let canvas = canvas.get(&mu);
    assert_eq!(canvas.background(&mu).area(), 25.0);
    assert_eq!(canvas.overlay(&mu).unwrap().name(), "dot");
    assert_eq!(kept.upgrade(&mu).unwrap().name(), "square 0");
    // Replace the first shape: the old one dies and its weak reference is cleared.
    scene.shapes.set(0, square(&mu, &ledger, 7.0));
    scene.by_name.remove(&"square 0".to_string(), &mu);
    let _ = (scene, canvas);
    mu.collect();
    mu.collect();
    assert!(kept.upgrade(&mu).is_none(), "the replaced shape was collected");
    assert_eq!(ledger.drops(0), 1);
}

#[derive(Trace)]
struct Scene {
    shapes: GcVec<dyn Shape>,
    by_name: GcMap<String, dyn Shape>,
}

#[gc]
struct Canvas {
    background: Gc<dyn Shape>,
    overlay: Option<Gc<dyn Shape>>,
}

#[test]
fn the_crates_own_any_debug_and_display_objects() {
    let _s = serial();
    let mu = gc_runtime::attach();
    let any: Gc<dyn Any> = mu.alloc_dyn(42_u32, unsize!(u32 => dyn Any));
    assert_eq!(any.into_ref().downcast_ref::<u32>(), Some(&42));
    assert!(any.into_ref().downcast_ref::<u64>().is_none());
    let shared: Gc<dyn Any + Send + Sync> = mu.alloc_dyn(String::from("s"), unsize!(String => dyn Any + Send + Sync));
    assert_eq!(shared.into_ref().downcast_ref::<String>().map(String::as_str), Some("s"));
    let sendable: Gc<dyn Any + Send> = mu.alloc_dyn(7_i8, unsize!(i8 => dyn Any + Send));
    assert!(sendable.into_ref().is::<i8>());
    let debug: Gc<dyn Debug> = mu.alloc_dyn(vec![1, 2], unsize!(Vec<i32> => dyn Debug));
    assert_eq!(format!("{debug:?}"), "[1, 2]");
    let display: Gc<dyn Display> = mu.alloc_dyn(Celsius(21.5), unsize!(Celsius => dyn Display));
    assert_eq!(display.to_string(), "21.5 °C");
}

#[derive(Trace)]
struct Celsius(f64);

impl Display for Celsius {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} °C", self.0)
    }
}

trait Handler<E> {
    fn handle(&self, event: E) -> E;
}
dyn_object!(<E> dyn Handler<E>);

#[derive(Trace)]
struct Doubler;

impl Handler<u32> for Doubler {
    fn handle(&self, event: u32) -> u32 {
        event * 2
    }
}

impl Handler<String> for Doubler {
    fn handle(&self, event: String) -> String {
        event.repeat(2)
    }
}

#[test]
fn generic_traits_declare_every_instance_at_once() {
    let _s = serial();
    let mu = gc_runtime::attach();
    let numbers: Gc<dyn Handler<u32>> = mu.alloc_dyn(Doubler, unsize!(Doubler => dyn Handler<u32>));
    let words: Gc<dyn Handler<String>> = mu.alloc_dyn(Doubler, unsize!(Doubler => dyn Handler<String>));
    assert_eq!(numbers.handle(21), 42);
    assert_eq!(words.handle("ab".into()), "abab");
}

/// Generic code can make trait objects of a type parameter that implements the trait.
fn boxed_shape<T: Shape + Trace + Send + Sync + 'static>(mu: &Mutator, shape: T) -> Gc<'_, dyn Shape> {
    mu.alloc_dyn(shape, unsize!(T => dyn Shape))
}

#[test]
fn generic_code_unsizes_a_type_parameter() {
    let _s = serial();
    let mu = gc_runtime::attach();
    assert_eq!(boxed_shape(&mu, Dot).name(), "dot");
}

#[test]
fn over_the_memory_limit_the_value_comes_back() {
    let _s = serial();
    let ledger = Ledger::new(10);
    gc_runtime::reconfigure(Config::default().with_memory_limit(Some(4 << 20)).with_checkmark(true)).unwrap();
    let mut mu = gc_runtime::attach();
    mu.collect();
    // Nearly fill the heap with live data, then ask for more than is left.
    let ballast = mu.alloc_slice(vec![0_u8; (4 << 20) - (64 << 10)]).root(&mu);
    let mid = Mid { bytes: [5; 96 << 10], probe: ledger.probe() };
    let Err(err) = mu.try_alloc_dyn(mid, unsize!(Mid => dyn Shape)) else { panic!("over the limit") };
    assert!(err.to_string().contains("limit"), "{err}");
    let back = err.into_value();
    assert_eq!((back.bytes[12345], back.probe.id), (5, 0), "nothing is lost");
    assert_eq!(ledger.total_drops(), 0, "the refused value was not dropped");
    drop(back);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        mu.alloc_dyn(Mid { bytes: [1; 96 << 10], probe: ledger.probe() }, unsize!(Mid => dyn Shape)).area()
    }));
    assert!(caught.is_err(), "alloc_dyn panics over the limit");
    drop(ballast);
    mu.collect();
    let fits = mu.try_alloc_dyn(Dot, unsize!(Dot => dyn Shape)).expect("a small object fits once the ballast is gone");
    assert_eq!(fits.name(), "dot");
    gc_runtime::reconfigure(Config::default().with_gc_percent(None)).unwrap();
    mu.collect();
    mu.collect();
    ledger.check_exactly(&HashSet::new());
}

#[derive(Trace)]
struct Mid {
    bytes: [u8; 96 << 10],
    #[trace(skip)]
    probe: DropProbe,
}

impl Shape for Mid {
    fn area(&self) -> f64 {
        self.bytes.len() as f64
    }
    fn name(&self) -> String {
        "mid".into()
    }
}

// ---- concurrent stress: a graph of trait objects rewired under every configuration ----

trait Vertex {
    fn check(&self, mu: &Mutator);
    fn edges(&self) -> &[Member<dyn Vertex>];
    fn id(&self) -> u64;
}
dyn_object!(dyn Vertex);

const MAGIC: u64 = 0x9E37_79B9_7F4A_7C15;

/// Two concrete vertex types with different layouts, so a wrong vtable or view shows.
#[derive(Trace)]
struct Small {
    id: u64,
    canary: u64,
    edges: [Member<dyn Vertex>; 2],
    #[trace(skip)]
    probe: DropProbe,
}

#[derive(Trace)]
#[repr(align(32))]
struct Fat {
    canary: u64,
    payload: [u64; 12],
    edges: [Member<dyn Vertex>; 4],
    id: u64,
    #[trace(skip)]
    probe: DropProbe,
}

impl Vertex for Small {
    fn check(&self, _mu: &Mutator) {
        assert_eq!(self.canary, self.id ^ MAGIC, "small vertex {} corrupted", self.id);
        assert_eq!(self.probe.id, self.id);
    }
    fn edges(&self) -> &[Member<dyn Vertex>] {
        &self.edges
    }
    fn id(&self) -> u64 {
        self.id
    }
}

impl Vertex for Fat {
    fn check(&self, _mu: &Mutator) {
        assert_eq!(self.canary, !self.id, "fat vertex {} corrupted", self.id);
        assert!(self.payload.iter().enumerate().all(|(i, &p)| p == self.id.wrapping_add(i as u64)));
        assert_eq!(self.probe.id, self.id);
    }
    fn edges(&self) -> &[Member<dyn Vertex>] {
        &self.edges
    }
    fn id(&self) -> u64 {
        self.id
    }
}

fn vertex<'m>(mu: &'m Mutator, ledger: &Arc<Ledger>, rng: &mut Rng) -> Gc<'m, dyn Vertex> {
    let probe = ledger.probe();
    let id = probe.id;
    if rng.below(2) == 0 {
        let edges = [Member::new(), Member::new()];
        mu.alloc_dyn(Small { id, canary: id ^ MAGIC, edges, probe }, unsize!(Small => dyn Vertex))
    } else {
        let payload = std::array::from_fn(|i| id.wrapping_add(i as u64));
        let edges = [Member::new(), Member::new(), Member::new(), Member::new()];
        mu.alloc_dyn(Fat { canary: !id, payload, edges, id, probe }, unsize!(Fat => dyn Vertex))
    }
}

const SLOTS: usize = 48;
const RUN_FOR_MILLIS: u64 = if cfg!(miri) { 100 } else { 600 };

fn mutate(ledger: &Arc<Ledger>, seed: u64, stop: &AtomicBool, ops: &AtomicU64) {
    let mut mu = gc_runtime::attach();
    let mut rng = Rng(seed);
    let set = mu.alloc(WorkingSet { slots: std::array::from_fn(|_| Member::new()) }).root(&mu);
    let mut n = 0_u64;
    while !stop.load(Ordering::Relaxed) && !ledger.nearly_full(1000) {
        {
            let set = set.get(&mu);
            let slot = &set.slots[rng.below(SLOTS)];
            match (rng.below(6), slot.get(&mu)) {
                (0 | 1, _) => slot.set(Some(vertex(&mu, ledger, &mut rng))),
                (2, Some(a)) => {
                    // Link a to another vertex of the working set.
                    let edges = a.edges();
                    edges[rng.below(edges.len())].set(set.slots[rng.below(SLOTS)].get(&mu));
                }
                (3, Some(a)) => {
                    // A vertex reached only through an edge, moved into the working set.
                    if let Some(b) = a.edges().iter().find_map(|e| e.get(&mu)) {
                        b.check(&mu);
                        set.slots[rng.below(SLOTS)].set(Some(b));
                    }
                }
                (4, Some(_)) => slot.set(None),
                (5, Some(a)) => {
                    a.check(&mu);
                    for b in a.edges().iter().filter_map(|e| e.get(&mu)) {
                        b.check(&mu);
                    }
                }
                _ => {}
            }
        }
        n += 1;
        if n % 8 == 0 {
            mu.safepoint();
        }
    }
    let set = set.get(&mu);
    for a in set.slots.iter().filter_map(|s| s.get(&mu)) {
        a.check(&mu);
        assert!(a.id() < ledger.created() as u64);
    }
    ops.fetch_add(n, Ordering::Relaxed);
}

#[derive(Trace)]
struct WorkingSet {
    slots: [Member<dyn Vertex>; SLOTS],
}

#[test]
fn stress_under_every_barrier() {
    for config in common::stress_configs() {
        common::ledger_stress(config, RUN_FOR_MILLIS, mutate);
    }
}
