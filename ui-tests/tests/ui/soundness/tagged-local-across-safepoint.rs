// A pointer read out of a tagged slot is a local of the mutator (`Tagged<'m, T>` borrows it):
// it cannot be kept across a safepoint, where the collector may free its object.
use gc_runtime::{Tagged, TaggedMember, Trace};

#[derive(Trace)]
struct Cell {
    value: TaggedMember<Cell>,
}

fn main() {
    let mut mu = gc_runtime::attach();
    let cell = mu.alloc(Cell { value: TaggedMember::new() });
    cell.value.set(Tagged::Ptr(mu.alloc(Cell { value: TaggedMember::new() })));
    let read = cell.value.get(&mu);
    mu.safepoint();
    if let Tagged::Ptr(inner) = read {
        inner.value.set(Tagged::Number(1.0));
    }
}
