// A root lives across safepoints; the local it hands out does not. Call `root.get(&mu)` again
// after the safepoint.
fn main() {
    let mut mu = gc_runtime::attach();
    let root = mu.alloc(5_u64).root(&mu);
    let value = root.get(&mu);
    mu.safepoint();
    assert_eq!(*value, 5);
}
