// A GC type may not implement `Drop`: its destructor would run on the sweeper, when the objects
// it points to may already be freed. Its fields' destructors still run.
use gc_runtime::{gc, Gc};

#[gc]
struct Node {
    name: String,
    next: Option<Gc<Node>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        println!("dropping {}", self.name);
    }
}

fn main() {}
