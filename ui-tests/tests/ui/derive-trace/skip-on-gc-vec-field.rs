// A skipped `GcVec` would never be traced, so its elements could be freed while reachable.
// Skipping is also no way around `Mutex` not implementing `Trace` (collections/vec-in-mutex-field.rs).
use std::sync::Mutex;

use gc_runtime::{GcVec, Trace};

#[derive(Trace)]
struct Node {
    value: u64,
    #[trace(skip)]
    children: Mutex<GcVec<Node>>,
}

fn main() {}
