// A collection behind a `Mutex` could be swapped out of the heap through the guard
// (`mem::replace(&mut *guard, GcVec::new())`), so `Mutex` does not implement `Trace` and
// cannot hold one in a traced field. The collection is already thread-safe: use it directly.
use std::sync::Mutex;

use gc_runtime::{GcVec, Trace};

#[derive(Trace)]
struct Node {
    children: Mutex<GcVec<Node>>,
}

fn main() {}
