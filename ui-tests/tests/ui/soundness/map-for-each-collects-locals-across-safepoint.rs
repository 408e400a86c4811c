// The locals `GcMap::for_each` hands to its closure borrow the mutator: collecting them into a
// vector that outlives a safepoint is rejected.
use gc_runtime::{Gc, GcMap};

fn main() {
    let mut mu = gc_runtime::attach();
    let map = mu.alloc(GcMap::<u8, u64>::new());
    map.insert(1, mu.alloc(10_u64));
    let mut kept: Vec<Gc<'_, u64>> = Vec::new();
    map.for_each(&mu, |_, v| kept.push(v));
    mu.safepoint();
    assert_eq!(*kept[0], 10);
}
