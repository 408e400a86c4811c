// A word read out of a tagged slot is a local of the mutator (`TaggedWord<'m, T>` borrows it,
// as `Gc<'m, T>` does): it cannot be kept across a safepoint, where the collector may free
// the object it points to.
use gc_runtime::{TaggedMember, TaggedWord, Trace};

#[derive(Trace)]
struct Cell {
    value: TaggedMember<Cell>,
}

fn main() {
    let mut mu = gc_runtime::attach();
    let cell = mu.alloc(Cell { value: TaggedMember::new() });
    cell.value.set_word(TaggedWord::ptr(mu.alloc(Cell { value: TaggedMember::new() })));
    let read = cell.value.get_word(&mu);
    mu.safepoint();
    if let Some(inner) = read.as_gc() {
        inner.value.set_word(TaggedWord::number(1.0));
    }
}
