// `GcMap::for_each` borrows the mutator for the whole walk: its closure cannot pass a
// safepoint, where the snapshot's locals would be invalidated.
use gc_runtime::GcMap;

fn main() {
    let mut mu = gc_runtime::attach();
    let map = mu.alloc(GcMap::<u8, u64>::new());
    map.insert(1, mu.alloc(10_u64));
    map.for_each(&mu, |_, v| {
        mu.safepoint();
        assert_eq!(*v, 10);
    });
}
