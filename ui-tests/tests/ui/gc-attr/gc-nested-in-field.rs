// Only a field whose whole type is `Gc<T>` or `Option<Gc<T>>` becomes a slot; a `Gc` inside a
// `Vec` cannot be stored in the heap.
use gc_runtime::{gc, Gc};

#[gc]
struct Node {
    children: Vec<Gc<Node>>,
}

fn main() {}
