// What `Member::swap`, `take` and `compare_exchange` return is a local of the mutator passed to
// them, like a `get`: it cannot be used after a safepoint, where the object it names may be
// collected (it was taken out of the heap; keep a `Root` to keep it).
use gc_runtime::{Member, Trace};

#[derive(Trace)]
struct Cell {
    item: Member<Cell>,
}

fn main() {
    let mut mu = gc_runtime::attach();
    let holder = mu.alloc(Cell { item: Member::new() }).root(&mu);
    {
        let h = holder.get(&mu);
        h.item.set(Some(mu.alloc(Cell { item: Member::new() })));
    }
    let taken = holder.get(&mu).item.take(&mu).unwrap();
    mu.safepoint();
    assert!(taken.item.is_none());
}
