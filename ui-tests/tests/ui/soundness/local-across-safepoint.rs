// A safepoint takes `&mut Mutator`, so no local (`Gc`) may be alive across it: the collector
// may free the object there. Keep it in a `Root` instead.
fn main() {
    let mut mu = gc_runtime::attach();
    let value = mu.alloc(41_u64);
    mu.safepoint();
    assert_eq!(*value + 1, 42);
}
