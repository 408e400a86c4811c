//! A cache with weak references: entries vanish after a collection when nothing else holds
//! their objects.
//!
//! ```text
//! cargo run --release -p gc-examples --bin weak_cache -- 10000
//! ```
//!
//! The cache maps names to [`Weak`] references, in a plain `Mutex<HashMap>` outside the heap
//! (a `Weak` is `Send + Sync` and does not keep its object alive). The program loads `n`
//! entries, keeps a [`Root`] to every third one, collects, and checks that exactly the rooted
//! entries are still cached; looking up a vanished one loads it again. Exits non-zero if a
//! check fails.

use std::{collections::HashMap, sync::Mutex};

use gc_runtime::{Gc, Mutator, Root, Trace, Weak};

// ANCHOR: cache
/// A cached, expensive-to-build value.
#[derive(Trace)]
struct Blob {
    name: String,
    bytes: Vec<u8>,
}

/// Name → weak reference. The cache never keeps a blob alive by itself.
#[derive(Default)]
struct WeakCache {
    entries: Mutex<HashMap<String, Weak<Blob>>>,
    loads: Mutex<usize>,
}

impl WeakCache {
    /// The cached blob, or a freshly loaded one (cached for next time).
    fn get<'m>(&self, mu: &'m Mutator, name: &str) -> Gc<'m, Blob> {
        let mut entries = self.entries.lock().unwrap();
        if let Some(blob) = entries.get(name).and_then(|w| w.upgrade(mu)) {
            return blob;
        }
        *self.loads.lock().unwrap() += 1;
        let blob = mu.alloc(Blob { name: name.to_string(), bytes: name.bytes().rev().collect() });
        entries.insert(name.to_string(), Weak::new(mu, blob));
        blob
    }

    /// Drop the entries whose objects were collected; returns how many are left.
    fn prune(&self) -> usize {
        let mut entries = self.entries.lock().unwrap();
        entries.retain(|_, w| !w.is_cleared());
        entries.len()
    }
}
// ANCHOR_END: cache

fn main() {
    let n: usize = std::env::args().nth(1).map_or(3_000, |a| a.parse().expect("usage: weak_cache [N]")).max(3);
    let mut mu = gc_runtime::attach();
    let cache = WeakCache::default();
    let mut failures = Vec::new();

    // ANCHOR: use
    let names: Vec<String> = (0..n).map(|i| format!("blob-{i}")).collect();
    let mut kept: Vec<Root<Blob>> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let blob = cache.get(&mu, name);
        if i % 3 == 0 {
            kept.push(blob.root(&mu)); // someone else holds every third blob
        }
    }
    mu.collect(); // the others are unreachable: their weak references are cleared
    let left = cache.prune();
    // ANCHOR_END: use
    let expected = n.div_ceil(3);
    if left != expected {
        failures.push(format!("{left} entries left after the collection, expected {expected}"));
    }
    let loads_before = *cache.loads.lock().unwrap();
    for (i, name) in names.iter().enumerate() {
        let blob = cache.get(&mu, name);
        if blob.name != *name || blob.bytes.iter().rev().copied().ne(name.bytes()) {
            failures.push(format!("{name}: wrong contents"));
        }
        if i % 3 == 0 && !Gc::ptr_eq(blob, kept[i / 3].get(&mu)) {
            failures.push(format!("{name}: a kept blob was reloaded"));
        }
    }
    let reloads = *cache.loads.lock().unwrap() - loads_before;
    if reloads != n - expected {
        failures.push(format!("{reloads} reloads, expected {}", n - expected));
    }
    println!("cache: {n} loaded, {left} survived a collection, {reloads} reloaded");

    if failures.is_empty() {
        println!("ok");
    } else {
        for f in failures.iter().take(10) {
            eprintln!("FAILED: {f}");
        }
        std::process::exit(1);
    }
}
