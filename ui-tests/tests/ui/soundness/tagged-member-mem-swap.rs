// Swapping two tagged slots would move their pointers without the barrier; objects are only
// reachable through shared references, so there is no `&mut` to a slot to swap with.
use gc_runtime::{TaggedMember, Trace};

#[derive(Trace)]
struct Cell {
    value: TaggedMember<Cell>,
}

fn main() {
    let mu = gc_runtime::attach();
    let a = mu.alloc(Cell { value: TaggedMember::new() });
    let b = mu.alloc(Cell { value: TaggedMember::new() });
    std::mem::swap(&mut a.value, &mut b.value);
}
