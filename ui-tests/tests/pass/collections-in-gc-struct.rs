// Collection fields in a `#[gc]` struct stay as declared (the constructor takes them by value,
// `GcVec::new()` and friends), are traced with the rest of the object, and work next to slot
// fields: their contents survive collections, removed elements are freed.
#![deny(warnings)]

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

use gc_runtime::{gc, Gc, GcIdMap, GcMap, GcVec, Trace};

struct Probe(Arc<AtomicUsize>);

impl Drop for Probe {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Trace)]
struct Value {
    n: i64,
    #[trace(skip)]
    _probe: Probe,
}

fn new_value<'m>(mu: &'m gc_runtime::Mutator, n: i64, drops: &Arc<AtomicUsize>) -> Gc<'m, Value> {
    mu.alloc(Value { n, _probe: Probe(drops.clone()) })
}

#[gc]
struct Class {
    name: String,
    superclass: Option<Gc<Class>>,
    methods: GcMap<String, Value>,
}

#[gc]
struct Instance {
    class: Gc<Class>,
    fields: GcMap<String, Value>,
    list: GcVec<Value>,
    tags: GcIdMap<Value, Value>,
}

fn main() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut mu = gc_runtime::attach();
    let value = |mu, n| new_value(mu, n, &drops);
    let base = Class::new(&mu, "Base".into(), None, GcMap::new());
    let class = Class::new(&mu, "Point".into(), Some(base), GcMap::new());
    class.methods.insert("init".into(), value(&mu, 0));
    let point = Instance::new(&mu, class, GcMap::new(), GcVec::new(), GcIdMap::new());
    point.fields.insert("x".into(), value(&mu, 1));
    point.fields.insert("y".into(), value(&mu, 2));
    for n in 10..15 {
        point.list.push(value(&mu, n));
    }
    let tag = value(&mu, 100);
    point.tags.insert(tag, value(&mu, 101));
    let root = point.root(&mu);
    mu.collect();
    mu.collect();
    assert_eq!(drops.load(Ordering::SeqCst), 0, "everything is reachable");

    let point = root.get(&mu);
    assert_eq!(point.class(&mu).name, "Point");
    assert_eq!(point.class(&mu).superclass(&mu).expect("base").name, "Base");
    assert_eq!(point.class(&mu).methods.get("init", &mu).expect("init").n, 0);
    assert_eq!(point.fields.get("x", &mu).expect("x").n + point.fields.get("y", &mu).expect("y").n, 3);
    assert_eq!(point.list.iter(&mu).map(|v| v.n).sum::<i64>(), 60);
    let (tag, tagged) = point.tags.entries(&mu)[0];
    assert_eq!((tag.n, tagged.n), (100, 101));

    // Remove some: they are freed by the next cycle.
    point.fields.remove("x", &mu);
    point.list.truncate(2);
    point.tags.clear();
    mu.collect();
    assert_eq!(drops.load(Ordering::SeqCst), 1 + 3 + 2);
    let point = root.get(&mu);
    assert_eq!(point.list.len(), 2);
    assert!(format!("{:?}", point.list).starts_with("GcVec { len: 2"));
}
