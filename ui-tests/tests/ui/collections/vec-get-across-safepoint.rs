// An element read from a `GcVec` is a local like any other: it cannot be kept across a
// safepoint, where the collector may free it (another thread may remove it meanwhile). Read it
// again after the safepoint, or keep it in a `Root`.
use gc_runtime::GcVec;

fn main() {
    let mut mu = gc_runtime::attach();
    let v = mu.alloc(GcVec::new()).root(&mu);
    v.get(&mu).push(mu.alloc(String::from("x")));
    let first = v.get(&mu).get(0, &mu).unwrap();
    mu.safepoint();
    assert_eq!(*first, "x");
}
